"""``rlad demo``: GRPO vs RLAD on the same budget, from the same student, with a stronger teacher.

A preset of the comparison harness (:mod:`rlad.compare`): the shipped tiny pair, two methods, one seed.

1. Load the shipped tiny teacher and student (:mod:`rlad.demo.models`; no download, no pre-training).
2. Evaluate both on held-out problems: 2-3 operands (in distribution) and 4 operands (out of it).
3. Train the student twice, with GRPO and with RLAD (``rlad.compare.methods``), same prompts, same
   rollouts per prompt, same steps, evaluating every ``eval_every`` steps; evaluate each the same way.
4. Print a before/after table (Mean@k, Pass@k per subset, teacher for reference, teacher-gap closed)
   and write it with a plot of accuracy vs step.

The terminal shows one progress bar per phase (evaluate, train grpo, train rlad) with the live reward,
RLAD's clamped fraction and the last evaluation; every per-step metric goes to
``OUT/<method>/metrics.jsonl`` (``verbose`` prints TRL's dictionaries too). A finished run of the same
settings in ``OUT`` is reused.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rlad.compare.results import REFERENCE_STUDENT, REFERENCE_TEACHER, curve, read_metrics
from rlad.compare.spec import RunSpec, preset_recipe, reference_runs, train_run
from rlad.demo.models import TASK_OPTIONS, checkpoint
from rlad.eval.settings import EvalSettings
from rlad.files import write_json_atomic, write_text_atomic

METHODS = ("grpo", "rlad")
MAX_NEW_TOKENS = 32  # the demo's answers are under 20 characters


@dataclass
class DemoSettings:
    out_dir: Path = Path("runs/demo")
    steps: int = 150
    eval_every: int = 25
    eval_problems: int | None = None  # in distribution (None: the whole held-out split, 228 problems)
    ood_problems: int = 64
    k: int = 8
    learning_rate: float = 1e-4
    temperature: float = 0.7  # sampling temperature of the training rollouts
    seed: int = 0
    verbose: bool = False  # print TRL's per-step metric dictionaries (they always go to metrics.jsonl)
    extra_config: dict[str, Any] = field(default_factory=dict)
    student: Path | None = None  # None: the shipped checkpoints
    teacher: Path | None = None

    @classmethod
    def quick(cls, out_dir: Path) -> DemoSettings:
        """The same code path at CI size (about a minute)."""
        return cls(out_dir=out_dir, steps=6, eval_every=3, eval_problems=16, ood_problems=8, k=4)


def plan(settings: DemoSettings) -> tuple[list[RunSpec], list[RunSpec]]:
    """(references, training runs) of the demo, in ``OUT/<name>``."""
    student = str(settings.student or checkpoint("student"))
    teacher = str(settings.teacher or checkpoint("teacher"))
    config = {"max_steps": settings.steps, "learning_rate": settings.learning_rate, "disable_tqdm": False}
    base = preset_recipe(
        student, teacher, "arithmetic", TASK_OPTIONS, 16, 8, MAX_NEW_TOKENS, settings.temperature,
        eval_limit=settings.eval_problems, eval_every=settings.eval_every, eval_k=settings.k,
        config={**config, **settings.extra_config},
    )  # fmt: skip
    evaluation = EvalSettings(k=settings.k, max_new_tokens=MAX_NEW_TOKENS, seed=settings.seed, greedy=True)
    held_out = {
        "evaluation": evaluation,
        "ood_split": "ood",
        "ood_limit": settings.ood_problems,
        "ood_seed": 0,
    }
    out = settings.out_dir
    runs = [train_run(base, m, settings.seed, out / m, m, **held_out) for m in METHODS]
    return reference_runs(base, out, **held_out), runs


def run_demo(settings: DemoSettings) -> dict[str, Any]:
    """Run the demo; returns the summary that is also written to ``summary.json``."""
    threads = torch.get_num_threads()
    if "OMP_NUM_THREADS" not in os.environ:
        # Models this small are dominated by threading overhead: one thread measured ~10x faster per
        # SFT step than two on this 2-core machine under load (17 vs 0.45 it/s).
        torch.set_num_threads(1)
    try:
        return _run_demo(settings)
    finally:
        torch.set_num_threads(threads)


def _report(spec: RunSpec):
    from rlad.eval.report import EvalReport

    return EvalReport.from_json(spec.output_dir / "eval.json")


def _run_demo(settings: DemoSettings) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from rlad.compare.runs import run_one
    from rlad.eval import compare_reports
    from rlad.eval.report import IN_DISTRIBUTION
    from rlad.plots import plot_validation_curves
    from rlad.run.callbacks import quiet_libraries

    started = time.time()
    if not settings.verbose:
        quiet_libraries()
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    references, runs = plan(settings)
    print(
        f"rlad demo: GRPO vs RLAD, {settings.steps} steps each, evaluated on {settings.eval_problems or 'all'} "
        f"held-out problems in distribution and {settings.ood_problems} out of it; "
        f"per-step metrics in {settings.out_dir}/<method>/metrics.jsonl"
    )
    reports = {}
    with tqdm(total=len(references), desc="evaluate", unit="model") as bar:
        for spec in references:
            run_one(spec)
            reports[spec.name] = _report(spec)
            bar.set_postfix({n: f"{r.overall.mean_at_k:.3f}" for n, r in reports.items()}, refresh=False)
            bar.update(1)
    curves, timings = {}, {}
    # The evaluations during training use the in-distribution held-out problems: compare like with like.
    before = reports[REFERENCE_STUDENT].groups[IN_DISTRIBUTION].mean_at_k
    for spec in runs:
        done = run_one(spec, verbose=settings.verbose, progress_desc=f"train {spec.method}")
        timings[spec.method] = done.get("train_seconds")
        curves[spec.method] = [[(0, before), *curve(read_metrics(done["metrics"]), "eval/mean_at_k")]]
        reports[spec.method] = _report(spec)
    references_lines = {
        "teacher": reports[REFERENCE_TEACHER].groups[IN_DISTRIBUTION].mean_at_k,
        "student before": before,
    }
    plot = plot_validation_curves(
        curves, settings.out_dir / "accuracy_vs_step.png", settings.k, references_lines
    )
    table = compare_reports({k: reports[k] for k in (REFERENCE_STUDENT, *METHODS, REFERENCE_TEACHER)})
    summary = {
        "seconds": round(time.time() - started, 1),
        "train_seconds": timings,
        "mean_at_k": {name: r.overall.mean_at_k for name, r in reports.items()},
        "pass_at_k": {name: r.overall.pass_at_k for name, r in reports.items()},
        "curves": curves,
    }
    write_text_atomic(settings.out_dir / "summary.md", table + "\n")
    write_json_atomic(settings.out_dir / "summary.json", summary)
    print()
    print(table)
    print(f"\nrlad demo: finished in {summary['seconds']:.0f} s; outputs in {settings.out_dir}/")
    print(
        f"  summary.md (this table), summary.json, <run>/eval.json (every sample), {plot.name if plot else ''}"
    )
    print(f"  trained students: {settings.out_dir}/grpo/final, {settings.out_dir}/rlad/final")
    return summary
