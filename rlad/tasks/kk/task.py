"""Knights-and-Knaves tasks: `kk` (the Logic-RL parquet data) and `kk_synthetic` (generated puzzles).

Rows: ``prompt``, ``subset`` (``"ppl3"``...), ``n_people``, ``names``, ``solution`` (bools, True =
knight), ``quiz``, ``statements`` (the logical form, as text), ``solution_text_format`` and ``reference``
(a completion that earns full reward). Scoring is `kk_verifier` for English puzzles, `kk_compact` for
the compact notation and `kk_chain` for compact chain puzzles with their scratchpad.

Prompt styles: ``chat`` (one user message: instructions + quiz), ``plain`` (the same text as a string)
and, for the real data only, ``logic_rl`` (the dataset's own pre-templated Qwen prompt, a string that
already ends with ``<|im_start|>assistant\\n<think>``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

import datasets

from rlad.tasks.base import PROMPT_STYLES, Score, Task, TaskDataError, make_prompt
from rlad.tasks.kk import chain as kk_chain
from rlad.tasks.kk import compact as kk_compact
from rlad.tasks.kk import verifier as kk_verifier
from rlad.tasks.kk.generator import MAX_PEOPLE, MIN_PEOPLE, STYLES, Puzzle, generate_puzzles
from rlad.tasks.kk.logic import backtracking_trace, english, solution_text_format
from rlad.tasks.loading import ORIGIN, get_field, read_records, sample, to_dataset

INSTRUCTION = (
    "Solve this logic puzzle. Think step by step inside <think> </think> tags, then state the identity of "
    "each character inside <answer> </answer> tags, one per line, i.e., <answer> (1) Zoey is a knight\n"
    "(2) ... </answer>."
)
_SOLUTION_LINE = re.compile(r"\(\d+\)\s*(.+?)\s+is\s+an?\s+(knight|knave)\b", re.IGNORECASE)
NAMES = (
    "Abigail", "Aiden", "Alice", "Amelia", "Aria", "Aurora", "Ava", "Benjamin", "Bob", "Charlotte", "Chloe",
    "Daniel", "David", "Elena", "Ella", "Emily", "Emma", "Ethan", "Evelyn", "Grace", "Hannah", "Harper", "Henry",
    "Isabella", "Jack", "Jacob", "James", "Liam", "Lily", "Logan", "Lucas", "Mason", "Mia", "Noah", "Oliver",
    "Olivia", "Owen", "Penelope", "Riley", "Samuel", "Scarlett", "Sofia", "Victoria", "William", "Zoey",
)  # fmt: skip
_SAYS = (  # {S}: the statement capitalised, as a quotation starts
    '{name} said, "{S}."',
    "{name} told you that {s}.",
    'In a statement by {name}: "{S}."',
    '"{S}," {name} claimed.',
)


def reference_completion(cot: str, answer: str, think_in_prompt: bool = False) -> str:
    opening = "" if think_in_prompt else "<think>"
    return f"{opening}{cot}</think>\n<answer>\n{answer}\n</answer>"


class KKTask(Task):
    """The Logic-RL Knights-and-Knaves parquet files (``{n}ppl_{split}.parquet`` or ``{n}ppl/{split}.parquet``).

    ``load()`` with no source reads the copy shipped in ``rlad/data/kk`` (3-7 people, 900 train and 100
    test puzzles per size); a file, a directory or a hub name reads that instead.

    Options: ``prompt_style`` (``chat``/``plain``/``logic_rl``), ``reward`` (``binary``/``logic_rl``),
    ``n_people`` (keep only these puzzle sizes).
    """

    name = "kk"

    def __init__(
        self, prompt_style: str = "chat", reward: str = "binary", n_people: Sequence[int] | None = None
    ):
        if prompt_style not in (*PROMPT_STYLES, "logic_rl"):
            raise TaskDataError(f"unknown prompt_style {prompt_style!r}; valid: chat, plain, logic_rl")
        if reward not in kk_verifier.REWARD_MODES:
            raise TaskDataError(f"unknown reward {reward!r}; valid: {', '.join(kk_verifier.REWARD_MODES)}")
        self.prompt_style, self.reward, self.n_people = prompt_style, reward, n_people

    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        source = "kk" if source is None else source  # the Logic-RL files shipped in rlad/data/kk
        rows = [self._row(r) for r in read_records(source, split, **kwargs)]
        if self.n_people is not None:
            rows = [r for r in rows if r["n_people"] in set(self.n_people)]
        rows.sort(key=lambda r: r["n_people"])  # files are read in name order; keep sizes grouped
        return to_dataset(sample(rows, limit, seed), f"kk {source} [{split}]")

    def _row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        names, solution = _names_and_solution(record)
        quiz = str(get_field(record, "quiz")) if self.prompt_style != "logic_rl" else ""
        if self.prompt_style == "logic_rl":
            prompt: Any = _logic_rl_prompt(record)
        else:
            prompt = make_prompt(f"{INSTRUCTION}\n\n{quiz}", self.prompt_style)
        steps = [str(s) for s in record.get("cot_repeat_steps") or []]
        cot = " ".join([str(record.get("cot_head") or ""), *steps, str(record.get("cot_foot") or "")]).strip()
        answer = solution_text_format(names, solution)
        return {
            "prompt": prompt,
            "subset": f"ppl{len(names)}",
            "n_people": len(names),
            "names": names,
            "solution": solution,
            "quiz": quiz or str(record.get("quiz", "")),
            "statements": str(record.get("statements") or ""),
            "solution_text_format": answer,
            "reference": reference_completion(cot, answer, think_in_prompt=self.prompt_style == "logic_rl"),
        }

    def score(self, completion: str, example: Mapping[str, Any]) -> Score:
        return kk_verifier.score_answer(completion, example["names"], example["solution"], self.reward)


class KKSyntheticTask(Task):
    """Generated Knights-and-Knaves puzzles (`kk_generator`): English (``natural``), ``compact`` or ``chain``.

    Options: ``style`` (``natural``/``compact``/``chain``), ``n_people`` (default 2..8 natural, 3..5
    compact and chain), ``ood_people`` (sizes of the ``ood`` split, default none), ``reward``
    (``binary``/``logic_rl``), ``prompt_style`` (``chat``/``plain``; default chat for natural, plain for
    compact and chain, which have no instructions: the prompt is the puzzle), ``test_fraction`` (share of
    all puzzles that belongs to the test split). Splits: ``train`` and ``test`` over ``n_people``, and
    ``ood``: test-split puzzles with ``ood_people`` people, subsets ``ood_ppl<n>``. ``load(limit=None)``
    gives 1000 puzzles per size for train and 100 for test and ood; ``source`` must be None.
    """

    name = "kk_synthetic"

    def __init__(
        self,
        style: str = "natural",
        n_people: Sequence[int] | None = None,
        reward: str = "binary",
        prompt_style: str | None = None,
        test_fraction: float = 0.1,
        ood_people: Sequence[int] = (),
    ):
        if style not in STYLES:
            raise TaskDataError(f"unknown style {style!r}; valid: {', '.join(STYLES)}")
        if reward not in kk_verifier.REWARD_MODES:
            raise TaskDataError(f"unknown reward {reward!r}; valid: {', '.join(kk_verifier.REWARD_MODES)}")
        default_people = range(MIN_PEOPLE, MAX_PEOPLE + 1) if style == "natural" else range(3, 6)
        self.style, self.reward, self.test_fraction = style, reward, test_fraction
        self.n_people = tuple(n_people) if n_people is not None else tuple(default_people)
        self.ood_people = tuple(ood_people)
        overlap = sorted(set(self.n_people) & set(self.ood_people))
        if overlap:
            raise TaskDataError(f"ood_people {list(self.ood_people)} overlap n_people at {overlap}")
        self.prompt_style = prompt_style or ("chat" if style == "natural" else "plain")
        make_prompt("", self.prompt_style)  # validates the name

    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        if source is not None:
            raise TaskDataError(
                "kk_synthetic generates its puzzles (source must be None); use task 'kk' for files"
            )
        if kwargs:
            raise TaskDataError(f"kk_synthetic.load got unexpected options {sorted(kwargs)}")
        if split not in ("train", "test", "ood"):
            raise TaskDataError(f"unknown split {split!r} for kk_synthetic; valid: train, test, ood")
        sizes = self.n_people
        if split == "ood":
            if not self.ood_people:
                raise TaskDataError("kk_synthetic has no 'ood' split unless ood_people is set (e.g. [5, 6])")
            sizes = self.ood_people
        count = limit if limit is not None else (1000 if split == "train" else 100) * len(set(sizes))
        generated = "test" if split == "ood" else split
        puzzles = generate_puzzles(sizes, count, generated, seed, self.style, self.test_fraction)
        rng = random.Random(f"kk-names:{split}:{seed}")
        rows = [self._row(p, rng) for p in puzzles]
        if split == "ood":
            rows = [{**row, "subset": f"ood_{row['subset']}"} for row in rows]
        return to_dataset(rows, f"kk_synthetic [{split}]")

    def _row(self, puzzle: Puzzle, rng: random.Random) -> dict[str, Any]:
        if self.style in ("compact", "chain"):
            names = list(kk_compact.LETTERS[: puzzle.n])
            quiz = kk_compact.encode_puzzle(puzzle.statements)
            prompt: Any = make_prompt(quiz, self.prompt_style)
            if self.style == "chain":
                reference = kk_chain.chain_trace(puzzle.statements)
            else:
                reference = kk_compact.encode_answer(puzzle.roles)
        else:
            names = rng.sample(NAMES, puzzle.n)
            quiz = natural_quiz(puzzle, names, rng)
            prompt = make_prompt(f"{INSTRUCTION}\n\n{quiz}", self.prompt_style)
            cot = " ".join(
                [
                    "Let's think step by step, by considering whether each person is lying and if that leads to contradiction."
                ]
                + backtracking_trace(puzzle.statements, names)
                + ["This leads to a feasible solution."]
            )
            reference = reference_completion(cot, solution_text_format(names, puzzle.roles))
        return {
            "prompt": prompt,
            "subset": f"ppl{puzzle.n}",
            "n_people": puzzle.n,
            "names": names,
            "solution": list(puzzle.roles),
            "quiz": quiz,
            "statements": puzzle.key,
            "solution_text_format": solution_text_format(names, puzzle.roles),
            "reference": reference,
        }

    def score(self, completion: str, example: Mapping[str, Any]) -> Score:
        if self.style == "chain":
            return kk_chain.score_chain(completion, example["solution"], self.reward)
        if self.style == "compact":
            return kk_compact.score_compact(completion, example["solution"], self.reward)
        return kk_verifier.score_answer(completion, example["names"], example["solution"], self.reward)


def natural_quiz(puzzle: Puzzle, names: Sequence[str], rng: random.Random) -> str:
    """The puzzle in the wording of the K&K dataset."""
    listing = ", ".join(names[:-1]) + f", and {names[-1]}" if len(names) > 2 else " and ".join(names)
    said = []
    for name, statement in zip(names, puzzle.statements):
        text = english(statement, names)
        said.append(rng.choice(_SAYS).format(name=name, s=text, S=text[0].upper() + text[1:]))
    return (
        "A very special island is inhabited only by knights and knaves. Knights always tell the truth, and knaves "
        f"always lie. You meet {len(names)} inhabitants: {listing}. {' '.join(said)} "
        "So who is a knight and who is a knave?"
    )


def _names_and_solution(record: Mapping[str, Any]) -> tuple[list[str], list[bool]]:
    """From the ``names``/``solution`` columns, else parsed from ``solution_text_format``."""
    if record.get("names") is not None and record.get("solution") is not None:
        names, solution = [str(n) for n in record["names"]], [bool(s) for s in record["solution"]]
        if len(names) != len(solution) or not names:
            raise TaskDataError(f"{record.get(ORIGIN)}: 'names' and 'solution' differ in length or are empty")
        return names, solution
    text = record.get("solution_text_format") or (record.get("reward_model") or {}).get(
        "ground_truth", {}
    ).get("solution_text_format")
    if not text:  # raises, naming the record, the missing field and the fields it has
        get_field(record, "names" if record.get("names") is None else "solution")
    pairs = _SOLUTION_LINE.findall(text)
    if not pairs:
        raise TaskDataError(f"{record.get(ORIGIN)}: cannot parse field 'solution_text_format': {text!r}")
    return [p[0] for p in pairs], [p[1].lower() == "knight" for p in pairs]


def _logic_rl_prompt(record: Mapping[str, Any]) -> str:
    prompt = get_field(record, "prompt")
    if isinstance(prompt, str):
        return prompt
    try:
        return str(prompt[0]["content"])
    except (IndexError, KeyError, TypeError) as err:
        raise TaskDataError(f"{record.get(ORIGIN)}: field 'prompt' is not a chat message list") from err
