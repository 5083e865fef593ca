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
