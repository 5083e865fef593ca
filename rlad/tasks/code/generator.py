"""Generated function-writing problems for tiny models: infer ``f(x)`` from examples, write it in Python.

A hidden integer function (a random expression over ``x`` and constants 1..9 with ``+ - *``, and ``%``
by a constant if asked for) is shown
through a few input/output pairs; the model writes ``def f(x): ...``. The tests are asserts on the shown
inputs plus as many unseen ones, so memorising the examples earns at most half the reward. Subsets
``ops1``..``ops3`` count the operators of the hidden expression. Train and test are split by a hash of
the function's outputs on a fixed probe range, so two spellings of one function fall in the same split
and no test function is ever seen in training. There are few one-operator functions, so a function can
appear in several problems of its split, with different examples (prompts are distinct).

Styles::

    compact   prompt      f(1)=4;f(2)=7;f(5)=16;f(0)=1?
              completion  def f(x):return x*3+1
    natural   prompt      Write a Python function f(x) such that f(1) = 4, f(2) = 7, ... Reply with a ```python block.
              completion  ```python\\ndef f(x):\\n    return x*3+1\\n```
"""

from __future__ import annotations

import random
from typing import Any

import datasets

from rlad.tasks.base import TaskDataError, check_generated_load, make_prompt
from rlad.tasks.code.task import CodeTask
from rlad.tasks.loading import split_of, to_dataset

SPLITS = ("train", "test")
STYLES = ("compact", "natural")
PROBES = range(-5, 25)
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "%": 2}
Expr = str | int | tuple  # "x", a constant, or (op, left, right)


def random_expr(rng: random.Random, n_ops: int, ops: str = "+-*") -> Expr:
    """A random non-constant expression with exactly `n_ops` operators drawn from `ops`, every one of them
    acting on ``x`` (no constant sub-expressions such as ``(1+4)``, no ``x-x``)."""
    while True:
        expr = _grow(rng, n_ops, ops)
        if _uses_x_everywhere(expr) and len({evaluate(expr, x) for x in PROBES}) > 1:
            return expr


def _uses_x_everywhere(expr: Expr) -> bool:
    if not isinstance(expr, tuple):
        return True
    op, a, b = expr
    if "x" not in render(expr) or (op == "-" and a == b):
        return False
    return _uses_x_everywhere(a) and _uses_x_everywhere(b)


def _grow(rng: random.Random, n_ops: int, ops: str) -> Expr:
    if n_ops == 0:
        return "x" if rng.random() < 0.6 else rng.randint(1, 9)
    op = rng.choice(ops)
    if op == "%":  # modulus by a constant keeps values small and never divides by zero
        return ("%", _grow(rng, n_ops - 1, ops), rng.randint(2, 9))
    left = rng.randrange(n_ops)
    return (op, _grow(rng, left, ops), _grow(rng, n_ops - 1 - left, ops))


def render(expr: Expr, parent: int = 0, right: bool = False) -> str:
    """Python source with the fewest parentheses: ``("*", ("+", "x", 1), 3)`` -> ``"(x+1)*3"``."""
    if not isinstance(expr, tuple):
        return str(expr)
    op, a, b = expr
    prec = _PRECEDENCE[op]
    text = render(a, prec) + op + render(b, prec, right=True)
    return f"({text})" if prec < parent or (right and prec == parent) else text


def evaluate(expr: Expr, x: int) -> int:
    if expr == "x":
        return x
    if not isinstance(expr, tuple):
        return int(expr)
    op, a, b = expr
    u, v = evaluate(a, x), evaluate(b, x)
    return u + v if op == "+" else u - v if op == "-" else u * v if op == "*" else u % v


class CodeSyntheticTask(CodeTask):
    """Generated ``f(x)`` problems, scored in the sandbox like `code`.

    Options: ``style`` (``compact``/``natural``), ``n_ops`` (operator counts, default (1, 2, 3)), ``ops``
    (``"+-*"``; add ``%`` for remainders, a character the toy tokenizer lacks),
    ``n_shown`` (examples in the prompt, 4), ``n_hidden`` (extra test inputs, 4), ``test_fraction`` (0.1),
    ``prompt_style`` (default plain for compact, chat for natural) and the sandbox options of `code`.
    ``load(limit=None)`` gives 1000 problems per operator count for train, 100 for test.
    """

    name = "code_synthetic"

    def __init__(
        self,
        style: str = "compact",
        n_ops: tuple[int, ...] = (1, 2, 3),
        ops: str = "+-*",
        n_shown: int = 4,
        n_hidden: int = 4,
        test_fraction: float = 0.1,
        prompt_style: str | None = None,
        cpu_seconds: int = 2,
        wall_seconds: float = 5.0,
        memory_mb: int = 512,
        max_workers: int | None = None,
        test_seconds: float | None = None,
        unsplit_tests: str = "run",
        allow_unjailed: bool = False,
    ):
        if style not in STYLES:
            raise TaskDataError(f"unknown style {style!r}; valid: {', '.join(STYLES)}")
        if not n_ops or min(n_ops) < 1 or n_shown < 1 or n_hidden < 0 or not 0 < test_fraction < 1:
            raise TaskDataError("need n_ops >= 1, n_shown >= 1, n_hidden >= 0 and 0 < test_fraction < 1")
        if not ops or set(ops) - set("+-*%"):
            raise TaskDataError(f"ops must be a non-empty subset of '+-*%', got {ops!r}")
        super().__init__(
            prompt_style=prompt_style or ("plain" if style == "compact" else "chat"),
            cpu_seconds=cpu_seconds,
            wall_seconds=wall_seconds,
            memory_mb=memory_mb,
            max_workers=max_workers,
            test_seconds=test_seconds,
            unsplit_tests=unsplit_tests,
            allow_unjailed=allow_unjailed,
        )
        self.style, self.n_ops, self.n_shown, self.n_hidden = (
            style,
            tuple(sorted(set(n_ops))),
            n_shown,
            n_hidden,
        )
        self.test_fraction, self.ops = test_fraction, ops

    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        check_generated_load("code_synthetic", source, split, kwargs, SPLITS)
        count = limit if limit is not None else (1000 if split == "train" else 100) * len(self.n_ops)
        per_level = [count // len(self.n_ops) + (i < count % len(self.n_ops)) for i in range(len(self.n_ops))]
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()  # prompts, distinct across levels too
        for n_ops, wanted in zip(self.n_ops, per_level):
            rows.extend(self._level(n_ops, wanted, split, seed, seen))
        return to_dataset(rows, f"code_synthetic [{split}]")

    def _level(self, n_ops: int, wanted: int, split: str, seed: int, seen: set[str]) -> list[dict[str, Any]]:
        rng = random.Random(f"code:{self.ops}:{n_ops}:{split}:{seed}")
        rows: list[dict[str, Any]] = []
        misses, patience = 0, 2000 + 20 * wanted  # consecutive draws without a new problem before giving up
        while len(rows) < wanted and misses < patience:
            expr = random_expr(rng, n_ops, self.ops)
            behaviour = repr(tuple(evaluate(expr, x) for x in PROBES))
            row = self._row_of(expr, n_ops, rng) if split_of(behaviour, self.test_fraction) == split else None
            if row is None or row["prompt_text"] in seen:
                misses += 1
                continue
            misses = 0
            seen.add(row.pop("prompt_text"))
            rows.append(row)
        if len(rows) < wanted:
            raise TaskDataError(
                f"only {len(rows)} distinct problems with {n_ops} operators for split {split!r}"
            )
        return rows

    def _row_of(self, expr: Expr, n_ops: int, rng: random.Random) -> dict[str, Any]:
        inputs = rng.sample(range(0, 10), self.n_shown) + rng.sample(range(10, 20), self.n_hidden)
        shown = inputs[: self.n_shown]
        body = render(expr)
        if self.style == "compact":
            text = ";".join(f"f({x})={evaluate(expr, x)}" for x in shown) + "?"
            reference = f"def f(x):return {body}"
        else:
            pairs = ", ".join(f"f({x}) = {evaluate(expr, x)}" for x in shown)
            text = f"Write a Python function f(x) such that {pairs}. Reply with the function in a ```python block."
            reference = f"```python\ndef f(x):\n    return {body}\n```"
        return {
            "prompt": make_prompt(text, self.prompt_style),
            "subset": f"ops{n_ops}",
            "entry_point": "f",
            "tests": [f"assert f({x}) == {evaluate(expr, x)}" for x in inputs],
            "setup": "",
            "code_prefix": "",
            "reference": reference,
            "task_id": body,
            "prompt_text": text,
        }
