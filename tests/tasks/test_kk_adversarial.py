"""K&K answers built to game the verifier, on every shipped test puzzle (3-7 people, 500 puzzles).

Each person's role flipped (one at a time), each person hedged in every hedge form, an extra person in
either role, each person repeated (agreeing and disagreeing), each person left out: all must score as
wrong under both rewards. Flips are parsed but wrong (Logic-RL: format +1, answer -1.5); the rest cannot
be parsed (format +1, answer -2, as Logic-RL's scorer does when the role count does not match).
"""

from __future__ import annotations

import pytest

from rlad.tasks import get_task
from rlad.tasks.kk.task import NAMES
from rlad.tasks.kk.verifier import score_answer

HEDGES = (
    "{name} is a knight or a knave",
    "{name} is a knave or a knight",
    "{name} is a knight/knave",
    "{name} is a knave/knight",
    "{name} is either a knight or a knave",
    "{name} is either a {role}",
    "{name} is maybe a {role}",
    "{name} is possibly a {role}",
    "{name} is a {role} or {name} is a {other}",
    "{name}: knight or knave",
)


def _role(knight: bool) -> str:
    return "knight" if knight else "knave"


def _lines(names: list[str], roles: list[bool]) -> list[str]:
    return [f"({i + 1}) {n} is a {_role(r)}" for i, (n, r) in enumerate(zip(names, roles))]


def _wrap(lines: list[str]) -> str:
    return "<think>checked every statement</think>\n<answer>\n" + "\n".join(lines) + "\n</answer>"


def flipped(names: list[str], gold: list[bool]) -> list[str]:
    """Every single-role flip: parsed, but wrong."""
    out = []
    for i in range(len(names)):
        roles = list(gold)
        roles[i] = not roles[i]
        out.append(_wrap(_lines(names, roles)))
    return out


def unparseable(names: list[str], gold: list[bool]) -> list[str]:
    """Hedges, extra people, repeats and omissions: none of them may be read as an answer."""
    lines = _lines(names, gold)
    extra = next(n for n in NAMES if n not in names)
    out = [_wrap([*lines, f"({len(names) + 1}) {extra} is a {_role(r)}"]) for r in (True, False)]
    out.append(_wrap([f"(0) {extra} is a knave", *lines]))
    for i, (name, knight) in enumerate(zip(names, gold)):
        for hedge in HEDGES:
            text = hedge.format(name=name, role=_role(knight), other=_role(not knight))
            out.append(_wrap([*lines[:i], f"({i + 1}) {text}", *lines[i + 1 :]]))
        out.append(_wrap([*lines, f"({len(names) + 1}) {name} is a {_role(knight)}"]))  # repeated, agreeing
        out.append(_wrap([*lines, f"{name} is a {_role(not knight)}"]))  # repeated, disagreeing
        out.append(_wrap([*lines[:i], *lines[i + 1 :]]))  # left out
    return out


@pytest.fixture(scope="module")
def kk_test(shared_data):
    rows = list(get_task("kk").load(str(shared_data / "kk"), split="test"))
    assert sorted({r["n_people"] for r in rows}) == [3, 4, 5, 6, 7] and len(rows) == 500
    return rows


def test_every_flip_hedge_extra_person_and_repeat_scores_wrong_on_every_test_puzzle(kk_test):
    checked = 0
    for row in kk_test:
        names, gold = list(row["names"]), [bool(x) for x in row["solution"]]
        assert score_answer(_wrap(_lines(names, gold)), names, gold, "logic_rl").reward == 3.0
        for completion in flipped(names, gold):
            assert score_answer(completion, names, gold).reward == 0.0, completion
            assert score_answer(completion, names, gold, "logic_rl").reward == -0.5, completion
        for completion in unparseable(names, gold):
            binary, shaped = (score_answer(completion, names, gold, mode) for mode in ("binary", "logic_rl"))
            assert binary.reward == 0.0 and not binary.correct, completion
            assert shaped.reward == -1.0 and shaped.components["answer_score"] == -2.0, completion
            checked += 1
    assert checked == sum(3 + 13 * r["n_people"] for r in kk_test)


def test_the_task_scores_the_same_and_references_stay_right(kk_test):
    task, shaped = get_task("kk"), get_task("kk", reward="logic_rl")
    for row in kk_test[::25]:
        names, gold = list(row["names"]), list(row["solution"])
        assert task.score(row["reference"], row).correct and shaped.score(row["reference"], row).reward == 3.0
        hedge = _wrap([f"{n} is a knight or a knave" for n in names])
        assert task.score(hedge, row).reward == 0.0 and shaped.score(hedge, row).reward == -1.0
        both = _wrap(_lines(names, gold) + _lines(names, [not g for g in gold]))
        assert shaped.score(both, row).reason.startswith("conflicting roles for")
