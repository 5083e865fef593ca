"""From a recipe to a trained student: the wiring behind ``rlad train``, ``rlad compare`` and ``rlad demo``.

No maths here: load the task and data, resolve the models, build the :class:`RLADTrainer`, attach the
metrics and evaluation callbacks, train, save the final model where ``from_pretrained`` can load it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from rlad.callbacks import MetricsJSONLCallback, PeriodicEvalCallback
from rlad.models import ModelLoadError, check_model_path, resolve_model
from rlad.recipes import Recipe, RecipeError
from rlad.tasks import TaskDataError, UnknownNameError, get_task


@dataclass
class RunResult:
    output_dir: Path
    final_model: Path
    metrics_path: Path
    eval_history: list[dict[str, float]]
    log_history: list[dict[str, Any]]


def load_task_data(recipe: Recipe) -> tuple[Any, Any, Any]:
    """(task, train dataset, eval dataset) for a recipe, with task errors turned into recipe errors."""
    try:
        task = get_task(recipe.task, **recipe.task_options)
        train = task.load(
            recipe.train_source, split="train", limit=recipe.train_limit, seed=recipe.config.get("seed", 42)
        )
        eval_source = recipe.eval_source if recipe.eval_source is not None else recipe.train_source
        evaluation = task.load(eval_source, split=recipe.eval_split, limit=recipe.eval_limit, seed=1234)
    except (UnknownNameError, TaskDataError) as err:
        raise RecipeError(str(err)) from err
    return task, train, evaluation


def make_evaluate_fn(task: Any, dataset: Any, tokenizer: Any, k: int, max_new_tokens: int, seed: int = 0):
    from rlad.eval import HFBackend, evaluate

    def run(model: Any):
        backend = HFBackend(model, tokenizer, batch_size=64, show_progress=False)
        return evaluate(
            backend,
            task,
            dataset,
            k=k,
            max_new_tokens=max_new_tokens,
            seed=seed,
            greedy=False,
            show_progress=False,
        )

    return run


def train_recipe(recipe: Recipe, resume: bool = False, extra_callbacks: list | None = None) -> RunResult:
    from rlad.trainer import RLADConfig, RLADTrainer

    config = dict(recipe.config)
    if config.get("teacher_model"):
        check_model_path(config["teacher_model"], "teacher_model")
        config["teacher_model"] = resolve_model(config["teacher_model"])
    try:
        args = RLADConfig(**config)
    except (TypeError, ValueError) as err:
        raise RecipeError(str(err).splitlines()[0]) from err
    output_dir = Path(args.output_dir)
    if resume and not any(output_dir.glob("checkpoint-*")):
        raise RecipeError(f"--resume: no checkpoint-* folder in {str(output_dir)!r}")
    task, train, evaluation = load_task_data(recipe)
    check_model_path(recipe.model, "model")
    student = resolve_model(recipe.model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(student)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"could not load the tokenizer of model {recipe.model!r}: {err}") from err
    metrics_path = output_dir / "metrics.jsonl"
    callbacks = [MetricsJSONLCallback(metrics_path), *(extra_callbacks or [])]
    periodic = None
    if recipe.eval_every > 0:
        evaluate_fn = make_evaluate_fn(task, evaluation, tokenizer, recipe.eval_k, args.max_completion_length)
        periodic = PeriodicEvalCallback(evaluate_fn, recipe.eval_every, metrics_path)
        callbacks.append(periodic)
    trainer = RLADTrainer(
        model=student,
        reward_funcs=task.reward_funcs(),
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=True if resume else None)
    final = output_dir / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    (output_dir / "recipe.json").write_text(
        json.dumps(
            {
                "model": recipe.model,
                "task": recipe.task,
                "task_options": recipe.task_options,
                "config": recipe.config,
            },
            indent=1,
            default=str,
        )
    )
    return RunResult(
        output_dir, final, metrics_path, periodic.history if periodic else [], trainer.state.log_history
    )
