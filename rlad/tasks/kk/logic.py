"""Knights-and-Knaves logic: statements, a brute-force solver, English rendering and a solution trace.

Statements use the tuple form of the K&K dataset (Xie et al. 2024), which the Logic-RL parquet files
store in their `statements` column: ``("telling-truth", i)`` (person i is a knight), ``("lying", i)``
(person i is a knave), ``("not", s)``, ``("and", s, ...)``, ``("or", s, ...)``, ``("->", a, b)`` and
``("<=>", a, b)``. Person i says statement i. An assignment is an int whose bit i is set when person i is
a knight; it is consistent when every knight's statement is true and every knave's is false.

The solver evaluates each statement on all ``2**n`` assignments at once: a statement's truth table is an
int with bit ``a`` set when the statement holds under assignment ``a``, so ``and``/``or``/``not`` are
single bitwise operations and checking uniqueness costs a handful of big-int operations per puzzle.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from functools import cache

Statement = tuple

KNIGHT, KNAVE = "knight", "knave"


@cache
def _knight_masks(n: int) -> tuple[tuple[int, ...], int]:
    """Per person i, the truth table of "i is a knight"; and the all-true table. Cached per n."""
    size = 1 << n
    masks = tuple(sum(1 << a for a in range(size) if a >> i & 1) for i in range(n))
    return masks, (1 << size) - 1


def truth_table(statement: Statement, n: int) -> int:
    """Bit ``a`` of the result is set iff `statement` holds under assignment ``a`` (n people).

    >>> bin(truth_table(("telling-truth", 0), 2))  # person 0 is a knight in assignments 1 and 3
    '0b1010'
    >>> bin(truth_table(("or", ("telling-truth", 0), ("telling-truth", 1)), 2))
    '0b1110'
    """
    masks, full = _knight_masks(n)
    op = statement[0]
    if op == "telling-truth":
        return masks[statement[1]]
    if op == "lying":
        return full & ~masks[statement[1]]
    if op == "not":
        return full & ~truth_table(statement[1], n)
    parts = [truth_table(s, n) for s in statement[1:]]
    if op == "and":
        out = full
        for p in parts:
            out &= p
        return out
    if op == "or":
        out = 0
        for p in parts:
            out |= p
        return out
    if op == "->":
        return full & (~parts[0] | parts[1])
    if op == "<=>":
        return full & ~(parts[0] ^ parts[1])
    raise ValueError(f"unknown K&K operator {op!r} in {statement!r}")


def solutions(statements: Sequence[Statement]) -> list[int]:
    """All consistent assignments (bitmasks) of the puzzle in which person i says ``statements[i]``."""
    n = len(statements)
    masks, full = _knight_masks(n)
    ok = full
    for i, s in enumerate(statements):
        ok &= ~(masks[i] ^ truth_table(s, n))
    return [a for a in range(1 << n) if ok >> a & 1]


def unique_solution(statements: Sequence[Statement]) -> list[bool] | None:
    """The roles (True = knight) if the puzzle has exactly one solution, else None.

    A says "B is a knave", B says "A and B are both knaves": only A knight, B knave is consistent.

    >>> unique_solution([("lying", 1), ("and", ("lying", 0), ("lying", 1))])
    [True, False]
    """
    found = solutions(statements)
    return to_roles(found[0], len(statements)) if len(found) == 1 else None


def to_roles(assignment: int, n: int) -> list[bool]:
    return [bool(assignment >> i & 1) for i in range(n)]


def parse_statements(text: str) -> tuple[Statement, ...]:
    """The dataset's ``repr`` of the statements tuple back into tuples (no code is executed)."""
    return tuple(ast.literal_eval(text))


def people_in(statement: Statement) -> set[int]:
    if statement[0] in ("telling-truth", "lying"):
        return {statement[1]}
    return set().union(*(people_in(s) for s in statement[1:]))


def holds(statement: Statement, roles: Sequence[bool | None]) -> bool:
    """Truth of `statement` under `roles` (every person it mentions must be assigned)."""
    op = statement[0]
    if op == "telling-truth":
        return bool(roles[statement[1]])
    if op == "lying":
        return not roles[statement[1]]
    if op == "not":
        return not holds(statement[1], roles)
    vals = [holds(s, roles) for s in statement[1:]]
    if op == "and":
        return all(vals)
    if op == "or":
        return any(vals)
    if op == "->":
        return (not vals[0]) or vals[1]
    if op == "<=>":
        return vals[0] == vals[1]
    raise ValueError(f"unknown K&K operator {op!r}")


def english(statement: Statement, names: Sequence[str]) -> str:
    """The statement in the wording of the K&K dataset, e.g. ``"Zoey is a knight or Ava is a knave"``."""
    op = statement[0]
    if op == "telling-truth":
        return f"{names[statement[1]]} is a {KNIGHT}"
    if op == "lying":
        return f"{names[statement[1]]} is a {KNAVE}"
    if op == "not":
        inner = statement[1]
        if inner[0] in ("telling-truth", "lying"):
            return f"{names[inner[1]]} is not a {KNIGHT if inner[0] == 'telling-truth' else KNAVE}"
        return f"it is not the case that {english(inner, names)}"
    parts = [english(s, names) for s in statement[1:]]
    if op == "and":
        return " and ".join(parts)
    if op == "or":
        return " or ".join(parts)
    if op == "->":
        return f"if {parts[0]} then {parts[1]}"
    if op == "<=>":
        return f"{parts[0]} if and only if {parts[1]}"
    raise ValueError(f"unknown K&K operator {op!r}")


def solution_text_format(names: Sequence[str], roles: Sequence[bool]) -> str:
    """``"(1) Zoey is a knight\\n(2) Ava is a knave"``: the answer format of the Logic-RL prompts."""
    return "\n".join(
        f"({i + 1}) {name} is a {KNIGHT if r else KNAVE}" for i, (name, r) in enumerate(zip(names, roles))
    )


def backtracking_trace(statements: Sequence[Statement], names: Sequence[str]) -> list[str]:
    """A depth-first search over roles in person order, narrated like the K&K dataset's chain of thought.

    Each person is tried as a knight, then as a knave; a choice is rejected as soon as some fully
    assigned statement contradicts its speaker's role. The trace ends at the first consistent assignment.
    """
    n = len(statements)
    roles: list[bool | None] = [None] * n
    refs = [people_in(s) | {i} for i, s in enumerate(statements)]
    steps: list[str] = []

    def violated() -> int | None:
        for speaker in range(n):
            if (
                all(roles[p] is not None for p in refs[speaker])
                and holds(statements[speaker], roles) != roles[speaker]
            ):
                return speaker
        return None

    def search(p: int) -> bool:
        if p == n:
            return True
        for role in (True, False):
            roles[p] = role
            word = KNIGHT if role else KNAVE
            bad = violated()
            if bad is None:
                steps.append(f"Assume {names[p]} is a {word}. No contradiction is found so far.")
                if search(p + 1):
                    return True
            else:
                whose = "their own" if bad == p else names[bad]
                claim = "claim" if roles[bad] else "false claim"
                steps.append(
                    f"{names[p]} cannot be a {word}, because this would contradict the {claim} of {whose} "
                    f"that {english(statements[bad], names)}."
                )
            roles[p] = None
        if p > 0:
            steps.append(
                f"We have exhausted all possibilities for {names[p]}, so let us go back and reconsider {names[p - 1]}."
            )
        return False

    search(0)
    return steps
