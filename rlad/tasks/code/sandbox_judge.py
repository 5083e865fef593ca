"""Verdicts outside the jail: split assert-style tests into probes (run jailed) and a check (run here).

A test such as ``assert abs(f(2) - math.sqrt(2)) < tol`` is parsed in the trusted parent. Its *probes*
are the smallest parts that need the candidate program: calls of a program name with their arguments
(``f(2)``), or a bare program name. Only the probe sources go into the jail; the jailed process returns
each probe's value as tagged JSON (`decode`), and the rest of the assert (``abs(_ - math.sqrt(2)) < tol``,
with the expected values) is evaluated here by `evaluate`, a small interpreter over plain values that
knows the comparison and arithmetic operators, literals, subscripts, a list of pure builtins, ``math``
and the non-underscore methods of builtin value types. Nothing the program does to its own interpreter
can change that check, and the expected values never enter the jail.

A call is a probe only when what it calls is rooted at a program name (``f``, ``Sol().run``), so no
comparison of the test is ever evaluated in the jail. The program's names are the entry point (or, without
one, what the program defines) and setup aliases of it; names known here are setup literals, ``math``
and the builtins below (see `trusted_names`). A test is left
*whole* (`CheckPlan.whole`) when it is more than one ``assert``, when it uses any other name (a helper
function from the setup or from the program), or when its check needs something this interpreter does
not do (a lambda, a comprehension over a probe):
`sandbox` runs such tests inside the jail with the program, which a program can forge.
"""

from __future__ import annotations

import ast
import builtins
import cmath
import copy
import math
import operator
from collections.abc import Mapping, Sequence
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
_TRANSPARENT = (
    ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Subscript, ast.Slice, ast.Tuple,
    ast.List, ast.Set, ast.Dict, ast.Constant, ast.Name, ast.Attribute, ast.Call, ast.keyword,
)  # fmt: skip
_PROBE = "_rlad_probe_"


class JudgeError(Exception):
    """The check could not be evaluated here (a refused operation, an opaque or missing value)."""


@dataclass(frozen=True)
class Opaque:
    """A probe value the check cannot use: a non-plain value (an object, a generator, a huge int), or a
    probe that raised. Using it in the check fails the test with `reason`."""

    reason: str


@dataclass(frozen=True)
class CheckPlan:
    """One test: `probes` (sources run in the jail) and `check` (the assert's test, probes replaced by
    ``_rlad_probe_<i>`` names), or `whole` (the source, run in the jail as it is)."""

    probes: tuple[str, ...] = ()
    check: ast.expr | None = None
    whole: str = ""


@dataclass(frozen=True)
class TrustedNames:
    """What the setup binds, as seen from here: literal values, modules, and names left to the jail."""

    values: Mapping[str, Any]
    opaque: frozenset[str]
    program: frozenset[str]


def trusted_names(setup: str, program: str = "", entry_point: str = "") -> TrustedNames:
    """What `setup` binds: literals (``tol = 1e-6``) and ``math``/``cmath`` imports are known here,
    aliases of other names (``candidate = f``) are the program's, anything else is opaque.

    ``math`` and ``cmath`` are known here even when only the program imports them (MBPP tests often rely
    on that). The program's names are the entry point, or without one every name the program defines at
    top level except builtins (``def abs(x): return 0`` must not decide ``abs(f(2) - 7) < 1e-9``), plus
    setup aliases of them, unless the setup, which runs after the program, binds them again. A test that
    uses any other name (a helper the program happens to define, an undefined name) is left whole.

    >>> names = trusted_names("tol = 1e-6\\ncandidate = f\\ndef helper(): pass", "def f(): pass")
    >>> names.values["tol"], sorted(names.program), sorted(names.opaque)
    (1e-06, ['candidate', 'f'], ['helper'])
    """
    kinds: dict[str, str] = {}  # name -> "value", "opaque" or the aliased name; the last binding wins
    values: dict[str, Any] = dict(MODULES)
    for stmt in ast.parse(setup).body if setup.strip() else []:
        if isinstance(stmt, ast.Import) and all(a.name in MODULES and a.asname is None for a in stmt.names):
            kinds.update(dict.fromkeys((a.name for a in stmt.names), "value"))
        elif isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
            names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            try:
                values.update(dict.fromkeys(names, ast.literal_eval(stmt.value)))
                kinds.update(dict.fromkeys(names, "value"))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                target = stmt.value.id if isinstance(stmt.value, ast.Name) else "opaque"
                kinds.update(dict.fromkeys(names, "=" + target if target != "opaque" else target))
        else:
            kinds.update(dict.fromkeys(_bound_names(stmt), "opaque"))
    defined = (
        {entry_point} if entry_point else {n for n in _top_level_names(program) if n not in PURE_BUILTINS}
    )
    program_names = {n for n in defined if n not in kinds and n not in MODULES}
    for name, kind in kinds.items():  # aliases, in binding order: candidate = f
        if kind.startswith("="):
            kinds[name] = "program" if kind[1:] in program_names else "opaque"
            if kinds[name] == "program":
                program_names.add(name)
    known = {n: v for n, v in values.items() if kinds.get(n, "value") == "value"}
    opaque = frozenset(n for n, kind in kinds.items() if kind == "opaque")
    return TrustedNames(known, opaque, frozenset(program_names))


def jail_setup(setup: str) -> str:
    """`setup` without its literal assignments, which may hold expected values; probes carry the
    literals they use (see `plan_test`), and whole tests get the full setup.

    >>> jail_setup("import math\\nEXPECTED = [1, 2]\\ncandidate = f")
    'import math\\ncandidate = f'
    """
    if not setup.strip():
        return setup
    kept = []
    for stmt in ast.parse(setup).body:
        if isinstance(stmt, ast.Assign):
            try:
                ast.literal_eval(stmt.value)
                continue
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                pass
        kept.append(ast.unparse(stmt))
    return "\n".join(kept)


def plan_test(source: str, names: TrustedNames) -> CheckPlan:
    """Split `source` into probes and a check when it is a single ``assert`` this module can judge.

    >>> plan = plan_test("assert f(2) == 5", trusted_names("", entry_point="f"))
    >>> plan.probes, ast.unparse(plan.check)
    (('f(2)',), '_rlad_probe_0 == 5')
    >>> plan_test("for x in range(3):\\n    assert f(x) == x", trusted_names("", entry_point="f")).whole != ""
    True
    """
    whole = CheckPlan(whole=source)
    body = ast.parse(source).body
    if len(body) != 1 or not isinstance(body[0], ast.Assert):
        return whole
    probes: list[str] = []
    try:
        check = _Splitter(names, probes).visit(body[0].test)
    except JudgeError:
        return whole
    return CheckPlan(probes=tuple(probes), check=check)


def evaluate(check: ast.expr, probe_values: Sequence[Any], names: TrustedNames) -> bool:
    """Evaluate a planned check with the probes' values; raises JudgeError for anything refused.

    >>> names = trusted_names("tol = 1e-6\\nimport math", entry_point="f")
    >>> plan = plan_test("assert abs(f(2) - math.sqrt(2)) < tol", names)
    >>> evaluate(plan.check, [1.4142135623730951], names), evaluate(plan.check, [1.5], names)
    (True, False)
    """
    env = dict(names.values)
    env.update({f"{_PROBE}{i}": v for i, v in enumerate(probe_values)})
    return _truth(_Eval(env).run(check))


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


class _Splitter(ast.NodeTransformer):
    """Replaces each probe by a placeholder name; raises JudgeError where the check cannot stay here."""

    def __init__(self, names: TrustedNames, probes: list[str]):
        self.names, self.probes = names, probes

    def _is_program(self, name: str) -> bool:
        return name in self.names.program

    def _uses(self, node: ast.AST, kind: str) -> bool:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and (
                self._is_program(n.id) if kind == "program" else n.id in self.names.opaque
            ):
                return True
        return False

    def _rooted(self, node: ast.expr) -> bool:
        """Is `node` a program name, or an attribute, call or item of one (``f``, ``Sol().run``)? Only
        such calls become probes: ``(lambda: f(1) == 2)()`` would carry its comparison into the jail."""
        while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return isinstance(node, ast.Name) and self._is_program(node.id)

    def _probe(self, node: ast.expr) -> ast.Name:
        if self._uses(node, "opaque"):
            raise JudgeError("a probe uses a name from the setup")
        self.probes.append(ast.unparse(_Inline(self.names.values).visit(copy.deepcopy(node))))
        return ast.copy_location(ast.Name(id=f"{_PROBE}{len(self.probes) - 1}", ctx=ast.Load()), node)

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name) and node.id in self.names.opaque:
            raise JudgeError(f"the check needs {node.id!r} from the setup")
        if isinstance(node, ast.Name) and self._is_program(node.id):
            return self._probe(node)
        if isinstance(node, ast.Name) and node.id not in self.names.values and node.id not in PURE_BUILTINS:
            raise JudgeError(f"{node.id!r} is neither the program's function nor known here")
        if isinstance(node, ast.Call) and self._rooted(node.func):
            return self._probe(node)
        if isinstance(node, ast.Call) and self._uses(node.func, "program"):
            raise JudgeError("a call of a computed program function is not judged outside the jail")
        if isinstance(node, ast.Attribute) and self._rooted(node.value):
            return self._probe(node)
        if not isinstance(
            node, (*_TRANSPARENT, ast.expr_context, ast.operator, ast.cmpop, ast.boolop)
        ) and not (isinstance(node, ast.unaryop)):
            raise JudgeError(f"{type(node).__name__} is not judged outside the jail")
        if isinstance(node, ast.Call) and any(isinstance(a, ast.Starred) for a in node.args):
            raise JudgeError("starred arguments are not judged outside the jail")
        return self.generic_visit(node)


class _Inline(ast.NodeTransformer):
    """Writes setup literals into a probe's source: the jail gets the setup without them (`jail_setup`)."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:
        value = self.values.get(node.id, MODULES.get(node.id))
        if node.id not in self.values or value is MODULES.get(node.id):
            return node
        return ast.copy_location(ast.parse(repr(value), mode="eval").body, node)


class _Eval:
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
            if _truth(value) == isinstance(node.op, ast.Or):
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self._value(node.operand)
        if isinstance(node.op, ast.Not):
            return not _truth(value)
        return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}[type(node.op)](
            value
        )

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self._value(node.body if _truth(self._value(node.test)) else node.orelse)

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self._value(node.left), self._value(node.right)
        _guard(node.op, left, right)
        return _BINOPS[type(node.op)](left, right)

    def _Compare(self, node: ast.Compare) -> bool:
        left = self._value(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self._value(right_node)
            if not _truth(_COMPARE[type(op)](left, right)):
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


def _truth(value: Any) -> bool:
    if isinstance(value, Opaque):
        raise JudgeError(value.reason)
    return bool(value)


def _top_level_names(program: str) -> set[str]:
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    return {name for stmt in tree.body for name in _bound_names(stmt)}


def _bound_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    found = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
    return found
