"""Offline distillation baseline (docs/method.md section 6): rejection-sample the teacher, then SFT the student.

The data flow, one stage per function::

    train prompts (P) --sample_teacher---> k completions per prompt from the teacher          (P, k)
                      --rejection_sample-> keep the ones the task's verifier calls correct,
                                           drop exact duplicates of the same prompt            (M,)
                      --TRL SFTTrainer---> fine-tune the student on (prompt, completion) pairs

The teacher samples with the recipe's rollout settings (``temperature``, ``top_p``,
``max_completion_length``, ``seed``) on as many training prompts as an RL run of the same budget draws
(:func:`rl_prompt_budget`; a seeded draw, the whole split when it is smaller), so both see as many
problems. The verifier is
``task.score_batch``: the same check that is the RL reward, so "correct" means one thing everywhere.

SFT minimises the completion-only negative log-likelihood (TRL's prompt/completion format with
``completion_only_loss=True``; prompt tokens are masked out), averaged over the completion tokens of
the batch::

    L = - (1 / N) * sum_{i, t in completion_i} log pi_S(y_{i,t} | x_i, y_{i,<t})

The budget is the recipe's: ``max_steps``, ``learning_rate``, ``per_device_train_batch_size`` (here
(prompt, completion) pairs per device), ``seed``, ``output_dir`` and every other ``TrainingArguments``
field the recipe sets (scheduler, logging, checkpoints). RL-only fields (``num_generations``, ``loss``,
``alpha``, ...) do not apply; a recipe's ``lora:`` block trains a LoRA adapter, as it does for the RL
methods. The result mirrors ``rlad train``: ``output_dir/final`` (a model, or an adapter over the base),
``output_dir/metrics.jsonl`` (its first record holds the acceptance counts, and ``eval/*`` records
appear when the recipe sets ``eval_every``), plus ``output_dir/sft_data.jsonl``, the accepted pairs.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlad.files import write_json_atomic, write_text_atomic
from rlad.run.recipes import Recipe, RecipeError

# TrainingArguments fields that always carry over from the (validated) RLAD config to the SFT config.
BUDGET_FIELDS = (
    "output_dir",
    "max_steps",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "seed",
    "logging_steps",
    "bf16",
    "fp16",
    "use_cpu",
)
SAMPLING_BATCH_SIZE = 64  # sequences per teacher generate call
DATA_FILE = "sft_data.jsonl"  # the accepted (prompt, completion) pairs
ACCEPTANCE_FILE = "sft_acceptance.json"  # their counts, for a resumed run


class NoAcceptedSamplesError(RecipeError):
    """The teacher solved none of the training prompts: there is nothing to fine-tune on."""


@dataclass
class AcceptanceStats:
    """How many teacher samples passed the verifier, overall and per subset."""

    prompts: int = 0
    samples: int = 0
    accepted: int = 0  # verified-correct samples
    kept: int = 0  # accepted samples after dropping exact duplicates of the same prompt
    prompts_solved: int = 0  # prompts with at least one accepted sample
    by_subset: dict[str, dict[str, int]] = field(default_factory=dict)  # subset -> {samples, accepted}

    @property
    def rate(self) -> float:
        return self.accepted / self.samples if self.samples else 0.0

    def summary(self) -> str:
        return (
            f"{self.accepted}/{self.samples} teacher samples accepted ({self.rate:.1%}), "
            f"{self.kept} distinct kept, {self.prompts_solved}/{self.prompts} prompts solved"
        )


@dataclass
class SFTDistillResult:
    """What ``sft_distill`` produced; the fields of :class:`rlad.run.runner.RunResult` plus the acceptance."""

    output_dir: Path
    final_model: Path
    metrics_path: Path
    data_path: Path
    acceptance: AcceptanceStats
    eval_history: list[dict[str, float]]
    log_history: list[dict[str, Any]]


def sample_teacher(
    teacher: str,
    prompts: Sequence[Any],
    n: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    batch_size: int = SAMPLING_BATCH_SIZE,
) -> list[list[str]]:
    """``len(prompts)`` lists of ``n`` teacher completions (the evaluation backend, so the same prompts)."""
    from rlad.eval import HFBackend
    from rlad.run.models import load_model

    model, tokenizer, _ = load_model(teacher)
    backend = HFBackend(model, tokenizer, batch_size=batch_size, show_progress=True)
    completions = backend.generate(
        list(prompts), n=n, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed
    )
    del backend, model  # free the teacher before the student trains
    gc.collect()
    return completions


def as_completion(prompt: Any, text: str) -> Any:
    """The completion in the prompt's format: text for a plain prompt, an assistant turn for a chat one.

    >>> as_completion("2+2=", "2+2=4;A:4"), as_completion([{"role": "user", "content": "hi"}], "yo")
    ('2+2=4;A:4', [{'role': 'assistant', 'content': 'yo'}])
    """
    return text if isinstance(prompt, str) else [{"role": "assistant", "content": text}]


def rejection_sample(
    task: Any, rows: Sequence[Mapping[str, Any]], completions: Sequence[Sequence[str]]
) -> tuple[list[dict[str, Any]], AcceptanceStats]:
    """Keep the verified-correct completions: ``(P rows, (P, k) texts)`` -> SFT pairs and counts.

    A completion is accepted when ``task.score_batch`` calls it correct; exact duplicates of an accepted
    completion of the same prompt are dropped (they would only re-weight that prompt).
    """
    if len(rows) != len(completions):
        raise ValueError(f"{len(rows)} prompts but {len(completions)} groups of completions")
    flat_rows = [row for row, group in zip(rows, completions) for _ in group]  # P * k
    flat = [c for group in completions for c in group]  # P * k
    scores = task.score_batch(flat, flat_rows) if flat else []
    stats = AcceptanceStats(prompts=len(rows), samples=len(flat))
    pairs: list[dict[str, Any]] = []
    start = 0
    for row, group in zip(rows, completions):
        verdicts = [s.correct for s in scores[start : start + len(group)]]
        start += len(group)
        subset = str(row.get("subset") or "unlabelled")
        counts = stats.by_subset.setdefault(subset, {"samples": 0, "accepted": 0})
        counts["samples"] += len(group)
        counts["accepted"] += sum(verdicts)
        stats.accepted += sum(verdicts)
        stats.prompts_solved += any(verdicts)
        for text in dict.fromkeys(c for c, ok in zip(group, verdicts) if ok):
            pairs.append({"prompt": row["prompt"], "completion": as_completion(row["prompt"], text)})
    stats.kept = len(pairs)
    return pairs, stats


def sft_config_from(recipe_config: Mapping[str, Any], args: Any) -> Any:
    """An ``SFTConfig`` with the recipe's budget: the ``BUDGET_FIELDS`` of the validated RLAD config
    ``args``, and every other ``TrainingArguments`` field the recipe sets explicitly."""
    from transformers import TrainingArguments
    from trl import SFTConfig

    shared = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    explicit = {k: v for k, v in recipe_config.items() if k in shared}
    budget = {name: getattr(args, name) for name in BUDGET_FIELDS}
    return SFTConfig(
        **{**explicit, **budget},
        completion_only_loss=True,
        max_length=None,  # teacher completions are already capped at max_completion_length
        packing=False,
    )


def rl_prompt_budget(
    max_steps: int, batch_per_device: int, accumulation: int, num_generations: int, world_size: int = 1
) -> int | None:
    """How many prompts an RL run of this budget draws: completions per optimiser step over completions
    per prompt, times the steps; None when training is not bounded in steps (``max_steps`` <= 0).

    SFT samples the teacher on that many training prompts (a seeded draw), so both see as many problems;
    sampling the whole train split instead costs hours on a CPU for a real model (8,000 sums prompts).

    >>> rl_prompt_budget(32, 16, 1, 4), rl_prompt_budget(200, 128, 1, 8), rl_prompt_budget(-1, 16, 1, 4)
    (128, 3200, None)
    """
    if max_steps <= 0:
        return None
    return math.ceil(max_steps * batch_per_device * accumulation * world_size / num_generations)


def _sampled_pairs(
    recipe: Recipe, args: Any, task: Any, train: Any, samples_per_prompt: int, output_dir: Path
) -> tuple[list[dict[str, Any]], AcceptanceStats]:
    """Teacher samples -> accepted pairs, written to ``sft_data.jsonl`` and ``sft_acceptance.json``."""
    budget = rl_prompt_budget(
        args.max_steps,
        args.per_device_train_batch_size,
        args.gradient_accumulation_steps,
        args.num_generations,
    )
    if budget is not None and budget < len(train):
        train = train.shuffle(seed=args.seed).select(range(budget))
    rows = [dict(row) for row in train]
    completions = sample_teacher(
        args.teacher_model,
        [row["prompt"] for row in rows],
        n=samples_per_prompt,
        max_new_tokens=args.max_completion_length,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
    )  # (P, k)
    pairs, stats = rejection_sample(task, rows, completions)
    write_text_atomic(output_dir / DATA_FILE, "".join(json.dumps(pair) + "\n" for pair in pairs))
    write_json_atomic(output_dir / ACCEPTANCE_FILE, dataclasses.asdict(stats))
    return pairs, stats


def _saved_pairs(output_dir: Path) -> tuple[list[dict[str, Any]], AcceptanceStats] | None:
    """The pairs and counts a previous (interrupted) run of this folder sampled, if it got that far."""
    data, acceptance = output_dir / DATA_FILE, output_dir / ACCEPTANCE_FILE
    if not (data.is_file() and acceptance.is_file()):
        return None
    pairs = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pairs, AcceptanceStats(**json.loads(acceptance.read_text(encoding="utf-8")))


def sft_distill(
    recipe: Recipe, samples_per_prompt: int = 4, resume: bool = False, verbose: bool = False
) -> SFTDistillResult:
    """Sample the teacher on the recipe's training prompts, keep the correct samples, SFT the student.

    ``resume`` continues an interrupted run from its newest complete checkpoint, with the teacher
    samples it saved (``metrics.jsonl`` is cut back to the checkpoint's step). Without it, an
    ``output_dir`` holding a run is refused unless ``recipe.overwrite_output_dir``.
    Raises :class:`NoAcceptedSamplesError` when no sample passes the verifier (the counts are still
    written to ``output_dir/metrics.jsonl``), and :class:`RecipeError` for a recipe without a teacher.
    """
    from trl import SFTTrainer

    from rlad.files import check_model_folder, check_writable_dir
    from rlad.run.callbacks import quiet_libraries, quiet_progress
    from rlad.run.folder import latest_complete_checkpoint, prepare_fresh, rewind_metrics
    from rlad.run.models import check_model_path, resolve_model
    from rlad.run.runner import load_student_tokenizer, load_task_data, lora_config, run_callbacks

    if samples_per_prompt < 1:
        raise RecipeError(f"samples_per_prompt must be >= 1, got {samples_per_prompt}")
    if not recipe.config.get("teacher_model"):
        raise RecipeError("sft-distill samples a teacher: set config.teacher_model in the recipe")
    if not verbose:
        quiet_libraries()
    args = recipe.training_config()  # RecipeError if invalid
    check_model_path(recipe.model, "model")
    check_model_path(args.teacher_model, "teacher_model")
    output_dir = Path(args.output_dir)
    try:
        check_model_folder(recipe.model, "model")
        check_model_folder(args.teacher_model, "teacher_model")
        check_writable_dir(output_dir, "output_dir")
    except OSError as err:  # FileNotFoundError included
        raise RecipeError(str(err)) from err
    checkpoint = latest_complete_checkpoint(output_dir) if resume else None  # (step, folder)
    saved = _saved_pairs(output_dir) if checkpoint else None
    if checkpoint is None:
        prepare_fresh(output_dir, overwrite=recipe.overwrite_output_dir)
    metrics_path = output_dir / "metrics.jsonl"
    task, train, evaluation = load_task_data(recipe)

    if saved is not None:
        pairs, stats = saved
        rewind_metrics(metrics_path, checkpoint[0])
    else:
        metrics_path.unlink(missing_ok=True)
        pairs, stats = _sampled_pairs(recipe, args, task, train, samples_per_prompt, output_dir)
        _log_acceptance(metrics_path, stats)
    data_path = output_dir / DATA_FILE
    if not pairs:
        raise NoAcceptedSamplesError(
            f"no accepted samples: none of the {stats.samples} teacher samples on {stats.prompts} prompts "
            f"passed the {recipe.task} verifier; use a stronger teacher, more samples per prompt or another "
            "temperature"
        )

    import datasets

    student = resolve_model(recipe.model)
    tokenizer = load_student_tokenizer(recipe, student)
    callbacks, periodic = run_callbacks(
        recipe, task, evaluation, tokenizer, metrics_path, args.max_completion_length
    )
    trainer = SFTTrainer(
        model=student,
        args=sft_config_from(recipe.config, args),
        train_dataset=datasets.Dataset.from_list(pairs),
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=lora_config(recipe.lora),  # the recipe's LoRA block, as the RL methods train
    )
    if not verbose:
        quiet_progress(trainer, "sft")
    trainer.train(resume_from_checkpoint=str(checkpoint[1]) if checkpoint else None)
    final = output_dir / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    write_json_atomic(
        output_dir / "recipe.json",
        {
            "method": "sft-distill",
            "model": recipe.model,
            "task": recipe.task,
            "task_options": recipe.task_options,
            "samples_per_prompt": samples_per_prompt,
            "acceptance": dataclasses.asdict(stats),
            "config": recipe.config,
        },
    )
    return SFTDistillResult(
        output_dir,
        final,
        metrics_path,
        data_path,
        stats,
        periodic.history if periodic else [],
        trainer.state.log_history,
    )


def _log_acceptance(metrics_path: Path, stats: AcceptanceStats) -> None:
    """The acceptance counts as the first ``metrics.jsonl`` record (step 0)."""
    record = {
        "step": 0,
        "sft/teacher_samples": stats.samples,
        "sft/accepted": stats.accepted,
        "sft/kept": stats.kept,
        "sft/acceptance_rate": stats.rate,
        "sft/prompts_solved": stats.prompts_solved,
    }
    with metrics_path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
