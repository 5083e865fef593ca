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
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
    config: dict = field(default_factory=dict, metadata={"help": "RLADConfig fields."})

    def training_config(self) -> RLADConfig:
        try:
            return RLADConfig(**self.config)
        except (TypeError, ValueError) as err:
            raise RecipeError(str(err).splitlines()[0]) from err


RECIPE_KEYS = [f.name for f in dataclasses.fields(Recipe)]
CONFIG_HINTS = typing.get_type_hints(RLADConfig)
CONFIG_KEYS = [f.name for f in dataclasses.fields(RLADConfig) if f.init]


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
    for key, value in config.items():
        if key not in CONFIG_HINTS:
            raise RecipeError(f"unknown config key {key!r}{_suggest(key, CONFIG_KEYS)}")
        hint = CONFIG_HINTS[key]
        if not _type_ok(value, hint):
            raise RecipeError(f"config key {key!r} expects {_describe(hint)}, got {value!r}")
    return config


def _coerce_floats(config: dict) -> dict:
    """YAML reads ``1`` as int and ``1e-6`` as str in some spellings; make numeric fields floats."""
    out = dict(config)
    for key, value in config.items():
        hint = CONFIG_HINTS.get(key)
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
        elif key in CONFIG_HINTS:
            data["config"][key] = value
        else:
            raise RecipeError(f"unknown key {key!r}{_suggest(key, RECIPE_KEYS + CONFIG_KEYS)}")
    return data


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read ``path``, apply ``key=value`` overrides, validate keys and types (not the values' ranges)."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
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
