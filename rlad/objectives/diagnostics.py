"""Selective-imitation diagnostics (docs/method.md section 4): how the teacher shapes each token's update.

Each valid token falls into one of four regimes by the sign of its advantage and by whether the
teacher gives the sampled token more or less probability than the old student did:

| regime          | meaning                                         | TRRD's effect             |
| --------------- | ----------------------------------------------- | ------------------------- |
| ``pos_teacher_more`` | A > 0, teacher_logp > old_logp             | room to raise pi_S        |
| ``pos_teacher_less`` | A > 0, teacher_logp <= old_logp            | raise limited by the clip |
| ``neg_teacher_more`` | A < 0, teacher_logp > old_logp             | cut limited by the clip   |
| ``neg_teacher_less`` | A < 0, teacher_logp <= old_logp            | larger cut allowed        |

Tokens with A = 0 get no signal and are counted apart (``zero_adv``). For every regime we report
the fraction of valid tokens in it and the fraction of its tokens whose clip is active.

Before any training, two shares tell whether TRRD can work on a (student, teacher) pair
(:func:`veto_share`, :func:`beyond_clamp_fraction`): how many of the tokens RL wants to raise get
no gradient at the first update, and how many tokens sit beyond the clamp.
"""

from __future__ import annotations

import torch

from rlad.objectives.aggregation import masked_mean
from rlad.objectives.surrogate import trrd_log_ratio

REGIMES = ("pos_teacher_more", "pos_teacher_less", "neg_teacher_more", "neg_teacher_less")
# Every name trrd_metrics returns.
TRRD_METRICS = (
    *(f"regime/{r}/frac" for r in (*REGIMES, "zero_adv")),
    *(f"regime/{r}/clipped" for r in REGIMES),
    "clip/low_frac",
    "clip/high_frac",
    "ratio/mean",
    "teacher/abs_log_ratio",
    "teacher/log_ratio",
    "teacher/clamped_frac",
)


def veto_share(
    *,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    alpha: float = 0.5,
    clamp: float | None = 1.0,
    eps_high: float = 0.28,
) -> torch.Tensor:
    """Share of positive-advantage tokens that TRRD vetoes at the first update: a scalar in [0, 1].

    At the first update the student is the sampling policy (logp = old_logp), so the ratio is the
    teacher term alone, log rho = (1 - alpha) * clamp(old_logp - teacher_logp, -c, c). A token with
    A > 0 and rho > 1 + eps_high is clipped: it gets zero gradient although RL wants to raise it.
    Inputs (B, T) except ``advantages`` (B,); 0 when no valid token has A > 0. The clamp mode does not
    matter here: both modes give the same ratio value.

    >>> old, teacher = torch.tensor([[-1.0, -1.0]]), torch.tensor([[-3.0, -1.0]])
    >>> veto_share(old_logp=old, teacher_logp=teacher, advantages=torch.ones(1), mask=torch.ones(1, 2)).item()
    0.5
    """
    valid = mask.bool()
    ratio = trrd_log_ratio(old_logp, old_logp, teacher_logp, alpha, clamp).exp()  # (B, T)
    positive = (advantages.reshape(-1, 1) > 0) & valid  # (B, T)
    return masked_mean((ratio > 1 + eps_high).float(), positive)


def beyond_clamp_fraction(
    logp: torch.Tensor, teacher_logp: torch.Tensor, mask: torch.Tensor, clamp: float | None = 1.0
) -> torch.Tensor:
    """Share of valid tokens with |logp - teacher_logp| > c (the hard clamp stops their teacher gradient).

    Inputs (B, T); a scalar in [0, 1]; 0 with ``clamp=None`` (no clamp) or no valid token.

    >>> beyond_clamp_fraction(torch.tensor([[-1.0, -1.0]]), torch.tensor([[-2.5, -1.5]]), torch.ones(1, 2)).item()
    0.5
    """
    if clamp is None:
        return torch.zeros((), dtype=torch.float32)
    beyond = (logp - teacher_logp).abs() > clamp  # (B, T)
    return masked_mean(beyond.float(), mask)


def imitation_regimes(
    advantages: torch.Tensor,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    mask: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Boolean (B, T) masks of the four regimes plus ``zero_adv``, restricted to valid tokens."""
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)  # (B, 1)
    valid = mask.bool()
    teacher_more = teacher_logp > old_logp  # (B, T)
    pos, neg = (advantages > 0) & valid, (advantages < 0) & valid  # (B, T)
    return {
        "pos_teacher_more": pos & teacher_more,
        "pos_teacher_less": pos & ~teacher_more,
        "neg_teacher_more": neg & teacher_more,
        "neg_teacher_less": neg & ~teacher_more,
        "zero_adv": (advantages == 0) & valid,
    }


def trrd_metrics(
    *,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ratio: torch.Tensor,
    clipped_low: torch.Tensor,
    clipped_high: torch.Tensor,
    clamp: float | None,
) -> dict[str, torch.Tensor]:
    """Detached scalar diagnostics of one TRRD loss evaluation; all inputs (B, T) except advantages (B,)."""
    with torch.no_grad():
        valid = mask.bool()
        clipped = clipped_low | clipped_high
        gap = (logp - teacher_logp).detach()  # (B, T): log(pi_S / pi_T)
        metrics: dict[str, torch.Tensor] = {}
        for name, in_regime in imitation_regimes(advantages, old_logp, teacher_logp, mask).items():
            metrics[f"regime/{name}/frac"] = in_regime.sum() / valid.sum().clamp(min=1)
            if name != "zero_adv":
                metrics[f"regime/{name}/clipped"] = masked_mean(clipped.to(ratio.dtype), in_regime)
        metrics["clip/low_frac"] = masked_mean(clipped_low.to(ratio.dtype), valid)
        metrics["clip/high_frac"] = masked_mean(clipped_high.to(ratio.dtype), valid)
        metrics["ratio/mean"] = masked_mean(ratio.detach(), valid)
        metrics["teacher/abs_log_ratio"] = masked_mean(gap.abs(), valid)
        metrics["teacher/log_ratio"] = masked_mean(gap, valid)
        clamped = gap.abs() > clamp if clamp is not None else torch.zeros_like(valid)
        metrics["teacher/clamped_frac"] = masked_mean(clamped.to(ratio.dtype), valid)
        return {k: v.detach().float() for k, v in metrics.items()}
