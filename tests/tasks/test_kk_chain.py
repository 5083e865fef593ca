"""Chain K&K puzzles: the two-case scratchpad agrees with brute force, and the task's splits and scores."""

from __future__ import annotations

from collections import Counter

import pytest

from rlad.tasks import TaskDataError, get_task
from rlad.tasks.kk.chain import (
    ALPHABET,
    answer_part,
    case_roles,
    chain_trace,
    holds,
    is_chain,
    score_chain,
    with_values,
)
from rlad.tasks.kk.compact import decode_puzzle, encode_answer
from rlad.tasks.kk.generator import generate_puzzles
from rlad.tasks.kk.logic import solutions, to_roles, truth_table

KNIGHT = ("telling-truth", 0)


def test_holds_matches_the_truth_tables_of_the_solver():
    statements = [
        ("and", ("telling-truth", 0), ("lying", 1)),
        ("or", ("lying", 0), ("lying", 1)),
        ("->", ("telling-truth", 1), ("lying", 0)),
        ("<=>", ("lying", 0), ("telling-truth", 1)),
        ("not", ("telling-truth", 1)),
    ]
    for statement in statements:
        table = truth_table(statement, 2)
        for assignment in range(4):
            roles = to_roles(assignment, 2)
            assert holds(statement, roles) == bool(table >> assignment & 1), (statement, roles)


def test_holds_refuses_people_whose_role_is_unknown():
    with pytest.raises(ValueError, match="not known yet"):
        holds(("telling-truth", 1), [True, None])


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_the_trace_finds_the_unique_solution(n):
    for puzzle in generate_puzzles([n], 30 if n > 2 else 10, "train", seed=4, style="chain"):
        assert is_chain(puzzle.statements)
        (solution,) = solutions(puzzle.statements)
        *cases, answer = chain_trace(puzzle.statements).split(";")
        assert answer == encode_answer(to_roles(solution, n))
        # one case when A is a knight, two when A is a knave; the last case tried is the answer
        assert len(cases) == (1 if puzzle.roles[0] else 2)
        for case, first in zip(cases, (True, False)):
            head, *people, check = case.split(",")
            assert head == f"A={'k' if first else 'n'}" and len(people) == n - 1
            roles = case_roles(puzzle.statements, first)
            for i, item in enumerate(people, start=1):
                assert (
                    item == f"{'ABCDEFGH'[i]}:{with_values(puzzle.statements[i], roles)}/{'kn'[not roles[i]]}"
                )
            consistent = holds(puzzle.statements[0], roles) == first
            assert check.startswith("A:") and check.endswith(
                "/k" if holds(puzzle.statements[0], roles) else "/n"
            )
            assert consistent == (case is cases[-1])
        assert case_roles(puzzle.statements, puzzle.roles[0]) == list(puzzle.roles)


def test_the_docstring_example_and_the_alphabet():
    from rlad.tasks.kk import compact as kk_compact

    trace = chain_trace(decode_puzzle("A:C;B:A;C:B=!A?"))
    assert trace == "A=k,B:k/k,C:k=!k/n,A:n/n;A=n,B:n/n,C:n=!n/n,A:n/n;A=n,B=n,C=n"
    assert "".join(sorted(kk_compact.ALPHABET + "/")) == ALPHABET


def test_trace_refuses_puzzles_that_are_not_chains():
    with pytest.raises(ValueError, match="not a chain puzzle"):
        chain_trace([KNIGHT, ("telling-truth", 1)])  # B speaks about B


def test_only_the_part_after_the_last_separator_is_graded():
    gold = [False, True]
    assert score_chain("A=k,B=n:n;A=n,B=k", gold).reward == 1.0
    assert score_chain("A=n,B=k", gold).reward == 1.0  # the scratchpad is optional
    assert score_chain("A=n,B=k;", gold).reward == 0.0  # nothing after the separator
    assert score_chain("A=n,B=k:k", gold).reward == 0.0  # stopped inside a case
    assert score_chain("A=k,B=n", gold).reason == "2 of 2 roles wrong"
    assert answer_part("  x;y;A=k \n") == "A=k"


def test_chain_task_rows_splits_and_ood():
    task = get_task("kk_synthetic", style="chain", n_people=[3, 4], ood_people=[5, 6])
    train, test = task.load(split="train", limit=2000), task.load(split="test")
    ood = task.load(split="ood", limit=40)
    assert Counter(train["subset"]) == {"ppl3": 1000, "ppl4": 1000}
    assert Counter(test["subset"]) == {"ppl3": 100, "ppl4": 100}
    assert Counter(ood["subset"]) == {"ood_ppl5": 20, "ood_ppl6": 20}
    assert not set(train["prompt"]) & (set(test["prompt"]) | set(ood["prompt"]))
    for row in list(test) + list(ood) + list(train)[:200]:
        statements = decode_puzzle(row["prompt"])
        assert is_chain(statements) and len(statements) == row["n_people"]
        assert set(row["prompt"] + row["reference"]) <= set(ALPHABET)
        assert task.score(row["reference"], row).reward == 1.0
        wrong = encode_answer([not r for r in row["solution"]])
        assert task.score(row["reference"].rsplit(";", 1)[0] + ";" + wrong, row).reward == 0.0


def test_chain_task_errors_name_the_bad_value():
    with pytest.raises(TaskDataError, match="no 'ood' split unless ood_people"):
        get_task("kk_synthetic", style="chain").load(split="ood")
    with pytest.raises(TaskDataError, match=r"overlap n_people at \[4\]"):
        get_task("kk_synthetic", style="chain", n_people=[3, 4], ood_people=[4, 5])
    with pytest.raises(TaskDataError, match="unknown split 'dev'.*train, test, ood"):
        get_task("kk_synthetic", style="chain").load(split="dev")
    with pytest.raises(TaskDataError, match="valid: natural, compact, chain"):
        get_task("kk_synthetic", style="tiny")


def _chain_statements(about: int) -> list:
    """Every statement the chain generator can draw about people ``0..about-1``."""
    literals = [(sign, p) for p in range(about) for sign in ("telling-truth", "lying")]
    binary = [
        (op, a, b) for a in literals for b in literals if a[1] != b[1] for op in ("and", "or", "->", "<=>")
    ]
    return literals + binary


@pytest.mark.parametrize(("n", "unique", "test"), [(2, 40, 5), (3, 3760, 346)])
def test_the_chain_puzzle_space_is_as_small_as_the_docs_say(n, unique, test):
    """docs/tasks.md and benchmarks/logic.py quote these counts (why training uses 3-4 people, all 3-person ones)."""
    import itertools

    from rlad.tasks.loading import split_of

    space = itertools.product(_chain_statements(n), *(_chain_statements(i) for i in range(1, n)))
    found = [s for s in space if len(solutions(s)) == 1]
    assert len(found) == unique
    assert sum(split_of(repr(s)) == "test" for s in found) == test
    drawn = {p.key for p in generate_puzzles([n], unique - test, "train", seed=0, style="chain")}
    assert drawn <= {repr(s) for s in found}  # the generator draws from exactly this space
