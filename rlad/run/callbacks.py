"""Trainer callbacks: metrics as JSON lines, and periodic task evaluation (Mean@k / Pass@k) during training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


class MetricsJSONLCallback(TrainerCallback):
    """Appends every logged record (TRL's metrics, our TRRD diagnostics, evaluations) to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "step": state.global_step,
            **{k: v for k, v in logs.items() if isinstance(v, int | float | str)},
        }
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


class PeriodicEvalCallback(TrainerCallback):
    """Every ``every`` steps and at the end, evaluate the student and record ``eval/*`` metrics.

    ``evaluate_fn(model) -> EvalReport`` does the work; this callback only schedules it and records
    the numbers in ``state.log_history`` (and in ``jsonl_path``, next to the training metrics), so the
    training loop stays free of evaluation code. Runs on the main process only.
    """

    def __init__(self, evaluate_fn: Any, every: int, jsonl_path: str | Path | None = None) -> None:
        self.evaluate_fn = evaluate_fn
        self.every = every
        self.jsonl_path = Path(jsonl_path) if jsonl_path else None
        self.history: list[dict[str, float]] = []

    def _run(self, state, model) -> None:
        was_training = model.training
        model.eval()
        report = self.evaluate_fn(model)
        model.train(was_training)
        record: dict[str, float] = {
            "step": state.global_step,
            "eval/mean_at_k": report.overall.mean_at_k,
            "eval/pass_at_k": report.overall.pass_at_k,
        }
        for name, subset in report.subsets.items():
            record[f"eval/{name}/mean_at_k"] = subset.mean_at_k
        self.history.append(record)
        state.log_history.append(dict(record))
        if self.jsonl_path is not None:
            with self.jsonl_path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every > 0 and state.is_world_process_zero and state.global_step % self.every == 0:
            self._run(state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        done = self.history and self.history[-1]["step"] == state.global_step
        if self.every > 0 and state.is_world_process_zero and not done:
            self._run(state, model)


# Logged metric -> its short name on the progress bar (the first few a run logs are shown).
PROGRESS_METRICS = {
    "reward": "reward",
    "teacher/clamped_frac": "clamped",
    "eval/mean_at_k": "eval",
}


class ProgressBarCallback(TrainerCallback):
    """One tqdm bar for the whole run with a few live numbers (reward, clamped fraction, last eval).

    Replaces the Trainer's own progress/printer callbacks (:func:`quiet_progress`), which print every
    logged metric dictionary to the terminal; the full records still go to ``metrics.jsonl``.
    """

    def __init__(self, desc: str = "train", metrics: dict[str, str] | None = None) -> None:
        self.desc = desc
        self.metrics = PROGRESS_METRICS if metrics is None else metrics
        self.bar = None
        self.shown: dict[str, str] = {}

    def _update(self, record: dict) -> None:
        for key, short in self.metrics.items():
            value = record.get(key)
            if isinstance(value, int | float):
                self.shown[short] = f"{value:.3g}"
        if self.bar is not None and self.shown:
            self.bar.set_postfix(self.shown, refresh=False)

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        if state.is_world_process_zero:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, unit="step")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self._update(logs)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is None:
            return
        if state.log_history and "eval/mean_at_k" in state.log_history[-1]:
            self._update(state.log_history[-1])  # recorded by PeriodicEvalCallback, not logged
        self.bar.update(state.global_step - self.bar.n)

    def on_train_end(self, args, state, control, **kwargs):
        self.close()

    def close(self) -> None:
        """End the bar's line (also when training stops with an error, so the message starts a line)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def quiet_progress(trainer: Any, desc: str = "train") -> ProgressBarCallback:
    """Swap the Trainer's per-step metric printing for one :class:`ProgressBarCallback` bar."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    bar = ProgressBarCallback(desc)
    trainer.add_callback(bar)
    return bar


def quiet_libraries() -> None:
    """Keep library chatter off the terminal in the default (non-verbose) mode: Transformers' and
    Datasets' own progress bars ("Loading weights"), the CPU-only ``pin_memory`` warning and peft's use
    of a deprecated transformers alias."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        from datasets.utils import disable_progress_bars
    except ImportError:  # older datasets
        pass
    else:
        disable_progress_bars()
    warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true.*")
    # peft's save_pretrained still asks for transformers 5's deprecated alias at every LoRA checkpoint
    warnings.filterwarnings(
        "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
    )
