"""Evaluation records and reports: every scored sample, the summaries built from them, JSON and Markdown.

An :class:`EvalReport` keeps everything needed to audit a number: for each problem its dataset row,
each sampled completion with its :class:`~rlad.tasks.base.Score` (reward, correct, components, reason),
the greedy completion if one was decoded, and the teacher's mean log-prob of each completion if a
teacher was given. The summaries (:class:`~rlad.eval.metrics.SubsetMetrics`) are computed from those
records by :func:`build_report`, per subset, for the in-/out-of-distribution groups and overall.

:func:`compare_reports` puts several runs side by side (untrained student, GRPO, RLAD, teacher) and
adds the teacher-gap closed (docs/method.md section 7) when a teacher report is present.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rlad.eval.metrics import SubsetMetrics, group_by_subset, natural_key, summarize, teacher_gap_closed

IN_DISTRIBUTION = "in_distribution"
OUT_OF_DISTRIBUTION = "out_of_distribution"
ALL = "all"

OODSubsets = Collection[str] | Callable[[str], bool]  # OOD subset labels, or a predicate on a label


@dataclass
class SampleRecord:
    """One completion and its verdict."""

    completion: str
    reward: float
    correct: bool
    components: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    format_ok: bool | None = None  # None: the task reports no format component
    teacher_logprob: float | None = None  # mean per-token teacher log-prob; None: not measured / empty


@dataclass
class ProblemRecord:
    """One problem: its dataset row, its n sampled completions and (optionally) the greedy one."""

    index: int
    subset: str
    example: dict[str, Any]
    samples: list[SampleRecord]
    greedy: SampleRecord | None = None


@dataclass
class EvalReport:
    """Summaries and every scored sample of one evaluation run."""

    name: str
    config: dict[str, Any]  # k, n, temperature, top_p, max_new_tokens, seed, ood_subsets, ...
    overall: SubsetMetrics
    subsets: dict[str, SubsetMetrics]  # by subset label, natural order
    groups: dict[str, SubsetMetrics]  # in_distribution / out_of_distribution, when OOD subsets are named
    problems: list[ProblemRecord]

    @property
    def k(self) -> int:
        return self.overall.k

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the whole report, every sample included, as indented JSON (non-JSON values as strings)."""
        from rlad.files import write_json_atomic

        write_json_atomic(path, self.to_dict())  # a crash never leaves half a report

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalReport:
        def sample(d: Mapping[str, Any] | None) -> SampleRecord | None:
            return None if d is None else SampleRecord(**d)

        return cls(
            name=data["name"],
            config=dict(data["config"]),
            overall=SubsetMetrics(**data["overall"]),
            subsets={k: SubsetMetrics(**v) for k, v in data["subsets"].items()},
            groups={k: SubsetMetrics(**v) for k, v in data["groups"].items()},
            problems=[
                ProblemRecord(
                    index=p["index"],
                    subset=p["subset"],
                    example=p["example"],
                    samples=[SampleRecord(**s) for s in p["samples"]],
                    greedy=sample(p["greedy"]),
                )
                for p in data["problems"]
            ],
        )

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> EvalReport:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def rows(self) -> list[tuple[str, SubsetMetrics]]:
        """(label, metrics) for every subset, then the in/out-of-distribution groups, then all problems."""
        return [*self.subsets.items(), *self.groups.items(), (ALL, self.overall)]

    def to_markdown(self) -> str:
        """A summary table with one row per subset, the in/out-of-distribution groups and the total."""
        k = self.k
        columns = [
            ("problems", lambda m: str(m.num_problems)),
            (f"Mean@{k}", lambda m: _fmt(m.mean_at_k)),
            (f"Pass@{k}", lambda m: _fmt(m.pass_at_k)),
            ("mean reward", lambda m: _fmt(m.mean_reward)),
        ]
        optional = [
            ("greedy acc", "greedy_accuracy"),
            ("format", "format_rate"),
            ("teacher log-prob", "teacher_logprob"),
        ]
        for title, attr in optional:  # columns that were measured for this run
            if getattr(self.overall, attr) is not None:
                columns.append((title, lambda m, attr=attr: _fmt(getattr(m, attr))))
        header = ["subset", *(title for title, _ in columns)]
        body = [[_label(name), *(cell(m) for _, cell in columns)] for name, m in self.rows()]
        c = self.config
        lines = [
            f"### Evaluation: {self.name or 'unnamed'}",
            "",
            f"{self.overall.num_problems} problems, n={c.get('n')} samples each (k={k}), temperature "
            f"{c.get('temperature')}, top-p {c.get('top_p')}, at most {c.get('max_new_tokens')} new tokens, "
            f"seed {c.get('seed')}.",
            "",
            *_table(header, body),
        ]
        if self.groups:
            lines += ["", f"Out-of-distribution subsets: {', '.join(c.get('ood_subsets', []))}."]
        return "\n".join(lines) + "\n"


def build_report(
    name: str,
    config: Mapping[str, Any],
    problems: Sequence[ProblemRecord],
    k: int,
    ood_subsets: OODSubsets = (),
) -> EvalReport:
    """Compute the per-subset, in/out-of-distribution and overall summaries of scored problems.

    ``ood_subsets`` says which subset labels are out of distribution: a collection of labels, or a
    predicate such as ``lambda s: s.startswith("ood_")``. When no label is OOD no groups are made. A
    listed label that is absent from the data is an error (most likely a typo).
    """
    if not problems:
        raise ValueError("cannot build a report of zero problems")
    labels = [p.subset for p in problems]
    present = sorted(set(labels), key=natural_key)
    if callable(ood_subsets):
        ood = {label for label in present if ood_subsets(label)}
    else:
        ood = set(ood_subsets)
        unknown = sorted(ood - set(labels), key=natural_key)
        if unknown:
            raise ValueError(
                f"ood_subsets {unknown} do not occur in the data; subsets present: {', '.join(present)}"
            )

    def summary(indices: Sequence[int]) -> SubsetMetrics:
        chosen = [problems[i] for i in indices]
        has_greedy = all(p.greedy is not None for p in chosen)
        return summarize(
            correct=[[s.correct for s in p.samples] for p in chosen],
            k=k,
            rewards=[[s.reward for s in p.samples] for p in chosen],
            format_ok=[[s.format_ok for s in p.samples] for p in chosen],
            greedy_correct=[p.greedy.correct for p in chosen] if has_greedy else None,
            teacher_logprob=[[s.teacher_logprob for s in p.samples] for p in chosen],
        )

    subsets = {label: summary(indices) for label, indices in group_by_subset(labels).items()}
    groups: dict[str, SubsetMetrics] = {}
    if ood:
        in_dist = [i for i, label in enumerate(labels) if label not in ood]
        out_dist = [i for i, label in enumerate(labels) if label in ood]
        if in_dist:
            groups[IN_DISTRIBUTION] = summary(in_dist)
        groups[OUT_OF_DISTRIBUTION] = summary(out_dist)
    config = {**config, "k": k, "ood_subsets": sorted(ood, key=natural_key)}
    return EvalReport(
        name=name,
        config=config,
        overall=summary(range(len(problems))),
        subsets=subsets,
        groups=groups,
        problems=list(problems),
    )


def compare_reports(
    reports: Mapping[str, EvalReport],
    baseline: str | None = None,
    teacher: str | None = "teacher",
) -> str:
    """A Markdown table with one column per report and one row per metric / subset.

    ``baseline`` is the untrained student (default: the first report that is not the teacher);
    ``teacher`` is the key of the teacher's report. When the teacher's report is present, a row gives
    each other report's teacher-gap closed on Mean@k, overall and per in/out-of-distribution group:
    ``(report - baseline) / (teacher - baseline)``, "n/a" where the teacher does not lead the baseline.

    Rows compare like with like only if the runs share k, sampling settings and problems; where they
    differ a note under the table says so.
    """
    if not reports:
        raise ValueError("no reports to compare")
    names = list(reports)
    if teacher is not None and teacher not in reports:
        teacher = None
    if baseline is None:
        baseline = next((n for n in names if n != teacher), None)
    elif baseline not in reports:
        raise ValueError(f"baseline {baseline!r} is not one of the reports: {', '.join(names)}")

    ks = {r.k for r in reports.values()}
    k_label = f"{ks.pop()}" if len(ks) == 1 else "k"
    subset_names = sorted({s for r in reports.values() for s in r.subsets}, key=natural_key)
    group_names = [
        g for g in (IN_DISTRIBUTION, OUT_OF_DISTRIBUTION) if any(g in r.groups for r in reports.values())
    ]

    def metrics_of(report: EvalReport, where: tuple[str, str]) -> SubsetMetrics | None:
        kind, name = where  # ("subset", label), ("group", in/out-of-distribution) or ("all", "all")
        if kind == ALL:
            return report.overall
        return (report.groups if kind == "group" else report.subsets).get(name)

    def row(title: str, where: tuple[str, str], attr: str) -> list[str]:
        cells = []
        for r in reports.values():
            m = metrics_of(r, where)
            cells.append(_fmt(getattr(m, attr)) if m is not None else "-")
        return [title, *cells]

    everything = (ALL, ALL)
    body = [row(f"Mean@{k_label} {s}", ("subset", s), "mean_at_k") for s in subset_names]
    body += [row(f"Mean@{k_label} {_label(g)}", ("group", g), "mean_at_k") for g in group_names]
    body.append(row(f"**Mean@{k_label} all**", everything, "mean_at_k"))
    body.append(row(f"Pass@{k_label} all", everything, "pass_at_k"))
    for title, attr in (
        ("greedy acc all", "greedy_accuracy"),
        ("format all", "format_rate"),
        ("teacher log-prob all", "teacher_logprob"),
    ):
        if any(getattr(r.overall, attr) is not None for r in reports.values()):
            body.append(row(title, everything, attr))
    if teacher is not None and baseline is not None:
        for where in (everything, *(("group", g) for g in group_names)):
            cells = []
            for n, r in reports.items():
                before = metrics_of(reports[baseline], where)
                top = metrics_of(reports[teacher], where)
                after = metrics_of(r, where)
                if n in (baseline, teacher) or None in (before, top, after):
                    cells.append("-")
                    continue
                cells.append(_fmt(teacher_gap_closed(before.mean_at_k, after.mean_at_k, top.mean_at_k)))
            body.append([f"teacher-gap closed {_label(where[1])}", *cells])

    lines = _table(["metric", *names], body)
    notes = _comparability_notes(reports)
    if teacher is not None and baseline is not None:
        notes.append(f"Teacher-gap closed = (run - {baseline}) / ({teacher} - {baseline}) on Mean@{k_label}.")
    return "\n".join(lines + ([""] if notes else []) + notes) + "\n"


def _comparability_notes(reports: Mapping[str, EvalReport]) -> list[str]:
    notes = []
    for key in ("k", "n", "temperature", "top_p", "max_new_tokens"):
        values = {name: r.config.get(key) for name, r in reports.items()}
        if len(set(map(str, values.values()))) > 1:
            notes.append(
                f"Note: the runs differ in {key}: " + ", ".join(f"{n}={v}" for n, v in values.items())
            )
    sizes = {name: r.overall.num_problems for name, r in reports.items()}
    if len(set(sizes.values())) > 1:
        notes.append(
            "Note: the runs differ in problem count: " + ", ".join(f"{n}={v}" for n, v in sizes.items())
        )
    return notes


def _fmt(value: float | None) -> str:
    """Three decimals; "n/a" for a value that is undefined or was not measured.

    >>> _fmt(0.12345), _fmt(None), _fmt(float("nan"))
    ('0.123', 'n/a', 'n/a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}"


def _label(name: str) -> str:
    return {IN_DISTRIBUTION: "in-distribution", OUT_OF_DISTRIBUTION: "out-of-distribution"}.get(name, name)


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Markdown table lines; the first column left-aligned, the rest right-aligned."""
    align = [":---", *("---:" for _ in header[1:])]
    return ["| " + " | ".join(cells) + " |" for cells in (header, align, *body)]
