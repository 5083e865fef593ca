"""The English K&K answer verifier and the compact notation's strict verifier (pure functions)."""

from __future__ import annotations

import pytest

from rlad.tasks.kk import compact as kk_compact
from rlad.tasks.kk.compact import decode_puzzle, encode_answer, encode_puzzle, parse_answer, score_compact
from rlad.tasks.kk.logic import unique_solution
from rlad.tasks.kk.verifier import extract_answer, format_ok, parse_roles, score_answer

NAMES = ["Zoey", "Oliver", "Ava"]
GOLD = [True, False, True]


@pytest.mark.parametrize(
    "answer",
    [
        "(1) Zoey is a knight\n(2) Oliver is a knave\n(3) Ava is a knight",
        "(3) Ava is a knight (1) Zoey is a knight (2) Oliver is a knave",
        "zoey is a KNIGHT, OLIVER IS A KNAVE, ava is knight",
        "Zoey: knight\nOliver: knave\nAva: a knight",
        "Zoey = knight; Oliver - knave; Ava \u2013 knight",
        "Zoey is not a knave, Oliver is not a knight, and Ava was a knight",
    ],
)
def test_phrasing_variants_parse_to_the_same_roles(answer):
    assert parse_roles(answer, NAMES) == (GOLD, "")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            "Zoey is a knight. Zoey is a knight. Oliver is a knave. Ava is a knight.",
            "Zoey is given a role 2 times",
        ),
        (
            "Zoey is a knight. Oliver is a knave. Ava is a knight. Bob is a knave.",
            "4 roles stated for 3 people",
        ),
        ("Zoey is a knight. Oliver is a knave. Ava is a knight or a knave.", "hedged answer ('or')"),
        ("Zoey is a knight. Oliver is a knave. Ava is a knight/knave.", "hedged answer ('/')"),
        ("Zoey is a knight. Oliver is a knave. Ava is either a knight.", "hedged answer ('either')"),
        ("Zoey is a knight. Oliver is a knave. Ava is maybe a knight.", "hedged answer ('maybe')"),
        ("Zoey, Oliver and Ava: knight, knave, knight", "no role given for Zoey"),
        (
            "Zoey is a knight. Oliver is a knave, Ava is a knight, like every knight.",
            "4 roles stated for 3 people",
        ),
    ],
)
def test_duplicates_extra_people_and_hedges_are_unparseable(answer, reason):
    assert parse_roles(answer, NAMES) == (None, reason)


def test_missing_and_conflicting_people_are_unparseable():
    assert parse_roles("Zoey is a knight. Oliver is a knave.", NAMES) == (None, "no role given for Ava")
    assert parse_roles("Zoey is a knight, Oliver is a knave, Ava is a knight, Ava is a knave.", NAMES) == (
        None,
        "conflicting roles for Ava",
    )


def test_names_are_matched_as_whole_words():
    assert parse_roles("Jackson is a knave and Jack is a knight", ["Jack", "Jackson"]) == ([True, False], "")


def test_last_answer_block_and_format_check():
    assert extract_answer("<answer>a</answer> x <answer>b</answer>") == "b"
    assert extract_answer("<answer>unclosed") is None
    assert format_ok("<think>r</think> <answer>x</answer>")
    assert format_ok("r</think><answer>x</answer>")  # the opening <think> may be in the prompt
    assert not format_ok("<think>r</think><answer>x</answer><answer>y</answer>")
    assert not format_ok("<answer>x</answer><think>r</think>")
    assert not format_ok("<think>r<answer>x</answer>")


def _completion(answer: str) -> str:
    return f"<think>reasoning</think>\n<answer>\n{answer}\n</answer>"


GOOD = "(1) Zoey is a knight\n(2) Oliver is a knave\n(3) Ava is a knight"


@pytest.mark.parametrize(
    ("completion", "binary", "logic_rl"),
    [
        (_completion(GOOD), 1.0, 3.0),
        (_completion(GOOD.replace("Oliver is a knave", "Oliver is a knight")), 0.0, -0.5),
        (_completion("(1) Zoey is a knight\n(2) Oliver is a knave"), 0.0, -1.0),
        (_completion(GOOD + "\n(4) Zoey is a knave"), 0.0, -1.0),
        (f"<answer>{GOOD}</answer>", 1.0, -3.0),  # right roles, no </think>: binary ignores the layout
        ("<think>r</think><answer>" + GOOD, 0.0, -3.0),
        ("", 0.0, -3.0),
    ],
)
def test_binary_and_logic_rl_rewards(completion, binary, logic_rl):
    assert score_answer(completion, NAMES, GOLD).reward == binary
    shaped = score_answer(completion, NAMES, GOLD, reward="logic_rl")
    assert shaped.reward == logic_rl
    assert shaped.correct == (logic_rl == 3.0)


def test_score_reasons_and_components():
    wrong = score_answer(_completion(GOOD.replace("Ava is a knight", "Ava is a knave")), NAMES, GOLD)
    assert (wrong.reason, wrong.components) == (
        "1 of 3 roles wrong",
        {"format": 1.0, "parsed": 1.0, "people_correct": pytest.approx(2 / 3)},
    )
    assert score_answer("no tags", NAMES, GOLD).reason == "no <answer>...</answer> block"
    with pytest.raises(ValueError, match="valid: binary, logic_rl"):
        score_answer("", NAMES, GOLD, reward="partial")


# --- compact notation -----------------------------------------------------------------------------


def test_compact_alphabet_is_small_ascii():
    assert kk_compact.ALPHABET == "!&,:;=>?ABCDEFGHkn|"
    assert len(kk_compact.ALPHABET) <= 40 and kk_compact.ALPHABET.isascii()


def test_compact_round_trip_and_docstring_example():
    statements = (
        ("and", ("telling-truth", 1), ("lying", 2)),
        ("->", ("telling-truth", 0), ("telling-truth", 2)),
        ("or", ("lying", 0), ("telling-truth", 1)),
    )
    assert encode_puzzle(statements) == "A:B&!C;B:A>C;C:!A|B?"
    assert decode_puzzle("A:B&!C;B:A>C;C:!A|B?") == statements
    assert encode_answer(unique_solution(statements)) == "A=n,B=k,C=k"
    assert kk_compact.encode_statement(("not", ("telling-truth", 1))) == "!B"
    assert decode_puzzle("A:B=!A;B:!A?") == (("<=>", ("telling-truth", 1), ("lying", 0)), ("lying", 0))
    for bad in ("A:B&!C;B:A>C", "B:A?", "A:B&&C?", "A:B&C&A?", "A:b?", "A:B~C?"):
        with pytest.raises(ValueError):
            decode_puzzle(bad)


@pytest.mark.parametrize(
    ("text", "roles"),
    [
        ("A=k,B=n,C=k", [True, False, True]),
        ("  A=k,B=n,C=k\n", [True, False, True]),
        ("B=n,A=k,C=k", None),
        ("A=k,B=n", None),
        ("A=k,B=n,C=k,D=n", None),
        ("A=k, B=n, C=k", None),
        ("a=k,b=n,c=k", None),
        ("A=k,B=n,C=knight", None),
        ("A=k,B=n,C=k.", None),
        ("", None),
    ],
)
def test_compact_parser_is_strict(text, roles):
    assert parse_answer(text, 3) == roles


def test_compact_scores():
    gold = [True, False, True]
    assert score_compact("A=k,B=n,C=k", gold).reward == 1.0
    assert score_compact("A=k,B=k,C=k", gold).reward == 0.0
    assert score_compact("A=k,B=k,C=k", gold).components == {
        "format": 1.0,
        "people_correct": pytest.approx(2 / 3),
    }
    assert score_compact("A=k,B=n,C=k", gold, reward="logic_rl").reward == 3.0
    assert score_compact("A=k,B=k,C=k", gold, reward="logic_rl").reward == -0.5
    assert score_compact("knights", gold, reward="logic_rl").reward == -3.0
    assert score_compact("knights", gold).reason.startswith("not a compact answer")
