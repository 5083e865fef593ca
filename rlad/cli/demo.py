"""``rlad demo [--quick] [--out DIR] [--steps N]``: the main job (see :mod:`rlad.demo.run`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="GRPO vs RLAD on a tiny teacher/student pair, on this CPU, in minutes",
        description="Train a tiny student with GRPO and with RLAD on the same budget and "
        "compare them with the teacher. No downloads.",
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--quick", action="store_true", help="the same code path at CI size (about a minute)")
    p.add_argument("--steps", type=int, default=None, help="training steps per method (default: 150)")
    p.add_argument("--lr", type=float, default=None, help="student learning rate (default: 1e-4)")
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from rlad.demo.run import DemoSettings, run_demo

    out = Path(args.out)
    settings = DemoSettings.quick(out) if args.quick else DemoSettings(out_dir=out)
    if args.steps is not None:
        settings.steps = args.steps
    if args.lr is not None:
        settings.learning_rate = args.lr
    settings.seed = args.seed
    run_demo(settings)
    return 0
