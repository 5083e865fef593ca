"""The four objectives, registered by name: ``grpo``, ``trrd`` (RLAD), ``kdrl`` and ``opd``.

Each is a pure function of (B, T) token tensors and floats returning ``(loss, metrics)``, where
``loss`` is a scalar with gradient through ``logp`` and ``metrics`` maps names to detached scalars.
Arguments are keyword-only; the trainer passes each loss the tensors its signature asks for.

Shapes: ``logp``, ``old_logp``, ``teacher_logp``, ``ref_logp``, ``mask`` are (B, T);
``advantages`` and ``rewards`` are (B,), one value per completion.

``token_weights`` (B, T), where given, multiplies the policy term of each token before any KL term
is added (TRL applies its vLLM importance-sampling correction this way).

Padding: every per-token input is replaced by 0 where ``mask`` is false before any arithmetic, so
padded values, even ``inf``, can move neither the loss nor the gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rlad.objectives.aggregation import aggregate, masked_mean
from rlad.objectives.diagnostics import trrd_metrics
from rlad.objectives.kl import kl_estimate
from rlad.objectives.surrogate import clip_flags, clipped_surrogate, trrd_log_ratio
from rlad.registry import Registry

Metrics = dict[str, torch.Tensor]
LossFn = Callable[..., tuple[torch.Tensor, Metrics]]

LOSSES: Registry[LossFn] = Registry("loss")


def _zero_padding(mask: torch.Tensor, *tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    valid = mask.bool()
    return [None if t is None else torch.where(valid, t, torch.zeros_like(t)) for t in tensors]


def _weighted(per_token: torch.Tensor, token_weights: torch.Tensor | None) -> torch.Tensor:
    """Scale the policy term per token, e.g. by vLLM's importance-sampling correction (TRL's order: before KL)."""
    return per_token if token_weights is None else per_token * token_weights


def _surrogate_metrics(
    ratio, advantages, mask, eps_low, eps_high
) -> tuple[Metrics, torch.Tensor, torch.Tensor]:
    low, high = clip_flags(ratio, advantages, eps_low, eps_high)
    valid = mask.bool()
    metrics = {
        "clip/low_frac": masked_mean(low.float(), valid).detach(),
        "clip/high_frac": masked_mean(high.float(), valid).detach(),
        "ratio/mean": masked_mean(ratio.detach().float(), valid),
    }
    return metrics, low, high


@LOSSES.register("grpo")
def grpo_loss(
    *,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.28,
    aggregation: str = "seq_mean_token_mean",
    norm_constant: float | None = None,
    ref_logp: torch.Tensor | None = None,
    beta: float = 0.0,
    kl_estimator: str = "k3",
    token_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """GRPO's clipped surrogate (spec section 2), plus ``beta * KL(pi_S || pi_ref)`` when beta > 0."""
    logp, old_logp, ref_logp = _zero_padding(mask, logp, old_logp, ref_logp)
    per_token, ratio = clipped_surrogate(logp - old_logp, advantages, eps_low, eps_high)  # (B, T)
    per_token = _weighted(per_token, token_weights)
    metrics, _, _ = _surrogate_metrics(ratio, advantages, mask, eps_low, eps_high)
    if beta != 0.0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp (the reference model's log-probs)")
        kl = kl_estimate(logp, ref_logp, kl_estimator)  # (B, T)
        per_token = per_token + beta * kl
        metrics["kl/ref"] = masked_mean(kl.detach().float(), mask)
    loss = aggregate(per_token, mask, aggregation, norm_constant)
    return loss, metrics


@LOSSES.register("trrd")
def trrd_loss(
    *,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    alpha: float | torch.Tensor = 0.5,
    clamp: float | None = 1.0,
    eps_low: float = 0.2,
    eps_high: float = 0.28,
    aggregation: str = "seq_mean_token_mean",
    norm_constant: float | None = None,
    token_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Trust Region Ratio Distillation (spec section 3): GRPO's surrogate on the teacher-anchored ratio.

    ``alpha`` may be a (B, 1) tensor of per-sequence values (see :mod:`rlad.objectives.gates`).
    With alpha = 1 this is :func:`grpo_loss` to the last bit.
    """
    if isinstance(alpha, float | int) and not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if clamp is not None and clamp <= 0:
        raise ValueError(f"clamp must be positive or None, got {clamp}")
    logp, old_logp, teacher_logp = _zero_padding(mask, logp, old_logp, teacher_logp)
    log_ratio = trrd_log_ratio(logp, old_logp, teacher_logp, alpha, clamp)  # (B, T)
    per_token, ratio = clipped_surrogate(log_ratio, advantages, eps_low, eps_high)  # (B, T)
    per_token = _weighted(per_token, token_weights)
    low, high = clip_flags(ratio, advantages, eps_low, eps_high)
    metrics = trrd_metrics(
        logp=logp,
        old_logp=old_logp,
        teacher_logp=teacher_logp,
        advantages=advantages,
        mask=mask,
        ratio=ratio,
        clipped_low=low,
        clipped_high=high,
        clamp=clamp,
    )
    loss = aggregate(per_token, mask, aggregation, norm_constant)
    return loss, metrics


@LOSSES.register("kdrl")
def kdrl_loss(
    *,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    kd_beta: float = 5e-3,
    kd_estimator: str = "k2",
    rewards: torch.Tensor | None = None,
    kd_mask_above_reward: float | None = None,
    eps_low: float = 0.2,
    eps_high: float = 0.28,
    aggregation: str = "seq_mean_token_mean",
    norm_constant: float | None = None,
    token_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """KDRL (spec section 6): GRPO's surrogate plus ``kd_beta * KL(pi_S || pi_T)`` on student rollouts.

    Reward-guided masking: with ``kd_mask_above_reward`` set, sequences whose reward is above it
    (correct answers) get no KD term. ``kd_beta`` is the value at this step; anneal it with
    :func:`rlad.objectives.schedules.coefficient_at`.
    """
    logp, old_logp, teacher_logp = _zero_padding(mask, logp, old_logp, teacher_logp)
    per_token, ratio = clipped_surrogate(logp - old_logp, advantages, eps_low, eps_high)  # (B, T)
    per_token = _weighted(per_token, token_weights)
    metrics, _, _ = _surrogate_metrics(ratio, advantages, mask, eps_low, eps_high)
    kd = kl_estimate(logp, teacher_logp, kd_estimator)  # (B, T)
    kd_mask = mask.bool()
    if kd_mask_above_reward is not None:
        if rewards is None:
            raise ValueError("kd_mask_above_reward needs the rewards of the sequences")
        kd_mask = kd_mask & (rewards <= kd_mask_above_reward).unsqueeze(1)  # (B, T)
        metrics["kd/masked_seq_frac"] = (rewards > kd_mask_above_reward).float().mean()
    kd = torch.where(kd_mask, kd, torch.zeros_like(kd))
    per_token = per_token + kd_beta * kd
    metrics["kd/kl"] = masked_mean(kd.detach().float(), kd_mask)
    metrics["teacher/abs_log_ratio"] = masked_mean((logp - teacher_logp).detach().abs().float(), mask)
    loss = aggregate(per_token, mask, aggregation, norm_constant)
    return loss, metrics


@LOSSES.register("opd")
def opd_loss(
    *,
    logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    mask: torch.Tensor,
    kd_estimator: str = "k2",
    aggregation: str = "seq_mean_token_mean",
    norm_constant: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """On-policy distillation without reward: minimise KL(pi_S || pi_T) on the student's own samples.

    With the default k2 estimator the gradient is exactly that of the reverse KL (see :mod:`kl`).
    """
    logp, teacher_logp = _zero_padding(mask, logp, teacher_logp)
    kd = kl_estimate(logp, teacher_logp, kd_estimator)  # (B, T)
    loss = aggregate(kd, mask, aggregation, norm_constant)
    metrics = {
        "kd/kl": masked_mean(kd.detach().float(), mask),
        "teacher/abs_log_ratio": masked_mean((logp - teacher_logp).detach().abs().float(), mask),
    }
    return loss, metrics
