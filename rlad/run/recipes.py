"""Recipes: a YAML file that names the student, the task and every ``RLADConfig`` field.

    # rlad train recipes/tiny_arithmetic.yaml
    model: toy:arithmetic/student      # hub name, local path, or toy:<task>/<role> (built locally)
    task: arithmetic
    task_options: {max_operands: 3}
    config:                            # any RLADConfig (GRPOConfig) field
      loss: trrd
      teacher_model: toy:arithmetic/teacher
      max_steps: 200

Command-line overrides are ``key=value`` with YAML values: a top-level recipe key (``task=kk``), a
config field (``alpha=0.3`` or ``config.alpha=0.3``) or a nested option (``task_options.max_digits=3``).
Unknown keys, wrong types, unreadable YAML and missing files raise :class:`RecipeError` with one line
that names the problem (and the closest valid key for a typo).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the config pulls in torch and TRL: imported when a recipe is checked, not before
    from rlad.trainer.config import RLADConfig


class RecipeError(ValueError):
    """A recipe or override is invalid; the message is one line meant for the user."""


@dataclass
class Recipe:
    model: str = field(metadata={"help": "Student: hub name, local path, or toy:<task>/<role>."})
    task: str = field(metadata={"help": "Task name (rlad.tasks.list_tasks())."})
    task_options: dict = field(default_factory=dict, metadata={"help": "Options of the task's constructor."})
    train_source: str | None = field(default=None, metadata={"help": "Training data (file, dir, hub name)."})
    train_limit: int | None = field(
        default=None, metadata={"help": "Use at most this many training examples."}
    )
    eval_source: str | None = field(
        default=None, metadata={"help": "Evaluation data; default: train_source."}
    )
    eval_split: str = field(default="test", metadata={"help": "Split of eval_source to evaluate on."})
    eval_limit: int | None = field(default=64, metadata={"help": "Evaluate on at most this many examples."})
    eval_every: int = field(default=0, metadata={"help": "Evaluate every N steps during training (0: off)."})
    eval_k: int = field(default=4, metadata={"help": "Samples per problem for Mean@k / Pass@k."})
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Start over in an output_dir that holds a run (its checkpoints and metrics go)."},
    )
    config: dict = field(default_factory=dict, metadata={"help": "RLADConfig fields."})
    lora: dict | None = field(
        default=None,
        metadata={"help": "Train a LoRA adapter instead of all weights: peft.LoraConfig fields (r, ...)."},
    )

    def __post_init__(self) -> None:
        problems = [
            (self.eval_k < 1, f"eval_k must be >= 1, got {self.eval_k}"),
            (self.eval_every < 0, f"eval_every must be >= 0 (0: off), got {self.eval_every}"),
            (
                self.eval_limit is not None and self.eval_limit < 1,
                f"eval_limit must be >= 1, got {self.eval_limit}",
            ),
            (
                self.train_limit is not None and self.train_limit < 1,
                f"train_limit must be >= 1, got {self.train_limit}",
            ),
        ]
        for bad, message in problems:
            if bad:
                raise RecipeError(message)

    def training_config(self) -> RLADConfig:
        from rlad.trainer.config import RLADConfig

        try:
            return RLADConfig(**self.config)
        except (TypeError, ValueError) as err:
            raise RecipeError(str(err).splitlines()[0]) from err


RECIPE_KEYS = [f.name for f in dataclasses.fields(Recipe)]


@functools.cache
def config_hints() -> dict[str, Any]:
    """``RLADConfig`` field -> type hint (imports the config, hence TRL, on first use)."""
    from rlad.trainer.config import RLADConfig

    return typing.get_type_hints(RLADConfig)


@functools.cache
def config_keys() -> list[str]:
    from rlad.trainer.config import RLADConfig

    return [f.name for f in dataclasses.fields(RLADConfig) if f.init]


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_ok(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (str, bool, dict, list):
        return isinstance(value, hint)
    if origin in (list, dict, tuple):
        return isinstance(value, origin)
    if isinstance(hint, type):
        return isinstance(value, (hint, str))  # enums accept their string names
    return True


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check_config(config: dict) -> dict:
    hints = config_hints()
    for key, value in config.items():
        if key not in hints:
            raise RecipeError(f"unknown config key {key!r}{_suggest(key, config_keys())}")
        hint = hints[key]
        if not _type_ok(value, hint):
            raise RecipeError(f"config key {key!r} expects {_describe(hint)}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise RecipeError(f"config key {key!r} must be a finite number, got {value!r}")
    return config


def _coerce_floats(config: dict) -> dict:
    """YAML reads ``1`` as int and ``1e-6`` as str in some spellings; make numeric fields floats."""
    out = dict(config)
    hints = config_hints()
    for key, value in config.items():
        hint = hints.get(key)
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            out[key] = float(value)
        if isinstance(value, str) and _type_ok(1.0, hint) and not _type_ok(value, hint):
            with contextlib.suppress(ValueError):
                out[key] = float(value)
    return out


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    parsed = {}
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"override {item!r} is not key=value")
        key, raw = item.split("=", 1)
        try:
            parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise RecipeError(f"override {item!r}: cannot parse the value ({err.problem})") from err
    return parsed


def apply_overrides(data: dict, overrides: dict[str, Any]) -> dict:
    for nested in ("config", "task_options"):
        if not isinstance(data.get(nested) or {}, dict):
            got = type(data[nested]).__name__
            raise RecipeError(f"recipe key {nested!r} must be a mapping of keys to values, got {got}")
    data = {
        **data,
        "config": dict(data.get("config") or {}),
        "task_options": dict(data.get("task_options") or {}),
    }
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if rest and head in ("config", "task_options"):
            data[head][rest] = value
        elif rest:
            raise RecipeError(f"unknown override {key!r}: only config.* and task_options.* take a dotted key")
        elif key in RECIPE_KEYS:
            data[key] = value
        elif key in config_hints():
            data["config"][key] = value
        else:
            raise RecipeError(f"unknown key {key!r}{_suggest(key, RECIPE_KEYS + config_keys())}")
    return data


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read ``path``, apply ``key=value`` overrides, validate keys and types (not the values' ranges)."""
    path = Path(path)
    if path.is_dir():
        raise RecipeError(f"recipe {str(path)!r} is a directory; give a recipe YAML file (see recipes/)")
    if not path.is_file():
        raise RecipeError(f"recipe file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as err:
        raise RecipeError(f"recipe {str(path)!r} is not a UTF-8 text file (byte {err.start})") from err
    except OSError as err:
        raise RecipeError(f"cannot read recipe {str(path)!r}: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RecipeError(
            f"recipe {str(path)!r} is not valid YAML{where}: {getattr(err, 'problem', err)}"
        ) from err
    if not isinstance(data, dict):
        raise RecipeError(
            f"recipe {str(path)!r} must be a mapping of keys to values, got {type(data).__name__}"
        )
    for key in data:
        if key not in RECIPE_KEYS:
            raise RecipeError(f"unknown recipe key {key!r} in {str(path)!r}{_suggest(key, RECIPE_KEYS)}")
    data = apply_overrides(data, parse_overrides(overrides or []))
    for required in ("model", "task"):
        if not data.get(required):
            raise RecipeError(f"recipe {str(path)!r} needs a {required!r} key")
    data["config"] = _check_config(_coerce_floats(data["config"]))
    hints = typing.get_type_hints(Recipe)
    for key in RECIPE_KEYS:
        if key in data and key != "config" and not _type_ok(data[key], hints[key]):
            raise RecipeError(f"recipe key {key!r} expects {_describe(hints[key])}, got {data[key]!r}")
    return Recipe(**data)
