"""``rlad train RECIPE.yaml [key=value ...] [--resume]``: train a student as a recipe describes."""

from __future__ import annotations

import argparse

from rlad.cli.main import UserError, allow_trailing_overrides
from rlad.recipes import RecipeError, load_recipe


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="train a student from a YAML recipe",
        description="Train a student from a YAML recipe; key=value pairs override recipe keys.",
    )
    p.add_argument("recipe", help="path to a recipe YAML file (see recipes/)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. alpha=0.3 max_steps=50")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in output_dir")
    allow_trailing_overrides(p)


def run(args: argparse.Namespace) -> int:
    from rlad.models import ModelLoadError
    from rlad.runner import train_recipe
    from rlad.teacher import TeacherLoadError, TokenizerMismatchError

    try:
        recipe = load_recipe(args.recipe, args.overrides)
        result = train_recipe(recipe, resume=args.resume)
    except (RecipeError, ModelLoadError, TeacherLoadError, TokenizerMismatchError) as err:
        raise UserError(str(err)) from err
    print(f"rlad train: final model in {result.final_model}")
    print(f"rlad train: metrics in {result.metrics_path}")
    if result.eval_history:
        last = result.eval_history[-1]
        print(f"rlad train: eval Mean@k {last['eval/mean_at_k']:.3f}, Pass@k {last['eval/pass_at_k']:.3f}")
    return 0
