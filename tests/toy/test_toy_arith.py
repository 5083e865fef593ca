"""The local arithmetic sampler and checker."""

import random

import pytest

from rlad.toy.arith import ArithTask, extract_answer, parse_prompt, solve, worked_solution


def test_reference_completions_check_and_follow_the_format():
    task = ArithTask(min_operands=2, max_operands=3, max_digits=2)
    pairs = task.sample_pairs(500, random.Random(0))
    counts = {2: 0, 3: 0}
    for prompt, completion in pairs:
        operands, ops = parse_prompt(prompt)
        counts[len(operands)] += 1
        assert all(0 <= x <= 99 for x in operands) and set(ops) <= {"+", "-"}
        assert completion.count(",") == len(ops) - 1 and completion.startswith(prompt.split("=")[0][:2])
        assert task.check(completion, prompt)
        assert len(completion) <= task.max_completion_chars()
    assert min(counts.values()) > 150  # both lengths are common
    assert any(solve(p) < 0 for p, _ in pairs)  # answers may be negative


def test_example_from_the_docs():
    task = ArithTask()
    assert worked_solution([90, 78, 10], ["-", "-"]) == "90-78=12,12-10=2;A:2"
    assert task.check("90-78=12,12-10=2;A:2", "90-78-10=")
    assert task.check("wrong steps but A:2", "90-78-10=")  # only the final answer counts
    assert not task.check("90-78=12,12-10=2;A:3", "90-78-10=")
    assert not task.check("90-78=12,12-10=2", "90-78-10=")
    assert extract_answer("A:1;A:-17") == -17


def test_multiplication_goes_first():
    assert worked_solution([2, 3, 4], ["+", "*"]) == "3*4=12,2+12=14;A:14"
    assert solve("2+3*4=") == 14 and solve("5*3-4=") == 11


def test_sampling_is_reproducible():
    task = ArithTask(max_digits=1, max_operands=2)
    assert task.sample_pairs(5, random.Random(3)) == task.sample_pairs(5, random.Random(3))
    assert all(len(p) == 4 for p, _ in task.sample_pairs(50, random.Random(1)))  # "a+b="


@pytest.mark.parametrize(
    "kwargs", [{"min_operands": 1}, {"min_operands": 3, "max_operands": 2}, {"max_digits": 0}, {"ops": "/"}]
)
def test_bad_options_fail(kwargs):
    with pytest.raises(ValueError):
        ArithTask(**kwargs)


def test_bad_prompt_fails():
    with pytest.raises(ValueError, match="not an arithmetic prompt"):
        solve("x+1=")


def test_same_format_as_the_task_library():
    """rlad.tasks.arithmetic writes the same scratchpad for the same problem."""
    import rlad.tasks.arithmetic as library

    for prompt, completion in ArithTask(ops="+-*").sample_pairs(200, random.Random(2)):
        operands, ops = parse_prompt(prompt)
        assert library.scratchpad(operands, ops) == (completion, solve(prompt))
        assert library.prompt_of(operands, ops) == prompt
