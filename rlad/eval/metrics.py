"""Evaluation metrics of the RLAD paper (docs/method.md section 7), as pure functions of 0/1 correctness.

Notation: a problem has ``n`` sampled completions of which ``c`` are correct.

* **Mean@k**: the average 0/1 correctness of the k samples of a problem, averaged over problems
  (the paper: k = 32, temperature 0.6, top-p 0.95). With n >= k samples we average all n: the
  estimate of the same expectation with less variance (it is Pass@1).
* **Pass@k**: the probability that at least one of k samples is correct, estimated without bias from
  n >= k samples (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", eq. 1)::

      pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n - c + 1}^{n} (1 - k / i)

  The product form never forms the huge binomials, so it is exact in floating point for any n.
* **Teacher-gap closed** (distillation): ``(after - before) / (teacher - before)``, the fraction of
  the student-teacher gap that training closed. 1 means the student reached the teacher, 0 means no
  change; it is not clipped (above 1: the student passed the teacher; below 0: it got worse).
* **Format compliance**: the fraction of samples whose output follows the task's answer format.

Problems weigh equally in every average; a subset's numbers are the same functions applied to the
problems of that subset (:func:`summarize`, :func:`group_by_subset`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased Pass@k of one problem with ``c`` correct out of ``n`` samples.

    >>> pass_at_k(n=4, c=1, k=1), pass_at_k(n=4, c=1, k=2), pass_at_k(n=4, c=3, k=2)
    (0.25, 0.5, 1.0)
    >>> pass_at_k(n=2, c=1, k=3)
    Traceback (most recent call last):
    ...
    ValueError: Pass@k needs k <= n samples per problem, got k=3 > n=2
    """
    if n < 1:
        raise ValueError(f"Pass@k needs n >= 1 samples, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"Pass@k needs 0 <= c <= n, got c={c}, n={n}")
    if k < 1:
        raise ValueError(f"Pass@k needs k >= 1, got k={k}")
    if k > n:
        raise ValueError(f"Pass@k needs k <= n samples per problem, got k={k} > n={n}")
    if n - c < k:  # every k-subset contains a correct sample
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i): c factors, each in (0, 1)
    miss = math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))
    return 1.0 - miss


def mean_at_k(correct: Sequence[Sequence[bool | float]]) -> float:
    """Mean@k: per-problem mean correctness, averaged over problems. ``correct`` is (problems, samples).

    >>> mean_at_k([[1, 0, 0, 1], [1, 1, 1, 1]])
    0.75
    >>> mean_at_k([[True], [False, False, False]])  # ragged rows: each problem weighs the same
    0.5
    """
    if len(correct) == 0:
        raise ValueError("Mean@k of zero problems is undefined")
    per_problem = []
    for i, row in enumerate(correct):
        if len(row) == 0:
            raise ValueError(f"problem {i} has no samples")
        per_problem.append(sum(float(x) for x in row) / len(row))
    return sum(per_problem) / len(per_problem)


def mean_pass_at_k(correct: Sequence[Sequence[bool]], k: int) -> float:
    """Pass@k averaged over problems; row ``i`` of ``correct`` holds the n_i >= k samples of problem i.

    >>> mean_pass_at_k([[1, 0, 0, 0], [0, 0, 0, 0]], k=2)
    0.25
    """
    if len(correct) == 0:
        raise ValueError("Pass@k of zero problems is undefined")
    return sum(pass_at_k(len(row), sum(bool(x) for x in row), k) for row in correct) / len(correct)


def rate(flags: Sequence[bool | None]) -> float | None:
    """Fraction of true flags, ignoring ``None`` (not measured); ``None`` if nothing was measured.

    >>> rate([True, False, None, True]), rate([None])
    (0.6666666666666666, None)
    """
    known = [bool(f) for f in flags if f is not None]
    return sum(known) / len(known) if known else None


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` if there are none.

    >>> mean_or_none([-1.0, None, -2.0]), mean_or_none([])
    (-1.5, None)
    """
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def teacher_gap_closed(before: float, after: float, teacher: float) -> float | None:
    """``(after - before) / (teacher - before)``: the fraction of the student-teacher gap closed.

    Undefined, and returned as ``None``, when ``teacher <= before``: the teacher does not lead the
    untrained student, so there is no gap to close (dividing would give a meaningless or infinite
    number, or flip the sign). Callers print it as "n/a".

    >>> teacher_gap_closed(before=0.5, after=0.75, teacher=1.0)
    0.5
    >>> teacher_gap_closed(before=0.5, after=0.6, teacher=0.5) is None
    True
    """
    if teacher <= before:
        return None
    return (after - before) / (teacher - before)


@dataclass(frozen=True)
class SubsetMetrics:
    """The summary numbers of one group of problems (a subset, in/out of distribution, or all)."""

    num_problems: int
    num_samples: int  # sampled completions, over all problems
    k: int
    mean_at_k: float
    pass_at_k: float
    mean_reward: float
    greedy_accuracy: float | None = None  # None: greedy decoding was not run
    format_rate: float | None = None  # None: the task reports no format component
    teacher_logprob: float | None = None  # mean per-token teacher log-prob; None: no teacher given

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(
    correct: Sequence[Sequence[bool]],
    k: int,
    rewards: Sequence[Sequence[float]],
    format_ok: Sequence[Sequence[bool | None]] | None = None,
    greedy_correct: Sequence[bool] | None = None,
    teacher_logprob: Sequence[Sequence[float | None]] | None = None,
) -> SubsetMetrics:
    """Summarise a group of problems; every argument is indexed (problem, sample) except ``greedy_correct``.

    Format compliance is a rate over all samples; teacher agreement is the mean over samples of each
    sample's mean per-token teacher log-prob (samples weigh equally, like problems).

    >>> m = summarize([[1, 0], [0, 0]], k=2, rewards=[[1.0, 0.0], [0.0, 0.0]], greedy_correct=[True, False])
    >>> m.mean_at_k, m.pass_at_k, m.greedy_accuracy, m.format_rate
    (0.25, 0.5, 0.5, None)
    """
    flat_rewards = [float(r) for row in rewards for r in row]
    return SubsetMetrics(
        num_problems=len(correct),
        num_samples=sum(len(row) for row in correct),
        k=k,
        mean_at_k=mean_at_k(correct),
        pass_at_k=mean_pass_at_k(correct, k),
        mean_reward=sum(flat_rewards) / len(flat_rewards),
        greedy_accuracy=rate(greedy_correct) if greedy_correct is not None else None,
        format_rate=rate([f for row in format_ok for f in row]) if format_ok is not None else None,
        teacher_logprob=(
            mean_or_none([v for row in teacher_logprob for v in row]) if teacher_logprob is not None else None
        ),
    )


def natural_key(name: str) -> tuple:
    """Sort key that orders ``ppl2 < ppl10`` (digits compare as numbers).

    >>> sorted(["ppl10", "ppl2", "ops3"], key=natural_key)
    ['ops3', 'ppl2', 'ppl10']
    """
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name))


def group_by_subset(subsets: Sequence[str]) -> dict[str, list[int]]:
    """Problem indices per subset label, subsets in natural order.

    >>> group_by_subset(["ppl3", "ppl2", "ppl3"])
    {'ppl2': [1], 'ppl3': [0, 2]}
    """
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(subsets):
        groups.setdefault(name, []).append(i)
    return {name: groups[name] for name in sorted(groups, key=natural_key)}
