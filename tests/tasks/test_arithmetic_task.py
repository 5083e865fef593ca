"""The synthetic arithmetic task: scratchpad format, verifier, difficulty subsets and the OOD split."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from rlad.tasks import TaskDataError, get_task
from rlad.tasks.arithmetic import ALPHABET, score_arithmetic, scratchpad


def test_scratchpad_examples():
    assert scratchpad([90, 78, 10], "--") == ("90-78=12,12-10=2;A:2", 2)
    assert scratchpad([3, 4, 5, 2], "+*-") == ("4*5=20,3+20=23,23-2=21;A:21", 21)
    assert scratchpad([10, 78, 5], "-+") == ("10-78=-68,-68+5=-63;A:-63", -63)


@pytest.mark.parametrize(
    ("completion", "reward", "fmt", "steps"),
    [
        ("90-78=12,12-10=2;A:2", 1.0, 1.0, 1.0),
        ("  90-78=12,12-10=2;A:2\n", 1.0, 1.0, 1.0),
        ("A:2", 1.0, 0.0, 0.0),
        ("90-78=11,11-10=1;A:2", 1.0, 1.0, 0.5),  # only the final answer is graded
        ("90-78=12,12-10=2;A:3", 0.0, 1.0, 1.0),
        ("90-78=12,12-10=2;A:3 A:2", 1.0, 0.0, 0.0),  # the last A:<int> counts
        ("90-78=12;12-10=2;A:2", 1.0, 0.0, 0.0),
        ("", 0.0, 0.0, 0.0),
        ("A:" + "9" * 5000, 0.0, 0.0, 0.0),
        ("9" * 5000 + "-1=" + "9" * 5000 + ";A:1", 0.0, 1.0, 0.0),
    ],
)
def test_verifier_reads_the_final_answer(completion, reward, fmt, steps):
    score = score_arithmetic(completion, 2)
    assert (score.reward, score.components["format"], score.components["steps_correct"]) == (
        reward,
        fmt,
        steps,
    )
    assert score.correct == (reward == 1.0)


def test_format_weight_adds_a_format_bonus():
    assert score_arithmetic("1+1=2;A:2", 2, format_weight=0.1).reward == pytest.approx(1.1)
    assert score_arithmetic("A:3", 2, format_weight=0.1).reward == 0.0


def test_train_and_test_are_disjoint_and_correct():
    task = get_task("arithmetic", ops="+-*")
    train, test = task.load(split="train"), task.load(split="test")
    assert Counter(train["subset"]) == {"ops2": 2000, "ops3": 2000, "ops4": 2000}
    assert Counter(test["subset"]) == {"ops2": 200, "ops3": 200, "ops4": 200}
    assert not set(train["prompt"]) & set(test["prompt"])
    for row in list(train)[::10] + list(test):
        assert eval(row["prompt"][:-1]) == row["answer"]  # Python's precedence is the task's
        assert set(row["prompt"] + row["reference"]) <= set(ALPHABET)
        assert len(re.findall(r"\d+", row["prompt"])) == int(row["subset"][3:])
        score = task.score(row["reference"], row)
        assert score.correct and score.components == {"format": 1.0, "steps_correct": 1.0}


def test_ood_split_goes_beyond_training():
    task = get_task("arithmetic", max_operands=3, max_digits=2, ood_max_operands=4, ood_max_digits=4)
    ood = task.load(split="ood", limit=500)
    assert Counter(ood["subset"]) == {
        "ood_ops4": 100, "ood_d3_ops2": 100, "ood_d3_ops3": 100, "ood_d4_ops2": 100, "ood_d4_ops3": 100,
    }  # fmt: skip
    for row in ood:
        numbers = re.findall(r"\d+", row["prompt"])
        longest = max(len(n) for n in numbers)
        if row["subset"] == "ood_ops4":
            assert len(numbers) == 4 and longest <= 2
        else:
            assert len(numbers) in (2, 3) and longest == int(row["subset"][5])
        assert task.score(row["reference"], row).correct


def test_bad_options_and_sources():
    with pytest.raises(TaskDataError, match="need 2 <= min_operands <= max_operands <= ood_max_operands"):
        get_task("arithmetic", max_operands=5, ood_max_operands=4)
    with pytest.raises(TaskDataError, match="no ood subsets"):
        get_task("arithmetic", ood_max_operands=4, ood_max_digits=2).load(split="ood")
    with pytest.raises(TaskDataError, match="subset of"):
        get_task("arithmetic", ops="+/")
    with pytest.raises(TaskDataError, match="valid: train, test, ood"):
        get_task("arithmetic").load(split="validation")
    with pytest.raises(TaskDataError, match="no source"):
        get_task("arithmetic").load("file.jsonl")
    with pytest.raises(TaskDataError, match="only .* distinct ops2 problems"):
        get_task("arithmetic", max_operands=2, max_digits=1).load(split="test", limit=100)
