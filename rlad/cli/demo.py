"""``rlad demo [--real] [--quick] [--out DIR] [--steps N] [--lr LR] [--verbose]``: the main job.

See :mod:`rlad.demo.run` (the tiny pair) and :mod:`rlad.demo.real` (``--real``: the real 135M pair).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rlad.cli.main import RunStopped, UserError, one_line


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from rlad.demo import real

    p = sub.add_parser(
        name,
        help="GRPO vs RLAD on a tiny teacher/student pair, on this CPU, in minutes "
        "(--real: the shipped 135M pair)",
        description="Train a student with GRPO and with RLAD on the same budget and compare them with "
        "the teacher; one seed. No downloads.",
    )
    p.add_argument(
        "--real",
        action="store_true",
        help=f"the real pretrained pair instead of the tiny one: SmolLM2-135M student {real.STUDENT} "
        f"and teacher {real.TEACHER} on task {real.TASK}, LoRA r={real.LORA['r']} students, "
        f"{real.STEPS} steps, both trainings at once; about {real.MINUTES} minutes on a 2-core CPU "
        "(needs the real-model install, docs/real_models.md)",
    )
    p.add_argument(
        "--out", default=None, help="output folder (default: runs/demo, with --real runs/demo_real)"
    )
    p.add_argument("--quick", action="store_true", help="the same code path at CI size (about a minute)")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps per method (default: 150; --real {real.STEPS})",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"student learning rate (default: 1e-4; --real {real.LEARNING_RATE:g})",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--verbose",
        action="store_true",
        help="print every per-step metric dictionary (default: progress bars; metrics go to metrics.jsonl)",
    )


def _check(args: argparse.Namespace) -> None:
    problems = [
        (args.steps is not None and args.steps < 1, f"--steps must be >= 1, got {args.steps}"),
        (
            args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0),
            f"--lr must be a finite number > 0, got {args.lr}",
        ),
        (args.seed < 0, f"--seed must be >= 0, got {args.seed}"),
    ]
    for bad, message in problems:
        if bad:
            raise UserError(message)


def run(args: argparse.Namespace) -> int:
    from rlad.files import check_writable_dir

    _check(args)
    out = Path(args.out or ("runs/demo_real" if args.real else "runs/demo"))
    try:
        check_writable_dir(out, "--out")
    except OSError as err:
        raise UserError(str(err)) from err

    from rlad.demo.run import DemoSettings, run_demo

    presets = {
        (False, False): DemoSettings,
        (False, True): DemoSettings.quick,
        (True, False): DemoSettings.real,
        (True, True): DemoSettings.real_quick,
    }
    settings = presets[(args.real, args.quick)](out)
    if args.steps is not None:
        settings.steps = args.steps
    if args.lr is not None:
        settings.learning_rate = args.lr
    settings.seed = args.seed
    settings.verbose = args.verbose
    from rlad.demo.run import DemoTrainingFailed
    from rlad.run.models import ModelLoadError
    from rlad.teacher import TeacherLoadError, TokenizerMismatchError

    try:
        run_demo(settings)
    except (ModelLoadError, TeacherLoadError, TokenizerMismatchError) as err:
        # e.g. --real without the real-model install: one line naming what to install
        raise UserError(one_line(err)) from err
    except DemoTrainingFailed as err:
        raise RunStopped(str(err)) from err
    return 0
