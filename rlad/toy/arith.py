"""A tiny local arithmetic task for toy models: chained +/- problems with a worked, step-by-step answer.

Format (one step per operator, ``*`` before ``+``/``-``, otherwise left to right; the final answer after
``A:``), the format of ``rlad.tasks.arithmetic``::

    prompt      90-78-10=
    completion  90-78=12,12-10=2;A:2

Operands have 1 to ``max_digits`` digits, problems have ``min_operands`` to ``max_operands`` operands,
intermediate results and answers may be negative (``5-9=-4;A:-4``). The interface is deliberately the
one the trainers and the zoo need, and nothing more:

- ``task.sample_pairs(n, rng) -> list[(prompt, completion)]``: fresh problems from a ``random.Random``;
- ``task.check(completion, prompt) -> bool``: is the final ``A:<int>`` the true answer of the prompt.

The check recomputes the answer from the prompt, so there is one definition of "correct" for
evaluation and for the RL reward. ``rlad/tasks`` holds the full task library with the same format.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_ANSWER_RE = re.compile(r"A:(-?\d+)")
_TERM_RE = re.compile(r"([+\-*]?)(\d+)")


def _apply(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    raise ValueError(f"unknown operator {op!r}")


def worked_solution(operands: list[int], ops: list[str]) -> str:
    """The completion for ``operands[0] ops[0] operands[1] ...``: one ``a op b=r`` step per operator.

    >>> worked_solution([90, 78, 10], ["-", "-"])
    '90-78=12,12-10=2;A:2'
    >>> worked_solution([2, 3, 4], ["+", "*"])
    '3*4=12,2+12=14;A:14'
    """
    numbers, ops = list(operands), list(ops)
    steps = []
    while ops:
        i = ops.index("*") if "*" in ops else 0  # multiplication first, then left to right
        value = _apply(ops[i], numbers[i], numbers[i + 1])
        steps.append(f"{numbers[i]}{ops[i]}{numbers[i + 1]}={value}")
        numbers[i : i + 2], ops[i : i + 1] = [value], []
    return ",".join(steps) + f";A:{numbers[0]}"


def parse_prompt(prompt: str) -> tuple[list[int], list[str]]:
    """Operands and operators of a prompt such as ``"90-78-10="``.

    >>> parse_prompt("90-78-10=")
    ([90, 78, 10], ['-', '-'])
    """
    expr = prompt.strip().removesuffix("=")
    terms = _TERM_RE.findall(expr)
    if not terms or terms[0][0] != "" or "".join(op + num for op, num in terms) != expr:
        raise ValueError(f"not an arithmetic prompt: {prompt!r}")
    return [int(num) for _, num in terms], [op for op, _ in terms[1:]]


def solve(prompt: str) -> int:
    """The true answer of a prompt such as ``"90-78-10="`` (``*`` first, then left to right).

    >>> solve("90-78-10="), solve("5-9+1="), solve("2+3*4=")
    (2, -3, 14)
    """
    operands, ops = parse_prompt(prompt)
    return int(extract_answer(worked_solution(operands, ops)))


def extract_answer(completion: str) -> int | None:
    """The integer after the last ``A:`` in a completion, or ``None`` if there is none.

    >>> extract_answer("90-78=12,12-10=2;A:2")
    2
    >>> extract_answer("12-10=") is None
    True
    """
    found = _ANSWER_RE.findall(completion)
    return int(found[-1]) if found else None


@dataclass(frozen=True)
class ArithTask:
    """Chained arithmetic over ``min_operands..max_operands`` operands of up to ``max_digits`` digits."""

    min_operands: int = 2
    max_operands: int = 3
    max_digits: int = 2
    ops: str = "+-"

    def __post_init__(self) -> None:
        if not 2 <= self.min_operands <= self.max_operands:
            raise ValueError(
                f"need 2 <= min_operands <= max_operands, got {self.min_operands}, {self.max_operands}"
            )
        if self.max_digits < 1:
            raise ValueError(f"max_digits must be >= 1, got {self.max_digits}")
        if not self.ops or set(self.ops) - set("+-*"):
            raise ValueError(f"ops must be a non-empty subset of '+-*', got {self.ops!r}")

    def sample_pair(self, rng: random.Random) -> tuple[str, str]:
        """One ``(prompt, completion)`` pair."""
        n = rng.randint(self.min_operands, self.max_operands)
        operands = [rng.randint(0, 10**self.max_digits - 1) for _ in range(n)]
        ops = [rng.choice(self.ops) for _ in range(n - 1)]
        prompt = str(operands[0]) + "".join(op + str(b) for op, b in zip(ops, operands[1:])) + "="
        return prompt, worked_solution(operands, ops)

    def sample_pairs(self, n: int, rng: random.Random) -> list[tuple[str, str]]:
        """``n`` fresh ``(prompt, completion)`` pairs drawn with ``rng``.

        >>> ArithTask().sample_pairs(2, random.Random(0))
        [('97-53-5=', '97-53=44,44-5=39;A:39'), ('38+61+45=', '38+61=99,99+45=144;A:144')]
        """
        return [self.sample_pair(rng) for _ in range(n)]

    def check(self, completion: str, prompt: str) -> bool:
        """Whether the final ``A:<int>`` of ``completion`` is the answer of ``prompt``.

        >>> ArithTask().check("90-78=12,12-10=2;A:2", "90-78-10=")
        True
        >>> ArithTask().check("90-78=12,12-10=3;A:3", "90-78-10=")
        False
        """
        answer = extract_answer(completion)
        return answer is not None and answer == solve(prompt)

    def max_completion_chars(self) -> int:
        """An upper bound on the completion length in characters (for ``max_new_tokens``)."""
        res = self.max_operands * self.max_digits + 1  # a signed intermediate result, generously
        step = res + 1 + self.max_digits + 1 + res  # "r1-78=r2"
        return (self.max_operands - 1) * (step + 1) + len(";A:") + res
