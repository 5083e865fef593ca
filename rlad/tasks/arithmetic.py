"""Synthetic arithmetic with a short scratchpad, for tiny character-level models.

Prompt and completion (the reference scratchpad evaluates one operation per step, ``*`` before ``+``/``-``,
otherwise left to right)::

    prompt      90-78-10=
    completion  90-78=12,12-10=2;A:2

The reward reads only the final ``A:<int>``: 1 if it equals the value of the expression, else 0 (plus
``format_weight`` times the format component, 0 by default). Components for logging: ``format`` (the whole
completion has the shape ``step,step;A:n`` with ``step = a<op>b=c``) and ``steps_correct`` (the share of
scratchpad steps whose arithmetic is right). The alphabet is `ALPHABET`: digits and ``+-*=,;A:``.

Difficulty knobs: ``min_operands``..``max_operands`` numbers per
expression and ``max_digits`` (each number is drawn uniformly from ``0 .. 10**max_digits - 1``). Subsets
are ``ops<k>`` for k operands. Train and test are split by a hash of the prompt; ``split="ood"`` holds
expressions with more operands (``max_operands+1 .. ood_max_operands``, subsets ``ood_ops<k>``) or longer
numbers (some number with ``max_digits+1 .. ood_max_digits`` digits, subsets ``ood_d<d>_ops<k>``) than
training ever shows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

import datasets

from rlad.tasks.base import Score, Task, TaskDataError, check_generated_load, make_prompt
from rlad.tasks.loading import split_of, to_dataset

SPLITS = ("train", "test", "ood")
ALPHABET = "0123456789+-*=,;A:"
_FINAL = re.compile(r"A:(-?\d+)")
_STEP = r"-?\d+[-+*]\d+=-?\d+"
_SHAPE = re.compile(rf"{_STEP}(?:,{_STEP})*;A:-?\d+")
_STEP_PARTS = re.compile(r"(-?\d+)([-+*])(\d+)=(-?\d+)")
_MAX_ANSWER_DIGITS = 40


def scratchpad(numbers: Sequence[int], ops: Sequence[str]) -> tuple[str, int]:
    """The reference completion and the value: ``([90, 78, 10], "--")`` -> ``("90-78=12,12-10=2;A:2", 2)``."""
    numbers, ops = list(numbers), list(ops)
    steps = []
    while ops:
        i = ops.index("*") if "*" in ops else 0
        a, op, b = numbers[i], ops[i], numbers[i + 1]
        value = a * b if op == "*" else a + b if op == "+" else a - b
        steps.append(f"{a}{op}{b}={value}")
        numbers[i : i + 2], ops[i : i + 1] = [value], []
    return ",".join(steps) + f";A:{numbers[0]}", numbers[0]


def prompt_of(numbers: Sequence[int], ops: Sequence[str]) -> str:
    return "".join(f"{n}{op}" for n, op in zip(numbers, ops)) + f"{numbers[-1]}="


def score_arithmetic(text: str, answer: int, format_weight: float = 0.0) -> Score:
    """Score a scratchpad completion against the value of the expression.

    >>> score_arithmetic("90-78=12,12-10=2;A:2", 2).reward
    1.0
    >>> score_arithmetic("A:2", 2).components["format"], score_arithmetic("90-78=11,11-10=1;A:1", 2).reward
    (0.0, 0.0)
    """
    text = text.strip()
    finals = _FINAL.findall(text)
    pred = int(finals[-1]) if finals and len(finals[-1].lstrip("-")) <= _MAX_ANSWER_DIGITS else None
    shaped = _SHAPE.fullmatch(text) is not None
    steps = _STEP_PARTS.findall(text.split(";")[0]) if shaped else []
    good_steps = sum(_step_ok(*s) for s in steps)
    correct = pred is not None and pred == int(answer)
    components = {"format": float(shaped), "steps_correct": good_steps / len(steps) if steps else 0.0}
    reason = "no final A:<int>" if pred is None else "" if correct else f"final answer {pred} is wrong"
    return Score(float(correct) + format_weight * float(shaped), components, reason, correct=correct)


def _step_ok(a: str, op: str, b: str, c: str) -> bool:
    if max(len(a), len(b), len(c)) > _MAX_ANSWER_DIGITS:
        return False
    x, y = int(a), int(b)
    return (x * y if op == "*" else x + y if op == "+" else x - y) == int(c)


class ArithmeticTask(Task):
    """Generated ``a op b op c =`` problems with a scratchpad answer (see the module docstring).

    Options: ``min_operands`` (2), ``max_operands`` (4), ``max_digits`` (2), ``ops`` (``"+-"``; add ``*``
    for products, computed before ``+``/``-``), ``ood_max_operands`` (6), ``ood_max_digits`` (3),
    ``test_fraction`` (0.1), ``format_weight`` (0.0), ``prompt_style`` (``plain``/``chat``).
    ``load(limit=None)`` gives 2000 rows per operand count for train and 200 per subset otherwise;
    ``source`` must be None.
    """

    name = "arithmetic"

    def __init__(
        self,
        min_operands: int = 2,
        max_operands: int = 4,
        max_digits: int = 2,
        ops: str = "+-",
        ood_max_operands: int = 6,
        ood_max_digits: int = 3,
        test_fraction: float = 0.1,
        format_weight: float = 0.0,
        prompt_style: str = "plain",
    ):
        if not 2 <= min_operands <= max_operands <= ood_max_operands:
            raise TaskDataError(
                "need 2 <= min_operands <= max_operands <= ood_max_operands, got "
                f"{min_operands}, {max_operands}, {ood_max_operands}"
            )
        if not ops or set(ops) - set("+-*"):
            raise TaskDataError(f"ops must be a non-empty subset of '+-*', got {ops!r}")
        if max_digits < 1 or ood_max_digits < max_digits:
            raise TaskDataError(f"need 1 <= max_digits <= ood_max_digits, got {max_digits}, {ood_max_digits}")
        if not 0.0 < test_fraction < 1.0:
            raise TaskDataError(f"test_fraction must be in (0, 1), got {test_fraction}")
        make_prompt("", prompt_style)  # validates the name
        self.operands, self.max_digits, self.ops = (
            tuple(range(min_operands, max_operands + 1)),
            max_digits,
            ops,
        )
        self.ood_operands = tuple(range(max_operands + 1, ood_max_operands + 1))
        self.ood_max_digits = ood_max_digits
        self.test_fraction, self.format_weight, self.prompt_style = test_fraction, format_weight, prompt_style

    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        check_generated_load("arithmetic", source, split, kwargs, SPLITS)
        levels = self._levels(split)  # (subset, operand count, digits range for "some number")
        count = limit if limit is not None else (2000 if split == "train" else 200) * len(levels)
        per_level = [count // len(levels) + (i < count % len(levels)) for i in range(len(levels))]
        rows = []
        for (subset, k, long_digits), wanted in zip(levels, per_level):
            rng = random.Random(f"arith:{subset}:{split}:{seed}:{self.max_digits}:{self.ops}")
            rows.extend(self._generate(rng, subset, k, long_digits, wanted, split, strict=limit is not None))
        return to_dataset(rows, f"arithmetic [{split}]")

    def _levels(self, split: str) -> list[tuple[str, int, int | None]]:
        if split != "ood":
            return [(f"ops{k}", k, None) for k in self.operands]
        levels = [(f"ood_ops{k}", k, None) for k in self.ood_operands]
        for d in range(self.max_digits + 1, self.ood_max_digits + 1):
            levels += [(f"ood_d{d}_ops{k}", k, d) for k in self.operands]
        if not levels:
            raise TaskDataError(
                "no ood subsets: set ood_max_operands > max_operands or ood_max_digits > max_digits"
            )
        return levels

    def _generate(
        self,
        rng: random.Random,
        subset: str,
        k: int,
        long_digits: int | None,
        wanted: int,
        split: str,
        strict: bool = True,
    ) -> list[dict[str, Any]]:
        """Up to ``wanted`` distinct problems; fewer only when ``strict`` is off (no explicit limit asked)."""
        seen: set[str] = set()
        rows: list[dict[str, Any]] = []
        misses, patience = 0, 2000 + 20 * wanted  # consecutive draws without a new problem before giving up
        while len(rows) < wanted and misses < patience:
            numbers = [rng.randrange(10**self.max_digits) for _ in range(k)]
            if long_digits is not None:  # one number gets exactly long_digits digits
                numbers[rng.randrange(k)] = rng.randrange(10 ** (long_digits - 1), 10**long_digits)
            ops = [rng.choice(self.ops) for _ in range(k - 1)]
            prompt = prompt_of(numbers, ops)
            if prompt in seen or (split != "ood" and split_of(prompt, self.test_fraction) != split):
                misses += 1
                continue
            misses = 0
            seen.add(prompt)
            completion, value = scratchpad(numbers, ops)
            rows.append(
                {
                    "prompt": make_prompt(prompt, self.prompt_style),
                    "subset": subset,
                    "answer": value,
                    "n_operands": k,
                    "reference": completion,
                }
            )
        if len(rows) < wanted and strict:
            raise TaskDataError(
                f"only {len(rows)} distinct {subset} problems for split {split!r} (asked for {wanted})"
            )
        return rows

    def score(self, completion: str, example: Mapping[str, Any]) -> Score:
        return score_arithmetic(completion, int(example["answer"]), self.format_weight)
