"""Compare distillation methods on one recipe across seeds: the orchestration behind ``rlad compare``.

One recipe, several methods, several seeds, every final model evaluated the same way::

    for method in methods (grpo, kdrl, rlad, opd, sft), for seed index i in 0..seeds-1:
        recipe + METHODS[method] + {seed: recipe seed + i, output_dir: OUT/<method>/seed<i>}
        train it (rlad.runner.train_recipe; rlad.sft_distill.sft_distill for "sft"),
            unless OUT/<method>/seed<i>/done.json says it already finished with this recipe
        evaluate OUT/<method>/seed<i>/final with the recipe's eval settings -> eval.json, done.json
    references, evaluated once: the student before training and the teacher -> OUT/reference/<name>/
    aggregate: mean and sample std across seeds of Mean@k and Pass@k, per subset / group / overall,
        and the teacher-gap closed (spec section 7) per seed, then across seeds
    write OUT/results.md, OUT/results.json and the plots of rlad.plots

Every run uses the same evaluation problems (``rlad.runner.load_task_data``), the same sampling
settings (temperature 0.6, top-p 0.95, ``eval_k`` samples, ``max_completion_length`` new tokens) and
the same sampling seed, so the table compares like with like; the seeds vary training only.

The pure parts (method settings, the run plan, ``aggregate``, ``mean_std``, reading ``metrics.jsonl``)
are separate functions with tests; ``run_compare`` wires them to training and evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rlad.compare_results import (
    REFERENCE_STUDENT,
    REFERENCE_TEACHER,
    ResultRow,
    aggregate,
    bars_of,
    curve,
    gap_closed,
    read_metrics,
    regime_curves,
    results_markdown,
)
from rlad.models import check_model_path, load_model
from rlad.recipes import Recipe

# Method name -> the recipe ``config`` overrides that select it. "sft" trains with rlad.sft_distill
# (offline distillation, spec section 6) and uses the recipe's config as is.
METHODS: dict[str, dict[str, Any]] = {
    "grpo": {"loss": "grpo"},
    "kdrl": {"loss": "kdrl"},
    "rlad": {"loss": "trrd"},
    "opd": {"loss": "opd"},
    "sft": {},
}
SFT = "sft"
EVAL_TEMPERATURE = 0.6  # the paper's evaluation protocol
EVAL_TOP_P = 0.95
EVAL_SEED = 0


class CompareError(ValueError):
    """A comparison that cannot run as asked (unknown method, an output folder from another recipe)."""


# --------------------------------------------------------------------------------------------------
# Evaluating one model (shared with ``rlad eval`` and ``rlad sft-distill``).


def eval_settings(recipe: Recipe) -> dict[str, Any]:
    """What fixes the evaluation of a recipe's models: problems, k, sampling. Stored next to results."""
    return {
        "task": recipe.task,
        "task_options": recipe.task_options,
        "eval_source": recipe.eval_source if recipe.eval_source is not None else recipe.train_source,
        "eval_split": recipe.eval_split,
        "eval_limit": recipe.eval_limit,
        "k": recipe.eval_k,
        "max_new_tokens": int(recipe.config.get("max_completion_length", 512)),
        "temperature": EVAL_TEMPERATURE,
        "top_p": EVAL_TOP_P,
        "seed": EVAL_SEED,
    }


def evaluate_model(
    spec: str | os.PathLike,
    task: Any,
    dataset: Any,
    settings: Mapping[str, Any],
    name: str,
    out_dir: str | os.PathLike,
    batch_size: int = 64,
) -> Any:
    """Evaluate one model with ``settings`` (:func:`eval_settings`); write ``eval.json`` and ``eval.md``."""
    from rlad.eval import HFBackend, evaluate

    model, tokenizer, _ = load_model(str(spec))
    backend = HFBackend(model, tokenizer, batch_size=batch_size, show_progress=False)
    report = evaluate(
        backend,
        task,
        dataset,
        k=settings["k"],
        max_new_tokens=settings["max_new_tokens"],
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        seed=settings["seed"],
        greedy=False,
        name=name,
        show_progress=False,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report.to_json(out / "eval.json")
    (out / "eval.md").write_text(report.to_markdown())
    return report


def summary_of(report: Any) -> dict[str, Any]:
    """The summary numbers of an :class:`~rlad.eval.EvalReport` (no samples), as plain dicts."""
    return {
        "k": report.k,
        "overall": report.overall.to_dict(),
        "subsets": {name: m.to_dict() for name, m in report.subsets.items()},
        "groups": {name: m.to_dict() for name, m in report.groups.items()},
    }


# --------------------------------------------------------------------------------------------------
# The plan: methods x seeds.


def parse_methods(text: str) -> list[str]:
    """``"grpo, rlad,sft"`` -> ``["grpo", "rlad", "sft"]``; unknown names fail with the valid ones.

    >>> parse_methods("grpo, rlad,grpo")
    ['grpo', 'rlad']
    """
    methods = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not methods:
        raise CompareError(f"no methods given; valid: {', '.join(METHODS)}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise CompareError(f"unknown method(s) {', '.join(map(repr, unknown))}; valid: {', '.join(METHODS)}")
    return methods


def method_overrides(method: str) -> dict[str, Any]:
    """The ``config`` overrides that turn a recipe into ``method``.

    >>> method_overrides("rlad"), method_overrides("sft")
    ({'loss': 'trrd'}, {})
    """
    if method not in METHODS:
        raise CompareError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    return dict(METHODS[method])


@dataclass(frozen=True)
class RunSpec:
    """One training run of the comparison."""

    method: str
    index: int  # 0 .. seeds - 1, the folder name seed<index>
    seed: int  # the training seed: the recipe's seed + index
    output_dir: Path


def plan_runs(
    methods: Sequence[str], seeds: int, base_seed: int, out_dir: str | os.PathLike
) -> list[RunSpec]:
    """Every (method, seed) run, method-major, in ``OUT/<method>/seed<i>``.

    >>> [(r.method, r.seed, r.output_dir.as_posix()) for r in plan_runs(["grpo"], 2, 42, "out")]
    [('grpo', 42, 'out/grpo/seed0'), ('grpo', 43, 'out/grpo/seed1')]
    """
    if seeds < 1:
        raise CompareError(f"--seeds must be >= 1, got {seeds}")
    out = Path(out_dir)
    return [RunSpec(m, i, base_seed + i, out / m / f"seed{i}") for m in methods for i in range(seeds)]


def recipe_for_run(recipe: Recipe, run: RunSpec) -> Recipe:
    """The recipe of one run: the method's overrides, the run's seed and output folder."""
    config = {
        **recipe.config,
        **method_overrides(run.method),
        "seed": run.seed,
        "output_dir": str(run.output_dir),
    }
    return dataclasses.replace(recipe, config=config)


def recipe_fingerprint(recipe: Recipe) -> dict[str, Any]:
    """The recipe as JSON-comparable data: a finished run is reused only if this matches."""
    data = {
        "model": recipe.model,
        "task": recipe.task,
        "task_options": recipe.task_options,
        "train_source": recipe.train_source,
        "train_limit": recipe.train_limit,
        "eval_every": recipe.eval_every,
        "config": {k: v for k, v in recipe.config.items() if k != "output_dir"},  # the folder may move
        "eval": eval_settings(recipe),
    }
    return json.loads(json.dumps(data, default=str, sort_keys=True))


# --------------------------------------------------------------------------------------------------
# Orchestration.


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


def _write_json(path: Path, data: Any) -> None:
    """Write atomically: a crash never leaves a half-written ``done.json`` that looks finished."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    tmp.replace(path)


def _reference(
    name: str, spec: str, task: Any, dataset: Any, settings: dict[str, Any], out_dir: Path
) -> dict[str, Any]:
    """Evaluate a reference model once; reuse ``OUT/reference/<name>/done.json`` if its settings match."""
    folder = out_dir / "reference" / name
    marker = folder / "done.json"
    key = json.loads(json.dumps({"model": spec, "eval": settings}, default=str, sort_keys=True))
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("key") == key:
            return done["eval"]
    report = evaluate_model(spec, task, dataset, settings, name=name, out_dir=folder)
    _write_json(marker, {"key": key, "eval": summary_of(report)})
    return summary_of(report)


def run_one(
    recipe: Recipe, run: RunSpec, task: Any, dataset: Any, samples_per_prompt: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """Train and evaluate one run, or return its ``done.json`` when it already finished."""
    from rlad.runner import train_recipe
    from rlad.sft_distill import sft_distill

    run_recipe = recipe_for_run(recipe, run)
    fingerprint = recipe_fingerprint(run_recipe)
    marker = run.output_dir / "done.json"
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("recipe") != fingerprint:
            raise CompareError(
                f"{str(run.output_dir)!r} holds a finished run of a different recipe; "
                "use another --out or delete that folder"
            )
        log(f"{run.method} seed{run.index}: done, skipped")
        return done
    log(f"{run.method} seed{run.index}: training (seed {run.seed}) in {run.output_dir}")
    if run.method == SFT:
        result = sft_distill(run_recipe, samples_per_prompt=samples_per_prompt)
    else:
        resume = any(run.output_dir.glob("checkpoint-*"))
        result = train_recipe(run_recipe, resume=resume)
    settings = eval_settings(run_recipe)
    report = evaluate_model(
        result.final_model,
        task,
        dataset,
        settings,
        name=f"{run.method}/seed{run.index}",
        out_dir=run.output_dir,
    )
    done = {
        "method": run.method,
        "index": run.index,
        "seed": run.seed,
        "output_dir": str(run.output_dir),
        "final_model": str(result.final_model),
        "metrics": str(result.metrics_path),
        "recipe": fingerprint,
        "eval": summary_of(report),
    }
    _write_json(marker, done)
    return done


def check_runnable(recipe: Recipe, methods: Sequence[str]) -> None:
    """Catch what would fail later, before hours of training: unknown methods, a method that needs a
    teacher when the recipe has none, a config a method makes invalid, a missing model folder."""
    from rlad.trainer.config import LOSSES_NEEDING_TEACHER

    teacher = recipe.config.get("teacher_model")
    for method in methods:
        overrides = method_overrides(method)
        needs_teacher = method == SFT or overrides.get("loss") in LOSSES_NEEDING_TEACHER
        if needs_teacher and not teacher:
            raise CompareError(f"method {method!r} needs a teacher: set config.teacher_model in the recipe")
        recipe_for_run(recipe, RunSpec(method, 0, 0, Path("."))).training_config()  # RecipeError if invalid
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
) -> CompareResult:
    """Train every (method, seed), evaluate, aggregate, and write ``results.md``/``.json`` and plots."""
    from rlad.plots import plot_regime_fractions, plot_subset_bars, plot_validation_curves
    from rlad.runner import load_task_data
    from rlad.sft_distill import NoAcceptedSamplesError

    out = Path(out_dir)
    check_runnable(recipe, methods)
    plan = plan_runs(methods, seeds, int(recipe.config.get("seed", 42)), out)
    task, _, evaluation = load_task_data(recipe)
    settings = eval_settings(recipe)

    log(f"evaluating the references in {out / 'reference'}")
    references = {
        REFERENCE_STUDENT: _reference(REFERENCE_STUDENT, recipe.model, task, evaluation, settings, out)
    }
    teacher = recipe.config.get("teacher_model")
    if teacher:
        references[REFERENCE_TEACHER] = _reference(
            REFERENCE_TEACHER, teacher, task, evaluation, settings, out
        )

    runs, failures = [], []
    for run in tqdm(plan, desc="compare", unit="run"):
        try:
            runs.append(run_one(recipe, run, task, evaluation, samples_per_prompt, log))
        except NoAcceptedSamplesError as err:
            log(f"{run.method} seed{run.index}: failed: {err}")
            failures.append({"method": run.method, "index": run.index, "seed": run.seed, "error": str(err)})

    results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for done in runs:
        results[done["method"]].append(done["eval"])
    results = {m: s for m, s in results.items() if s}
    rows = aggregate(results)
    gaps = gap_closed(results, references.get(REFERENCE_STUDENT), references.get(REFERENCE_TEACHER))
    seed_counts = {m: len(s) for m, s in results.items()}
    k = recipe.eval_k

    results_md = out / "results.md"
    results_md.parent.mkdir(parents=True, exist_ok=True)
    results_md.write_text(results_markdown(rows, references, gaps, k, seed_counts, failures))
    results_json = out / "results.json"
    _write_json(
        results_json,
        {
            "k": k,
            "eval": settings,
            "methods": methods,
            "rows": [dataclasses.asdict(r) for r in rows],
            "teacher_gap_closed": {m: dataclasses.asdict(s) for m, s in gaps.items()},
            "references": references,
            "runs": [{key: value for key, value in done.items() if key != "recipe"} for done in runs],
            "failures": failures,
        },
    )

    histories = {m: [] for m in results}
    for done in runs:
        histories[done["method"]].append(read_metrics(done["metrics"]))
    validation = {m: [curve(h, "eval/mean_at_k") for h in hs] for m, hs in histories.items()}
    regimes = {m: [regime_curves(h) for h in hs] for m, hs in histories.items()}
    ref_lines = {name: summary["overall"]["mean_at_k"] for name, summary in references.items()}
    bars = {m: bars_of(rows, m) for m in results}  # method -> label -> (mean, std) of Mean@k
    plots = [
        plot_validation_curves(validation, out / "val_accuracy.png", k=k, references=ref_lines),
        plot_subset_bars(bars, out / "subset_accuracy.png", k=k),
        plot_regime_fractions(regimes, out / "regime_fractions.png"),
    ]
    return CompareResult(
        out, rows, references, runs, failures, results_md, results_json, [p for p in plots if p is not None]
    )
