"""The benchmark's report: tables (``OUT/report.md``), numbers (``OUT/report.json``), plots (``OUT/plots``).

Reads only what the runs wrote (``OUT/runs/**/done.json`` and ``metrics.jsonl``, ``OUT/lr_search.json``,
``OUT/cost/cost.json``, ``OUT/logic_models/pair.json``, ``OUT/benchmark.json``); computes nothing that
needs a model, so it can be re-run alone (``python -m benchmarks.run --phases report``). The sections on
the searches, the logic build, cost and time are in :mod:`benchmarks.report_setup`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
from pathlib import Path
from typing import Any

from benchmarks.analysis import (
    fmt,
    gains_over,
    last_third_std,
    mean_curve,
    metric_at,
    metric_keys,
    steps_to_reach,
    thirds,
)
from benchmarks.report_power import power_section
from benchmarks.report_setup import cost_section, invocations_note, logic_models_section, lr_section
from benchmarks.settings import Mode
from rlad.compare.results import aggregate, comparison_table, curve, mean_std, read_metrics, regime_curves
from rlad.files import write_json_atomic, write_text_atomic

REFERENCES = ("student_before", "teacher")


def _done(folder: Path) -> dict[str, Any] | None:
    path = folder / "done.json"
    return json.loads(path.read_text()) if path.is_file() else None


def load_phase(out: Path, family: str, phase: str) -> dict[str, list[dict[str, Any]]]:
    """``tag -> [done, ...]`` (one per seed, seed order) with each run's metric records attached."""
    runs: dict[str, list[dict[str, Any]]] = {}
    root = out / "runs" / family / phase
    if not root.is_dir():
        return runs
    for tag_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for seed_dir in sorted(tag_dir.glob("seed*"), key=lambda p: int(p.name[4:])):
            done = _done(seed_dir)
            if done is not None:
                # the run's own folder first: an output folder that was moved keeps its old absolute paths
                local = seed_dir / "metrics.jsonl"
                done["records"] = read_metrics(local if local.is_file() else done["metrics"])
                runs.setdefault(tag_dir.name, []).append(done)
    return runs


def load_references(out: Path, family: str) -> dict[str, dict[str, Any]]:
    refs = {}
    for role in REFERENCES:
        done = _done(out / "runs" / family / "reference" / role)
        if done is not None:
            refs[role] = done
    return refs


def steps_of(done: dict[str, Any]) -> int:
    return int(done["spec"]["recipe"]["config"]["max_steps"])


def validation(done: dict[str, Any], step0: float | None) -> list[tuple[int, float]]:
    points = curve(done["records"], "eval/mean_at_k")
    return ([(0, step0)] if step0 is not None else []) + points


# --------------------------------------------------------------------------------------------------
# Sections.


def comparison_section(
    family: str, runs: dict[str, list[dict]], refs: dict[str, dict], mode: Mode, hardest: str
) -> tuple[list[str], dict[str, Any]]:
    """Table 1 in shape, gains over GRPO, convergence, stability, regimes."""
    k = mode.k
    results = {m: [d["eval"] for d in runs[m]] for m in mode.methods if m in runs}
    references = {name: d["eval"] for name, d in refs.items()}
    rows, gaps, table = comparison_table(results, references, k)
    table = re.sub(r"^## ", "#### ", table, flags=re.M).replace(
        "# Method comparison", f"### {family}: final evaluation"
    )
    lines = [table]
    labels = [r.subset for r in rows if r.method == next(iter(results), None)]
    numbers: dict[str, Any] = {
        "rows": [dataclasses.asdict(r) for r in rows],  # the format of rlad compare's results.json
        "gap_closed": {m: str(s) for m, s in gaps.items()},
    }

    if "grpo" in results:
        lines += [f"#### {family}: gain over GRPO (mean over seeds; Mean@{k} / Pass@{k})", ""]
        gm = gains_over(results, "grpo", labels, "mean_at_k")
        gp = gains_over(results, "grpo", labels, "pass_at_k")
        lines.append("| method | " + " | ".join(labels) + " |")
        lines.append("| :--- | " + " | ".join("---:" for _ in labels) + " |")
        for method in gm:
            cells = [
                f"{fmt(gm[method][lb], signed=True)} / {fmt(gp[method][lb], signed=True)}" for lb in labels
            ]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines += ["", f"Hardest subset: `{hardest}`.", ""]
        numbers["gain_mean_at_k"], numbers["gain_pass_at_k"] = gm, gp

    step0 = refs.get("student_before", {}).get("step0_validation")
    curves = {m: [validation(d, step0) for d in runs[m]] for m in results}
    numbers["curves"] = curves
    if "grpo" in curves and curves["grpo"]:
        grpo_final = statistics.fmean(c[-1][1] for c in curves["grpo"] if c)
        lines += [
            f"#### {family}: convergence and stability (validation Mean@{k}, in-distribution test split)",
            "",
            f"Target: GRPO's final validation accuracy, {grpo_final:.3f} (mean over its seeds). "
            "'Steps to target' reads the seed-mean curve; per seed in brackets (- = never). Stability: "
            "population std of the validation points in the last third of training, per seed, then "
            "mean ± std over seeds (smaller = steadier).",
            "",
            "| method | final validation | best validation | steps to target | per seed | last-third std |",
            "| :--- | ---: | ---: | ---: | :--- | ---: |",
        ]
        numbers["convergence"] = {}
        for method, method_curves in curves.items():
            avg = mean_curve(method_curves)
            reach = steps_to_reach(avg, grpo_final)
            per_seed = [steps_to_reach(c, grpo_final) for c in method_curves]
            stability = mean_std([last_third_std(c, mode.steps) for c in method_curves])
            final = mean_std([c[-1][1] for c in method_curves if c])
            best = max((v for _, v in avg), default=None)
            lines.append(
                f"| {method} | {final} | {fmt(best)} | {reach if reach is not None else '-'} | "
                f"{', '.join('-' if s is None else str(s) for s in per_seed)} | {stability} |"
            )
            numbers["convergence"][method] = {
                "steps_to_target": reach,
                "per_seed": per_seed,
                "last_third_std": str(stability),
                "final": str(final),
            }
        lines.append("")
    return lines, numbers


def regime_section(family: str, runs: dict[str, list[dict]], mode: Mode, methods: list[str]) -> list[str]:
    """TRRD regime fractions (and the share clipped in each) by third of training, mean over seeds."""
    lines = [
        f"#### {family}: TRRD regimes over training (fraction of completion tokens; share clipped in brackets)",
        "",
        "Regimes (docs/method.md section 4): sign of the advantage x whether the teacher likes the sampled token more "
        "or less than the student; `zero_adv`: all-correct or all-wrong groups. Early / middle / late = the "
        "three thirds of training steps.",
        "",
        "| run | regime | early | middle | late |",
        "| :--- | :--- | ---: | ---: | ---: |",
    ]
    any_row = False
    for method in methods:
        records = [r for d in runs.get(method, []) for r in d["records"]]
        steps = steps_of(runs[method][0]) if runs.get(method) else mode.steps
        for key in metric_keys(records, "regime/"):
            if not key.endswith("/frac"):
                continue
            name = key[len("regime/") : -len("/frac")]
            fracs = thirds(records, key, steps)
            clipped = thirds(records, f"regime/{name}/clipped", steps)
            cells = [fmt(f) + (f" ({fmt(c, 2)})" if c is not None else "") for f, c in zip(fracs, clipped)]
            lines.append(f"| {method} | {name} | " + " | ".join(cells) + " |")
            any_row = True
        for key in ("teacher/abs_log_ratio", "teacher/clamped_frac"):
            values = thirds(records, key, steps)
            if any(v is not None for v in values):
                lines.append(f"| {method} | `{key}` | " + " | ".join(fmt(v) for v in values) + " |")
    return [*lines, ""] if any_row else []


def curves_section(
    family: str, groups: dict[str, dict[str, list[dict]]], step0: float | None, k: int
) -> list[str]:
    """Validation Mean@k vs step of every run (``groups``: phase -> tag -> runs), one row per run."""
    rows = [
        (f"{phase}/{tag}/seed{d['seed']}", validation(d, step0))
        for phase, runs in groups.items()
        for tag, seeds in runs.items()
        for d in seeds
    ]
    steps = sorted({step for _, c in rows for step, _ in c})
    if not rows or not steps:
        return []
    lines = [
        f"#### {family}: validation Mean@{k} vs step, every run (step 0: the untrained student)",
        "",
        "| run | " + " | ".join(str(s) for s in steps) + " |",
        "| :--- | " + " | ".join("---:" for _ in steps) + " |",
    ]
    for name, c in rows:
        points = dict(c)
        lines.append(f"| {name} | " + " | ".join(fmt(points.get(s)) for s in steps) + " |")
    return [*lines, ""]


def ablation_section(out: Path, main: dict[str, list[dict]], mode: Mode, k: int) -> tuple[list[str], dict]:
    """One row per variant: mean ± sample std over the seeds it has (``n`` in the last column)."""
    runs = load_phase(out, "math", "ablation")
    if not runs:
        return [], {}
    seeds = range(mode.ablation_seeds)
    variants: dict[str, list[dict]] = {}
    if main.get("rlad"):
        variants["alpha0.5 (main)"] = [d for d in main["rlad"] if d["seed"] in seeds]
    if main.get("grpo"):
        variants["grpo (main; = alpha 1)"] = [d for d in main["grpo"] if d["seed"] in seeds]
    for name in mode.ablations:
        if name in runs:
            variants[name] = runs[name]
    lines = [
        f"### Ablations of RLAD (math, {mode.ablation_steps} steps, RLAD's learning rate; mean ± std over seeds)",
        "",
        f"| variant | Mean@{k} in | Mean@{k} out | Mean@{k} all | Pass@{k} all | final validation | "
        "last-third std | seeds | gate / teacher-rollout counters (mean per step) |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |",
    ]
    numbers = {}
    for name, done_list in variants.items():
        per_seed = [_ablation_row(done) for done in done_list]
        row = {key: mean_std([r[key] for r in per_seed]) for key in per_seed[0] if key != "counters"}
        numbers[name] = {key: stat.mean for key, stat in row.items()} | {
            f"{key}_std": stat.std for key, stat in row.items()
        }
        numbers[name]["seeds"] = len(per_seed)
        counters = per_seed[0]["counters"]
        lines.append(
            f"| {name} | {row['in']} | {row['out']} | {row['all']} | {row['pass_all']} | "
            f"{row['final_validation']} | {row['last_third_std']} | {len(per_seed)} | {'; '.join(counters) or '-'} |"
        )
    return [*lines, ""], numbers


def _ablation_row(done: dict) -> dict[str, Any]:
    ev = done["eval"]
    val = curve(done["records"], "eval/mean_at_k")
    counters = []
    for key in metric_keys(done["records"], "gate/") + metric_keys(done["records"], "teacher_rollouts/"):
        values = [r[key] for r in done["records"] if key in r]
        counters.append(f"{key} {statistics.fmean(values):.2f}")
    return {
        "in": metric_at(ev, "in_distribution", "mean_at_k"),
        "out": metric_at(ev, "out_of_distribution", "mean_at_k"),
        "all": metric_at(ev, "all", "mean_at_k"),
        "pass_all": metric_at(ev, "all", "pass_at_k"),
        "final_validation": val[-1][1] if val else None,
        "last_third_std": last_third_std(val, steps_of(done)),
        "counters": counters,
    }


# --------------------------------------------------------------------------------------------------
# Plots.


def write_plots(out: Path, family: str, numbers: dict, runs: dict, refs: dict, mode: Mode) -> list[Path]:
    from rlad.compare.plots import comparison_plots

    plots = out / "plots"
    # The validation curves are in-distribution only: so are the reference lines drawn with them.
    ref_lines = {
        name: metric_at(d["eval"], "in_distribution", "mean_at_k") or d["eval"]["overall"]["mean_at_k"]
        for name, d in refs.items()
    }
    return comparison_plots(
        tuple(plots / f"{family}_{name}.png" for name in ("val_accuracy", "subsets", "regimes")),
        numbers.get("curves", {}),
        aggregate({m: [d["eval"] for d in runs[m]] for m in mode.methods if m in runs}),
        {m: [regime_curves(d["records"]) for d in runs[m]] for m in ("rlad",) if m in runs},
        mode.k,
        ref_lines,
    )


def plot_alpha(numbers: dict, path: Path, k: int) -> Path | None:
    """Final Mean@k (in / out of distribution) against alpha, from the ablation table."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = []
    for name, row in numbers.items():
        alpha = 0.5 if name.startswith("alpha0.5") else 1.0 if name.startswith("grpo") else None
        if name.startswith("alpha") and alpha is None:
            alpha = float(name[len("alpha") :])
        if alpha is not None:
            points.append((alpha, row["in"], row["out"]))
    if len(points) < 2:
        return None
    points.sort()
    fig = Figure(figsize=(5.6, 3.6))
    ax = fig.add_subplot()
    ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label="in distribution")
    ax.plot([p[0] for p in points], [p[2] for p in points], "s--", label="out of distribution")
    ax.set_xlabel("alpha (1 = GRPO)")
    ax.set_ylabel(f"final Mean@{k}")
    ax.set_title("RLAD alpha ablation (math, mean over seeds)")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


# --------------------------------------------------------------------------------------------------


def write_report(out: Path, mode: Mode) -> Path:
    """Write ``OUT/report.md`` and ``OUT/report.json`` (and the plots); returns the Markdown path."""
    from benchmarks.settings import logic_family, math_family

    record = json.loads((out / "benchmark.json").read_text()) if (out / "benchmark.json").is_file() else {}
    lines = [
        f"# Benchmark report ({mode.name} mode)",
        "",
        f"Main comparison: {mode.steps} steps, {mode.prompts_per_step} prompts x {mode.num_generations} "
        f"completions per step, rollout temperature {mode.temperature}, up to {mode.seeds} seed(s); "
        f"evaluation Mean@{mode.k} / Pass@{mode.k} at temperature 0.6, top-p 0.95.",
        "",
    ]
    report: dict[str, Any] = {"mode": mode.name, "phase_seconds": record.get("phase_seconds", {})}
    plots: list[Path] = []
    lines += lr_section(out)
    for family in (math_family(), logic_family(out / "logic_models")):
        runs = load_phase(out, family.name, "main")
        if not runs:
            continue
        refs = load_references(out, family.name)
        fmode = family.mode(mode)
        section, numbers = comparison_section(family.name, runs, refs, fmode, family.hardest)
        sizes = (
            [f"This family's runs: {fmode.steps} steps, {fmode.prompts_per_step} prompts x "
             f"{fmode.num_generations} completions per step (its own sizes: {family.mode_overrides}).", ""]
            if family.mode_overrides
            else []
        )  # fmt: skip
        power_lines, power_numbers = power_section(family.name, runs, refs, fmode.k, family.hardest)
        lines += [f"## {family.name}", "", *sizes, *power_lines, *section]
        numbers.update(power_numbers)
        lines += regime_section(family.name, runs, fmode, [m for m in ("rlad", "kdrl") if m in runs])
        report[family.name] = numbers
        plots += write_plots(out, family.name, numbers, runs, refs, fmode)
        if family.name == "math":
            ablation_lines, ablation_numbers = ablation_section(out, runs, mode, mode.k)
            lines += ablation_lines
            report["ablations"] = ablation_numbers
            alpha_plot = plot_alpha(ablation_numbers, out / "plots" / "math_alpha.png", mode.k)
            plots += [alpha_plot] if alpha_plot else []
            ablation_runs = load_phase(out, "math", "ablation")
            lines += regime_section("math ablations", ablation_runs, mode, list(ablation_runs))
    for family in (math_family(), logic_family(out / "logic_models")):
        groups = {phase: load_phase(out, family.name, phase) for phase in ("main", "ablation")}
        step0 = load_references(out, family.name).get("student_before", {}).get("step0_validation")
        lines += curves_section(family.name, {p: r for p, r in groups.items() if r}, step0, mode.k)
    lines += logic_models_section(out)
    lines += cost_section(out)
    failures = [f for phase in record.get("failures", {}).values() for f in phase]
    if failures:
        lines += ["### Failed runs", ""] + [f"- {f['name']}: {f.get('error')}" for f in failures] + [""]
    phase_seconds = record.get("phase_seconds", {})
    if phase_seconds:
        lines += [
            "### Wall-clock time per phase",
            "",
            ", ".join(f"{name} {s:.0f} s" for name, s in phase_seconds.items())
            + f"; total {sum(phase_seconds.values()):.0f} s"
            + invocations_note(record.get("invocations", [])),
            "",
        ]
    lines += ["Plots: " + ", ".join(f"`plots/{p.name}`" for p in plots), ""]
    md = out / "report.md"
    write_text_atomic(md, "\n".join(lines))
    write_json_atomic(out / "report.json", report)
    return md
