"""What a loss declares about itself, so that config, trainer and CLI never name a loss.

A :class:`LossSpec` is the registry entry of one objective:

* ``inputs``: the batch tensors it receives, by name (:data:`BATCH_INPUTS`); a loss that takes
  ``teacher_logp`` needs a teacher;
* ``params``: its hyper-parameters (:class:`HyperParam`), each with the one default rlad uses, a help
  line, a range check and the ``RLADConfig`` field that sets it (``None``: set through
  ``loss_params``, which is how a loss registered outside rlad gets its own hyper-parameters);
* ``metrics``: the names it may log;
* ``gated``: the hyper-parameter the imitation gates set to 1 for a closed sequence (TRRD's
  ``alpha``), or ``None`` when gates do not apply.

The trainer calls a loss as ``spec(**spec.arguments(batch, settings))``: exactly the declared inputs
and hyper-parameters, each passed even when ``None`` (``clamp=None`` means "no clamp", never "the
default"). Adding a loss is one module with a ``@register_loss(...)`` function plus its tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from rlad.registry import Registry

Metrics = dict[str, torch.Tensor]
LossFn = Callable[..., tuple[torch.Tensor, Metrics]]

# Tensors the trainer can hand a loss: (B, T) per token, (B,) per sequence.
BATCH_INPUTS = {
    "logp": "(B, T) the student's log-probs, with gradient",
    "old_logp": "(B, T) the sampling (old) student's log-probs",
    "teacher_logp": "(B, T) the teacher's log-probs of the sampled tokens",
    "ref_logp": "(B, T) the reference model's log-probs (None without a reference KL)",
    "advantages": "(B,) group-relative advantages",
    "mask": "(B, T) 1 on completion tokens that count",
    "rewards": "(B,) total reward of each completion",
    "group_success": "(B,) success rate of each completion's group",
    "token_weights": "(B, T) per-token weights of the policy term (vLLM importance sampling) or None",
}


@dataclass(frozen=True)
class HyperParam:
    """One hyper-parameter of a loss: its default (the only one in rlad), help and allowed values."""

    name: str
    default: Any
    help: str
    config_field: str | None = None  # the RLADConfig field that sets it; None: RLADConfig.loss_params
    check: Callable[[Any], str | None] = field(default=lambda value: None, compare=False)
    # (kind field, end field) of RLADConfig when the value is annealed over training, e.g. KDRL's kd_beta.
    schedule: tuple[str, str] | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (a phrase such as "must be in [0, 1]"), or None."""
        return self.check(value)


@dataclass(frozen=True)
class LossSpec:
    name: str
    fn: LossFn
    inputs: tuple[str, ...]
    params: tuple[HyperParam, ...] = ()
    metrics: tuple[str, ...] = ()
    gated: str | None = None

    @property
    def needs_teacher(self) -> bool:
        return "teacher_logp" in self.inputs

    def param(self, name: str) -> HyperParam:
        return next(p for p in self.params if p.name == name)

    def arguments(self, batch: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of one call: the declared inputs from ``batch``, params from ``settings``."""
        return {**{k: batch.get(k) for k in self.inputs}, **{p.name: settings[p.name] for p in self.params}}

    def __call__(self, **kwargs: Any) -> tuple[torch.Tensor, Metrics]:
        return self.fn(**kwargs)


LOSSES: Registry[LossSpec] = Registry("loss")


def register_loss(
    name: str,
    *,
    inputs: tuple[str, ...],
    params: tuple[HyperParam, ...] = (),
    metrics: tuple[str, ...] = (),
    gated: str | None = None,
) -> Callable[[LossFn], LossFn]:
    """Decorator: register ``fn`` under ``name`` with what it declares; returns ``fn`` unchanged."""
    unknown = [k for k in inputs if k not in BATCH_INPUTS]
    if unknown:
        raise ValueError(f"loss {name!r} asks for unknown inputs {unknown}; valid: {', '.join(BATCH_INPUTS)}")
    if gated is not None and gated not in {p.name for p in params}:
        raise ValueError(f"loss {name!r}: gated={gated!r} is not one of its hyper-parameters")

    def add(fn: LossFn) -> LossFn:
        LOSSES.register(name)(LossSpec(name, fn, inputs, params, metrics, gated))
        return fn

    return add


# Checks shared by hyper-parameter declarations: each returns a phrase naming what is allowed, or None.
def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def in_unit_interval(value: Any) -> str | None:
    return None if _finite(value) and 0.0 <= value <= 1.0 else "must be in [0, 1]"


def positive_or_none(value: Any) -> str | None:
    return None if value is None or (_finite(value) and value > 0) else "must be a positive number or None"


def non_negative(value: Any) -> str | None:
    return None if _finite(value) and value >= 0 else "must be a finite number >= 0"


def finite_or_none(value: Any) -> str | None:
    return None if value is None or _finite(value) else "must be a finite number or None"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"is not one of {', '.join(choices)}"
