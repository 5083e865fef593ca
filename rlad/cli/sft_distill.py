"""``rlad sft-distill RECIPE.yaml [key=value ...]``: the offline distillation baseline (spec section 6).

Samples the recipe's teacher on the training prompts, keeps the completions the task's verifier calls
correct (rejection sampling) and fine-tunes the student on them with TRL's ``SFTTrainer``, with the
recipe's step budget; see :mod:`rlad.sft_distill`.
"""

from __future__ import annotations

import argparse

from rlad.cli.main import UserError, allow_trailing_overrides
from rlad.recipes import RecipeError, load_recipe


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="offline distillation baseline: rejection-sampled teacher outputs, then SFT",
        description=(
            "Sample the recipe's teacher (config.teacher_model) on the training prompts, keep the samples the "
            "task's verifier accepts, and fine-tune the student on them with TRL's SFTTrainer for the "
            "recipe's max_steps. key=value pairs override recipe keys."
        ),
    )
    p.add_argument("recipe", help="path to a recipe YAML file (see recipes/)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. max_steps=50 temperature=0.8")
    p.add_argument(
        "--samples-per-prompt",
        type=int,
        default=4,
        metavar="K",
        help="teacher samples per training prompt before rejection (default: 4)",
    )
    allow_trailing_overrides(p)


def run(args: argparse.Namespace) -> int:
    from rlad.models import ModelLoadError
    from rlad.sft_distill import sft_distill

    try:
        recipe = load_recipe(args.recipe, args.overrides)
        result = sft_distill(recipe, samples_per_prompt=args.samples_per_prompt)
    except (RecipeError, ModelLoadError) as err:  # NoAcceptedSamplesError included: the counts are in it
        raise UserError(str(err)) from err
    print(f"rlad sft-distill: {result.acceptance.summary()}")
    print(f"rlad sft-distill: training pairs in {result.data_path}")
    print(f"rlad sft-distill: final model in {result.final_model}")
    print(f"rlad sft-distill: metrics in {result.metrics_path}")
    if result.eval_history:
        last = result.eval_history[-1]
        print(
            f"rlad sft-distill: eval Mean@k {last['eval/mean_at_k']:.3f}, Pass@k {last['eval/pass_at_k']:.3f}"
        )
    return 0
