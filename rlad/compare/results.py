"""Results of a comparison: mean and spread across seeds, the Markdown tables, training curves.

Pure functions over the per-run evaluation summaries (:func:`summary_of`) and ``metrics.jsonl`` records,
tested with hand values in ``tests/cli/test_cli_compare.py``; ``rlad compare``, the demo and the
benchmark report all read their numbers through them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def natural_key(text: str) -> list:
    """Sort key: the evaluation's natural order (``2_people`` before ``10_people``); imported lazily
    because ``rlad.eval`` loads torch, and ``rlad compare --help`` should not."""
    from rlad.eval.metrics import natural_key as key

    return key(text)


ALL = "all"  # the row label of all problems
REFERENCE_STUDENT = "student_before"
REFERENCE_TEACHER = "teacher"


def summary_of(report: Any) -> dict[str, Any]:
    """The summary numbers of an :class:`~rlad.eval.EvalReport` (no samples), as plain dicts."""
    return {
        "k": report.k,
        "overall": report.overall.to_dict(),
        "subsets": {name: m.to_dict() for name, m in report.subsets.items()},
        "groups": {name: m.to_dict() for name, m in report.groups.items()},
    }


# --------------------------------------------------------------------------------------------------
# Aggregation across seeds.


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (n - 1) of a few numbers; ``std`` is None for a single one."""

    mean: float
    std: float | None
    n: int

    def __str__(self) -> str:
        if math.isnan(self.mean):
            return "n/a"
        return f"{self.mean:.3f}" if self.std is None else f"{self.mean:.3f} ± {self.std:.3f}"


def mean_std(values: Sequence[float | None]) -> Stat:
    """Mean and sample std of the defined values (None / NaN are left out).

    >>> mean_std([0.5, 0.7, 0.9])
    Stat(mean=0.7, std=0.2, n=3)
    >>> str(mean_std([0.25])), str(mean_std([None]))
    ('0.250', 'n/a')
    """
    defined = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not defined:
        return Stat(float("nan"), None, 0)
    n = len(defined)
    mean = sum(defined) / n
    if n == 1:
        return Stat(mean, None, 1)
    variance = sum((v - mean) ** 2 for v in defined) / (n - 1)
    return Stat(round(mean, 12), round(math.sqrt(variance), 12), n)


@dataclass(frozen=True)
class ResultRow:
    """Mean@k and Pass@k of one method on one subset (or group, or all problems), across seeds."""

    method: str
    subset: str
    mean_at_k: Stat
    pass_at_k: Stat


def labels_of(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Row labels in table order: subsets (natural order), then in/out-of-distribution groups, then all."""
    subsets = sorted({s for summary in summaries for s in summary.get("subsets", {})}, key=natural_key)
    groups = [
        g
        for g in ("in_distribution", "out_of_distribution")
        if any(g in summary.get("groups", {}) for summary in summaries)
    ]
    return [*subsets, *groups, ALL]


def metrics_at(summary: Mapping[str, Any], label: str) -> Mapping[str, Any] | None:
    """The metrics of a subset, a group or all problems (``"all"``) in a summary; None if it has none."""
    if label == ALL:
        return summary["overall"]
    return summary.get("subsets", {}).get(label) or summary.get("groups", {}).get(label)


def aggregate(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[ResultRow]:
    """One row per (method, label): Mean@k and Pass@k averaged over the method's seeds.

    ``results`` maps a method to one evaluation summary per seed (:func:`summary_of`); a subset
    missing from a seed's summary is averaged over the seeds that have it.
    """
    rows = []
    for method, summaries in results.items():
        for label in labels_of(summaries):
            found = [m for m in (metrics_at(s, label) for s in summaries) if m is not None]
            rows.append(
                ResultRow(
                    method=method,
                    subset=label,
                    mean_at_k=mean_std([m["mean_at_k"] for m in found]),
                    pass_at_k=mean_std([m["pass_at_k"] for m in found]),
                )
            )
    return rows


def gap_closed(
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    student_before: Mapping[str, Any] | None,
    teacher: Mapping[str, Any] | None,
) -> dict[str, Stat]:
    """Per method, the teacher-gap closed on overall Mean@k, computed per seed then averaged.

    Empty without both references; a seed whose gap is undefined (teacher not ahead) is left out.
    """
    from rlad.eval.metrics import teacher_gap_closed

    if student_before is None or teacher is None:
        return {}
    before = student_before["overall"]["mean_at_k"]
    top = teacher["overall"]["mean_at_k"]
    return {
        method: mean_std([teacher_gap_closed(before, s["overall"]["mean_at_k"], top) for s in summaries])
        for method, summaries in results.items()
    }


def bars_of(rows: Sequence[ResultRow], method: str) -> dict[str, tuple[float, float]]:
    """``{label: (mean, std)}`` of Mean@k for one method (std 0 for a single seed)."""
    return {r.subset: (r.mean_at_k.mean, r.mean_at_k.std or 0.0) for r in rows if r.method == method}


def comparison_table(
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    references: Mapping[str, Mapping[str, Any]],
    k: int,
    failures: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[ResultRow], dict[str, Stat], str]:
    """(rows, teacher-gap closed per method, ``results.md`` text) of per-method, per-seed summaries."""
    rows = aggregate(results)
    gaps = gap_closed(results, references.get(REFERENCE_STUDENT), references.get(REFERENCE_TEACHER))
    seeds = {m: len(s) for m, s in results.items()}
    return rows, gaps, results_markdown(rows, references, gaps, k, seeds, failures)


def results_markdown(
    rows: Sequence[ResultRow],
    references: Mapping[str, Mapping[str, Any]],
    gaps: Mapping[str, Stat],
    k: int,
    seeds: Mapping[str, int],
    failures: Sequence[Mapping[str, Any]] = (),
) -> str:
    """``results.md``: an overall table, then Mean@k and Pass@k per subset (mean ± std across seeds)."""
    methods = list(dict.fromkeys(r.method for r in rows))
    by = {(r.method, r.subset): r for r in rows}
    ref_rows = aggregate({name: [summary] for name, summary in references.items()})
    ref_by = {(r.method, r.subset): r for r in ref_rows}
    labels = [label for label in labels_of(list(references.values())) if label != ALL]
    for r in rows:
        if r.subset != ALL and r.subset not in labels:
            labels.append(r.subset)
    labels.sort(key=lambda s: (s in ("in_distribution", "out_of_distribution"), natural_key(s)))

    def cell(table: Mapping, name: str, label: str, attr: str) -> str:
        row = table.get((name, label))
        return str(getattr(row, attr)) if row is not None else "-"

    lines = [
        "# Method comparison",
        "",
        f"Mean@{k} and Pass@{k}: mean ± sample std across training seeds (std omitted for a single seed). "
        "References are evaluated once.",
        "",
        f"| method | seeds | Mean@{k} | Pass@{k} | teacher-gap closed |",
        "| :--- | ---: | ---: | ---: | ---: |",
    ]
    for name in references:
        lines.append(
            f"| {name} (reference) | - | {cell(ref_by, name, ALL, 'mean_at_k')} | "
            f"{cell(ref_by, name, ALL, 'pass_at_k')} | - |"
        )
    for m in methods:
        gap = str(gaps[m]) if m in gaps else "-"
        lines.append(
            f"| {m} | {seeds.get(m, 0)} | {cell(by, m, ALL, 'mean_at_k')} | {cell(by, m, ALL, 'pass_at_k')} | {gap} |"
        )
    for title, attr in ((f"Mean@{k}", "mean_at_k"), (f"Pass@{k}", "pass_at_k")):
        header = ["method", *labels, ALL]
        lines += ["", f"## {title} per subset", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("| :--- | " + " | ".join("---:" for _ in header[1:]) + " |")
        for name in references:
            cells = [cell(ref_by, name, label, attr) for label in (*labels, ALL)]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for m in methods:
            cells = [cell(by, m, label, attr) for label in (*labels, ALL)]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if gaps:
        lines += [
            "",
            f"Teacher-gap closed = (run - {REFERENCE_STUDENT}) / ({REFERENCE_TEACHER} - {REFERENCE_STUDENT}) "
            f"on Mean@{k}, per seed.",
        ]
    for failure in failures:
        lines += ["", f"Failed: {failure['method']} seed{failure['index']}: {failure['error']}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Training curves from metrics.jsonl.


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` (missing file: none)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def curve(records: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of ``key`` in step order; a step logged twice (a resumed run) keeps its last value.

    >>> curve([{"step": 2, "x": 0.5}, {"step": 1, "x": 0.1}, {"step": 2, "x": 0.7}, {"step": 3}], "x")
    [(1, 0.1), (2, 0.7)]
    """
    points = {int(r["step"]): float(r[key]) for r in records if key in r and "step" in r}
    return sorted(points.items())


def regime_curves(records: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """The TRRD regime fractions over training: ``regime/<name>/frac`` -> ``{name: [(step, frac)]}``.

    >>> regime_curves([{"step": 1, "regime/pos_teacher_more/frac": 0.25, "loss": 1.0}])
    {'pos_teacher_more': [(1, 0.25)]}
    """
    keys = sorted({k for r in records for k in r if k.startswith("regime/") and k.endswith("/frac")})
    return {key[len("regime/") : -len("/frac")]: curve(records, key) for key in keys}
