"""``rlad build-teacher NAME``: (re)build a packaged LoRA teacher over a real pretrained base.

The adapters in ``rlad/real/adapters/`` ship with rlad, so this is needed only to change or reproduce
one; see :mod:`rlad.real.teacher`. It trains, measures Mean@4 on the test split and writes the
adapter with its ``build.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlad.cli.main import UserError, one_line


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="build a LoRA teacher that shares its student's pretraining (e.g. smollm2-135m-sums)",
        description="Fine-tune a packaged base on the task's programmatic worked solutions with LoRA.",
    )
    p.add_argument("name", help="teacher name, e.g. smollm2-135m-sums")
    p.add_argument("--max-steps", type=int, default=None, help="training steps (default: the recipe's)")
    p.add_argument("--eval-problems", type=int, default=100, help="test problems for Mean@4 (0: skip)")
    p.add_argument("--out", type=Path, default=None, help="adapter folder (default: the packaged one)")


def run(args: argparse.Namespace) -> int:
    from rlad.real.gguf import RealModelError
    from rlad.real.teacher import build_teacher

    if args.max_steps is not None and args.max_steps < 1:
        raise UserError(f"--max-steps must be >= 1, got {args.max_steps}")
    try:
        record = build_teacher(args.name, args.max_steps, args.eval_problems, args.out)
    except RealModelError as err:
        raise UserError(one_line(err)) from err
    print(
        f"rlad build-teacher: {args.name} built in {record['train_seconds']} s ({record['adapter_bytes']} bytes)"
    )
    return 0
