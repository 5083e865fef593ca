"""``rlad diagnose --student S --teacher T --task TASK``: what TRRD will do, before any training.

Samples the student's own completions and reports the distribution of log(pi_S / pi_T), the share of
tokens beyond the clamp, the veto share and the teacher's agreement with the correct rollouts; see
:mod:`rlad.mechanism` for the definitions.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from rlad.cli.main import UserError, one_line


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="report what TRRD will do for a student/teacher/task triple, before training",
        description=(
            "Sample the student's completions on N training prompts (K each), score them, and report the "
            "distribution of log(pi_S/pi_T), the share beyond the clamp, the veto share (positive-advantage "
            "tokens clipped at the first update) and the teacher's agreement with the correct rollouts."
        ),
    )
    p.add_argument("--student", required=True, help="student model (path, hub name, toy:..., smollm2-135m)")
    p.add_argument("--teacher", required=True, help="teacher model, same forms")
    p.add_argument("--task", required=True, help="task name (see rlad/tasks)")
    p.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE", help="task option")
    p.add_argument("--n", type=int, default=32, help="prompts (default 32)")
    p.add_argument("--k", type=int, default=4, help="completions per prompt (default 4)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="completion length limit (default 64)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1)")
    p.add_argument("--split", default="train", help="task split to draw prompts from (default train)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.5, help="TRRD alpha (default 0.5)")
    p.add_argument("--clamp", type=float, default=1.0, help="clamp c on log(pi_S/pi_T); <= 0: none")
    p.add_argument("--eps-high", type=float, default=0.28, help="upper clip epsilon (default 0.28)")
    p.add_argument(
        "--agree-prob",
        type=float,
        default=0.5,
        help="a correct rollout is 'agreed' when the teacher's geometric-mean token probability is >= this",
    )
    p.add_argument("--output", type=Path, default=None, help="write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    for flag, value in (("--n", args.n), ("--k", args.k), ("--max-new-tokens", args.max_new_tokens)):
        if value < 1:
            raise UserError(f"{flag} must be >= 1, got {value}")
    if args.temperature <= 0:
        raise UserError(f"--temperature must be positive, got {args.temperature}")
    if not 0 < args.agree_prob <= 1:
        raise UserError(f"--agree-prob must be in (0, 1], got {args.agree_prob}")
    options = {}
    for item in args.task_option:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--task-option {item!r} is not KEY=VALUE")
        options[key] = _value(value)

    from rlad.mechanism import diagnose
    from rlad.run.callbacks import quiet_libraries
    from rlad.run.models import ModelLoadError
    from rlad.tasks import TaskDataError, UnknownNameError
    from rlad.teacher.tokenizer_check import TokenizerMismatchError

    quiet_libraries()  # no "Loading weights" bars around the report
    try:
        report = diagnose(
            args.student,
            args.teacher,
            args.task,
            task_options=options,
            n=args.n,
            k=args.k,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            split=args.split,
            seed=args.seed,
            alpha=args.alpha,
            clamp=args.clamp if args.clamp > 0 else None,
            eps_high=args.eps_high,
            agree_logp=math.log(args.agree_prob),
        )
    except (ModelLoadError, TaskDataError, UnknownNameError, TokenizerMismatchError) as err:
        raise UserError(one_line(err)) from err
    print(report.table())
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report.to_json() + "\n")
        print(f"rlad diagnose: report in {args.output}")
    return 0


def _value(text: str):
    """A task option value: JSON when it parses (numbers, booleans), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
