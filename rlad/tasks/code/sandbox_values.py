"""The trusted side of a sandboxed verdict: values back from the jail and the check evaluated on them.

`decode` turns the jailed harness's tagged JSON (see `sandbox_child.encode`) back into plain values, and
`Eval` runs a planned check (see `sandbox_judge.plan_test`) over them: a small interpreter that knows the
comparison and arithmetic operators, literals, subscripts, a list of pure builtins, ``math`` and the
non-underscore methods of builtin value types. Each operation whose cost a returned value could make
unbounded (a huge power, a repeated sequence, a huge int conversion) is refused, not computed, so a
program cannot stall the parent through the value it returns.
"""

from __future__ import annotations

import ast
import builtins
import cmath
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PURE_BUILTINS = frozenset(
    {
        "abs", "all", "any", "bool", "chr", "complex", "dict", "divmod", "enumerate", "float",
        "frozenset", "hash", "int", "isinstance", "len", "list", "max", "min", "ord", "repr", "reversed",
        "round", "set", "sorted", "str", "sum", "tuple", "type", "zip", "True", "False", "None",
    }
)  # fmt: skip
MODULES = {"math": math, "cmath": cmath}
SLOW_MODULE_FUNCTIONS = frozenset({"factorial", "comb", "perm", "prod", "lcm", "gcd"})
METHODS = frozenset(
    {
        "count", "endswith", "find", "get", "index", "isalnum", "isalpha", "isdigit", "islower",
        "isspace", "isupper", "items", "keys", "lower", "lstrip", "rstrip", "split", "startswith",
        "strip", "upper", "values", "real", "imag", "is_integer", "issubset", "issuperset", "union",
        "intersection", "difference", "symmetric_difference", "title", "capitalize", "swapcase",
        "casefold", "rfind", "rindex", "splitlines", "isdecimal", "isnumeric",
    }
)  # fmt: skip
MAX_POWER_BITS = 1 << 20  # `a ** b` and `a << b` results above this many bits are refused, not computed
MAX_REPEAT = 1 << 20  # `seq * n` results above this many items are refused
_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}  # fmt: skip
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}  # fmt: skip


class JudgeError(Exception):
    """The check could not be evaluated here (a refused operation, an opaque or missing value)."""


@dataclass(frozen=True)
class Opaque:
    """A probe value the check cannot use: a non-plain value (an object, a generator, a huge int), or a
    probe that raised. Using it in the check fails the test with `reason`."""

    reason: str


def decode(data: Any) -> Any:
    """The value encoded by the jailed harness (tagged JSON; see `sandbox_child.encode`); an `Opaque`
    when it is, or holds, a value that is not plain.

    >>> decode({"t": [{"i": "1"}, {"f": "nan"}, "a", {"s": [None]}]})
    (1, nan, 'a', {None})
    >>> decode([{"i": "1"}, {"x": "A"}])
    Opaque(reason='the program returned a non-plain value (A)')
    """
    try:
        return _decode(data)
    except _NonPlain as err:
        return Opaque(f"the program returned a non-plain value ({str(err)[:100]})")


class _NonPlain(Exception):
    pass


def _decode(data: Any) -> Any:
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, list):
        return [_decode(x) for x in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise JudgeError(f"malformed value from the jail: {str(data)[:80]}")
    ((tag, body),) = data.items()
    if tag == "i":
        return int(body)
    if tag == "f":
        return float(body)
    if tag == "c":
        return complex(float(body[0]), float(body[1]))
    if tag == "b":
        return bytes.fromhex(body)
    if tag in ("t", "s", "fs"):
        items = [_decode(x) for x in body]
        return {"t": tuple, "s": set, "fs": frozenset}[tag](items)
    if tag == "d":
        return {_decode(k): _decode(v) for k, v in body}
    if tag == "x":
        raise _NonPlain(body)
    raise JudgeError(f"unknown tag {tag!r} in a value from the jail")


class Eval:
    """Evaluates a check over plain values; every operation that could run long on a value is guarded."""

    def __init__(self, env: Mapping[str, Any]):
        self.env = env

    def run(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise JudgeError(f"{type(node).__name__} is not judged outside the jail")
        return method(node)

    def _value(self, node: ast.AST) -> Any:
        value = self.run(node)
        if isinstance(value, Opaque):
            raise JudgeError(value.reason)
        return value

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.env:
            return self.env[node.id]
        if node.id in PURE_BUILTINS:
            return getattr(builtins, node.id)
        raise JudgeError(f"name {node.id!r} is not known outside the jail")

    def _Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self._value(e) for e in node.elts)

    def _List(self, node: ast.List) -> list:
        return [self._value(e) for e in node.elts]

    def _Set(self, node: ast.Set) -> set:
        return {self._value(e) for e in node.elts}

    def _Dict(self, node: ast.Dict) -> dict:
        if any(k is None for k in node.keys):
            raise JudgeError("dict unpacking is not judged outside the jail")
        pairs = zip(node.keys, node.values)
        return {self._value(k): self._value(v) for k, v in pairs}  # type: ignore[arg-type]

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        value = None
        for operand in node.values:
            value = self._value(operand)
            if truth(value) == isinstance(node.op, ast.Or):
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self._value(node.operand)
        if isinstance(node.op, ast.Not):
            return not truth(value)
        return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}[type(node.op)](
            value
        )

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self._value(node.body if truth(self._value(node.test)) else node.orelse)

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self._value(node.left), self._value(node.right)
        _guard(node.op, left, right)
        return _BINOPS[type(node.op)](left, right)

    def _Compare(self, node: ast.Compare) -> bool:
        left = self._value(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self._value(right_node)
            if not truth(_COMPARE[type(op)](left, right)):
                return False
            left = right
        return True

    def _Subscript(self, node: ast.Subscript) -> Any:
        return self._value(node.value)[self._value(node.slice)]

    def _Slice(self, node: ast.Slice) -> slice:
        parts = [None if p is None else self._value(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def _Attribute(self, node: ast.Attribute) -> Any:
        base = self._value(node.value)
        if node.attr.startswith("_"):
            raise JudgeError(f"attribute {node.attr!r} is not judged outside the jail")
        if isinstance(base, type(math)):
            if base not in MODULES.values() or node.attr in SLOW_MODULE_FUNCTIONS:
                raise JudgeError(f"{base.__name__}.{node.attr} is not judged outside the jail")
            return getattr(base, node.attr)
        if type(base) not in _PLAIN_TYPES or node.attr not in METHODS:
            raise JudgeError(
                f"attribute {node.attr!r} of {type(base).__name__} is not judged outside the jail"
            )
        return getattr(base, node.attr)

    def _Call(self, node: ast.Call) -> Any:
        func = self._value(node.func)
        args = [self._value(a) for a in node.args]
        kwargs = {k.arg: self._value(k.value) for k in node.keywords if k.arg is not None}
        if len(kwargs) != len(node.keywords):
            raise JudgeError("keyword unpacking is not judged outside the jail")
        if func in (int, str) and args and isinstance(args[0], (int, str)) and len(str(args[0])) > 4300:
            raise JudgeError("conversion of a huge number is not judged outside the jail")
        return func(*args, **kwargs)


_PLAIN_TYPES = (int, float, complex, bool, str, bytes, list, tuple, set, frozenset, dict, type(None))


def _guard(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse the operations whose cost a returned value could make unbounded."""
    if isinstance(op, (ast.Pow, ast.LShift)) and isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() * right if isinstance(op, ast.Pow) else left.bit_length() + right
        if right > 0 and bits > MAX_POWER_BITS:
            raise JudgeError(f"the result of {type(op).__name__} would exceed {MAX_POWER_BITS} bits")
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if (
                isinstance(seq, (str, bytes, list, tuple))
                and isinstance(n, int)
                and len(seq) * n > MAX_REPEAT
            ):
                raise JudgeError(f"a repeated sequence would exceed {MAX_REPEAT} items")


def truth(value: Any) -> bool:
    """Python truth of a check's value; an `Opaque` probe value has none, and fails the test."""
    if isinstance(value, Opaque):
        raise JudgeError(value.reason)
    return bool(value)
