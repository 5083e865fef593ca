"""``rlad sft-distill RECIPE.yaml [key=value ...] [--resume]``: the offline distillation baseline (docs/method.md section 6).

Samples the recipe's teacher on the training prompts, keeps the completions the task's verifier calls
correct (rejection sampling) and fine-tunes the student on them with TRL's ``SFTTrainer``, with the
recipe's step budget; see :mod:`rlad.run.sft_distill`.
"""

from __future__ import annotations

import argparse

from rlad.cli.main import UserError, allow_trailing_overrides, one_line


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
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest complete checkpoint in output_dir, with the teacher samples saved there",
    )
    p.add_argument("--verbose", action="store_true", help="print every logged metric dictionary")
    allow_trailing_overrides(p)


def run(args: argparse.Namespace) -> int:
    from rlad.run.recipes import RecipeError, load_recipe

    if args.samples_per_prompt < 1:
        raise UserError(f"--samples-per-prompt must be >= 1, got {args.samples_per_prompt}")
    try:
        recipe = load_recipe(args.recipe, args.overrides)
    except RecipeError as err:
        raise UserError(str(err)) from err

    from rlad.run.models import ModelLoadError
    from rlad.run.sft_distill import sft_distill

    try:
        result = sft_distill(
            recipe, samples_per_prompt=args.samples_per_prompt, resume=args.resume, verbose=args.verbose
        )
    except (RecipeError, ModelLoadError) as err:  # NoAcceptedSamplesError included: the counts are in it
        raise UserError(one_line(err)) from err
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
