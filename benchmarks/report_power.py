"""The power section of the benchmark report: does GRPO itself learn, and which claims may be judged.

A comparison has power only when GRPO's gain over the starting student is positive and at least three
seed-std (`benchmarks.analysis.grpo_power`); only then are the paper's claims given a verdict.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from benchmarks.analysis import compare_claim, fmt, grpo_power, metric_at


def in_distribution(summary: dict[str, Any], metric: str) -> float | None:
    """The in-distribution group's ``metric``; all problems when the task has no out-of-distribution split."""
    value = metric_at(summary, "in_distribution", metric)
    return value if value is not None else metric_at(summary, "all", metric)


def power_section(
    family: str, runs: dict[str, list[dict]], refs: dict[str, dict], k: int, hardest: str
) -> tuple[list[str], dict[str, Any]]:
    """GRPO's gain over the starting student with its seed-std and, only when that gain shows the
    comparison has power (:func:`benchmarks.analysis.grpo_power`), the verdicts on the paper's claims."""
    student = refs.get("student_before", {}).get("eval")
    finals = [in_distribution(d["eval"], "mean_at_k") for d in runs.get("grpo", [])]
    power = grpo_power(in_distribution(student, "mean_at_k") if student else None, finals)
    numbers: dict[str, Any] = {"power": dataclasses.asdict(power)}
    ratio = "-" if not power.std or power.gain is None else f"{power.gain / power.std:.1f}"
    lines = [
        f"### {family}: power (GRPO's gain over the starting student, in-distribution Mean@{k})",
        "",
        "| student | GRPO seeds | gain (mean over seeds) | seed-std of GRPO's final | gain / std | power |",
        "| ---: | ---: | ---: | ---: | ---: | :--- |",
        f"| {fmt(power.student)} | {power.seeds} | {fmt(power.gain, signed=True)} | {fmt(power.std)} | {ratio} | "
        f"{'yes' if power.has_power else 'no'} |",
        "",
    ]
    if not power.has_power:
        lines += [
            f"**No power** ({power.reason}): a family in which GRPO does not gain at least 3 seed-std over the "
            "student cannot rank methods, so no verdict on the paper's claims is drawn from it; the tables are "
            "measurements only.",
            "",
        ]
        return lines, numbers

    def per_seed(method: str, label: str, metric: str) -> list[float]:
        values = [metric_at(d["eval"], label, metric) for d in runs.get(method, [])]
        return [v for v in values if v is not None]

    def ident(method: str, metric: str) -> list[float]:
        return [
            v for v in (in_distribution(d["eval"], metric) for d in runs.get(method, [])) if v is not None
        ]

    claims = [
        (
            f"RLAD beats GRPO (in-distribution Mean@{k})",
            ident("rlad", "mean_at_k"),
            ident("grpo", "mean_at_k"),
        ),
        (
            f"RLAD beats GRPO (in-distribution Pass@{k})",
            ident("rlad", "pass_at_k"),
            ident("grpo", "pass_at_k"),
        ),
        (
            f"RLAD beats KDRL (in-distribution Mean@{k})",
            ident("rlad", "mean_at_k"),
            ident("kdrl", "mean_at_k"),
        ),
        (
            f"RLAD beats GRPO on the hardest subset `{hardest}` (Mean@{k})",
            per_seed("rlad", hardest, "mean_at_k"),
            per_seed("grpo", hardest, "mean_at_k"),
        ),
    ]
    lines += [
        f"{power.reason}: the comparison has power. Verdicts: difference of the seed means; noise = "
        "sqrt(std_a^2 + std_b^2) of the per-seed values; 'yes' / 'no' only beyond the noise.",
        "",
        "| claim | holds here? | difference | noise |",
        "| :--- | :--- | ---: | ---: |",
    ]
    numbers["verdicts"] = {}
    for claim, ours, theirs in claims:
        diff, noise, word = compare_claim(ours, theirs)
        lines.append(f"| {claim} | {word} | {fmt(diff, signed=True)} | {fmt(noise)} |")
        numbers["verdicts"][claim] = {"word": word, "difference": diff, "noise": noise}
    return [*lines, ""], numbers
