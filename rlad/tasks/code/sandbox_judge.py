"""Verdicts outside the jail: split assert-style tests into probes (run jailed) and a check (run here).

A test such as ``assert abs(f(2) - math.sqrt(2)) < tol`` is parsed in the trusted parent. Its *probes*
are the smallest parts that need the candidate program: calls of a program name with their arguments
(``f(2)``), or a bare program name. Only the probe sources go into the jail; the jailed process returns
each probe's value as tagged JSON (`decode`), and the rest of the assert (``abs(_ - math.sqrt(2)) < tol``,
with the expected values) is evaluated here by `evaluate`, with the small interpreter over plain values
of `sandbox_values`. Nothing the program does to its own interpreter can change that check, and the
expected values never enter the jail.

A call is a probe only when what it calls is rooted at a program name (``f``, ``Sol().run``), so no
comparison of the test is ever evaluated in the jail. The program's names are the entry point (or, without
one, what the program defines) and setup aliases of it; names known here are setup literals, ``math``
and the builtins of `sandbox_values.PURE_BUILTINS` (see `trusted_names`). A test is left
*whole* (`CheckPlan.whole`) when it is more than one ``assert``, when it uses any other name (a helper
function from the setup or from the program), or when its check needs something this interpreter does
not do (a lambda, a comprehension over a probe):
`sandbox` runs such tests inside the jail with the program, which a program can forge.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlad.tasks.code.sandbox_values import (  # noqa: F401  (JudgeError, Opaque, decode: this module's API)
    MODULES,
    PURE_BUILTINS,
    Eval,
    JudgeError,
    Opaque,
    decode,
    truth,
)

_TRANSPARENT = (
    ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Subscript, ast.Slice, ast.Tuple,
    ast.List, ast.Set, ast.Dict, ast.Constant, ast.Name, ast.Attribute, ast.Call, ast.keyword,
)  # fmt: skip
_PROBE = "_rlad_probe_"


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
    return truth(Eval(env).run(check))


def read_verdicts(
    text: str, plans: Sequence[CheckPlan], tokens: Sequence[str], names: TrustedNames, unsplit_tests: str
) -> dict[str, Any]:
    """Parse the jail's lines (``L`` load status, ``T``/``W``/``F`` per test, ``D`` done) and decide each
    test here, `unsplit_tests` being the policy for whole tests (``"run"`` or ``"fail"``). Only the first
    line per test counts: a program that prints a second line for a test cannot overturn the verdict."""
    loaded, load_error, done = False, "", False
    passed: dict[int, bool] = {}
    failures: dict[int, str] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "L" and not loaded and not load_error:
            loaded, load_error = rest == "ok", rest[len("error ") :] if rest.startswith("error ") else ""
        elif kind == "D":
            done = True
        elif kind in ("T", "W", "F"):
            index_text, _, body = rest.partition(" ")
            if not index_text.isdigit() or int(index_text) >= len(plans) or int(index_text) in passed:
                continue
            i = int(index_text)
            passed[i], failures[i] = _verdict(kind, body, plans[i], tokens[i], names, unsplit_tests)
    return {"loaded": loaded, "load_error": load_error, "done": done, "passed": passed, "failures": failures}


def _verdict(
    kind: str, body: str, plan: CheckPlan, token: str, names: TrustedNames, unsplit_tests: str
) -> tuple[bool, str]:
    """(passed, why not) for one test's line: a whole test passes only on its secret token."""
    if plan.whole:
        if unsplit_tests == "fail":
            return False, "cannot be judged outside the jail (unsplit_tests='fail')"
        if kind == "W":
            return (body.strip() == token), ("" if body.strip() == token else "forged pass line")
        return False, body[:300]
    if kind != "T" or plan.check is None:
        return False, "no values were sent"
    try:
        items = json.loads(body)
        values = [
            decode(item["v"]) if "v" in item else Opaque(f"{plan.probes[j]} raised {str(item['e'])[:200]}")
            for j, item in enumerate(items)
        ]
        if len(values) != len(plan.probes):
            return False, "wrong number of values"
        ok = evaluate(plan.check, values, names)
    except JudgeError as err:
        return False, str(err)[:300]
    except Exception as err:  # the check itself raised on these values (e.g. TypeError): the test fails
        return False, f"{type(err).__name__}: {str(err)[:200]}"
    return ok, "" if ok else "AssertionError"


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
