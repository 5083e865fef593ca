"""Chain Knights-and-Knaves: compact puzzles a tiny model can solve with a short, checkable scratchpad.

A *chain* puzzle is a compact puzzle (`kk_compact` notation) in which person ``A`` may speak about anyone
but every later person speaks only about people before them. Once A's role is fixed, B's role is the
truth value of B's statement, C's follows from A and B, and so on: two cases (A a knight, A a knave)
settle everything, and a case is consistent exactly when A's own statement, evaluated on that case's
roles, agrees with A's role. The generator keeps only puzzles with one solution, so exactly one case is
consistent.

The reference completion works through the cases in order (A a knight first) and stops at the
consistent one. A case starts with ``A=k`` or ``A=n``; then each later person X writes ``X:``, their
statement with every person replaced by that person's role in this case, ``/`` and the statement's value
(which is X's role); the case ends with A's statement evaluated the same way. Cases are separated by
``;`` and the answer follows the last one::

    prompt      A:C;B:A;C:B=!A?
    completion  A=k,B:k/k,C:k=!k/n,A:n/n;A=n,B:n/n,C:n=!n/n,A:n/n;A=n,B=n,C=n

(if A is a knight, C's statement "B iff not A" is false, so C is a knave and A's claim "C is a knight" is
false: a contradiction; if A is a knave, the claim is false, as a knave's must be.) Writing the values
into the statement makes every step a copy or a lookup followed by a one-operator evaluation: a
4-layer character model learns this far faster than the bare case list (measured for
`benchmarks/logic.py`). Only the answer, the text after the last ``;``, is graded, with the strict
compact verifier: the scratchpad earns nothing by itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from rlad.tasks.base import Score
from rlad.tasks.kk.compact import ALPHABET as COMPACT_ALPHABET
from rlad.tasks.kk.compact import LETTERS, encode_answer, encode_statement, score_compact
from rlad.tasks.kk.logic import Statement

SEPARATOR = ";"
VALUE = "/"  # between a statement with values written in and its value
ALPHABET = "".join(sorted(COMPACT_ALPHABET + VALUE))


def holds(statement: Statement, roles: Sequence[bool | None]) -> bool:
    """The truth of a compact statement (literals, one binary operator) given ``roles`` (True = knight).

    >>> holds(("->", ("lying", 1), ("telling-truth", 0)), [False, True])
    True
    """
    op = statement[0]
    if op in ("telling-truth", "lying"):
        role = roles[statement[1]]
        if role is None:
            raise ValueError(f"statement {statement!r} refers to a person whose role is not known yet")
        return role if op == "telling-truth" else not role
    if op == "not":
        return not holds(statement[1], roles)
    first, second = holds(statement[1], roles), holds(statement[2], roles)
    if op == "and":
        return first and second
    if op == "or":
        return first or second
    if op == "->":
        return (not first) or second
    if op == "<=>":
        return first == second
    raise ValueError(f"unknown K&K operator {op!r} in {statement!r}")


def is_chain(statements: Sequence[Statement]) -> bool:
    """True when every person after the first speaks only about people before them."""
    return all(max(people(s)) < i for i, s in enumerate(statements) if i > 0)


def people(statement: Statement) -> list[int]:
    """The people a statement mentions, in order of appearance."""
    if statement[0] in ("telling-truth", "lying"):
        return [statement[1]]
    return [p for part in statement[1:] for p in people(part)]


def case_roles(statements: Sequence[Statement], first_is_knight: bool) -> list[bool]:
    """Every role once A's is fixed: person i is a knight exactly when their statement holds."""
    n = len(statements)
    roles: list[bool | None] = [first_is_knight] + [None] * (n - 1)
    for i in range(1, n):
        roles[i] = holds(statements[i], roles)
    return [bool(r) for r in roles]


def with_values(statement: Statement, roles: Sequence[bool]) -> str:
    """The compact statement with every person replaced by their role (``k`` or ``n``).

    >>> with_values(("or", ("lying", 0), ("telling-truth", 2)), [True, False, False])
    '!k|n'
    """
    text = encode_statement(statement)
    return "".join(("k" if roles[LETTERS.index(c)] else "n") if c in LETTERS else c for c in text)


def chain_trace(statements: Sequence[Statement]) -> str:
    """The reference completion: the cases tried, then the answer (see the module docstring).

    >>> chain_trace([("<=>", ("telling-truth", 1), ("lying", 0)), ("telling-truth", 0)])  # A:B=!A;B:A?
    'A=k,B:k/k,A:k=!k/n;A=n,B:n/n,A:n=!n/n;A=n,B=n'
    """
    if not is_chain(statements):
        raise ValueError("not a chain puzzle: a person after A speaks about themselves or someone later")
    cases = []
    for first in (True, False):
        roles = case_roles(statements, first)
        steps = [f"A={'k' if first else 'n'}"]
        for i in range(1, len(statements)):
            steps.append(f"{LETTERS[i]}:{with_values(statements[i], roles)}{VALUE}{'k' if roles[i] else 'n'}")
        value = holds(statements[0], roles)
        steps.append(f"A:{with_values(statements[0], roles)}{VALUE}{'k' if value else 'n'}")
        cases.append(",".join(steps))
        if value == first:
            return SEPARATOR.join([*cases, encode_answer(roles)])
    raise ValueError("the chain puzzle has no consistent case (it has no solution)")


def answer_part(completion: str) -> str:
    """The graded part of a completion: the text after its last ``;``.

    >>> answer_part("A=k,B:k/k,A:k=!k/n;A=n,B:n/n,A:n=!n/n;A=n,B=n")
    'A=n,B=n'
    """
    return completion.strip().rsplit(SEPARATOR, 1)[-1]


def score_chain(completion: str, solution: Sequence[bool], reward: str = "binary") -> Score:
    """The compact verifier (`kk_compact.score_compact`) applied to `answer_part` of the completion.

    >>> score_chain("A=k,B:k/k,A:k=!k/n;A=n,B=n", [False, False]).reward
    1.0
    >>> score_chain("A=k,B:k/k,A:k=!k/n", [False, False]).reward  # stopped inside the scratchpad
    0.0
    """
    return score_compact(answer_part(completion), solution, reward)
