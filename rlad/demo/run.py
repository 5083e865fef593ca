"""``rlad demo``: GRPO vs RLAD on the same budget, from the same student, with a stronger teacher.

A preset of the comparison harness (:mod:`rlad.compare`): one teacher/student pair, two methods, one seed.
The pair is the shipped tiny one (the defaults of :class:`DemoSettings`) or the shipped real 135M one
(:meth:`DemoSettings.real`, ``rlad demo --real``; :mod:`rlad.demo.real`).

1. Load the teacher and student (no download; the tiny pair is :mod:`rlad.demo.models`).
2. Evaluate both on held-out problems: in distribution and, when the pair has an ``ood_split``, out of it.
3. Train the student twice, with GRPO and with RLAD (``rlad.compare.methods``), same prompts, same
   rollouts per prompt, same steps, evaluating every ``eval_every`` steps; evaluate each the same way.
   With ``workers`` > 1 the two trainings run at once, each in its own single-threaded process.
4. Print a before/after table (Mean@k, Pass@k per subset, teacher for reference, teacher-gap closed),
   a single-seed verdict (RLAD minus GRPO with a paired standard error) and what ``rlad diagnose``
   measured of TRRD on the pair; write the table with a plot of accuracy vs step.

In process, the terminal shows one progress bar per phase (evaluate, train grpo, train rlad) with the
live reward, RLAD's clamped fraction and the last evaluation; in subprocesses each run's progress goes to
``OUT/<method>/log.txt``. Every per-step metric goes to ``OUT/<method>/metrics.jsonl`` (``verbose``
prints TRL's dictionaries too). A finished run of the same settings in ``OUT`` is reused.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rlad.compare.results import REFERENCE_STUDENT, REFERENCE_TEACHER, curve, read_metrics
from rlad.compare.spec import RunSpec, preset_recipe, reference_runs, train_run
from rlad.demo import real
from rlad.demo.models import CHECKPOINTS, TASK_OPTIONS
from rlad.eval.settings import EvalSettings
from rlad.files import write_json_atomic, write_text_atomic

METHODS = ("grpo", "rlad")
MAX_NEW_TOKENS = 32  # the tiny pair's answers are under 20 characters
TOY_STUDENT = str(CHECKPOINTS / "student")
TOY_TEACHER = str(CHECKPOINTS / "teacher")
TOY_MECHANISM = CHECKPOINTS / "build.json"  # its "mechanism": what rlad diagnose measured on the tiny pair


class DemoTrainingFailed(RuntimeError):
    """A training subprocess of the demo failed; the message holds its log's last lines."""


@dataclass
class DemoSettings:
    """One demo: the pair (models, task, sampling, LoRA), the budget and how it is evaluated.

    The defaults are the shipped tiny pair; :meth:`real` is the shipped real 135M pair.
    """

    out_dir: Path = Path("runs/demo")
    student: str = TOY_STUDENT  # model specs: a path, a hub name, or a real-model name (smollm2-135m...)
    teacher: str = TOY_TEACHER
    task: str = "arithmetic"
    task_options: dict[str, Any] = field(default_factory=lambda: dict(TASK_OPTIONS))
    max_new_tokens: int = MAX_NEW_TOKENS
    prompts_per_step: int = 16
    num_generations: int = 8  # rollouts per prompt
    temperature: float = 0.7  # sampling temperature of the training rollouts
    lora: dict[str, Any] | None = None  # peft.LoraConfig fields; None: train all weights
    ood_split: str | None = "ood"  # None: no out-of-distribution evaluation
    ood_problems: int = 64
    steps: int = 150
    eval_every: int = 25
    eval_problems: int | None = None  # in distribution (None: the whole held-out split, 228 problems)
    k: int = 8
    learning_rate: float = 1e-4
    seed: int = 0
    verbose: bool = False  # print TRL's per-step metric dictionaries (they always go to metrics.jsonl)
    extra_config: dict[str, Any] = field(default_factory=dict)  # more trainer settings
    greedy: bool = True  # the final evaluations also decode one greedy completion per problem
    workers: int = 1  # > 1: the two trainings run at once, each in its own single-threaded process
    mechanism_file: Path | None = None  # JSON whose "mechanism" rlad diagnose measured on this pair

    @classmethod
    def quick(cls, out_dir: Path) -> DemoSettings:
        """The same code path at CI size (about a minute)."""
        return cls(out_dir=out_dir, steps=6, eval_every=3, eval_problems=16, ood_problems=8, k=4)

    @classmethod
    def real(cls, out_dir: Path) -> DemoSettings:
        """The shipped real pair (:mod:`rlad.demo.real`): 135M LoRA student and teacher on ``sums``."""
        return cls(out_dir=out_dir, **real.settings_fields())

    @classmethod
    def real_quick(cls, out_dir: Path) -> DemoSettings:
        """The real pair's code path at test size (2 steps, 8 problems, k=2)."""
        return cls(out_dir=out_dir, **{**real.settings_fields(), **real.QUICK})


def plan(settings: DemoSettings) -> tuple[list[RunSpec], list[RunSpec]]:
    """(references, training runs) of the demo, in ``OUT/<name>``."""
    config = {"max_steps": settings.steps, "learning_rate": settings.learning_rate, "disable_tqdm": False}
    base = preset_recipe(
        str(settings.student), str(settings.teacher), settings.task, settings.task_options,
        settings.prompts_per_step, settings.num_generations, settings.max_new_tokens, settings.temperature,
        eval_limit=settings.eval_problems, eval_every=settings.eval_every, eval_k=settings.k,
        lora=settings.lora, config={**config, **settings.extra_config},
    )  # fmt: skip
    evaluation = EvalSettings(
        k=settings.k, max_new_tokens=settings.max_new_tokens, seed=settings.seed, greedy=settings.greedy
    )
    held_out = {
        "evaluation": evaluation,
        "ood_split": settings.ood_split,
        "ood_limit": settings.ood_problems if settings.ood_split else None,
        "ood_seed": 0,
    }
    out = settings.out_dir
    runs = [train_run(base, m, settings.seed, out / m, m, **held_out) for m in METHODS]
    return reference_runs(base, out, **held_out), runs


def mechanism_path(settings: DemoSettings) -> Path | None:
    """The file holding what rlad diagnose measured on the demo's pair: the settings' own, else the
    tiny pair's ``build.json`` when the pair is the shipped tiny one; None for any other pair."""
    if settings.mechanism_file is not None:
        return settings.mechanism_file
    toy = (str(settings.student), str(settings.teacher)) == (TOY_STUDENT, TOY_TEACHER)
    return TOY_MECHANISM if toy else None


def per_problem_means(report: Any) -> dict[int, float]:
    """Each in-distribution problem's mean correctness over its samples, by problem index (the
    per-problem terms of Mean@k); problems of the report's OOD subsets are left out."""
    ood = set(report.config.get("ood_subsets", []))
    return {
        p.index: sum(float(s.correct) for s in p.samples) / len(p.samples)
        for p in report.problems
        if p.subset not in ood and p.samples
    }


def paired_verdict(rlad: Mapping[int, float], grpo: Mapping[int, float]) -> dict[str, Any]:
    """RLAD minus GRPO on Mean@k, paired over the same problems: the mean of the per-problem differences,
    its standard error (sample std of the differences / sqrt(n)) and the call at two standard errors.

    >>> v = paired_verdict({0: 1.0, 1: 0.5, 2: 0.5}, {0: 0.0, 1: 0.5, 2: 0.0})
    >>> round(v["diff"], 4), round(v["se"], 4), v["n"], v["call"]
    (0.5, 0.2887, 3, 'no clear difference (|diff| < 2 se)')
    """
    if set(rlad) != set(grpo):
        raise ValueError(f"the two evaluations differ in problems: {len(rlad)} vs {len(grpo)} problems")
    diffs = [rlad[i] - grpo[i] for i in sorted(rlad)]
    n = len(diffs)
    diff = sum(diffs) / n if n else float("nan")
    se = math.sqrt(sum((d - diff) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else float("nan")
    if n < 2:
        call = "too few problems for a verdict"
    elif diff != 0 and abs(diff) >= 2 * se:
        call = "RLAD ahead" if diff > 0 else "GRPO ahead"
    else:
        call = "no clear difference (|diff| < 2 se)"
    return {"diff": diff, "se": se, "n": n, "call": call}


def verdict_paragraph(verdict: Mapping[str, Any], k: int) -> str:
    """The verdict in words, marked as what it is: one seed, the sampling noise of the problems only."""
    return (
        f"Verdict: RLAD minus GRPO on in-distribution Mean@{k} = {verdict['diff']:+.3f} "
        f"(se {verdict['se']:.3f}, paired over {verdict['n']} problems): {verdict['call']}. "
        "One seed only: a single-seed verdict; the standard error covers the problems drawn, "
        "not the training seed."
    )


def _percent(share: float) -> str:
    """0.06 -> '6%', 0.015 -> '1.5%', 0.0146 -> '1.5%'."""
    return f"{100 * share:.1f}".rstrip("0").rstrip(".") + "%"


def mechanism_line(facts: Mapping[str, Any]) -> str:
    """What TRRD does on the pair at the first update, from rlad diagnose's numbers (``facts``)."""
    line = (
        f"TRRD on this pair: log(pi_S/pi_T) {facts['log_ratio_mean']:+.2f} nats/token on the student's "
        f"samples, {_percent(facts['beyond_clamp'])} of tokens beyond the clamp, "
        f"{_percent(facts['veto_share'])} of positive-advantage tokens vetoed (zero gradient) at the first update"
    )
    if facts.get("correct_agreed_share") is not None:
        line += f"; the teacher agrees with {_percent(facts['correct_agreed_share'])} of the correct rollouts"
    return line + " (rlad diagnose)."


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


def _in_distribution(report: Any) -> Any:
    """The in-distribution metrics: the group when the report has OOD subsets, else all problems."""
    from rlad.eval.report import IN_DISTRIBUTION

    return report.groups.get(IN_DISTRIBUTION, report.overall)


def _header(settings: DemoSettings) -> str:
    where = f"{settings.eval_problems or 'all'} held-out problems in distribution"
    if settings.ood_split:
        where += f" and {settings.ood_problems} out of it"
    lora = f", LoRA r={settings.lora['r']}" if settings.lora else ""
    return (
        f"rlad demo: GRPO vs RLAD on {settings.student} (teacher {settings.teacher}, task {settings.task}"
        f"{lora}), {settings.steps} steps each, evaluated on {where}; "
        f"per-step metrics in {settings.out_dir}/<method>/metrics.jsonl"
    )


def _train_in_subprocesses(runs: list[RunSpec], workers: int) -> dict[str, dict[str, Any]]:
    """Run the trainings at once, ``workers`` at a time, each in its own single-threaded process
    (rlad.compare.pool); their ``done.json`` by method. A failed run stops the demo with its log tail."""
    from rlad.compare.pool import run_jobs, spec_job
    from rlad.compare.runs import finished

    print(
        f"training {', '.join(s.method for s in runs)} at once ({workers} processes); progress in "
        + ", ".join(str(s.output_dir / "log.txt") for s in runs)
    )
    results = run_jobs([spec_job(s) for s in runs], workers, print)
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise DemoTrainingFailed(f"training {failed[0]['name']} failed: {failed[0]['error']}")
    return {s.method: finished(s, refuse_other=False) for s in runs}


def _train(settings: DemoSettings, runs: list[RunSpec]) -> dict[str, dict[str, Any]]:
    """Train every run, in this process or (``workers`` > 1) in subprocesses; ``done.json`` by method."""
    from rlad.compare.runs import run_one

    if settings.workers > 1:
        return _train_in_subprocesses(runs, settings.workers)
    return {s.method: run_one(s, verbose=settings.verbose, progress_desc=f"train {s.method}") for s in runs}


def _run_demo(settings: DemoSettings) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from rlad.compare.runs import run_one
    from rlad.eval import compare_reports
    from rlad.plots import plot_validation_curves
    from rlad.run.callbacks import quiet_libraries

    started = time.time()
    if not settings.verbose:
        quiet_libraries()
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    references, runs = plan(settings)
    print(_header(settings))
    reports = {}
    with tqdm(total=len(references), desc="evaluate", unit="model") as bar:
        for spec in references:
            run_one(spec)
            reports[spec.name] = _report(spec)
            bar.set_postfix({n: f"{r.overall.mean_at_k:.3f}" for n, r in reports.items()}, refresh=False)
            bar.update(1)
    curves, timings = {}, {}
    # The evaluations during training use the in-distribution held-out problems: compare like with like.
    before = _in_distribution(reports[REFERENCE_STUDENT]).mean_at_k
    done = _train(settings, runs)
    # Without evaluations during training (eval_every 0: the real pair, where one costs ~10 steps) the
    # curve is the training reward, one point per generation batch.
    evaluated = settings.eval_every > 0
    for spec in runs:
        timings[spec.method] = done[spec.method].get("train_seconds")
        metrics = read_metrics(done[spec.method]["metrics"])
        points = curve(metrics, "eval/mean_at_k") if evaluated else curve(metrics, "reward")
        curves[spec.method] = [[(0, before), *points] if evaluated else points]
        reports[spec.method] = _report(spec)
    references_lines = {
        "teacher": _in_distribution(reports[REFERENCE_TEACHER]).mean_at_k,
        "student before": before,
    }
    if evaluated:
        plot = plot_validation_curves(
            curves, settings.out_dir / "accuracy_vs_step.png", settings.k, references_lines
        )
    else:
        plot = plot_validation_curves(
            curves,
            settings.out_dir / "reward_vs_step.png",
            settings.k,
            references_lines,
            ylabel="training reward (mean over the generation batch)",
            title="Training reward (references: held-out Mean@k)",
        )
    table = compare_reports({k: reports[k] for k in (REFERENCE_STUDENT, *METHODS, REFERENCE_TEACHER)})
    verdict = paired_verdict(per_problem_means(reports["rlad"]), per_problem_means(reports["grpo"]))
    source = mechanism_path(settings)
    mechanism = json.loads(source.read_text())["mechanism"] if source else None
    summary = {
        "seconds": round(time.time() - started, 1),
        "train_seconds": timings,
        "mean_at_k": {name: r.overall.mean_at_k for name, r in reports.items()},
        "pass_at_k": {name: r.overall.pass_at_k for name, r in reports.items()},
        "curves": curves,
        "verdict": verdict,
        "mechanism": mechanism,
    }
    write_text_atomic(settings.out_dir / "summary.md", table + "\n")
    write_json_atomic(settings.out_dir / "summary.json", summary)
    print()
    print(table)
    print(verdict_paragraph(verdict, settings.k))
    if mechanism is not None:
        print(mechanism_line(mechanism))
    print(f"\nrlad demo: finished in {summary['seconds']:.0f} s; outputs in {settings.out_dir}/")
    print(
        f"  summary.md (this table), summary.json, <run>/eval.json (every sample), {plot.name if plot else ''}"
    )
    print(f"  trained students: {settings.out_dir}/grpo/final, {settings.out_dir}/rlad/final")
    return summary
