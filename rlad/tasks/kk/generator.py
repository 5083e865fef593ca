"""Procedural Knights-and-Knaves puzzles with a unique solution, in the record format of the real data.

Each person says one random statement; a puzzle is kept only if brute force (`kk_logic.solutions`)
finds exactly one consistent assignment. Three statement styles:

- ``natural``: the forms of the K&K dataset (a role claim, its negation, or two role claims joined by
  and / or / implies / iff), rendered as English with names and a backtracking chain of thought.
- ``compact``: two-literal statements are more frequent (richer puzzles, a larger space), rendered in the
  notation of `kk_compact`.
- ``chain``: compact statements where A speaks about anyone and every later person only about people
  before them, so two cases (A a knight or a knave) solve the puzzle (`kk_chain`).

Train and test are split by a hash of the puzzle's logical form (`split_of`), so a test puzzle is never a
train puzzle, whatever seeds are used; within a split puzzles are distinct. Counts are balanced over the
requested people counts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rlad.tasks.base import TaskDataError
from rlad.tasks.kk.logic import Statement, solutions, to_roles
from rlad.tasks.loading import split_of

SPLITS = ("train", "test")
STYLES = ("natural", "compact", "chain")
MIN_PEOPLE, MAX_PEOPLE = 2, 8
_BINARY = ("and", "or", "->", "<=>")


@dataclass(frozen=True)
class Puzzle:
    statements: tuple[Statement, ...]
    roles: tuple[bool, ...]  # True = knight; person i says statements[i]

    @property
    def n(self) -> int:
        return len(self.statements)

    @property
    def key(self) -> str:
        """The logical form; equal keys mean the same puzzle (names play no part)."""
        return repr(self.statements)


def random_statement(rng: random.Random, n: int, style: str, about: int | None = None) -> Statement:
    """One statement about the people ``0..about-1`` (default all n); ``compact`` and ``chain`` use only
    literals and favour two of them, about two different people when there are two."""
    about = n if about is None else about

    def literal() -> Statement:
        return ("telling-truth" if rng.random() < 0.5 else "lying", rng.randrange(about))

    def binary() -> Statement:
        first, second = literal(), literal()
        # "A or A" says nothing new; in a chain puzzle the two literals are about two different people
        while second == first or (style == "chain" and second[1] == first[1]):
            second = literal()
        return (rng.choice(_BINARY), first, second)

    r = rng.random()
    if style in ("compact", "chain"):
        return literal() if r < 0.25 or about == 1 else binary()
    if r < 0.3:
        return literal()
    if r < 0.45:
        return ("not", literal())
    return binary()


def random_puzzle(rng: random.Random, n: int, style: str) -> Puzzle:
    """Draw statements until the puzzle has exactly one solution."""
    while True:
        if style == "chain":  # A about anyone; person i > 0 only about people before i
            later = (random_statement(rng, n, style, about=i) for i in range(1, n))
            statements = (random_statement(rng, n, style), *later)
        else:
            statements = tuple(random_statement(rng, n, style) for _ in range(n))
        found = solutions(statements)
        if len(found) == 1:
            return Puzzle(statements, tuple(to_roles(found[0], n)))


def generate_puzzles(
    n_people: Sequence[int],
    count: int,
    split: str = "train",
    seed: int = 0,
    style: str = "natural",
    test_fraction: float = 0.1,
) -> list[Puzzle]:
    """`count` distinct puzzles of `split`, balanced over `n_people` (earlier sizes take the remainder)."""
    if split not in SPLITS:
        raise TaskDataError(f"unknown split {split!r} for generated K&K puzzles; valid: {', '.join(SPLITS)}")
    if style not in STYLES:
        raise TaskDataError(f"unknown K&K style {style!r}; valid: {', '.join(STYLES)}")
    if not n_people or any(not MIN_PEOPLE <= n <= MAX_PEOPLE for n in n_people):
        raise TaskDataError(f"n_people must be values in {MIN_PEOPLE}..{MAX_PEOPLE}, got {list(n_people)}")
    if not 0.0 < test_fraction < 1.0:
        raise TaskDataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    levels = sorted(set(n_people))
    per_level = [count // len(levels) + (i < count % len(levels)) for i in range(len(levels))]
    out: list[Puzzle] = []
    for n, wanted in zip(levels, per_level):
        out.extend(_level(n, wanted, split, seed, style, test_fraction))
    return out


def _level(n: int, wanted: int, split: str, seed: int, style: str, test_fraction: float) -> Iterator[Puzzle]:
    rng = random.Random(f"kk:{style}:{n}:{split}:{seed}")
    seen: set[str] = set()
    misses, patience = 0, 2000 + 20 * wanted  # consecutive draws without a new puzzle before giving up
    while len(seen) < wanted and misses < patience:
        puzzle = random_puzzle(rng, n, style)
        if puzzle.key in seen or split_of(puzzle.key, test_fraction) != split:
            misses += 1
            continue
        misses = 0
        seen.add(puzzle.key)
        yield puzzle
    if len(seen) < wanted:
        raise TaskDataError(
            f"could only generate {len(seen)} distinct {style} K&K puzzles with {n} people for split {split!r} "
            f"(asked for {wanted}); ask for fewer or use more people"
        )
