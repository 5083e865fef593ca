"""Named pair recipes, built once by :func:`rlad.toy.pair.build_pair` and cached on disk by their run id.

``get_toy_pair("arithmetic")`` returns the demo's math pair (built on first use, a few minutes on a
2-core CPU); ``toy:<task>/<role>[@<profile>]`` model specs of recipes and the CLI resolve through
:func:`resolve_toy_model` (``toy:arithmetic/teacher``, ``toy:arithmetic/student@fast``).

Profiles (``PROFILES[task][profile]``):

- ``arithmetic/default``: the demo's family (:mod:`rlad.tasks.arithmetic`, one-digit numbers, 2-3
  operands in distribution, 4 out), shipped prebuilt in ``rlad/demo/checkpoints/``;
- ``arithmetic/fast``: two one-digit operands, a 2-layer 64-wide model, 300 steps (seconds; for tests);
  its student keeps fewer embedding rows than its teacher (same tokenizer, logits of different widths,
  as Qwen2.5 students (151936 rows) and teachers (152064) have);
- ``kk_synthetic/default``: the benchmark's logic family, chain Knights-and-Knaves (3-4 people in
  distribution, 5-6 out), a 4-layer 128-wide model (about 15 minutes here).

The cache directory defaults to ``$RLAD_TOY_CACHE`` or ``~/.cache/rlad/toy``; a pair lives in
``<cache>/<task>-<profile>-<run id>/`` (the layout of :func:`rlad.toy.pair.build_pair`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlad.toy.pair import PairRecipe, build_pair, recipe_from_json

ROLES = ("teacher", "student")

# 1-digit numbers, 2-3 operands (4 out of distribution): the demo's family. Built here (one thread, busy
# 2-core CPU, 6 minutes): student step 275, test Mean@8 0.31; teacher step 1600, 0.99; TRRD vetoes 1.5% of
# the student's positive-advantage tokens (the pair trained apart: 22%). rlad/demo/checkpoints/.
MATH = PairRecipe(
    task="arithmetic",
    task_options={
        "min_operands": 2,
        "max_operands": 3,
        "max_digits": 1,
        "ood_max_operands": 4,
        "ood_max_digits": 1,
    },
    train_sets=(({"max_operands": 2}, None), ({"min_operands": 3}, None)),  # 2 and 3 operands equally often
    intermediate_size=192,  # 3 * hidden: two checkpoints stay under 1 MB
    steps=2400,
    lr=3e-3,
    anneal_at=0.9,
    anneal_steps=400,
    student_target=0.25,  # 0.3 took the step-350 checkpoint (probe 0.43, Mean@8 0.47): the band's top
    probe_every=25,
    teacher_target=0.9,
)
# Chain Knights-and-Knaves (benchmarks/logic.py explains the choice): every 3-person train puzzle and
# 30 000 4-person ones, the sizes equally often; completions up to 141 characters on 6 people.
LOGIC = PairRecipe(
    task="kk_synthetic",
    task_options={"style": "chain", "n_people": [3, 4], "ood_people": [5, 6]},
    train_sets=(({"n_people": [3]}, 3414), ({"n_people": [4]}, 30_000)),
    max_new_tokens=144,
    hidden_size=128,
    num_layers=4,
    steps=1750,  # the old 600-second build ran 1741 steps
    batch_size=32,  # measured: 3x the progress per second of batch 128 at lr 2e-3
    lr=1e-3,
    decay_start=0.7,
    student_target=0.3,
    probe_every=25,
    probe_prompts=200,
)
FAST = PairRecipe(
    task="arithmetic",
    task_options={"min_operands": 2, "max_operands": 2, "max_digits": 1},
    steps=300,
    lr=5e-3,
    student_target=0.1,
    probe_every=10,
    probe_prompts=32,
    student_vocab_size=96,
    teacher_vocab_size=128,
)
PROFILES: dict[str, dict[str, PairRecipe]] = {
    "arithmetic": {"default": MATH, "fast": FAST},
    "kk_synthetic": {"default": LOGIC},
}


@dataclass
class ToyPair:
    """A built pair: where the two checkpoints are and how they measured (``pair.json``)."""

    folder: Path
    recipe: PairRecipe
    facts: dict[str, Any] = field(metadata={"help": "pair.json: run id, steps, Mean@k, probes."})

    @property
    def teacher_path(self) -> Path:
        return self.folder / "teacher"

    @property
    def student_path(self) -> Path:
        return self.folder / "student"

    @property
    def teacher_accuracy(self) -> float:
        return self.facts["teacher"]["mean_at_k"]

    @property
    def student_accuracy(self) -> float:
        return self.facts["student"]["mean_at_k"]

    @property
    def task(self):
        """The task both checkpoints were trained and measured on."""
        return self.recipe.make_task()

    def path(self, role: str) -> Path:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        return self.folder / role


def recipe_for(task: str, profile: str = "default", **overrides: Any) -> PairRecipe:
    """The recipe of ``task``/``profile`` with ``overrides`` (fields of :class:`PairRecipe`)."""
    if task not in PROFILES:
        raise ValueError(f"no toy pair for task {task!r}; valid tasks: {', '.join(sorted(PROFILES))}")
    if profile not in PROFILES[task]:
        valid = ", ".join(sorted(PROFILES[task]))
        raise ValueError(f"unknown toy profile {profile!r} for {task}; valid profiles: {valid}")
    return dataclasses.replace(PROFILES[task][profile], **overrides)


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
    """Load the pair of ``task``/``profile`` from the cache, or build and cache it first.

    ``overrides`` replace recipe fields (a different recipe has a different run id, so its own cache
    entry). Concurrent callers wait for one build (a file lock) instead of building twice.
    """
    recipe = recipe_for(task, profile, **overrides)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"{task}-{profile}-{recipe.run_id()}"
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f".{target.name}.lock"):
        if rebuild and target.exists():
            shutil.rmtree(target)
        if not (target / "pair.json").exists():
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
            try:
                build_pair(recipe, staging, progress=progress)
                staging.rename(target)  # atomic: a half-built pair is never visible under `target`
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return read_pair(target)


def read_pair(folder: str | os.PathLike) -> ToyPair:
    """The pair saved in ``folder`` by :func:`rlad.toy.pair.build_pair`."""
    facts = json.loads((Path(folder) / "pair.json").read_text())
    return ToyPair(folder=Path(folder), recipe=recipe_from_json(facts["recipe"]), facts=facts)


def resolve_toy_model(spec: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder of toy model ``<task>/<role>[@<profile>]`` (``arithmetic/teacher@fast``); built if missing."""
    name, _, profile = spec.partition("@")
    task, sep, role = name.partition("/")
    if not sep or role not in ROLES:
        raise ValueError(
            f"toy model spec must be <task>/<role>[@<profile>] with role in {ROLES}, got {spec!r}"
        )
    return get_toy_pair(task, profile=profile or "default", cache_dir=cache_dir).path(role)


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
