"""The ``rlad compare`` preset: one recipe, several methods, several seeds, every final model evaluated alike.

    for method in methods, for seed index i in 0..seeds-1:
        recipe turned into the method (rlad.compare.methods) with seed = recipe seed + i
        -> OUT/<method>/seed<i>: trained and evaluated once (rlad.compare.runs), reused on a re-run
    references, evaluated once: the student before training and the teacher -> OUT/reference/<name>/
    aggregate: mean and sample std across seeds of Mean@k and Pass@k, per subset / group / overall,
        and the teacher-gap closed (docs/method.md section 7) per seed, then across seeds
    write OUT/results.md, OUT/results.json and the plots of rlad.compare.plots

Every run is evaluated on the recipe's held-out problems with the same :class:`EvalSettings`
(``eval_k`` samples, ``max_completion_length`` new tokens, the paper's sampling, one sampling seed), so
the table compares like with like; the seeds vary training only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rlad.compare.methods import SFT, CompareError, method_config
from rlad.compare.results import ResultRow, comparison_table, curve, read_metrics, regime_curves
from rlad.compare.runs import finished, run_one
from rlad.compare.spec import RunSpec, reference_runs, train_run
from rlad.eval.settings import EvalSettings
from rlad.files import write_json_atomic, write_text_atomic
from rlad.run.models import check_model_path
from rlad.run.recipes import Recipe


@dataclass
class CompareResult:
    out_dir: Path
    rows: list[ResultRow]
    references: dict[str, dict[str, Any]]
    runs: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    results_md: Path
    results_json: Path
    plots: list[Path] = field(default_factory=list)


def eval_settings(recipe: Recipe) -> EvalSettings:
    """How every model of a recipe's comparison is evaluated."""
    return EvalSettings(k=recipe.eval_k, max_new_tokens=int(recipe.config.get("max_completion_length", 512)))


def plan_runs(
    recipe: Recipe,
    methods: Sequence[str],
    seeds: int,
    out_dir: str | os.PathLike,
    samples_per_prompt: int = 4,
) -> list[RunSpec]:
    """Every (method, seed) run, method-major, in ``OUT/<method>/seed<i>`` (seed: the recipe's + i)."""
    if seeds < 1:
        raise CompareError(f"--seeds must be >= 1, got {seeds}")
    out, base_seed = Path(out_dir), int(recipe.config.get("seed", 42))
    return [
        train_run(
            recipe,
            method,
            base_seed + i,
            out / method / f"seed{i}",
            f"{method} seed{i}",
            evaluation=eval_settings(recipe),
            sft_samples_per_prompt=samples_per_prompt,
            tags={"index": i},
        )  # fmt: skip
        for method in methods
        for i in range(seeds)
    ]


def check_runnable(recipe: Recipe, methods: Sequence[str]) -> None:
    """Catch what would fail later, before hours of training: unknown methods, a method that needs a
    teacher when the recipe has none, a config a method makes invalid, a missing model folder."""
    from rlad.objectives import LOSSES

    teacher = recipe.config.get("teacher_model")
    for method in methods:
        loss = method_config(method, {}).get("loss")
        needs_teacher = method == SFT or (loss in LOSSES and LOSSES.get(loss).needs_teacher)
        if needs_teacher and not teacher:
            raise CompareError(f"method {method!r} needs a teacher: set config.teacher_model in the recipe")
        train_run(recipe, method, 0, Path("."), "check").recipe.training_config()  # RecipeError if invalid
    check_model_path(recipe.model, "model")
    if teacher:
        check_model_path(teacher, "teacher_model")


def run_compare(
    recipe: Recipe,
    methods: Sequence[str],
    seeds: int,
    out_dir: str | os.PathLike,
    samples_per_prompt: int = 4,
    log: Callable[[str], None] = tqdm.write,
    workers: int = 1,
) -> CompareResult:
    """Train every (method, seed), evaluate, aggregate, and write ``results.md``/``.json`` and plots.

    ``workers`` > 1 runs that many trainings at once, each in its own single-threaded process
    (:mod:`rlad.compare.pool`); 1 runs them one after another in this process.
    """
    if workers < 1:
        raise CompareError(f"--workers must be >= 1, got {workers}")
    out = Path(out_dir)
    check_runnable(recipe, methods)
    plan = plan_runs(recipe, methods, seeds, out, samples_per_prompt)
    for spec in plan:
        finished(spec, refuse_other=True)  # a folder holding another comparison's run: refuse up front
    log(f"evaluating the references in {out / 'reference'}")
    evaluation = eval_settings(recipe)
    references = {
        s.name: run_one(s)["eval"] for s in reference_runs(recipe, out / "reference", evaluation=evaluation)
    }
    runs, failures = _in_pool(plan, workers, log) if workers > 1 else _in_process(plan, log)

    results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for done in runs:
        results[done["method"]].append(done["eval"])
    results = {m: s for m, s in results.items() if s}
    k = recipe.eval_k
    rows, gaps, table = comparison_table(results, references, k, failures)
    results_md = write_text_atomic(out / "results.md", table)
    drop = ("spec", "fingerprint", "reused")
    results_json = write_json_atomic(
        out / "results.json",
        {
            "k": k,
            "eval": dataclasses.asdict(eval_settings(recipe)),
            "methods": list(methods),
            "rows": [dataclasses.asdict(r) for r in rows],
            "teacher_gap_closed": {m: dataclasses.asdict(s) for m, s in gaps.items()},
            "references": references,
            "runs": [{key: value for key, value in done.items() if key not in drop} for done in runs],
            "failures": failures,
        },
    )
    return CompareResult(
        out,
        rows,
        references,
        runs,
        failures,
        results_md,
        results_json,
        _plots(out, runs, rows, references, k),
    )


def _failure(spec: RunSpec, error: str) -> dict[str, Any]:
    return {"method": spec.method, "index": spec.tags["index"], "seed": spec.seed, "error": error}


def _in_process(plan: Sequence[RunSpec], log: Callable[[str], None]) -> tuple[list[dict], list[dict]]:
    """Each run in this process, one after another: (finished runs, failures)."""
    from rlad.run.sft_distill import NoAcceptedSamplesError

    runs, failures = [], []
    for spec in tqdm(plan, desc="compare", unit="run"):
        if finished(spec, refuse_other=True):
            log(f"{spec.name}: done, skipped")
        else:
            log(f"{spec.name}: training (seed {spec.seed}) in {spec.output_dir}")
        try:
            runs.append(run_one(spec, refuse_other=True, progress_desc=spec.name))
        except NoAcceptedSamplesError as err:
            log(f"{spec.name}: failed: {err}")
            failures.append(_failure(spec, str(err)))
    return runs, failures


def _in_pool(
    plan: Sequence[RunSpec], workers: int, log: Callable[[str], None]
) -> tuple[list[dict], list[dict]]:
    """``workers`` runs at a time, each in its own process (log in ``<run>/log.txt``)."""
    from rlad.compare.pool import run_jobs, spec_job

    log(f"{len(plan)} runs, {workers} at a time; each run's log is <run folder>/log.txt")
    # Seed-major start order: every method gets its first seed early (an interrupted comparison still
    # has all methods) and runs running side by side are of different methods.
    plan = sorted(plan, key=lambda spec: spec.tags["index"])
    outcomes = run_jobs([spec_job(spec) for spec in plan], workers, log)
    runs, failures = [], []
    for spec, outcome in zip(plan, outcomes, strict=True):
        done = finished(spec, refuse_other=True) if outcome["ok"] else None
        if done is None:
            failures.append(_failure(spec, outcome.get("error") or "no done.json"))
        else:
            runs.append({**done, "reused": bool(outcome.get("reused"))})
    return runs, failures


def _plots(out: Path, runs: list[dict], rows: list[ResultRow], references: dict, k: int) -> list[Path]:
    from rlad.compare.plots import comparison_plots

    histories: dict[str, list[list[dict]]] = {}
    for done in runs:
        histories.setdefault(done["method"], []).append(read_metrics(done["metrics"]))
    paths = (out / "val_accuracy.png", out / "subset_accuracy.png", out / "regime_fractions.png")
    return comparison_plots(
        paths,
        {m: [curve(h, "eval/mean_at_k") for h in hs] for m, hs in histories.items()},
        rows,
        {m: [regime_curves(h) for h in hs] for m, hs in histories.items()},
        k,
        {name: summary["overall"]["mean_at_k"] for name, summary in references.items()},
    )
