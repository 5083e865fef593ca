"""A compact Knights-and-Knaves notation for tiny character-level models, and its strict verifier.

People are the letters ``A``..``H`` (2 to 8 people). Each person says one statement of one or two
literals; a literal is ``X`` ("X is a knight") or ``!X`` ("X is a knave"); two literals are joined by
``&`` (and), ``|`` (or), ``>`` (implies) or ``=`` (if and only if). The prompt lists ``speaker:statement``
separated by ``;`` and ends with ``?``; the answer gives every role, in letter order, as ``X=k`` (knight)
or ``X=n`` (knave) separated by ``,``::

    prompt      A:B&!C;B:A>C;C:!A|B?
    completion  A=n,B=k,C=k

``=`` joins two literals in a statement and a letter to its role in the answer; the two never meet. The
verifier is strict: after stripping surrounding whitespace the completion must be exactly that shape with
the puzzle's letters in order; anything else is a format failure. The whole alphabet (prompt and
completion) is `ALPHABET`: 19 ASCII characters, all in the toy character tokenizer's alphabet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rlad.tasks.base import Score
from rlad.tasks.kk.logic import Statement

LETTERS = "ABCDEFGH"
BINARY_OPS = {"and": "&", "or": "|", "->": ">", "<=>": "="}
_OP_NAMES = {v: k for k, v in BINARY_OPS.items()}
ALPHABET = "".join(sorted(set(LETTERS + "kn" + ":;?!=," + "".join(BINARY_OPS.values()))))
REWARD_MODES = ("binary", "logic_rl")

_LITERAL = r"!?[A-H]"
_STATEMENT = re.compile(rf"({_LITERAL})(?:([&|>=])({_LITERAL}))?")
_ANSWER = re.compile(r"[A-H]=[kn](?:,[A-H]=[kn])*")


def encode_literal(statement: Statement) -> str:
    op = statement[0]
    if op == "telling-truth":
        return LETTERS[statement[1]]
    if op == "lying":
        return "!" + LETTERS[statement[1]]
    if op == "not" and statement[1][0] in ("telling-truth", "lying"):
        flipped = "lying" if statement[1][0] == "telling-truth" else "telling-truth"
        return encode_literal((flipped, statement[1][1]))
    raise ValueError(f"not a compact K&K literal: {statement!r}")


def encode_statement(statement: Statement) -> str:
    """``("and", ("telling-truth", 1), ("lying", 2))`` -> ``"B&!C"``."""
    if statement[0] in BINARY_OPS and len(statement) == 3:
        return encode_literal(statement[1]) + BINARY_OPS[statement[0]] + encode_literal(statement[2])
    return encode_literal(statement)


def encode_puzzle(statements: Sequence[Statement]) -> str:
    """The compact prompt: ``"A:B&!C;B:A>C;C:!A|B?"``."""
    if not 1 <= len(statements) <= len(LETTERS):
        raise ValueError(f"compact K&K supports 1..{len(LETTERS)} people, got {len(statements)}")
    return ";".join(f"{LETTERS[i]}:{encode_statement(s)}" for i, s in enumerate(statements)) + "?"


def decode_puzzle(text: str) -> tuple[Statement, ...]:
    """Inverse of `encode_puzzle` (raises ValueError on anything else)."""
    if not text.endswith("?"):
        raise ValueError(f"compact K&K puzzle must end with '?': {text!r}")
    out = []
    for i, part in enumerate(text[:-1].split(";")):
        speaker, _, body = part.partition(":")
        match = _STATEMENT.fullmatch(body)
        if speaker != LETTERS[i] or match is None:
            raise ValueError(
                f"bad compact K&K statement {part!r} (expected {LETTERS[i]}:<literal>[op<literal>])"
            )
        first, op, second = match.groups()
        literals = [_decode_literal(first)] + ([_decode_literal(second)] if op else [])
        out.append((_OP_NAMES[op], *literals) if op else literals[0])
    return tuple(out)


def _decode_literal(text: str) -> Statement:
    return ("lying" if text.startswith("!") else "telling-truth", LETTERS.index(text[-1]))


def encode_answer(roles: Sequence[bool]) -> str:
    """``[True, False]`` -> ``"A=k,B=n"``."""
    return ",".join(f"{LETTERS[i]}={'k' if r else 'n'}" for i, r in enumerate(roles))


def parse_answer(text: str, n: int) -> list[bool] | None:
    """Roles from a compact answer, or None unless it is exactly ``A=?,B=?,...`` for the n people.

    >>> parse_answer(" A=k,B=n\\n", 2)
    [True, False]
    >>> parse_answer("B=n,A=k", 2) is None
    True
    """
    text = text.strip()
    if _ANSWER.fullmatch(text) is None:
        return None
    pairs = text.split(",")
    if [p[0] for p in pairs] != list(LETTERS[:n]):
        return None
    return [p[2] == "k" for p in pairs]


def score_compact(text: str, solution: Sequence[bool], reward: str = "binary") -> Score:
    """Binary: 1 if every role is right. ``logic_rl``: format +1/-1, answer +2 right / -1.5 wrong / -2 malformed.

    >>> score_compact("A=k,B=n", [True, False]).reward
    1.0
    >>> score_compact("A=k,B=k", [True, False], reward="logic_rl").reward
    -0.5
    """
    if reward not in REWARD_MODES:
        raise ValueError(f"unknown K&K reward {reward!r}; valid: {', '.join(REWARD_MODES)}")
    solution = [bool(x) for x in solution]
    roles = parse_answer(text, len(solution))
    right = sum(r == g for r, g in zip(roles, solution)) if roles is not None else 0
    all_right = roles is not None and right == len(solution)
    if roles is None:
        reason = f"not a compact answer: expected X=k or X=n for each of {LETTERS[: len(solution)]}, in order"
    else:
        reason = "" if all_right else f"{len(solution) - right} of {len(solution)} roles wrong"
    components = {"format": float(roles is not None), "people_correct": right / len(solution)}
    if reward == "binary":
        value = float(all_right)
    else:
        value = (1.0 + (2.0 if all_right else -1.5)) if roles is not None else -3.0
    return Score(reward=value, components=components, reason=reason, correct=all_right)
