"""Plots of a method comparison (``rlad compare``), drawn with matplotlib's Agg canvas into PNG files.

Three figures, each from plain data prepared by :mod:`rlad.compare`:

- :func:`plot_validation_curves`: validation Mean@k against training step, one line per method (mean
  over seeds, a band of ± one std where there are several), with the references as dashed lines;
- :func:`plot_subset_bars`: final Mean@k per subset, one bar per method, std across seeds as error bars;
- :func:`plot_regime_fractions`: the share of tokens in each TRRD regime (sign of the advantage x
  whether the teacher is more or less likely than the student, :mod:`rlad.objectives.diagnostics`)
  over training, one panel per method that logs them.

No ``pyplot``: figures are built as ``matplotlib.figure.Figure`` on an Agg canvas, so plotting neither
needs a display nor changes the global matplotlib backend of the caller. A figure with no data to
show is not written and its function returns None.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rlad.files import write_bytes_atomic

Curve = Sequence[tuple[int, float]]  # (step, value) in step order


def mean_over_runs(runs: Sequence[Curve]) -> tuple[list[int], list[float], list[float]]:
    """Steps, mean and population std across runs at every step any run logged.

    A step is averaged over the runs that logged it, so seeds that stopped early still count.

    >>> mean_over_runs([[(1, 0.0), (2, 0.5)], [(1, 1.0)]])
    ([1, 2], [0.5, 0.5], [0.5, 0.0])
    """
    values: dict[int, list[float]] = {}
    for run in runs:
        for step, value in run:
            values.setdefault(int(step), []).append(float(value))
    steps = sorted(values)
    means = [sum(values[s]) / len(values[s]) for s in steps]
    stds = [math.sqrt(sum((v - m) ** 2 for v in values[s]) / len(values[s])) for s, m in zip(steps, means)]
    return steps, means, stds


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Render to PNG in memory, then write atomically (a killed run leaves no half image)."""
    path = Path(path)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return write_bytes_atomic(path, buffer.getvalue())


def plot_validation_curves(
    curves: Mapping[str, Sequence[Curve]],
    path: str | os.PathLike,
    k: int,
    references: Mapping[str, float] | None = None,
    ylabel: str | None = None,
    title: str = "Validation accuracy during training",
) -> Path | None:
    """Validation Mean@k vs step per method (``curves``: method -> one curve per seed); ``ylabel`` and
    ``title`` name another per-step quantity (e.g. the training reward)."""
    curves = {m: runs for m, runs in curves.items() if any(runs)}
    if not curves:
        return None
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for method, runs in curves.items():
        steps, means, stds = mean_over_runs(runs)
        (line,) = ax.plot(
            steps,
            means,
            marker="o",
            markersize=3,
            label=f"{method} ({len(runs)} seed{'s' if len(runs) > 1 else ''})",
        )
        if len([r for r in runs if r]) > 1:
            low = [m - s for m, s in zip(means, stds)]
            high = [m + s for m, s in zip(means, stds)]
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
    for name, value in (references or {}).items():
        ax.axhline(
            value, linestyle="--", linewidth=1, color="gray" if "student" in name else "black", label=name
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel or f"validation Mean@{k}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_subset_bars(
    bars: Mapping[str, Mapping[str, tuple[float, float]]], path: str | os.PathLike, k: int
) -> Path | None:
    """Final Mean@k per subset (``bars``: method -> label -> (mean, std)), grouped by subset."""
    labels = list(dict.fromkeys(label for per_label in bars.values() for label in per_label))
    if not labels:
        return None
    methods = list(bars)
    width = 0.8 / len(methods)
    fig = Figure(figsize=(max(6.4, 1.2 * len(labels) * max(1, len(methods)) * 0.5), 4.2))
    ax = fig.add_subplot()
    for i, method in enumerate(methods):
        xs = [j + (i - (len(methods) - 1) / 2) * width for j in range(len(labels))]
        means = [bars[method].get(label, (math.nan, 0.0))[0] for label in labels]
        errs = [bars[method].get(label, (math.nan, 0.0))[1] for label in labels]
        ax.bar(xs, means, width=width, yerr=errs, capsize=3, label=method)
    ax.set_xticks(range(len(labels)), [label.replace("_", "\n") for label in labels], fontsize=8)
    ax.set_ylabel(f"Mean@{k}")
    ax.set_ylim(0, 1.05)
    ax.set_title("Final accuracy per subset (mean ± std across seeds)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_regime_fractions(
    regimes: Mapping[str, Sequence[Mapping[str, Curve]]], path: str | os.PathLike
) -> Path | None:
    """TRRD regime token fractions over training (``regimes``: method -> per seed, regime -> curve)."""
    methods = [m for m, runs in regimes.items() if any(any(c) for run in runs for c in run.values())]
    if not methods:
        return None
    fig = Figure(figsize=(6.4, 3.2 * len(methods)))
    axes = fig.subplots(len(methods), 1, squeeze=False)[:, 0]
    for ax, method in zip(axes, methods):
        names = sorted({name for run in regimes[method] for name in run})
        for name in names:
            steps, means, _ = mean_over_runs([run[name] for run in regimes[method] if name in run])
            ax.plot(steps, means, label=name, linestyle=":" if name == "zero_adv" else "-")
        ax.set_title(f"{method}: token share per TRRD regime")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("training step")
        ax.set_ylabel("fraction of tokens")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)
