"""The four objectives, registered by name with what they declare: ``grpo``, ``trrd`` (RLAD), ``kdrl``, ``opd``.

Each is a pure function of (B, T) token tensors and floats returning ``(loss, metrics)``, where
``loss`` is a scalar with gradient through ``logp`` and ``metrics`` maps names to detached scalars.
Arguments are keyword-only. Each registration (:func:`rlad.objectives.spec.register_loss`) lists the
batch tensors the loss receives and its hyper-parameters; a hyper-parameter's default below is the
only one in rlad (``RLADConfig`` reads it from here).

Shapes: ``logp``, ``old_logp``, ``teacher_logp``, ``ref_logp``, ``mask`` are (B, T);
``advantages`` and ``rewards`` are (B,), one value per completion.

``token_weights`` (B, T), where given, multiplies the policy term of each token before any KL term
is added (TRL applies its vLLM importance-sampling correction this way).

Padding: every per-token input is replaced by 0 where ``mask`` is false before any arithmetic, so
padded values, even ``inf``, can move neither the loss nor the gradients.
"""

from __future__ import annotations

import torch

from rlad.objectives.aggregation import aggregate, masked_mean
from rlad.objectives.diagnostics import TRRD_METRICS, trrd_metrics
from rlad.objectives.kl import ESTIMATORS, kl_estimate
from rlad.objectives.spec import (
    HyperParam,
    Metrics,
    finite_or_none,
    in_unit_interval,
    non_negative,
    one_of,
    positive_or_none,
    register_loss,
)
from rlad.objectives.surrogate import CLAMP_MODES, clip_flags, clipped_surrogate, trrd_log_ratio

# Settings every surrogate-based loss receives; their values come from TRL's own fields (``epsilon``,
# ``epsilon_high``, ``loss_type``, ``max_completion_length``, ``beta``) through RLADConfig properties.
EPS_LOW = HyperParam("eps_low", 0.2, "Lower clip epsilon.", "eps_low")
EPS_HIGH = HyperParam("eps_high", 0.28, "Upper clip epsilon (the paper: 0.28).", "eps_high")
AGGREGATION = HyperParam("aggregation", "seq_mean_token_mean", "Token aggregation mode.", "aggregation")
NORM_CONSTANT = HyperParam("norm_constant", None, "Normaliser of seq_mean_token_sum_norm.", "norm_constant")
SURROGATE = (EPS_LOW, EPS_HIGH, AGGREGATION, NORM_CONSTANT)
BETA = HyperParam("beta", 0.0, "Coefficient of KL(pi_S || pi_ref) (TRL's beta).", "beta")

ALPHA = HyperParam(
    "alpha",
    0.5,
    "TRRD weight of the old student in the trust-region anchor; 1 is exactly GRPO (not 0).",
    "alpha",
    in_unit_interval,
)
CLAMP = HyperParam(
    "clamp",
    1.0,
    "TRRD bound c on |log(pi_S / pi_T)|; None disables the clamp.",
    "teacher_log_ratio_clamp",
    positive_or_none,
)
CLAMP_MODE = HyperParam(
    "clamp_mode",
    "hard",
    "TRRD clamp: hard (no teacher-term gradient beyond c) or straight_through (clamped value, full gradient).",
    "clamp_mode",
    one_of(*CLAMP_MODES),
)
KD_BETA = HyperParam(
    "kd_beta",
    5e-3,
    "KDRL coefficient of KL(student || teacher) (at step 0).",
    "kd_beta",
    non_negative,
    schedule=("kd_schedule", "kd_beta_end"),
)
KD_ESTIMATOR = HyperParam(
    "kd_estimator",
    "k2",
    "Per-token KL estimator for kdrl / opd: k1, k2, k3.",
    "kd_estimator",
    one_of(*ESTIMATORS),
)
KD_MASK_ABOVE_REWARD = HyperParam(
    "kd_mask_above_reward",
    None,
    "KDRL reward-guided mask: no KD term on sequences with reward above this.",
    "kd_mask_above_reward",
    finite_or_none,
)


def _zero_padding(mask: torch.Tensor, *tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    valid = mask.bool()
    return [None if t is None else torch.where(valid, t, torch.zeros_like(t)) for t in tensors]


def _weighted(per_token: torch.Tensor, token_weights: torch.Tensor | None) -> torch.Tensor:
    """Scale the policy term per token, e.g. by vLLM's importance-sampling correction (TRL's order: before KL)."""
    return per_token if token_weights is None else per_token * token_weights


def _surrogate_metrics(ratio, advantages, mask, eps_low, eps_high) -> Metrics:
    low, high = clip_flags(ratio, advantages, eps_low, eps_high)
    valid = mask.bool()
    return {
        "clip/low_frac": masked_mean(low.float(), valid).detach(),
        "clip/high_frac": masked_mean(high.float(), valid).detach(),
        "ratio/mean": masked_mean(ratio.detach().float(), valid),
    }


SURROGATE_METRICS = ("clip/low_frac", "clip/high_frac", "ratio/mean")


@register_loss(
    "grpo",
    inputs=("logp", "old_logp", "advantages", "mask", "ref_logp", "token_weights"),
    params=(*SURROGATE, BETA),
    metrics=(*SURROGATE_METRICS, "kl/ref"),
)
def grpo_loss(
    *,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps_low: float = EPS_LOW.default,
    eps_high: float = EPS_HIGH.default,
    aggregation: str = AGGREGATION.default,
    norm_constant: float | None = NORM_CONSTANT.default,
    ref_logp: torch.Tensor | None = None,
    beta: float = BETA.default,
    kl_estimator: str = "k3",
    token_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """GRPO's clipped surrogate (docs/method.md section 2), plus ``beta * KL(pi_S || pi_ref)`` when beta > 0."""
    logp, old_logp, ref_logp = _zero_padding(mask, logp, old_logp, ref_logp)
    per_token, ratio = clipped_surrogate(logp - old_logp, advantages, eps_low, eps_high)  # (B, T)
    per_token = _weighted(per_token, token_weights)
    metrics = _surrogate_metrics(ratio, advantages, mask, eps_low, eps_high)
    if beta != 0.0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp (the reference model's log-probs)")
        kl = kl_estimate(logp, ref_logp, kl_estimator)  # (B, T)
        per_token = per_token + beta * kl
        metrics["kl/ref"] = masked_mean(kl.detach().float(), mask)
    loss = aggregate(per_token, mask, aggregation, norm_constant)
    return loss, metrics


@register_loss(
    "trrd",
    inputs=("logp", "old_logp", "teacher_logp", "advantages", "mask", "token_weights"),
    params=(ALPHA, CLAMP, CLAMP_MODE, *SURROGATE),
    metrics=TRRD_METRICS,
    gated="alpha",
)
def trrd_loss(
    *,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    alpha: float | torch.Tensor = ALPHA.default,
    clamp: float | None = CLAMP.default,
    clamp_mode: str = CLAMP_MODE.default,
    eps_low: float = EPS_LOW.default,
    eps_high: float = EPS_HIGH.default,
    aggregation: str = AGGREGATION.default,
    norm_constant: float | None = NORM_CONSTANT.default,
    token_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Trust Region Ratio Distillation (docs/method.md section 3): GRPO's surrogate on the teacher-anchored ratio.

    ``alpha`` may be a (B, 1) tensor of per-sequence values (see :mod:`rlad.objectives.gates`).
    With alpha = 1 this is :func:`grpo_loss` to the last bit, whatever the clamp mode.
    """
    if isinstance(alpha, float | int) and not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if clamp is not None and clamp <= 0:
        raise ValueError(f"clamp must be positive or None, got {clamp}")
    logp, old_logp, teacher_logp = _zero_padding(mask, logp, old_logp, teacher_logp)
    log_ratio = trrd_log_ratio(logp, old_logp, teacher_logp, alpha, clamp, clamp_mode)  # (B, T)
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


@register_loss(
    "kdrl",
    inputs=("logp", "old_logp", "teacher_logp", "advantages", "mask", "rewards", "token_weights"),
    params=(KD_BETA, KD_ESTIMATOR, KD_MASK_ABOVE_REWARD, *SURROGATE),
    metrics=(*SURROGATE_METRICS, "kd/kl", "kd/beta", "kd/masked_seq_frac", "teacher/abs_log_ratio"),
)
def kdrl_loss(
    *,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    kd_beta: float = KD_BETA.default,
    kd_estimator: str = KD_ESTIMATOR.default,
    rewards: torch.Tensor | None = None,
    kd_mask_above_reward: float | None = KD_MASK_ABOVE_REWARD.default,
    eps_low: float = EPS_LOW.default,
    eps_high: float = EPS_HIGH.default,
    aggregation: str = AGGREGATION.default,
    norm_constant: float | None = NORM_CONSTANT.default,
    token_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """KDRL (docs/method.md section 6): GRPO's surrogate plus ``kd_beta * KL(pi_S || pi_T)`` on student rollouts.

    Reward-guided masking: with ``kd_mask_above_reward`` set, sequences whose reward is above it
    (correct answers) get no KD term. ``kd_beta`` is the value at this step (the trainer anneals it
    with :func:`rlad.objectives.schedules.coefficient_at`) and is logged as ``kd/beta``.
    """
    logp, old_logp, teacher_logp = _zero_padding(mask, logp, old_logp, teacher_logp)
    per_token, ratio = clipped_surrogate(logp - old_logp, advantages, eps_low, eps_high)  # (B, T)
    per_token = _weighted(per_token, token_weights)
    metrics = _surrogate_metrics(ratio, advantages, mask, eps_low, eps_high)
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
    metrics["kd/beta"] = torch.tensor(float(kd_beta))
    metrics["teacher/abs_log_ratio"] = masked_mean((logp - teacher_logp).detach().abs().float(), mask)
    loss = aggregate(per_token, mask, aggregation, norm_constant)
    return loss, metrics


@register_loss(
    "opd",
    inputs=("logp", "teacher_logp", "mask"),
    params=(KD_ESTIMATOR, AGGREGATION, NORM_CONSTANT),
    metrics=("kd/kl", "teacher/abs_log_ratio"),
)
def opd_loss(
    *,
    logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    mask: torch.Tensor,
    kd_estimator: str = KD_ESTIMATOR.default,
    aggregation: str = AGGREGATION.default,
    norm_constant: float | None = NORM_CONSTANT.default,
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
