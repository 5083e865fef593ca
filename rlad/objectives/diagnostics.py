"""Selective-imitation diagnostics (spec section 4): how the teacher shapes each token's update.

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
"""

from __future__ import annotations

import torch

from rlad.objectives.aggregation import masked_mean

REGIMES = ("pos_teacher_more", "pos_teacher_less", "neg_teacher_more", "neg_teacher_less")


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
