"""Coefficient schedules (KDRL anneals its KD coefficient, e.g. 5e-3 -> 1e-3)."""

from __future__ import annotations

SCHEDULES = ("constant", "linear")


def coefficient_at(
    step: int, total_steps: int, start: float, end: float | None = None, kind: str = "constant"
) -> float:
    """Value of an annealed coefficient at optimisation ``step`` (0-based) of ``total_steps``.

    ``constant`` returns ``start``; ``linear`` moves from ``start`` at step 0 to ``end`` at the last
    step and stays there.

    >>> coefficient_at(0, 11, 5e-3, 1e-3, "linear"), coefficient_at(10, 11, 5e-3, 1e-3, "linear")
    (0.005, 0.001)
    """
    if kind == "constant":
        return start
    if kind != "linear":
        raise ValueError(f"unknown schedule {kind!r}; valid: {', '.join(SCHEDULES)}")
    if end is None:
        raise ValueError("a linear schedule needs an end value")
    if total_steps <= 1:
        return end
    progress = min(max(step / (total_steps - 1), 0.0), 1.0)
    return start + (end - start) * progress
