"""The three figures of a comparison (validation curves, Mean@k per subset, TRRD regimes over training),
drawn by :mod:`rlad.plots` from numbers the presets have already read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlad.compare.results import ResultRow, bars_of


def comparison_plots(
    paths: tuple[Path, Path, Path],
    curves: Mapping[str, Sequence[Sequence[tuple[int, float]]]],
    rows: Sequence[ResultRow],
    regimes: Mapping[str, Sequence[Mapping[str, Any]]],
    k: int,
    references: Mapping[str, float],
) -> list[Path]:
    """Draw into ``paths`` (validation, subsets, regimes): ``curves`` method -> one validation curve per
    seed, ``rows`` the aggregated table, ``regimes`` method -> one :func:`regime_curves` per seed,
    ``references`` a horizontal line each. A figure with nothing to draw is left out."""
    from rlad.plots import plot_regime_fractions, plot_subset_bars, plot_validation_curves

    validation, subsets, regime_path = paths
    bars = {m: bars_of(rows, m) for m in dict.fromkeys(r.method for r in rows)}  # label -> (mean, std)
    made = [
        plot_validation_curves(curves, validation, k=k, references=references),
        plot_subset_bars(bars, subsets, k=k),
        plot_regime_fractions(regimes, regime_path),
    ]
    return [p for p in made if p is not None]
