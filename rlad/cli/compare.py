"""``rlad compare RECIPE.yaml --methods grpo,kdrl,rlad,sft --seeds 3 [--out DIR] [key=value ...]``.

Runs the recipe once per method and seed (``OUT/<method>/seed<i>/``, finished runs are skipped),
evaluates every final model, the untrained student and the teacher the same way, and writes
``OUT/results.md``, ``OUT/results.json`` and plots; see :mod:`rlad.compare.recipe`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlad.cli.main import RunStopped, UserError, allow_trailing_overrides, one_line


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from rlad.compare.methods import METHODS  # light: the harness imports torch only when it runs

    p = sub.add_parser(
        name,
        help="compare methods (grpo, kdrl, rlad, opd, sft) across seeds on one recipe",
        description=(
            "Train the recipe once per method and seed, evaluate every final model (plus the untrained student "
            "and the teacher), and write OUT/results.md, OUT/results.json and plots. Finished runs "
            "(OUT/<method>/seed<i>/done.json) are skipped, so an interrupted comparison continues where it "
            "stopped. key=value pairs override recipe keys for every run."
        ),
    )
    p.add_argument("recipe", help="path to a recipe YAML file (see recipes/)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. max_steps=50")
    p.add_argument(
        "--methods",
        default="grpo,kdrl,rlad,sft",
        help=f"comma-separated methods among {', '.join(METHODS)} (default: grpo,kdrl,rlad,sft)",
    )
    p.add_argument(
        "--seeds", type=int, default=3, help="training seeds per method: recipe seed + 0..N-1 (default: 3)"
    )
    p.add_argument("--out", default=None, help="output folder (default: compare/<recipe name>)")
    p.add_argument(
        "--samples-per-prompt",
        type=int,
        default=4,
        metavar="K",
        help="sft: teacher samples per prompt (default: 4)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="trainings at once, each a single-threaded process (default: 1, in this process); "
        "2 suits a 2-core machine",
    )
    allow_trailing_overrides(p)


def run(args: argparse.Namespace) -> int:
    from rlad.run.recipes import RecipeError, load_recipe

    if args.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {args.seeds}")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    if args.samples_per_prompt < 1:
        raise UserError(f"--samples-per-prompt must be >= 1, got {args.samples_per_prompt}")
    out = Path(args.out) if args.out else Path("compare") / Path(args.recipe).stem
    try:
        recipe = load_recipe(args.recipe, args.overrides)
    except RecipeError as err:
        raise UserError(str(err)) from err

    from rlad.compare.methods import CompareError, parse_methods
    from rlad.compare.recipe import run_compare
    from rlad.files import check_writable_dir
    from rlad.run.models import ModelLoadError
    from rlad.run.runner import TeacherGoneError
    from rlad.teacher import TeacherLoadError, TeacherUnavailableError, TokenizerMismatchError

    try:
        methods = parse_methods(args.methods)
        check_writable_dir(out, "--out")
    except (CompareError, OSError) as err:
        raise UserError(str(err)) from err
    try:
        result = run_compare(
            recipe, methods, args.seeds, out, samples_per_prompt=args.samples_per_prompt, workers=args.workers
        )
    except (
        CompareError,
        RecipeError,
        ModelLoadError,
        TeacherLoadError,
        TokenizerMismatchError,
        TeacherUnavailableError,
    ) as err:
        raise UserError(one_line(err)) from err
    except TeacherGoneError as err:
        raise RunStopped(str(err)) from err
    print(result.results_md.read_text())
    print(f"rlad compare: table in {result.results_md}, numbers in {result.results_json}")
    for plot in result.plots:
        print(f"rlad compare: plot {plot}")
    if result.failures:
        print(f"rlad compare: {len(result.failures)} run(s) failed; see {result.results_md}")
    return 0
