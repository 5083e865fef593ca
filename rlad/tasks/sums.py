"""Sums of one- and two-digit numbers in natural language, for small pretrained chat models.

Prompt (a chat message by default) and the reference worked solution, column by column::

    prompt      What is 39 + 67? Add the ones, then the tens, and end with "The answer is N."
    reference   Ones: 9 + 7 = 16. Write 6, carry 1.
                Tens: 3 + 6 + 1 = 10. Write 10.
                The answer is 106.

The verifier reads every sentence "The answer is <...>" in the completion: the completion is correct
when there is at least one, each names a plain integer, they all agree, and that integer is the sum. A
hedge ("The answer is 8 or 9.") or two different answers is wrong. The same check is the RL reward.

Subsets by operand size: ``d1`` (both 0..9, 100 problems), ``d21`` (one of 10..99, one of 0..9, 1800),
``d2`` (both 10..99, 8100). Train and test are split by a hash of the problem (``test_fraction``), so a
teacher fine-tuned on the train split has never seen a test problem. SmolLM2-135M-Instruct solves
about 0.2 of ``d1`` and a few per cent of ``d2`` at temperature 1 (see docs/real_models.md).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

import datasets

from rlad.tasks.base import Score, Task, TaskDataError, check_generated_load, make_prompt
from rlad.tasks.loading import split_of, to_dataset

SPLITS = ("train", "test")
SUBSETS = {"d1": ((0, 9), (0, 9)), "d21": ((10, 99), (0, 9)), "d2": ((10, 99), (10, 99))}
INSTRUCTION = 'Add the ones, then the tens, and end with "The answer is N."'
# One "the answer is" sentence: the body runs to the end of the sentence (". ", "!", a newline, the end).
_ANSWER = re.compile(r"the answer is:?\s*(?P<body>[^\n]*?)\s*(?:\.(?=\s|$)|!|\n|$)", re.IGNORECASE)
_INTEGER = re.compile(r"-?\d{1,12}")


def worked_solution(a: int, b: int) -> str:
    """The reference completion: ones column, tens column with the carry, then the answer.

    >>> print(worked_solution(39, 67))
    Ones: 9 + 7 = 16. Write 6, carry 1.
    Tens: 3 + 6 + 1 = 10. Write 10.
    The answer is 106.
    >>> print(worked_solution(3, 5))
    Ones: 3 + 5 = 8. Write 8.
    The answer is 8.
    """
    if not (0 <= a <= 99 and 0 <= b <= 99):
        raise TaskDataError(f"operands must be in 0..99, got {a} and {b}")
    ones = a % 10 + b % 10
    if a < 10 and b < 10:
        return f"Ones: {a} + {b} = {ones}. Write {ones}.\nThe answer is {a + b}."
    carry = ones // 10
    carry_text = f", carry {carry}" if carry else ""
    tens = a // 10 + b // 10 + carry
    carry_term = f" + {carry}" if carry else ""
    return (
        f"Ones: {a % 10} + {b % 10} = {ones}. Write {ones % 10}{carry_text}.\n"
        f"Tens: {a // 10} + {b // 10}{carry_term} = {tens}. Write {tens}.\n"
        f"The answer is {a + b}."
    )


def final_answers(text: str) -> list[str]:
    """The body of every "The answer is ..." sentence, in order.

    >>> final_answers("Ones: 1 + 2 = 3. The answer is 3. So the answer is **3**!")
    ['3', '**3**']
    >>> final_answers("The answer is 8 or 9.")
    ['8 or 9']
    """
    return [m.group("body") for m in _ANSWER.finditer(text)]


def score_sum(text: str, answer: int) -> Score:
    """1 when every stated answer is the same integer and it equals ``answer``; else 0.

    >>> score_sum("Ones: 9 + 7 = 16. Write 6, carry 1. The answer is 106.", 106).correct
    True
    >>> [score_sum(t, 8).reason for t in ("8", "The answer is 8 or 9.", "The answer is 8. The answer is 9.")]
    ['no "The answer is N"', "answer '8 or 9' is not one integer", 'several different answers: 8, 9']
    """
    bodies = [b.strip("*$ ").replace(",", "") for b in final_answers(text)]
    components = {"stated": float(bool(bodies))}
    if not bodies:
        return Score(0.0, components, 'no "The answer is N"')
    bad = next((b for b in bodies if not _INTEGER.fullmatch(b)), None)
    if bad is not None:
        return Score(0.0, components, f"answer {bad!r} is not one integer")
    values = list(dict.fromkeys(int(b) for b in bodies))
    if len(values) > 1:
        return Score(0.0, components, f"several different answers: {', '.join(map(str, values))}")
    correct = values[0] == int(answer)
    return Score(float(correct), components, "" if correct else f"answer {values[0]} is wrong", correct)


def problem_text(a: int, b: int, instruction: str = INSTRUCTION) -> str:
    return f"What is {a} + {b}? {instruction}".strip()


class SumsTask(Task):
    """``What is a + b?`` with a worked column-addition solution (see the module docstring).

    Options: ``subsets`` (comma-separated, from ``d1``, ``d21``, ``d2``; default ``"d1,d21,d2"``, an
    equal share of each), ``test_fraction`` (0.2), ``instruction`` (the sentence after the question;
    ``""`` for the bare question), ``prompt_style`` (``chat``/``plain``). ``load(limit=None)`` gives every
    problem of the split; with ``limit`` an equal share per subset (a small subset's shortfall is filled
    from the others). ``source`` must be None.
    """

    name = "sums"

    def __init__(
        self,
        subsets: str = "d1,d21,d2",
        test_fraction: float = 0.2,
        instruction: str = INSTRUCTION,
        prompt_style: str = "chat",
    ):
        names = [s.strip() for s in subsets.split(",") if s.strip()]
        unknown = [s for s in names if s not in SUBSETS]
        if not names or unknown:
            raise TaskDataError(f"unknown sums subset(s) {unknown or subsets!r}; valid: {', '.join(SUBSETS)}")
        if not 0.0 < test_fraction < 1.0:
            raise TaskDataError(f"test_fraction must be in (0, 1), got {test_fraction}")
        make_prompt("", prompt_style)  # validates the name
        self.subsets, self.test_fraction = tuple(dict.fromkeys(names)), test_fraction
        self.instruction, self.prompt_style = instruction, prompt_style

    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        check_generated_load("sums", source, split, kwargs, SPLITS)
        pools = {s: self._problems(s, split, seed) for s in self.subsets}
        if limit is None:
            chosen = [p for pool in pools.values() for p in pool]
        else:
            chosen = _equal_shares(pools, limit)
            if len(chosen) < limit:
                raise TaskDataError(f"only {len(chosen)} sums problems in split {split!r}, asked for {limit}")
        return to_dataset([self._row(subset, a, b) for subset, a, b in chosen], f"sums [{split}]")

    def _problems(self, subset: str, split: str, seed: int) -> list[tuple[str, int, int]]:
        (lo_a, hi_a), (lo_b, hi_b) = SUBSETS[subset]
        pairs = [(a, b) for a in range(lo_a, hi_a + 1) for b in range(lo_b, hi_b + 1)]
        if subset == "d21":  # the single digit first half of the time
            pairs += [(b, a) for a, b in pairs]
        pool = [(subset, a, b) for a, b in pairs if split_of(f"sums:{a}+{b}", self.test_fraction) == split]
        random.Random(f"sums:{subset}:{split}:{seed}").shuffle(pool)
        return pool

    def _row(self, subset: str, a: int, b: int) -> dict[str, Any]:
        return {
            "prompt": make_prompt(problem_text(a, b, self.instruction), self.prompt_style),
            "subset": subset,
            "answer": a + b,
            "a": a,
            "b": b,
            "reference": worked_solution(a, b),
        }

    def score(self, completion: str, example: Mapping[str, Any]) -> Score:
        return score_sum(completion, int(example["answer"]))


def _equal_shares(pools: dict[str, list[tuple[str, int, int]]], limit: int) -> list[tuple[str, int, int]]:
    """``limit`` problems, as equal a share of each pool as its size allows, in subset order."""
    sizes = dict.fromkeys(pools, 0)
    remaining = limit
    while remaining > 0:
        open_pools = [s for s in pools if sizes[s] < len(pools[s])]
        if not open_pools:
            break
        share = max(1, remaining // len(open_pools))
        for s in open_pools:
            take = min(share, len(pools[s]) - sizes[s], remaining)
            sizes[s] += take
            remaining -= take
    return [p for s in pools for p in pools[s][: sizes[s]]]
