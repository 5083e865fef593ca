"""Pure RLAD objective functions: advantages, aggregation, the GRPO / TRRD / KDRL / OPD losses.

No trainer, no config objects: tensors and floats in, ``(loss, metrics)`` out. The method these follow
line by line is ``docs/method.md`` (Zhang et al. 2026, "Reinforcement-aware Knowledge
Distillation for LLM Reasoning").
"""

from rlad.objectives.advantages import group_advantages
from rlad.objectives.aggregation import AGGREGATIONS, aggregate, masked_mean
from rlad.objectives.diagnostics import REGIMES, beyond_clamp_fraction, imitation_regimes, veto_share
from rlad.objectives.gates import gated_alpha, imitation_gates
from rlad.objectives.kl import ESTIMATORS, kl_estimate
from rlad.objectives.losses import grpo_loss, kdrl_loss, opd_loss, trrd_loss
from rlad.objectives.rewards import group_success_rate, weighted_rewards
from rlad.objectives.schedules import coefficient_at
from rlad.objectives.spec import LOSSES, HyperParam, LossSpec, register_loss
from rlad.objectives.surrogate import clip_flags, clipped_surrogate, trrd_log_ratio

__all__ = [
    "AGGREGATIONS",
    "ESTIMATORS",
    "LOSSES",
    "REGIMES",
    "HyperParam",
    "LossSpec",
    "aggregate",
    "beyond_clamp_fraction",
    "clip_flags",
    "clipped_surrogate",
    "coefficient_at",
    "gated_alpha",
    "grpo_loss",
    "group_advantages",
    "group_success_rate",
    "imitation_gates",
    "imitation_regimes",
    "kdrl_loss",
    "kl_estimate",
    "masked_mean",
    "opd_loss",
    "register_loss",
    "trrd_log_ratio",
    "trrd_loss",
    "veto_share",
    "weighted_rewards",
]
