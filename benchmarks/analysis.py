"""Pure measurements on finished runs: convergence, stability, regimes over training, gains over GRPO.

Inputs are plain data (validation curves as ``[(step, value)]``, metric records as dicts, evaluation
summaries as produced by :mod:`benchmarks.worker`), so each function is checked by its doctest.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlad.compare.results import metrics_at

Curve = Sequence[tuple[int, float]]  # (step, value) in step order


def mean_curve(curves: Sequence[Curve]) -> list[tuple[int, float]]:
    """Mean across runs at every step that all runs logged.

    >>> mean_curve([[(0, 0.1), (10, 0.3)], [(0, 0.3), (10, 0.5), (20, 0.9)]])
    [(0, 0.2), (10, 0.4)]
    """
    if not curves:
        return []
    common = set.intersection(*(set(step for step, _ in c) for c in curves))
    return [(step, round(statistics.fmean(dict(c)[step] for c in curves), 12)) for step in sorted(common)]


def steps_to_reach(curve: Curve, target: float) -> int | None:
    """First step whose value is >= ``target`` (None if never).

    >>> steps_to_reach([(0, 0.1), (20, 0.25), (40, 0.3)], 0.25), steps_to_reach([(0, 0.1)], 0.2)
    (20, None)
    """
    return next((step for step, value in curve if value >= target - 1e-12), None)


def last_third_std(curve: Curve, total_steps: int) -> float | None:
    """Population std of the validation points in the last third of training (steps > 2/3 of the total).

    The stability measure of the report: how much the held-out accuracy still moves once training
    should have settled. None with fewer than two points there.

    >>> round(last_third_std([(0, 0.0), (70, 0.2), (80, 0.4), (90, 0.2), (100, 0.4)], 100), 6)
    0.1
    """
    values = [v for step, v in curve if step > 2 * total_steps / 3]
    return statistics.pstdev(values) if len(values) >= 2 else None


def thirds(records: Sequence[Mapping[str, Any]], key: str, total_steps: int) -> list[float | None]:
    """Mean of ``key`` over the first, middle and last third of training steps.

    >>> thirds([{"step": 1, "x": 1.0}, {"step": 2, "x": 3.0}, {"step": 6, "x": 5.0}], "x", 6)
    [2.0, None, 5.0]
    """
    bins: list[list[float]] = [[], [], []]
    for r in records:
        if key in r and "step" in r and r[key] is not None and not math.isnan(float(r[key])):
            index = min(2, int(3 * (int(r["step"]) - 1) / total_steps))
            bins[index].append(float(r[key]))
    return [statistics.fmean(b) if b else None for b in bins]


def metric_keys(records: Sequence[Mapping[str, Any]], prefix: str) -> list[str]:
    """The sorted metric names starting with ``prefix`` in ``records``.

    >>> metric_keys([{"gate/a": 1, "loss": 2}, {"gate/b": 0}], "gate/")
    ['gate/a', 'gate/b']
    """
    return sorted({k for r in records for k in r if k.startswith(prefix)})


def metric_at(summary: Mapping[str, Any], label: str, metric: str) -> float | None:
    """``mean_at_k`` / ``pass_at_k`` of a subset, a group or ``all`` in an evaluation summary."""
    found = metrics_at(summary, label)
    return None if found is None else found.get(metric)


def gains_over(
    results: Mapping[str, Sequence[Mapping[str, Any]]], baseline: str, labels: Sequence[str], metric: str
) -> dict[str, dict[str, float | None]]:
    """Per method and label: mean over seeds of ``metric`` minus the baseline's mean over seeds.

    >>> s = lambda m: {"overall": {"mean_at_k": m}}
    >>> gains_over({"grpo": [s(0.2), s(0.4)], "rlad": [s(0.5)]}, "grpo", ["all"], "mean_at_k")
    {'rlad': {'all': 0.2}}
    """

    def mean_of(method: str, label: str) -> float | None:
        values = [v for v in (metric_at(s, label, metric) for s in results[method]) if v is not None]
        return statistics.fmean(values) if values else None

    out: dict[str, dict[str, float | None]] = {}
    for method in results:
        if method == baseline:
            continue
        row = {}
        for label in labels:
            here, base = mean_of(method, label), mean_of(baseline, label)
            row[label] = None if here is None or base is None else round(here - base, 12)
        out[method] = row
    return out


def fmt(value: float | None, digits: int = 3, signed: bool = False) -> str:
    """``0.1234`` -> ``"0.123"``; None -> ``"-"``.

    >>> fmt(0.1234), fmt(None), fmt(0.05, signed=True)
    ('0.123', '-', '+0.050')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


# --------------------------------------------------------------------------------------------------
# Power: can this comparison tell methods apart at all?

POWER_SIGMAS = 3.0  # GRPO must gain at least this many seed-stds over the starting student


@dataclass(frozen=True)
class Power:
    """GRPO's gain over the starting student on the in-distribution Mean@k, and whether it is large enough
    for the family's comparison to be read as a verdict.

    A comparison in which the RL baseline does not move the student cannot rank methods: every method
    then ends near where it started and the differences are seed noise (the old math pair: GRPO 0.178 ->
    0.174). ``gain`` is the mean over GRPO's seeds of (final - student); ``std`` the sample std of its
    finals (the student is one fixed model, so its value adds no spread).
    """

    student: float | None
    gain: float | None
    std: float | None
    seeds: int
    has_power: bool
    reason: str


def grpo_power(student: float | None, finals: Sequence[float], sigmas: float = POWER_SIGMAS) -> Power:
    """Power of a family's comparison from the untrained student's score and GRPO's final scores per seed:
    power only when the gain is > 0 and >= ``sigmas`` x the seed-std (at least two seeds).

    >>> p = grpo_power(0.30, [0.40, 0.42, 0.44])
    >>> (p.gain, p.std, p.has_power, p.reason)
    (0.12, 0.02, True, 'GRPO gains +0.120 = 6.0 seed-std (>= 3)')
    >>> grpo_power(0.178, [0.17, 0.18, 0.172]).reason
    'GRPO did not improve on the student (gain -0.004)'
    """
    finals = [float(v) for v in finals if v is not None and not math.isnan(float(v))]
    if student is None:
        return Power(None, None, None, len(finals), False, "no untrained-student reference")
    if not finals:
        return Power(student, None, None, 0, False, "no finished GRPO run")
    gain = round(statistics.fmean(finals) - student, 12)
    if len(finals) < 2:
        return Power(student, gain, None, 1, False, f"one GRPO seed (gain {gain:+.3f}): no seed-std")
    std = round(statistics.stdev(finals), 12)
    if gain <= 0:
        return Power(
            student, gain, std, len(finals), False, f"GRPO did not improve on the student (gain {gain:+.3f})"
        )
    if gain < sigmas * std:
        ratio = gain / std
        reason = f"GRPO gains {gain:+.3f} = {ratio:.1f} seed-std (< {sigmas:g})"
        return Power(student, gain, std, len(finals), False, reason)
    ratio = "inf" if std == 0 else f"{gain / std:.1f}"
    return Power(
        student, gain, std, len(finals), True, f"GRPO gains {gain:+.3f} = {ratio} seed-std (>= {sigmas:g})"
    )


def compare_claim(ours: Sequence[float], theirs: Sequence[float]) -> tuple[float | None, float, str]:
    """Whether ``ours`` beats ``theirs`` (one value per seed each): (difference of means, noise, word).

    Noise is sqrt(std_ours^2 + std_theirs^2), the sample stds across seeds (0 for a single seed): the
    spread of one seed's difference. "yes" when the difference exceeds it, "no" when it is below minus
    it, else "within noise". Not a significance test: with 3 seeds a test has little power anyway, and
    the report shows the numbers beside the word.

    >>> compare_claim([0.50, 0.52], [0.40, 0.42])
    (0.1, 0.02, 'yes')
    >>> compare_claim([0.40], [0.41, 0.45])
    (-0.03, 0.028284271247, 'no')
    >>> compare_claim([0.40, 0.44], [0.41, 0.45])[2]
    'within noise'
    """
    ours = [float(v) for v in ours if v is not None]
    theirs = [float(v) for v in theirs if v is not None]
    if not ours or not theirs:
        return None, 0.0, "not measured"
    diff = round(statistics.fmean(ours) - statistics.fmean(theirs), 12)

    def spread(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else 0.0

    noise = round(math.sqrt(spread(ours) ** 2 + spread(theirs) ** 2), 12)
    word = "yes" if diff > noise else "no" if diff < -noise else "within noise"
    return diff, noise, word
