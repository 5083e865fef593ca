"""Generated K&K puzzles: unique solutions, disjoint splits, work done, round trips through the verifiers.

Work is counted in brute-force solves (calls of `kk_logic.solutions`), never in seconds, so the bounds hold
on a slow or busy machine.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

import rlad.tasks.kk.generator as kk_generator
from rlad.tasks import TaskDataError, get_task
from rlad.tasks.kk.compact import ALPHABET, decode_puzzle
from rlad.tasks.kk.generator import generate_puzzles
from rlad.tasks.kk.logic import backtracking_trace, parse_statements, solutions, to_roles
from rlad.tasks.loading import split_of


@pytest.mark.parametrize("style", ["natural", "compact", "chain"])
def test_every_size_gives_distinct_uniquely_solvable_puzzles(style):
    puzzles = generate_puzzles(range(2, 9), 140, split="train", seed=5, style=style)
    assert Counter(p.n for p in puzzles) == {n: 20 for n in range(2, 9)}
    assert len({p.key for p in puzzles}) == len(puzzles)
    for p in puzzles:
        found = solutions(p.statements)
        assert len(found) == 1 and tuple(to_roles(found[0], p.n)) == p.roles
        assert all(
            person < p.n
            for s in p.statements
            for person in re.findall(r"\d+", repr(s))
            for person in [int(person)]
        )


def test_generation_is_seeded_and_balanced_with_remainders():
    a = generate_puzzles([3, 4, 5], 10, seed=1, style="compact")
    assert a == generate_puzzles([3, 4, 5], 10, seed=1, style="compact")
    assert a != generate_puzzles([3, 4, 5], 10, seed=2, style="compact")
    assert [p.n for p in a] == [3] * 4 + [4] * 3 + [5] * 3


@pytest.mark.parametrize("style", ["natural", "compact", "chain"])
def test_train_and_test_never_share_a_puzzle(style):
    train = {p.key for seed in (0, 1) for p in generate_puzzles([3, 4, 5], 3000, "train", seed, style)}
    test = {p.key for seed in (0, 7) for p in generate_puzzles([3, 4, 5], 300, "test", seed, style)}
    assert not train & test
    assert all(split_of(k) == "test" for k in test) and all(split_of(k) == "train" for k in train)


class _CountedSolver:
    """`kk_logic.solutions` that counts its calls and fails past `limit` (a runaway loop becomes a failure)."""

    def __init__(self, limit: int) -> None:
        self.calls, self.limit = 0, limit

    def __call__(self, statements):
        self.calls += 1
        if self.calls > self.limit:
            raise AssertionError(f"more than {self.limit} brute-force solves")
        return solutions(statements)


def test_compact_generation_needs_few_draws_per_puzzle(monkeypatch):
    # 3000 compact puzzles (what `kk_synthetic` loads for training) take 10302 solves today: most draws
    # are uniquely solvable, new and in the split. Four per puzzle leaves room for small changes.
    solver = _CountedSolver(limit=4 * 3000)
    monkeypatch.setattr(kk_generator, "solutions", solver)
    puzzles = generate_puzzles([3, 4, 5], 3000, "train", seed=11, style="compact")
    assert len(puzzles) == 3000 and 3000 <= solver.calls <= 4 * 3000


def test_bad_generator_arguments(monkeypatch):
    with pytest.raises(TaskDataError, match="n_people must be values in 2..8"):
        generate_puzzles([9], 1)
    with pytest.raises(TaskDataError, match="unknown split 'dev'"):
        generate_puzzles([3], 1, split="dev")
    # Two people have only a few distinct puzzles: the generator gives up after its patience of draws
    # without a new one (49788 solves today) instead of searching forever.
    solver = _CountedSolver(limit=100_000)
    monkeypatch.setattr(kk_generator, "solutions", solver)
    with pytest.raises(TaskDataError, match=r"could only generate \d+ distinct compact .* \(asked for 400\)"):
        generate_puzzles([2], 400, split="test", style="compact")
    assert solver.calls >= 2000 + 20 * 400  # it did try for its whole patience before giving up


def test_natural_records_round_trip_through_the_verifier():
    task = get_task("kk_synthetic", reward="logic_rl")
    ds = task.load(split="test", limit=70, seed=2)
    assert Counter(ds["subset"]) == {f"ppl{n}": 10 for n in range(2, 9)}
    for row in ds:
        statements = parse_statements(row["statements"])
        assert (
            solutions(statements) and to_roles(solutions(statements)[0], row["n_people"]) == row["solution"]
        )
        assert all(name in row["quiz"] for name in row["names"])
        assert task.score(row["reference"], row).reward == 3.0
        think, answer = row["reference"].split("<answer>")
        first = "knight" if row["solution"][0] else "knave"
        flipped = answer.replace(f"is a {first}", f"is a {'knave' if row['solution'][0] else 'knight'}", 1)
        assert task.score(f"{think}<answer>{flipped}", row).reward == -0.5


def test_trace_ends_on_the_solution():
    for p in generate_puzzles([3, 5, 8], 30, seed=3):
        names = [f"P{i}" for i in range(p.n)]
        last = {}
        for step in backtracking_trace(p.statements, names):
            match = re.match(r"Assume (P\d+) is a (knight|knave)\.", step)
            if match:
                last[match.group(1)] = match.group(2) == "knight"
        assert [last[n] for n in names] == list(p.roles)


def test_compact_records_use_the_small_alphabet_and_disjoint_splits():
    task = get_task("kk_synthetic", style="compact")
    train, test = task.load(split="train", limit=3000), task.load(split="test")
    assert Counter(test["subset"]) == {"ppl3": 100, "ppl4": 100, "ppl5": 100}
    assert Counter(train["subset"]) == {"ppl3": 1000, "ppl4": 1000, "ppl5": 1000}
    assert not set(train["prompt"]) & set(test["prompt"])
    for row in list(test) + list(train)[:300]:
        assert set(row["prompt"] + row["reference"]) <= set(ALPHABET)
        assert decode_puzzle(row["prompt"]) == parse_statements(row["statements"])
        assert task.score(row["reference"], row).reward == 1.0
        flipped = row["reference"][:2] + ("n" if row["reference"][2] == "k" else "k") + row["reference"][3:]
        assert task.score(flipped, row).reward == 0.0
    first = test[0]
    assert first["prompt"].endswith("?") and re.fullmatch(r"[A-E]=[kn](,[A-E]=[kn])*", first["reference"])


def test_synthetic_rejects_sources_and_bad_options():
    with pytest.raises(TaskDataError, match="source must be None"):
        get_task("kk_synthetic").load("some/file.parquet")
    with pytest.raises(TaskDataError, match="unknown style"):
        get_task("kk_synthetic", style="tiny")
