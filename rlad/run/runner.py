"""From a recipe to a trained student: the wiring behind ``rlad train``, ``rlad compare`` and ``rlad demo``.

No maths here: load the task and data, resolve the models, build the :class:`RLADTrainer`, attach the
metrics and evaluation callbacks, train, save the final model where ``from_pretrained`` can load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlad.files import write_json_atomic
from rlad.run.callbacks import MetricsJSONLCallback, PeriodicEvalCallback
from rlad.run.models import ModelLoadError, check_model_path, resolve_model
from rlad.run.recipes import Recipe, RecipeError
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
    """The validation run every ``eval_every`` steps: ``model -> EvalReport`` with the default settings."""
    from rlad.eval.evaluate import evaluate_model
    from rlad.eval.settings import EvalSettings

    settings = EvalSettings(k=k, max_new_tokens=max_new_tokens, seed=seed)
    return lambda model: evaluate_model(model, tokenizer, task, dataset, settings)


def load_student_tokenizer(recipe: Recipe, student: str) -> Any:
    """The tokenizer of the resolved `student` folder; a load failure names the recipe's model."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(student)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelLoadError(f"could not load the tokenizer of model {recipe.model!r}: {first}") from err


def run_callbacks(
    recipe: Recipe, task: Any, evaluation: Any, tokenizer: Any, metrics_path: Path, max_new_tokens: int
) -> tuple[list, PeriodicEvalCallback | None]:
    """The callbacks every training run gets, RL or SFT: metrics to ``metrics.jsonl`` and, when the
    recipe sets ``eval_every``, the periodic validation (returned too: its ``history`` is the result's)."""
    callbacks: list = [MetricsJSONLCallback(metrics_path)]
    periodic = None
    if recipe.eval_every > 0:
        evaluate_fn = make_evaluate_fn(task, evaluation, tokenizer, recipe.eval_k, max_new_tokens)
        periodic = PeriodicEvalCallback(evaluate_fn, recipe.eval_every, metrics_path)
        callbacks.append(periodic)
    return callbacks, periodic


def _check_folder(spec: str, what: str) -> None:
    from rlad.files import check_model_folder

    try:
        check_model_folder(spec, what)
    except FileNotFoundError as err:
        raise ModelLoadError(str(err)) from err


class TeacherGoneError(RuntimeError):
    """The remote teacher stopped answering for good during training; the message names the checkpoint."""


def _checkpoint_on_teacher_loss(trainer: Any, output_dir: Path, url: str | None, err: Exception) -> str:
    """Save a checkpoint at the last completed step (unless one exists) and say how to continue."""
    step = trainer.state.global_step
    where = f"the remote teacher at {url}" if url else "the teacher"
    if step == 0:
        return f"{where} stopped answering before the first step completed; nothing to save ({err})"
    folder = output_dir / f"checkpoint-{step}"
    if not folder.is_dir():
        trainer._save_checkpoint(trainer.model, trial=None)  # model, optimizer, scheduler, RNG, state
    return (
        f"{where} stopped answering at step {step + 1}; saved {folder} (step {step}); "
        "restart the teacher and rerun with --resume"
    )


def train_recipe(
    recipe: Recipe,
    resume: bool = False,
    extra_callbacks: list | None = None,
    verbose: bool = False,
    progress_desc: str = "train",
) -> RunResult:
    """Train the recipe's student into ``output_dir``; ``resume`` continues from its newest complete
    checkpoint. ``verbose`` keeps the Trainer's per-step metric printing; otherwise one progress bar
    (the metrics go to ``metrics.jsonl`` either way). Raises :class:`TeacherGoneError` after saving a
    checkpoint when a remote teacher disappears for good."""
    from rlad.files import check_writable_dir, no_empty_folders_on_failure
    from rlad.run.callbacks import quiet_libraries, quiet_progress
    from rlad.run.folder import latest_complete_checkpoint, prepare_fresh, rewind_metrics
    from rlad.teacher import TeacherUnavailableError
    from rlad.trainer import RLADConfig, RLADTrainer

    if not verbose:
        quiet_libraries()
    config = dict(recipe.config)
    if config.get("teacher_model"):
        check_model_path(config["teacher_model"], "teacher_model")
        _check_folder(config["teacher_model"], "teacher_model")
        config["teacher_model"] = resolve_model(config["teacher_model"])
    try:
        args = RLADConfig(**config)
    except (TypeError, ValueError) as err:
        raise RecipeError(str(err).splitlines()[0]) from err
    output_dir = Path(args.output_dir)
    check_model_path(recipe.model, "model")
    _check_folder(recipe.model, "model")
    try:
        check_writable_dir(output_dir, "output_dir")
    except OSError as err:
        raise RecipeError(str(err)) from err
    checkpoint = latest_complete_checkpoint(output_dir) if resume else None  # (step, folder)
    if checkpoint is None:
        prepare_fresh(output_dir, overwrite=recipe.overwrite_output_dir)  # refuses a used folder
    task, train, evaluation = load_task_data(recipe)
    student = resolve_model(recipe.model)
    tokenizer = load_student_tokenizer(recipe, student)
    metrics_path = output_dir / "metrics.jsonl"
    if checkpoint is not None:
        rewind_metrics(metrics_path, checkpoint[0])  # the steps after the checkpoint are logged again
    callbacks, periodic = run_callbacks(
        recipe, task, evaluation, tokenizer, metrics_path, args.max_completion_length
    )
    callbacks[1:1] = extra_callbacks or []  # after the metrics writer, before the periodic evaluation
    with no_empty_folders_on_failure(output_dir):  # the Trainer makes output_dir before a teacher can fail
        trainer = RLADTrainer(
            model=student,
            reward_funcs=task.reward_funcs(),
            args=args,
            train_dataset=train,
            processing_class=tokenizer,
            callbacks=callbacks,
            peft_config=lora_config(recipe.lora),
        )
    progress = None if verbose else quiet_progress(trainer, progress_desc)
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint[1]) if checkpoint else None)
    except TeacherUnavailableError as err:
        if progress is not None:
            progress.close()
        raise TeacherGoneError(
            _checkpoint_on_teacher_loss(trainer, output_dir, args.teacher_url, err)
        ) from err
    final = output_dir / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    write_json_atomic(
        output_dir / "recipe.json",
        {
            "model": recipe.model,
            "task": recipe.task,
            "task_options": recipe.task_options,
            "config": recipe.config,
        },
    )
    return RunResult(
        output_dir, final, metrics_path, periodic.history if periodic else [], trainer.state.log_history
    )


def lora_config(options: dict | None) -> Any:
    """``peft.LoraConfig`` from a recipe's ``lora`` mapping (None: full fine-tuning)."""
    if not options:
        return None
    from peft import LoraConfig

    try:
        return LoraConfig(**{"task_type": "CAUSAL_LM", **options})
    except (TypeError, ValueError) as err:
        raise RecipeError(f"bad lora options {options}: {str(err).splitlines()[0]}") from err
