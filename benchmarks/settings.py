"""What the benchmark runs: the modes (full, quick), the task families, the ablations, and the runs they
make in the comparison harness (:mod:`rlad.compare`).

Every run is a :class:`~rlad.compare.spec.RunSpec` built by :func:`bench_run` or :func:`bench_references`
(plain data, written to ``spec.json`` and run by ``python -m rlad.compare.runs`` in a fresh process).
The methods are the harness's one table (:data:`rlad.compare.methods.METHODS`). Equal budgets: every
method of a family trains the same student from the same prompts for the same number of steps with the
same batch (``prompts_per_step`` x ``num_generations`` completions for RL; the same number of
(prompt, completion) pairs per step for SFT), and gets the same learning-rate grid in the search.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.logic import MAX_COMPLETION_LENGTH as LOGIC_MAX_COMPLETION_LENGTH
from benchmarks.logic import RECIPE as LOGIC_RECIPE
from benchmarks.logic import TASK_OPTIONS as LOGIC_TASK_OPTIONS
from rlad.compare.spec import RunSpec, preset_recipe, reference_runs, train_run
from rlad.demo.models import TASK_OPTIONS as MATH_TASK_OPTIONS
from rlad.demo.models import checkpoint
from rlad.eval.settings import EvalSettings
from rlad.run.recipes import Recipe

LOGIC_BUILD_STEPS = LOGIC_RECIPE.steps  # the recipe's budget (rlad.toy.zoo, kk_synthetic/default)
SEARCH_PHASES = ("lr_search", "kd_search")  # scored on the validation curve; no final evaluation

# Ablations of RLAD (1 seed). Values chosen before any run, from the toy's scale: |old - teacher logp|
# averages ~4 nats per token at step 0, so tau_align = 2 closes the least aligned sequences.
ABLATIONS: dict[str, dict[str, Any]] = {
    "alpha0.1": {"alpha": 0.1},
    "alpha0.3": {"alpha": 0.3},
    "alpha0.7": {"alpha": 0.7},
    "alpha0.9": {"alpha": 0.9},
    # Clamp off: None reaches the loss as "no clamp" (tests/trainer/test_end_to_end.py,
    # test_clamp_none_reaches_the_loss). The old pair's runs used 1e9 while None was silently dropped.
    "clamp_off": {"teacher_log_ratio_clamp": None},
    "gate_align": {"gate_align_tau": 2.0},
    "gate_adv": {"gate_adv_tau": 0.5},
    "gate_explore": {"gate_explore_rate": 0.5},
    "teacher_rollouts": {"teacher_rollouts_per_prompt": 2, "teacher_rollouts_when": "all_failed"},
}


@dataclass(frozen=True)
class Family:
    """A task family: the task, its student and teacher, its held-out subsets."""

    name: str
    task: str
    task_options: dict[str, Any]
    student: str
    teacher: str
    max_completion_length: int
    ood_split: str | None  # split holding out-of-distribution problems, if the task has one
    hardest: str  # the subset the "largest gains on the hardest subset" claim is read on
    mode_overrides: dict[str, Any] = field(default_factory=dict)  # Mode fields this family sizes itself

    def mode(self, mode: Mode) -> Mode:
        """The mode this family's runs use: ``mode`` with the family's overrides."""
        return dataclasses.replace(mode, **self.mode_overrides)


def math_family() -> Family:
    return Family(
        name="math",
        task="arithmetic",
        task_options=dict(MATH_TASK_OPTIONS),
        student=str(checkpoint("student")),
        teacher=str(checkpoint("teacher")),
        max_completion_length=32,
        ood_split="ood",
        hardest="ood_ops4",
    )


def logic_family(models_dir: Path) -> Family:
    return Family(
        name="logic",
        task="kk_synthetic",
        task_options=dict(LOGIC_TASK_OPTIONS),
        student=str(models_dir / "student"),
        teacher=str(models_dir / "teacher"),
        max_completion_length=LOGIC_MAX_COMPLETION_LENGTH,
        ood_split="ood",
        # ppl4, not ood_ppl6: a teacher trained on 3-4 people scores 0 on 5-6 (it never saw the letters
        # E and F), so the hardest subset anyone can move is the hardest one in distribution.
        hardest="ppl4",
        # Logic completions are ~60 characters (math: ~20); a step, validation included, took 2.5 s vs 0.44:
        # half the steps and half the prompts per step keep the family inside the full mode's 90 minutes.
        # The search runs half the main budget, as math's does (100 of 200 steps).
        mode_overrides={"steps": 100, "prompts_per_step": 8, "lr_search_steps": 50},
    )


@dataclass(frozen=True)
class Mode:
    """The sizes of one benchmark mode. All runs of a phase share them (equal budgets)."""

    name: str
    steps: int  # training steps of the main comparison
    seeds: int
    eval_every: int  # validation (in-distribution test split) every N steps
    k: int  # samples per problem: Mean@k, Pass@k
    prompts_per_step: int
    num_generations: int
    temperature: float  # rollout temperature (the eval uses 0.6 / top-p 0.95, the paper's protocol)
    train_limit: int | None  # training prompts (None: the task's whole train split)
    eval_limit: int | None  # in-distribution test problems (None: all)
    ood_limit: int | None  # out-of-distribution problems (None: all)
    lr_grid: tuple[float, ...]
    lr_search_steps: int
    kd_grid: tuple[float, ...]  # KDRL's starting KD coefficient, searched at KDRL's chosen rate
    ablations: tuple[str, ...]
    ablation_steps: int
    ablation_seeds: int
    cost_steps: int  # steps per method in the side-by-side cost run
    cost_repeats: int  # the cost run goes A B C, C B A, ... to cancel drift on a shared machine
    memory_shapes: tuple[tuple[int, int, int], ...]  # (vocab, batch, length) of the memory probe
    sft_samples_per_prompt: int
    logic: bool
    logic_build_steps: int  # optimiser steps of the logic pair's one supervised run (benchmarks.logic)
    logic_seeds: int
    logic_search: bool  # search the logic family's rates too (else: the math family's choices)
    workers: int = 2  # training processes at once (2-core machine)
    methods: tuple[str, ...] = field(default=("sft", "grpo", "kdrl", "rlad"))


FULL = Mode(
    name="full",
    steps=200,
    seeds=3,
    eval_every=20,
    k=8,
    prompts_per_step=16,
    num_generations=8,
    temperature=0.7,
    train_limit=None,
    eval_limit=None,  # 228 problems (28 ops2 + 200 ops3)
    ood_limit=None,  # 200 problems (ood_ops4)
    lr_grid=(3e-5, 1e-4, 3e-4),
    lr_search_steps=100,
    kd_grid=(1e-3, 5e-3, 2e-2),
    ablations=tuple(ABLATIONS),
    ablation_steps=200,
    ablation_seeds=3,
    cost_steps=25,
    cost_repeats=2,
    memory_shapes=((32000, 8, 256), (150000, 8, 256)),
    sft_samples_per_prompt=8,
    logic=True,
    logic_build_steps=LOGIC_BUILD_STEPS,
    logic_seeds=3,
    # The logic family's own search: 12 + 2 runs of 50 steps without a final evaluation (19 minutes here).
    logic_search=True,
)

QUICK = Mode(
    name="quick",
    steps=6,
    seeds=1,
    eval_every=3,
    k=4,
    prompts_per_step=4,
    num_generations=4,
    temperature=0.7,
    train_limit=64,
    eval_limit=16,
    ood_limit=8,
    lr_grid=(1e-4,),
    lr_search_steps=3,
    kd_grid=(5e-3, 2e-2),
    ablations=("alpha0.3", "clamp_off"),
    ablation_steps=3,
    ablation_seeds=1,
    cost_steps=3,
    cost_repeats=1,
    memory_shapes=((32000, 2, 64),),
    sft_samples_per_prompt=2,
    logic=False,
    logic_build_steps=0,
    logic_seeds=0,
    logic_search=False,
)

MODES = {m.name: m for m in (FULL, QUICK)}


def base_recipe(family: Family, mode: Mode) -> Recipe:
    """What every run of ``family`` in ``mode`` shares: student, task, data, batch, lengths, logging."""
    return preset_recipe(
        family.student, family.teacher, family.task, family.task_options, mode.prompts_per_step,
        mode.num_generations, family.max_completion_length, mode.temperature, train_limit=mode.train_limit,
        eval_limit=mode.eval_limit, eval_every=mode.eval_every, eval_k=mode.k, config={"disable_tqdm": True},
    )  # fmt: skip


def _held_out(family: Family, mode: Mode) -> dict[str, Any]:
    """The final evaluation: the test split and the out-of-distribution split, the paper's sampling."""
    evaluation = EvalSettings(k=mode.k, max_new_tokens=family.max_completion_length, batch_size=128)
    return {"evaluation": evaluation, "ood_split": family.ood_split, "ood_limit": mode.ood_limit}


def bench_run(
    family: Family,
    mode: Mode,
    out: Path,
    phase: str,
    tag: str,
    method: str,
    seed: int,
    lr: float,
    steps: int,
    overrides: dict[str, Any] | None = None,
) -> RunSpec:
    """One training run in ``OUT/runs/<family>/<phase>/<tag>/seed<seed>``; a search run has no final evaluation."""
    name = f"{family.name}/{phase}/{tag}/seed{seed}"
    held_out = _held_out(family, mode)
    if phase in SEARCH_PHASES:
        held_out["evaluation"] = None
    return train_run(
        base_recipe(family, mode), method, seed, out / "runs" / name, name,
        overrides={"max_steps": steps, "learning_rate": lr, **(overrides or {})},
        sft_samples_per_prompt=mode.sft_samples_per_prompt,
        tags={"phase": phase, "tag": tag, "learning_rate": lr},
        **held_out,
    )  # fmt: skip


def bench_references(family: Family, mode: Mode, out: Path) -> list[RunSpec]:
    """The untrained student and the teacher, evaluated like the runs, plus the student's step-0 validation."""
    root, prefix = out / "runs" / family.name / "reference", f"{family.name}/reference/"
    held_out = _held_out(family, mode)
    return reference_runs(
        base_recipe(family, mode), root, prefix, step0=True, tags={"phase": "reference"}, **held_out
    )
