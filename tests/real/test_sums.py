"""The sums task: worked solutions, the strict verifier, splits and shares (no model needed)."""

import pytest

from rlad.tasks import TaskDataError, get_task, list_tasks
from rlad.tasks.sums import score_sum, worked_solution


def test_registered():
    assert "sums" in list_tasks()


@pytest.mark.parametrize("a,b", [(0, 0), (9, 9), (39, 67), (99, 99), (5, 40), (50, 50), (10, 0)])
def test_worked_solution_is_correct_and_scores_full(a, b):
    text = worked_solution(a, b)
    assert text.endswith(f"The answer is {a + b}.")
    assert score_sum(text, a + b).correct
    assert not score_sum(text, a + b + 1).correct


def test_worked_solution_carries():
    assert worked_solution(39, 67).splitlines() == [
        "Ones: 9 + 7 = 16. Write 6, carry 1.",
        "Tens: 3 + 6 + 1 = 10. Write 10.",
        "The answer is 106.",
    ]
    assert worked_solution(12, 30).splitlines()[1] == "Tens: 1 + 3 = 4. Write 4."


@pytest.mark.parametrize(
    "text,correct",
    [
        ("The answer is 106.", True),
        ("the answer is **106**", True),
        ("So 39 + 67 = 106. The answer is 106! Yes, the answer is 106.", True),  # repeated, agreeing
        ("106", False),  # no stated answer
        ("The answer is 106 or 107.", False),  # hedge
        ("The answer is 107. Wait, the answer is 106.", False),  # two different answers
        ("The answer is one hundred and six.", False),
        ("The answer is 1060.", False),
        ("The answer is 10.6", False),
        ("The answer is", False),
    ],
)
def test_strict_verifier(text, correct):
    assert score_sum(text, 106).correct is correct
    assert score_sum(text, 106).reward == float(correct)


def test_splits_are_disjoint_and_shares_equal():
    task = get_task("sums")
    train = {(r["a"], r["b"]) for r in task.load(split="train")}
    test_rows = list(task.load(split="test", limit=90))
    assert not train & {(r["a"], r["b"]) for r in test_rows}
    counts = {s: sum(r["subset"] == s for r in test_rows) for s in ("d1", "d21", "d2")}
    assert abs(counts["d21"] - counts["d2"]) <= 1 and sum(counts.values()) == 90
    assert counts["d1"] < 30  # d1 has about 20 test problems: the others fill its share
    assert all(
        r["prompt"][0]["role"] == "user" and r["reference"] == worked_solution(r["a"], r["b"])
        for r in test_rows
    )


def test_bad_options_fail_with_valid_names():
    with pytest.raises(TaskDataError, match="valid: d1, d21, d2"):
        get_task("sums", subsets="d3")
    with pytest.raises(TaskDataError, match="only"):
        get_task("sums", subsets="d1").load(split="test", limit=500)
