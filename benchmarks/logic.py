"""The logic family's tiny teacher and student: chain Knights-and-Knaves (``kk_synthetic``, ``style="chain"``).

The pair is built by the one pair builder (:mod:`rlad.toy.pair`, recipe ``kk_synthetic/default`` of
:mod:`rlad.toy.zoo`): one supervised run on the task's verified train-split references (never a test
puzzle), the student its first checkpoint whose Mean@4 on 200 test puzzles reaches 0.3, the teacher its
end (1750 steps; target Mean@8 >= 0.85)::

    python -m benchmarks.logic --out benchmarks/runs/logic_models [--steps 1750]

Why chain puzzles: a first attempt on plain compact puzzles (answer only, ``A:B&!C;B:A>C;C:!A|B?`` ->
``A=n,B=k,C=k``, 3-5 people) reached only 0.127 held-out Mean@4 after 420 s with the same shape: a 4-layer
model cannot search 2^n assignments in one pass. In a chain puzzle every person after A speaks only about
earlier people, so a two-case scratchpad solves it (`rlad.tasks.kk.chain`), one lookup per step.

Training sizes are 3-4 people (2-person chain puzzles number about 40, too few to split); the ``ood``
split holds 5- and 6-person puzzles, longer chains than any seen in training. ``pair.json`` records the
run, the probes and whether both models met their marks (``usable``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from rlad.toy.pair import build_pair as build_recipe
from rlad.toy.zoo import recipe_for

RECIPE = recipe_for("kk_synthetic")
TASK_OPTIONS: dict[str, Any] = dict(RECIPE.task_options)
MAX_COMPLETION_LENGTH = RECIPE.max_new_tokens  # the longest 6-person traces are about 141 characters
TEACHER_TARGET = RECIPE.teacher_target
STUDENT_BAND = tuple(RECIPE.student_band)


def build_pair(out_dir: Path, **overrides: Any) -> dict[str, Any]:
    """Build the pair into ``out_dir`` (``overrides``: recipe fields, e.g. ``steps``); reuse ``pair.json``."""
    summary_path = out_dir / "pair.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    return build_recipe(dataclasses.replace(RECIPE, **overrides), out_dir, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/runs/logic_models"))
    parser.add_argument("--steps", type=int, default=RECIPE.steps, help="optimiser steps of the run")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    print(json.dumps(build_pair(args.out, steps=args.steps), indent=1))


if __name__ == "__main__":
    main()
