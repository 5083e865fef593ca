"""One run of a comparison as plain data: what to train (or evaluate) and how to evaluate it.

A :class:`RunSpec` is complete: a fresh process can run it from its JSON (``spec.json``), and its
fingerprint (everything but where it lives and how reports label it) decides whether a finished run in
that folder can be reused. Every preset builds its runs with :func:`train_run` and :func:`reference_runs`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlad.compare.methods import REFERENCE, method_config
from rlad.compare.results import REFERENCE_STUDENT, REFERENCE_TEACHER
from rlad.eval.settings import EvalSettings
from rlad.run.recipes import Recipe

OOD_SEED = 1234  # the seed the held-out splits are drawn with (rlad.run.runner.load_task_data uses it too)


@dataclass(frozen=True)
class RunSpec:
    """One training run (``method`` in METHODS) or one evaluation of ``model`` (``method`` == "reference").

    The final evaluation reads the recipe's held-out split (``eval_split``, ``eval_limit``), then
    ``ood_limit`` problems of ``ood_split`` when one is named (their subsets form the
    out-of-distribution group). ``evaluation`` None: no final evaluation (a search run, scored on its
    validation curve).
    """

    name: str  # unique within a comparison; the progress label
    method: str
    recipe: Recipe  # the whole run: student, task, data and the trainer config (seed, output_dir)
    output_dir: Path
    evaluation: EvalSettings | None = None
    ood_split: str | None = None
    ood_limit: int | None = None
    ood_seed: int = OOD_SEED
    step0: bool = False  # references: also the validation score of the model (the curves' step 0)
    model: str | None = None  # references: the model evaluated
    sft_samples_per_prompt: int = 4
    tags: dict[str, Any] = field(default_factory=dict)  # how reports group runs (phase, index, ...)

    @property
    def seed(self) -> int:
        return int(self.recipe.config.get("seed", 0))

    @property
    def steps(self) -> int:
        return int(self.recipe.config.get("max_steps", 0))

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        data["recipe"] = Recipe(**data["recipe"])
        data["output_dir"] = Path(data["output_dir"])
        if data.get("evaluation") is not None:
            data["evaluation"] = EvalSettings(**data["evaluation"])
        return cls(**data)

    def fingerprint(self) -> dict[str, Any]:
        """What a finished run must share with this spec to be reused: all but the folder (it may move),
        the name and the report tags."""
        data = self.to_json()
        for key in ("name", "output_dir", "tags"):
            data.pop(key)
        data["recipe"]["config"].pop("output_dir", None)
        return data


def preset_recipe(
    student: str,
    teacher: str,
    task: str,
    task_options: dict[str, Any],
    prompts_per_step: int,
    num_generations: int,
    max_completion_length: int,
    temperature: float,
    **fields: Any,
) -> Recipe:
    """The base recipe of a preset (the demo, the benchmark): the batch in prompts x completions, one
    log record per step, no checkpoints; ``fields`` are Recipe fields or, in ``config``, more settings."""
    config = {
        "teacher_model": teacher,
        "num_generations": num_generations,
        "per_device_train_batch_size": prompts_per_step * num_generations,
        "max_completion_length": max_completion_length,
        "temperature": temperature,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        **fields.pop("config", {}),
    }
    return Recipe(model=student, task=task, task_options=dict(task_options), config=config, **fields)


def train_run(
    base: Recipe,
    method: str,
    seed: int,
    output_dir: Path,
    name: str,
    overrides: dict[str, Any] | None = None,
    **fields: Any,
) -> RunSpec:
    """The run of ``method`` on ``base`` with training seed ``seed`` in ``output_dir``; ``overrides``
    (ablations, searched values) go over everything."""
    config = {
        **method_config(method, base.config),
        "seed": seed,
        "output_dir": str(output_dir),
        **(overrides or {}),
    }
    return RunSpec(name, method, dataclasses.replace(base, config=config), Path(output_dir), **fields)


def reference_runs(base: Recipe, root: Path, prefix: str = "", **fields: Any) -> list[RunSpec]:
    """The untrained student and (when ``base`` has one) the teacher, evaluated with the problems and
    settings of ``base``'s runs, in ``root/<role>``. Of the trainer config only the completion length
    is kept (the step-0 validation reads it), so a reference is reused across training settings."""
    kept = {k: base.config[k] for k in ("max_completion_length",) if k in base.config}
    recipe = dataclasses.replace(base, config=kept)
    models = {REFERENCE_STUDENT: base.model, REFERENCE_TEACHER: base.config.get("teacher_model")}
    return [
        RunSpec(prefix + role, REFERENCE, recipe, Path(root) / role, model=str(model), **fields)
        for role, model in models.items()
        if model
    ]
