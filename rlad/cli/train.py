"""``rlad train RECIPE.yaml [key=value ...] [--resume] [--verbose]``: train a student as a recipe describes."""

from __future__ import annotations

import argparse

from rlad.cli.main import RunStopped, UserError, allow_trailing_overrides, one_line


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="train a student from a YAML recipe",
        description="Train a student from a YAML recipe; key=value pairs override recipe keys. An output_dir "
        "that already holds a run is refused unless --resume (continue it) or overwrite_output_dir=true.",
    )
    p.add_argument("recipe", help="path to a recipe YAML file (see recipes/)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. alpha=0.3 max_steps=50")
    p.add_argument(
        "--resume", action="store_true", help="continue from the newest complete checkpoint in output_dir"
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="print every logged metric dictionary (default: one progress bar; all metrics go to metrics.jsonl)",
    )
    allow_trailing_overrides(p)


def run(args: argparse.Namespace) -> int:
    from rlad.run.recipes import RecipeError, load_recipe

    try:
        recipe = load_recipe(args.recipe, args.overrides)
        recipe.training_config()  # range errors now, before any model or data is loaded
    except RecipeError as err:
        raise UserError(str(err)) from err

    from rlad.run.models import ModelLoadError
    from rlad.run.runner import TeacherGoneError, train_recipe
    from rlad.teacher import (
        TeacherLoadError,
        TeacherRequestError,
        TeacherUnavailableError,
        TokenizerMismatchError,
    )

    try:
        result = train_recipe(recipe, resume=args.resume, verbose=args.verbose)
    except (RecipeError, ModelLoadError, TeacherLoadError, TokenizerMismatchError) as err:
        raise UserError(one_line(err)) from err
    except (TeacherUnavailableError, TeacherRequestError) as err:  # pre-flight: no server, or it refused us
        raise UserError(one_line(err)) from err
    except TeacherGoneError as err:
        raise RunStopped(str(err)) from err
    print(f"rlad train: final model in {result.final_model}")
    print(f"rlad train: metrics in {result.metrics_path}")
    if result.eval_history:
        last = result.eval_history[-1]
        print(f"rlad train: eval Mean@k {last['eval/mean_at_k']:.3f}, Pass@k {last['eval/pass_at_k']:.3f}")
    return 0
