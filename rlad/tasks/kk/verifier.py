"""Verifier for Knights-and-Knaves answers in the Logic-RL format (``<think>..</think><answer>..</answer>``).

The answer is the last ``<answer>...</answer>`` block. In it, each person's role may be written in any
order and in the usual phrasings, case-insensitively: ``(1) Zoey is a knight``, ``Zoey is knave``,
``Zoey is not a knight`` (a knave), ``Zoey: knight``, ``Zoey = knave``, ``Zoey - knight``. The answer must
give exactly one role to every person of the puzzle and to no one else, so it is unparseable when a person
is missing or named twice (even with the same role), when a role is given to anyone else (the block
mentions "knight"/"knave" more often than there are people: Logic-RL's own role-count check), or when it
hedges ("a knight or a knave", "knight/knave", "either", "maybe"): a policy must not learn that covering
both roles pays.

Rewards (``reward=``):

- ``"binary"`` (default): 1 if every role is right, else 0. The think/answer layout is not required.
- ``"logic_rl"``: the shaped reward of Logic-RL (Xie et al. 2025, ``kk.py`` ``compute_score``):
  format +1 if the tags are well formed (each of ``</think>``, ``<answer>``, ``</answer>`` once, in order;
  the opening ``<think>`` may sit in the prompt) else -1; the answer is only judged when the format is
  right: +2 all correct, -1.5 parsed but wrong, -2 unparseable or malformed. Total in [-3, 3];
  `correct` needs both the format and the roles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rlad.tasks.base import Score

REWARD_MODES = ("binary", "logic_rl")

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# hedging words: any of them in the answer block makes it unparseable ("/" catches "knight/knave")
_HEDGE = re.compile(
    r"\b(?:either|or|maybe|perhaps|possibly|probably|might|unknown|unclear|uncertain|undetermined)\b|/",
    re.IGNORECASE,
)
_ROLE_WORD = re.compile(r"knight|knave", re.IGNORECASE)
_CONNECTOR = r"\s*(?:(?:is|was)\s+(?P<neg>not\s+)?(?:an?\s+|the\s+)?|[:=\-\u2013\u2014]\s*(?:an?\s+)?)"


def extract_answer(text: str) -> str | None:
    """The content of the last ``<answer>...</answer>`` block, or None.

    >>> extract_answer("<answer>x</answer> then <answer> y </answer>")
    ' y '
    """
    blocks = _ANSWER.findall(text)
    return blocks[-1] if blocks else None


def format_ok(text: str) -> bool:
    """Logic-RL's structure check, allowing the opening ``<think>`` to be part of the prompt."""
    counts = {tag: text.count(tag) for tag in ("<think>", "</think>", "<answer>", "</answer>")}
    if (
        counts["</think>"] != 1
        or counts["<answer>"] != 1
        or counts["</answer>"] != 1
        or counts["<think>"] > 1
    ):
        return False
    think_end, ans_start, ans_end = text.find("</think>"), text.find("<answer>"), text.find("</answer>")
    think_start = text.find("<think>") if counts["<think>"] else -1
    return think_start < think_end < ans_start < ans_end


def parse_roles(answer: str, names: Sequence[str]) -> tuple[list[bool] | None, str]:
    """Roles (True = knight) in the order of `names`, or None and the reason parsing failed.

    >>> parse_roles("(2) Ava: knave (1) zoey is a Knight", ["Zoey", "Ava"])
    ([True, False], '')
    >>> parse_roles("Zoey is a knight. Zoey is a knave.", ["Zoey"])
    (None, 'conflicting roles for Zoey')
    >>> parse_roles("Zoey is a knight or a knave", ["Zoey"])
    (None, "hedged answer ('or')")
    """
    hedge = _HEDGE.search(answer)
    if hedge:
        return None, f"hedged answer ({hedge.group()!r})"
    roles: list[bool] = []
    for name in names:
        pattern = re.compile(rf"\b{re.escape(name)}\b{_CONNECTOR}(?P<role>knight|knave)s?\b", re.IGNORECASE)
        found = [
            (m.group("role").lower() == "knight") != bool(m.group("neg")) for m in pattern.finditer(answer)
        ]
        if not found:
            return None, f"no role given for {name}"
        if len(set(found)) > 1:
            return None, f"conflicting roles for {name}"
        if len(found) > 1:
            return None, f"{name} is given a role {len(found)} times"
        roles.append(found[0])
    stated = len(_ROLE_WORD.findall(answer))
    if stated != len(names):
        return None, f"{stated} roles stated for {len(names)} people"
    return roles, ""


def score_answer(text: str, names: Sequence[str], solution: Sequence[bool], reward: str = "binary") -> Score:
    """Score a completion against the gold roles (see the module docstring for the two reward modes).

    >>> score_answer("<think>..</think><answer>(1) A is a knight</answer>", ["A"], [True]).reward
    1.0
    >>> score_answer("<think>..</think><answer>A is a knave</answer>", ["A"], [True], reward="logic_rl").reward
    -0.5
    """
    if reward not in REWARD_MODES:
        raise ValueError(f"unknown K&K reward {reward!r}; valid: {', '.join(REWARD_MODES)}")
    solution = [bool(x) for x in solution]
    fmt = format_ok(text)
    answer = extract_answer(text)
    roles, reason = (
        parse_roles(answer, names) if answer is not None else (None, "no <answer>...</answer> block")
    )
    right = sum(r == g for r, g in zip(roles, solution)) if roles is not None else 0
    all_right = roles is not None and right == len(solution)
    if roles is not None and not all_right:
        reason = f"{len(solution) - right} of {len(solution)} roles wrong"
    components = {
        "format": float(fmt),
        "parsed": float(roles is not None),
        "people_correct": right / len(solution) if solution else 0.0,
    }
    if reward == "binary":
        return Score(reward=float(all_right), components=components, reason=reason, correct=all_right)
    format_score = 1.0 if fmt else -1.0
    if not fmt or roles is None:
        answer_score = -2.0
        reason = reason if fmt else "malformed <think>/<answer> tags" + (f"; {reason}" if reason else "")
    else:
        answer_score = 2.0 if all_right else -1.5
    components.update(format_score=format_score, answer_score=answer_score)
    return Score(
        reward=format_score + answer_score, components=components, reason=reason, correct=fmt and all_right
    )
