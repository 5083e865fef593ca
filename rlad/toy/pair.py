"""The one builder of tiny teacher/student pairs: one supervised run, two checkpoints of it.

A pair for RL distillation should share a trajectory, as the paper's Qwen3 students and teachers share
pretraining: trained apart, a student's own tokens sit far from the teacher (the old math demo pair:
27% of them beyond the clamp) and TRRD vetoes many positive-advantage tokens. So the builder trains ONE
model and saves two checkpoints of its run:

- the *student*: the run's first probe checkpoint whose test Mean@k reaches ``student_target`` (mid-way
  through learning the task, so RL groups have mixed rewards);
- the *teacher*: the end of the same run (``steps`` optimiser steps, or ``anneal_steps`` after a probe
  reached ``anneal_at``).

Everything task-specific comes from :mod:`rlad.tasks`: the training data are the task's own train-split
``reference`` completions, each verified with ``task.score`` before use; probes and the final Mean@k go
through :func:`rlad.eval.evaluate.evaluate_model` on the test split, so "correct" has one definition. The run is
:func:`rlad.toy.sft.train_on_pairs`; budgets are counted in steps, never seconds, so the same recipe builds
the same pair on any machine (seconds are recorded as facts only).

``out_dir`` receives ``teacher/`` and ``student/`` (each loadable with ``AutoModelForCausalLM`` /
``AutoTokenizer``, with a ``checkpoint.json`` naming the run id and step) and ``pair.json`` (the recipe,
the probes, both models' Mean@k and whether they met their marks).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlad.toy.models import build_tiny_llama, count_parameters, save_model, with_vocab_size
from rlad.toy.sft import train_on_pairs
from rlad.toy.tokenizer import DEFAULT_ALPHABET, build_char_tokenizer

logger = logging.getLogger(__name__)

# Bump when a code change would change the models a recipe builds: cached pairs are then rebuilt.
BUILDER_VERSION = 2
EVAL_BATCH_SIZE = 256  # generated sequences per forward batch (tiny models: memory is no concern)


@dataclass(frozen=True)
class PairRecipe:
    """Everything that decides a pair: the task, the model shape, the run and how the student is picked."""

    task: str = field(metadata={"help": "Task name in the rlad.tasks registry (arithmetic, kk_synthetic)."})
    task_options: dict = field(default_factory=dict, metadata={"help": "Options of get_task."})
    train_sets: tuple = field(
        default=(({}, None),),
        metadata={
            "help": "(task option overrides, limit) per train-split load; each step draws the sets equally "
            "often (e.g. one set per puzzle size)."
        },
    )
    max_new_tokens: int = field(
        default=32, metadata={"help": "Longest completion sampled by probes and eval."}
    )
    hidden_size: int = field(default=64, metadata={"help": "Model width."})
    num_layers: int = field(default=2, metadata={"help": "Transformer blocks."})
    num_heads: int = field(default=4, metadata={"help": "Attention heads."})
    intermediate_size: int | None = field(default=None, metadata={"help": "MLP width; None: 4 * hidden."})
    student_vocab_size: int | None = field(
        default=None, metadata={"help": "Student embedding rows (padded rows cut); None: the teacher's."}
    )
    teacher_vocab_size: int | None = field(
        default=None, metadata={"help": "Embedding rows of the run; None: the tokenizer's size."}
    )
    steps: int = field(default=1800, metadata={"help": "Most optimiser steps of the run."})
    batch_size: int = field(default=64, metadata={"help": "Training completions per step."})
    length_buckets: int = field(default=1, metadata={"help": "Forward passes per batch, sorted by length."})
    lr: float = field(default=3e-3, metadata={"help": "Peak AdamW learning rate."})
    decay_start: float = field(default=0.0, metadata={"help": "Fraction of `steps` at which the lr decays."})
    anneal_at: float | None = field(
        default=None, metadata={"help": "Probe Mean@k that starts the final lr decay; None: the schedule's."}
    )
    anneal_steps: int = field(default=0, metadata={"help": "Steps of that final decay; then the run ends."})
    seed: int = field(default=0, metadata={"help": "Seed of the initialisation, the data draws and probes."})
    student_target: float = field(
        default=0.3, metadata={"help": "The student is the first probe checkpoint with Mean@k >= this."}
    )
    probe_every: int = field(default=25, metadata={"help": "Steps between test probes."})
    probe_prompts: int = field(default=64, metadata={"help": "Test problems per probe."})
    probe_k: int = field(default=4, metadata={"help": "Samples per problem of a probe."})
    eval_k: int = field(default=8, metadata={"help": "Samples per problem of the final Mean@k."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature (the paper's eval)."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus top-p of probes and eval."})
    teacher_target: float = field(default=0.85, metadata={"help": "The teacher's mark (pair.json `usable`)."})
    student_band: tuple = field(default=(0.2, 0.5), metadata={"help": "The student's mark: Mean@k band."})

    def __post_init__(self) -> None:
        from rlad.tasks import TASKS

        TASKS.get(self.task)  # an unknown task fails with the list of valid names
        positive = ("hidden_size", "num_layers", "num_heads", "steps", "batch_size", "probe_every")
        for name in (*positive, "probe_prompts", "probe_k", "eval_k", "max_new_tokens", "length_buckets"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.train_sets:
            raise ValueError("train_sets must name at least one train-split load")
        if not 0.0 <= self.student_target < 1.0:
            raise ValueError(f"student_target must be in [0, 1), got {self.student_target}")
        if self.anneal_at is not None and not self.student_target < self.anneal_at <= 1.0:
            raise ValueError(f"anneal_at must be in (student_target, 1], got {self.anneal_at}")
        if self.anneal_steps < 0:
            raise ValueError(f"anneal_steps must be >= 0, got {self.anneal_steps}")
        if (self.student_vocab_size or 0) > (self.teacher_vocab_size or 10**9):
            raise ValueError(
                f"student_vocab_size={self.student_vocab_size} exceeds teacher_vocab_size="
                f"{self.teacher_vocab_size}: the student is cut from the teacher's run"
            )

    def make_task(self, **overrides: Any):
        from rlad.tasks import get_task

        return get_task(self.task, **{**self.task_options, **overrides})

    def run_id(self) -> str:
        """A hash of the recipe (and the tokenizer and builder version): the same id, the same run."""
        blob = {"recipe": dataclasses.asdict(self), "alphabet": DEFAULT_ALPHABET, "version": BUILDER_VERSION}
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:12]


def verified_train_sets(recipe: PairRecipe) -> list[list[tuple[str, str]]]:
    """``(prompt, reference)`` lists, one per train set, keeping only references the task scores correct."""
    sets = []
    for overrides, limit in recipe.train_sets:
        task = recipe.make_task(**overrides)
        rows = [dict(r) for r in task.load(split="train", limit=limit)]
        good = [(r["prompt"], r["reference"]) for r in rows if task.score(r["reference"], r).correct]
        if not good:
            raise ValueError(f"no verified reference in the train set {overrides or 'of the task'}")
        if len(good) < len(rows):
            logger.warning(
                "%d of %d references fail the task's own check: dropped", len(rows) - len(good), len(rows)
            )
        sets.append(good)
    return sets


def eval_report(
    model: Any, tokenizer: Any, task: Any, rows: list[dict], recipe: PairRecipe, k: int, seed: int
):
    """The :class:`rlad.eval.EvalReport` of ``model`` on ``rows``: ``k`` samples, the recipe's sampling."""
    from rlad.eval.evaluate import evaluate_model
    from rlad.eval.settings import EvalSettings

    settings = EvalSettings(
        k=k,
        max_new_tokens=recipe.max_new_tokens,
        temperature=recipe.temperature,
        top_p=recipe.top_p,
        seed=seed,
        batch_size=EVAL_BATCH_SIZE,
        greedy=False,
    )
    return evaluate_model(model, tokenizer, task, rows, settings)


def build_pair(recipe: PairRecipe, out_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Run ``recipe`` now (no cache), save ``teacher/``, ``student/`` and ``pair.json``; return pair.json."""
    out = Path(out_dir)
    task = recipe.make_task()
    tokenizer = build_char_tokenizer()
    teacher_vocab = recipe.teacher_vocab_size or len(tokenizer)
    student_vocab = recipe.student_vocab_size or teacher_vocab
    model = build_tiny_llama(
        tokenizer,
        hidden_size=recipe.hidden_size,
        num_layers=recipe.num_layers,
        num_heads=recipe.num_heads,
        intermediate_size=recipe.intermediate_size,
        vocab_size=teacher_vocab,
        seed=recipe.seed,
    )
    train_sets = verified_train_sets(recipe)
    test_rows = [dict(r) for r in task.load(split="test")]
    probe_rows = random.Random(recipe.seed).sample(test_rows, min(recipe.probe_prompts, len(test_rows)))
    probes: list[tuple[int, float]] = []
    student: dict[str, Any] = {}  # step and weights of the first probe at or above the target

    def sample_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
        return [rng.choice(rng.choice(train_sets)) for _ in range(n)]  # the sets equally often

    def probe(step: int) -> bool:
        """Keep the student's checkpoint; True (start the final decay) once a probe reads ``anneal_at``."""
        if student and recipe.anneal_at is None:
            return False  # nothing left to look for
        report = eval_report(model, tokenizer, task, probe_rows, recipe, recipe.probe_k, seed=step)
        accuracy = round(report.overall.mean_at_k, 4)
        probes.append((step, accuracy))
        logger.info("step %d: probe Mean@%d %.3f", step, recipe.probe_k, accuracy)
        if not student and accuracy >= recipe.student_target:
            student.update(step=step, probe=accuracy, state=copy.deepcopy(model.state_dict()))
        return recipe.anneal_at is not None and accuracy >= recipe.anneal_at

    run = train_on_pairs(
        model,
        tokenizer,
        sample_pairs,
        steps=recipe.steps,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        decay_start=recipe.decay_start,
        seed=recipe.seed,
        progress=progress,
        description=f"{recipe.task} pair",
        callback=probe,
        callback_every=recipe.probe_every,
        anneal_steps=recipe.anneal_steps,
        length_buckets=recipe.length_buckets,
    )
    if not student or student["step"] >= run["steps"]:
        best = max((a for _, a in probes), default=None)
        raise RuntimeError(
            f"no probe before step {run['steps']} reached student_target={recipe.student_target} (best "
            f"{best}, probes {probes}): raise steps or lower student_target"
        )
    student_model = copy.deepcopy(model)
    student_model.load_state_dict(student.pop("state"))
    student_model = with_vocab_size(student_model, student_vocab)

    run_id, eval_start, measured = recipe.run_id(), time.perf_counter(), {}
    for role, net, step in (("teacher", model, run["steps"]), ("student", student_model, student["step"])):
        report = eval_report(net, tokenizer, task, test_rows, recipe, recipe.eval_k, seed=recipe.seed)
        measured[role] = {
            "step": step,
            "mean_at_k": round(report.overall.mean_at_k, 4),
            "pass_at_k": round(report.overall.pass_at_k, 4),
            "per_subset": {name: round(m.mean_at_k, 4) for name, m in report.subsets.items()},
        }
        save_model(net, tokenizer, out / role)
        origin = {"run_id": run_id, "role": role, "step": step, "vocab_size": net.config.vocab_size}
        (out / role / "checkpoint.json").write_text(json.dumps(origin, indent=1) + "\n")
    low, high = recipe.student_band
    summary = {
        "run_id": run_id,
        "recipe": dataclasses.asdict(recipe),
        "k": recipe.eval_k,
        "test_problems": len(test_rows),
        "teacher": measured["teacher"],
        "student": {**measured["student"], "probe": student["probe"]},
        "usable": measured["teacher"]["mean_at_k"] >= recipe.teacher_target
        and low <= measured["student"]["mean_at_k"] <= high,
        "probes": probes,
        "parameters": count_parameters(model),
        "train_problems": [len(s) for s in train_sets],
        "anneal_start": run["anneal_start"],
        "final_loss": round(run["final_loss"], 5),
        "seconds": {  # facts about this machine, never budgets
            "train": round(run["seconds"], 1),
            "probes": round(run["callback_seconds"], 1),
            "eval": round(time.perf_counter() - eval_start, 1),
        },
    }
    (out / "pair.json").write_text(json.dumps(summary, indent=1) + "\n")
    logger.info(
        "%s pair %s: teacher %.3f (step %d), student %.3f (step %d), Mean@%d",
        recipe.task,
        run_id,
        measured["teacher"]["mean_at_k"],
        run["steps"],
        measured["student"]["mean_at_k"],
        student["step"],
        recipe.eval_k,
    )
    return json.loads((out / "pair.json").read_text())


def recipe_from_json(data: dict[str, Any]) -> PairRecipe:
    """The recipe of a ``pair.json`` (JSON lists back to the tuples the recipe holds)."""
    fields = {**data, "train_sets": tuple((dict(o), n) for o, n in data["train_sets"])}
    return PairRecipe(**{**fields, "student_band": tuple(data["student_band"])})
