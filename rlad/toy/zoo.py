"""Toy teacher/student pairs built locally in seconds to minutes, cached on disk by a hash of their recipe.

``get_toy_pair("arithmetic")`` trains one tiny Llama on fresh problems (``rlad.toy.sft``) and saves two
checkpoints of it:

- the *teacher*: the fully trained model (sampled accuracy about 0.85-0.9 for the ``default`` profile);
- the *student*: the same run's earlier checkpoint, taken when its sampled accuracy first reached
  ``student_target`` (between 0.2 and 0.5), i.e. "fewer steps". At that point the model is in the middle
  of learning the task, so GRPO groups of 8 samples have mixed rewards and RL (with or without the
  teacher) has something to improve; the student costs no extra training, only a few accuracy probes.

The training run is shaped by how small transformers learn arithmetic: a long plateau (the model copies
the prompt but cannot compute), then a sudden rise. So (1) half of each batch is two-operand problems
until the rise (a curriculum that shortens the plateau), (2) the learning rate stays at its peak until a
probe reads ``anneal_at``, and only then (3) decays over ``anneal_steps`` on the task's own distribution.
A fixed cosine schedule instead decayed the rate before the rise and ended at 0.33 accuracy.

The student's embedding matrix is cut to ``student_vocab_size`` rows while the teacher keeps
``teacher_vocab_size`` (larger): the two share a tokenizer but emit logits of different widths, as Qwen2.5
students (151936 rows) and teachers (152064) do. Only padded rows, ids the tokenizer never produces, are cut.

Profiles: ``default`` (2-3 operands of up to 2 digits; a few minutes on a 2-core CPU) and ``fast``
(2 operands of 1 digit; about ten seconds, for unit tests). Results live in
``<cache_dir>/<task>-<profile>-<hash>/`` with ``teacher/``, ``student/`` (each loadable with
``AutoModelForCausalLM``/``AutoTokenizer``) and ``pair.json`` (recipe and measured accuracies). The cache
directory defaults to ``$RLAD_TOY_CACHE`` or ``~/.cache/rlad/toy``. ``resolve_toy_model`` serves the
``toy:<task>/<role>[@<profile>]`` model specs of recipes and the CLI (``toy:arithmetic/teacher``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rlad.registry import Registry
from rlad.toy.arith import ArithTask
from rlad.toy.evaluate import correctness, group_stats
from rlad.toy.models import build_tiny_llama, count_parameters, save_model, with_vocab_size
from rlad.toy.sft import SamplePairs, train_on_pairs
from rlad.toy.tokenizer import DEFAULT_ALPHABET, build_char_tokenizer

logger = logging.getLogger(__name__)

# Bump when a change to the code would change the models a recipe builds: old caches are then ignored.
ZOO_VERSION = 1
ROLES = ("teacher", "student")

TOY_TASKS: Registry = Registry("toy task")
TOY_TASKS.register("arithmetic")(ArithTask)


@dataclass(frozen=True)
class ToyPairConfig:
    """Recipe of a toy pair: the task, one model shape, its training run and how the student is picked."""

    task: str = field(default="arithmetic", metadata={"help": "Toy task name (TOY_TASKS)."})
    task_options: dict = field(
        default_factory=dict, metadata={"help": "Options of the task, e.g. {'max_digits': 1}."}
    )
    easy_fraction: float = field(
        default=0.0,
        metadata={"help": "Share of each batch drawn with `easy_options` instead, until the final decay."},
    )
    easy_options: dict = field(
        default_factory=dict, metadata={"help": "Task options overriding `task_options` for easy problems."}
    )
    hidden_size: int = field(default=128, metadata={"help": "Model width."})
    num_layers: int = field(default=3, metadata={"help": "Transformer blocks."})
    num_heads: int = field(default=4, metadata={"help": "Attention heads."})
    intermediate_size: int | None = field(default=None, metadata={"help": "MLP width; None: 4 * hidden."})
    max_position_embeddings: int = field(
        default=512, metadata={"help": "Context length in the config (RoPE: costs no parameters)."}
    )
    student_vocab_size: int | None = field(
        default=None, metadata={"help": "Student embedding rows; None: tokenizer size rounded up to 32."}
    )
    teacher_vocab_size: int | None = field(
        default=None, metadata={"help": "Teacher embedding rows (>= student's); None: student's + 32."}
    )
    steps: int = field(default=6000, metadata={"help": "Most optimiser steps of the training run."})
    batch_size: int = field(default=64, metadata={"help": "Fresh problems per step."})
    length_buckets: int = field(
        default=3, metadata={"help": "Forward passes per batch, sorted by length (less padding)."}
    )
    lr: float = field(default=3e-3, metadata={"help": "Peak AdamW learning rate."})
    decay_start: float = field(
        default=0.8,
        metadata={"help": "Fraction of `steps` after which the lr decays (if not annealed before)."},
    )
    anneal_at: float | None = field(
        default=0.6, metadata={"help": "Probe accuracy at which the final lr decay starts; None: never."}
    )
    anneal_steps: int = field(
        default=1200, metadata={"help": "Steps of that final decay; then training ends."}
    )
    time_limit_s: float | None = field(
        default=None, metadata={"help": "Stop training after this many seconds (schedule adapts)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the initialisation, the data and the probes."})
    student_target: float = field(
        default=0.35, metadata={"help": "Probe accuracy at which the student checkpoint is taken."}
    )
    probe_every: int = field(default=50, metadata={"help": "Steps between accuracy probes (student pick)."})
    probe_prompts: int = field(default=64, metadata={"help": "Prompts per probe."})
    probe_samples: int = field(default=4, metadata={"help": "Samples per probe prompt."})
    eval_prompts: int = field(default=200, metadata={"help": "Prompts of the final evaluation."})
    eval_samples: int = field(default=8, metadata={"help": "Samples per prompt (Mean@k) of the evaluation."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature of probes and eval."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus top-p of probes and eval."})

    def __post_init__(self) -> None:
        TOY_TASKS.get(self.task)  # unknown task: the error lists the valid ones
        positive = ("hidden_size", "num_layers", "num_heads", "steps", "batch_size", "probe_every")
        for name in (*positive, "probe_prompts", "probe_samples", "eval_prompts", "eval_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.easy_fraction <= 1.0:
            raise ValueError(f"easy_fraction must be in [0, 1], got {self.easy_fraction}")
        if not 0.0 < self.student_target < 1.0:
            raise ValueError(f"student_target must be in (0, 1), got {self.student_target}")
        if self.anneal_steps < 0:
            raise ValueError(f"anneal_steps must be >= 0, got {self.anneal_steps}")
        if self.anneal_at is not None and not self.student_target < self.anneal_at <= 1.0:
            raise ValueError(f"anneal_at must be in (student_target, 1], got {self.anneal_at}")
        if (
            self.student_vocab_size is not None
            and self.teacher_vocab_size is not None
            and self.teacher_vocab_size < self.student_vocab_size
        ):
            raise ValueError("teacher_vocab_size must be >= student_vocab_size (the student is cut from it)")

    def make_task(self) -> ArithTask:
        """The task both models are measured on."""
        return TOY_TASKS.get(self.task)(**self.task_options)

    def training_sampler(self) -> SamplePairs:
        """``sample_pairs(n, rng)`` for training: the task, with ``easy_fraction`` of easier problems.

        Arithmetic is learnt after a long plateau; two-operand problems mixed in shorten it (the
        ``default`` profile's transition came about 40% sooner in steps with half of each batch easy).
        """
        task = self.make_task()
        if self.easy_fraction == 0.0:
            return task.sample_pairs
        easy = TOY_TASKS.get(self.task)(**{**self.task_options, **self.easy_options})

        def sample_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
            n_easy = round(n * self.easy_fraction)
            return easy.sample_pairs(n_easy, rng) + task.sample_pairs(n - n_easy, rng)

        return sample_pairs

    def vocab_sizes(self, n_tokens: int) -> tuple[int, int]:
        """``(student, teacher)`` embedding rows for a tokenizer of ``n_tokens`` tokens."""
        student = self.student_vocab_size or -(-n_tokens // 32) * 32
        teacher = self.teacher_vocab_size or student + 32
        if student < n_tokens:
            raise ValueError(f"student_vocab_size={student} is smaller than the tokenizer ({n_tokens})")
        return student, teacher

    def cache_key(self) -> str:
        blob = json.dumps(
            {"config": dataclasses.asdict(self), "alphabet": DEFAULT_ALPHABET, "version": ZOO_VERSION},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


PROFILES: dict[str, ToyPairConfig] = {
    # 2-3 operands of 0..99, +/-; a 0.8M-parameter model. On an idle 2-core Xeon (2 torch threads): 232 s,
    # 2800 steps, teacher Mean@8 0.946, student 0.355 (step 1350). Seeds 0-2 on 1 thread: teachers 0.87-0.97.
    "default": ToyPairConfig(
        task_options={"min_operands": 2, "max_operands": 3, "max_digits": 2},
        easy_fraction=0.5,
        easy_options={"max_operands": 2},
    ),
    # 2 operands of 0..9; a 0.14M-parameter model. Same machine: 5.4 s, teacher 0.998, student 0.08.
    "fast": ToyPairConfig(
        task_options={"min_operands": 2, "max_operands": 2, "max_digits": 1},
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        steps=300,
        batch_size=64,
        length_buckets=1,
        lr=5e-3,
        decay_start=0.0,
        anneal_at=None,
        student_target=0.1,
        probe_every=10,
        probe_prompts=32,
        eval_prompts=100,
    ),
}


@dataclass
class ToyPair:
    """A built pair: where the two models are and how good they measured."""

    teacher_path: Path
    student_path: Path
    teacher_accuracy: float = field(metadata={"help": "Mean@k at the recipe's temperature/top-p."})
    student_accuracy: float
    config: ToyPairConfig
    stats: dict[str, Any] = field(default_factory=dict, metadata={"help": "Build times, steps, group stats."})

    @property
    def task(self) -> ArithTask:
        """The task (with the pair's options) both models were trained and measured on."""
        return self.config.make_task()

    def path(self, role: str) -> Path:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        return self.teacher_path if role == "teacher" else self.student_path

    def load(self, role: str) -> tuple[Any, Any]:
        """``(model, tokenizer)`` of ``"teacher"`` or ``"student"``, in eval mode."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = self.path(role)
        return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def default_cache_dir() -> Path:
    return Path(os.environ.get("RLAD_TOY_CACHE") or Path.home() / ".cache" / "rlad" / "toy")


def get_toy_pair(
    task: str = "arithmetic",
    *,
    profile: str = "default",
    cache_dir: str | os.PathLike | None = None,
    rebuild: bool = False,
    progress: bool = True,
    **overrides: Any,
) -> ToyPair:
    """Load the toy pair of ``task``/``profile`` from the cache, or build and cache it first.

    ``overrides`` replace fields of the profile's :class:`ToyPairConfig` (a different recipe gets its
    own cache entry). ``rebuild=True`` builds even when a cached pair exists. Concurrent callers wait
    for one build (a file lock) instead of building twice.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown toy profile {profile!r}; valid profiles: {', '.join(sorted(PROFILES))}")
    config = dataclasses.replace(PROFILES[profile], task=task, **overrides)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"{task}-{profile}-{config.cache_key()}"
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f".{target.name}.lock"):
        if rebuild and target.exists():
            shutil.rmtree(target)
        if not (target / "pair.json").exists():
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
            try:
                build_toy_pair(config, staging, progress=progress)
                staging.rename(target)  # atomic: a half-built pair is never visible under `target`
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return _read_pair(target)


def resolve_toy_model(spec: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder of toy model ``<task>/<role>[@<profile>]`` (``arithmetic/teacher@fast``); built if missing."""
    name, _, profile = spec.partition("@")
    task, sep, role = name.partition("/")
    if not sep or role not in ROLES:
        raise ValueError(
            f"toy model spec must be <task>/<role>[@<profile>] with role in {ROLES}, got {spec!r}"
        )
    return get_toy_pair(task, profile=profile or "default", cache_dir=cache_dir).path(role)


def build_toy_pair(config: ToyPairConfig, out_dir: str | os.PathLike, *, progress: bool = True) -> ToyPair:
    """Train the pair of ``config`` now (no cache) and save it under ``out_dir``."""
    out = Path(out_dir)
    task = config.make_task()
    tokenizer = build_char_tokenizer()
    student_vocab, teacher_vocab = config.vocab_sizes(len(tokenizer))
    model = build_tiny_llama(
        tokenizer,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_position_embeddings,
        vocab_size=teacher_vocab,
        seed=config.seed,
    )
    max_new_tokens = task.max_completion_chars() + 1  # + <eos>
    sampling = {"temperature": config.temperature, "top_p": config.top_p, "max_new_tokens": max_new_tokens}
    probe_set = task.sample_pairs(config.probe_prompts, random.Random(config.seed + 1))
    probes: list[tuple[int, float, dict[str, torch.Tensor]]] = []  # (step, accuracy, snapshot)

    def probe(step: int) -> bool:
        """Keep snapshots around ``student_target``; True (start the final decay) at ``anneal_at``."""
        student_found = bool(probes) and probes[-1][1] >= config.student_target
        if student_found and config.anneal_at is None:
            return False
        correct = correctness(
            model, tokenizer, probe_set, task.check, num_samples=config.probe_samples, seed=step, **sampling
        )
        acc = correct.float().mean().item()
        logger.info("step %d: probe accuracy %.3f", step, acc)
        if not student_found:
            probes[:] = [*probes[-1:], (step, acc, copy.deepcopy(model.state_dict()))]  # the last two suffice
        return config.anneal_at is not None and acc >= config.anneal_at

    start = time.perf_counter()
    train = train_on_pairs(
        model,
        tokenizer,
        config.training_sampler(),
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        decay_start=config.decay_start,
        seed=config.seed,
        time_limit_s=config.time_limit_s,
        progress=progress,
        description=f"toy {config.task} pair",
        callback=probe,
        callback_every=config.probe_every,
        anneal_steps=config.anneal_steps,
        anneal_sample_pairs=task.sample_pairs,  # easy problems only while at the peak lr
        length_buckets=config.length_buckets,
    )
    build_seconds = time.perf_counter() - start

    if not probes:
        raise RuntimeError("training ended before the first accuracy probe: lower probe_every")
    # The student: of the last probe below the target and the first at or above it, the closer one.
    step, probe_acc, state = min(probes, key=lambda p: abs(p[1] - config.student_target))
    if probes[-1][1] < config.student_target:
        logger.warning(
            "probe accuracy never reached student_target=%.2f (last %.3f): the student is the last snapshot; "
            "train longer (steps) or lower student_target",
            config.student_target,
            probes[-1][1],
        )
    student = copy.deepcopy(model)  # same architecture as the teacher; the snapshot's weights
    student.load_state_dict(state)
    student = with_vocab_size(student, student_vocab)

    eval_set = task.sample_pairs(config.eval_prompts, random.Random(config.seed + 2))
    eval_start = time.perf_counter()
    results = {}
    for role, net in (("teacher", model), ("student", student)):
        correct = correctness(
            net,
            tokenizer,
            eval_set,
            task.check,
            num_samples=config.eval_samples,
            seed=config.seed,
            **sampling,
        )  # (P, k)
        results[role] = group_stats(correct)
        save_model(net, tokenizer, out / role)
    stats = {
        "teacher": results["teacher"],
        "student": results["student"],
        "student_step": step,
        "student_probe_accuracy": probe_acc,
        "teacher_steps": train["steps"],
        "anneal_start": train["anneal_start"],
        "train_seconds": train["seconds"],
        "probe_seconds": train["callback_seconds"],
        "build_seconds": build_seconds,
        "eval_seconds": time.perf_counter() - eval_start,
        "tokens_per_s": train["tokens_per_s"],
        "final_loss": train["final_loss"],
        "parameters": count_parameters(model),
        "vocab_sizes": {"teacher": teacher_vocab, "student": student_vocab},
        "torch_threads": torch.get_num_threads(),
    }
    pair = ToyPair(
        teacher_path=out / "teacher",
        student_path=out / "student",
        teacher_accuracy=results["teacher"]["mean_at_g"],
        student_accuracy=results["student"]["mean_at_g"],
        config=config,
        stats=stats,
    )
    (out / "pair.json").write_text(
        json.dumps(
            {
                "teacher_accuracy": pair.teacher_accuracy,
                "student_accuracy": pair.student_accuracy,
                "config": dataclasses.asdict(config),
                "stats": stats,
            },
            indent=2,
        )
    )
    logger.info(
        "toy %s pair: teacher %.3f, student %.3f (Mean@%d), built in %.0f s",
        config.task,
        pair.teacher_accuracy,
        pair.student_accuracy,
        config.eval_samples,
        build_seconds,
    )
    return pair


def _read_pair(folder: Path) -> ToyPair:
    meta = json.loads((folder / "pair.json").read_text())
    return ToyPair(
        teacher_path=folder / "teacher",
        student_path=folder / "student",
        teacher_accuracy=meta["teacher_accuracy"],
        student_accuracy=meta["student_accuracy"],
        config=ToyPairConfig(**meta["config"]),
        stats=meta["stats"],
    )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (POSIX ``flock``; a no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, concurrent builds just duplicate work
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
