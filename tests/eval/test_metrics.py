"""Pass@k against exact enumeration of k-subsets, Mean@k and the other metrics against hand values."""

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlad.eval.metrics import (
    group_by_subset,
    mean_at_k,
    mean_pass_at_k,
    pass_at_k,
    rate,
    summarize,
    teacher_gap_closed,
)


def _pass_at_k_by_enumeration(n: int, c: int, k: int) -> float:
    """The fraction of the C(n, k) subsets of k samples that contain at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 8))
def test_pass_at_k_equals_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(_pass_at_k_by_enumeration(n, c, k), abs=1e-12)


def test_pass_at_k_large_n_matches_exact_binomials():
    # the product form stays exact where C(n, k) has hundreds of digits
    for n, c, k in [(200, 100, 50), (1000, 3, 32), (1000, 1, 1), (64, 0, 32), (64, 64, 1)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


def test_pass_at_1_is_the_fraction_correct_and_pass_at_n_is_any_correct():
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)
    assert pass_at_k(8, 1, 8) == 1.0
    assert pass_at_k(8, 0, 8) == 0.0


def test_pass_at_k_errors_name_the_values():
    with pytest.raises(ValueError, match="k=9 > n=8"):
        pass_at_k(8, 1, 9)
    with pytest.raises(ValueError, match="c=5, n=4"):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError, match="k=0"):
        pass_at_k(4, 1, 0)


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_is_a_probability_monotone_in_c_and_k(args):
    n, c, k = args
    p = pass_at_k(n, c, k)
    assert 0.0 <= p <= 1.0
    if c < n:
        assert pass_at_k(n, c + 1, k) >= p - 1e-12
    if k < n:
        assert pass_at_k(n, c, k + 1) >= p - 1e-12


def test_mean_at_k_hand_values():
    assert mean_at_k([[1, 1, 0, 0]]) == 0.5
    assert mean_at_k([[1, 0, 0, 0], [1, 1, 1, 0]]) == pytest.approx((0.25 + 0.75) / 2)
    assert mean_at_k([[True, True], [False, False], [True, False]]) == pytest.approx(0.5)
    # each problem weighs the same, whatever its number of samples
    assert mean_at_k([[1], [0, 0, 0]]) == 0.5
    with pytest.raises(ValueError, match="zero problems"):
        mean_at_k([])
    with pytest.raises(ValueError, match="problem 1 has no samples"):
        mean_at_k([[1], []])


def test_mean_pass_at_k_averages_problems():
    # problem 0: n=4, c=1, k=2 -> 1 - C(3,2)/C(4,2) = 0.5; problem 1: c=0 -> 0; problem 2: c=4 -> 1
    assert mean_pass_at_k([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], k=2) == pytest.approx(0.5)


def test_teacher_gap_closed():
    assert teacher_gap_closed(before=0.44, after=0.94, teacher=0.94) == pytest.approx(1.0)
    assert teacher_gap_closed(before=0.2, after=0.2, teacher=0.6) == 0.0
    assert teacher_gap_closed(before=0.2, after=0.8, teacher=0.6) == pytest.approx(1.5)  # passed the teacher
    assert teacher_gap_closed(before=0.4, after=0.3, teacher=0.6) == pytest.approx(-0.5)  # got worse
    assert teacher_gap_closed(before=0.6, after=0.7, teacher=0.6) is None  # no gap
    assert teacher_gap_closed(before=0.7, after=0.8, teacher=0.6) is None  # teacher behind the student


def test_rate_ignores_unmeasured():
    assert rate([True, True, False, None]) == pytest.approx(2 / 3)
    assert rate([None, None]) is None
    assert rate([]) is None


def test_summarize_hand_values():
    m = summarize(
        correct=[[1, 0, 0, 0], [1, 1, 0, 0]],
        k=2,
        rewards=[[1.0, 0.0, 0.0, 0.5], [1.0, 1.0, 0.0, 0.5]],
        format_ok=[[True, True, False, None], [True, True, True, True]],
        greedy_correct=[False, True],
        teacher_logprob=[[-1.0, None, -2.0, -3.0], [-1.0, -1.0, -1.0, -1.0]],
    )
    assert (m.num_problems, m.num_samples, m.k) == (2, 8, 2)
    assert m.mean_at_k == pytest.approx((0.25 + 0.5) / 2)
    assert m.pass_at_k == pytest.approx((0.5 + (1 - 1 / 6)) / 2)
    assert m.mean_reward == pytest.approx(4.0 / 8)
    assert m.greedy_accuracy == 0.5
    assert m.format_rate == pytest.approx(6 / 7)
    assert m.teacher_logprob == pytest.approx(-10.0 / 7)


def test_group_by_subset_natural_order():
    groups = group_by_subset(["ppl10", "ppl2", "ppl3", "ppl2"])
    assert list(groups) == ["ppl2", "ppl3", "ppl10"]
    assert groups["ppl2"] == [1, 3]
