"""Optional explicit imitation gates (docs/method.md section 4, from the product description of RLAD).

TRRD already selects teacher influence per token through the clip. These gates add a per-sequence
decision on top; a sequence whose gate is closed falls back to the GRPO anchor (alpha = 1 for its
tokens), i.e. it is trained by pure RL:

* alignment: mean |old_logp - teacher_logp| over the sequence's tokens <= ``align_tau``
  (a rollout far outside the teacher's support gets no teacher anchor);
* advantage: |A_i| >= ``adv_tau`` (or A_i >= ``adv_tau`` when ``adv_positive_only``);
* exploration: the group's success rate < ``explore_rate`` (groups that already mostly succeed are
  left to free RL exploration).

A gate whose threshold is ``None`` is open for every sequence (the paper's behaviour).
"""

from __future__ import annotations

import torch


def imitation_gates(
    *,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    mask: torch.Tensor,
    advantages: torch.Tensor,
    group_success: torch.Tensor | None = None,
    align_tau: float | None = None,
    adv_tau: float | None = None,
    adv_positive_only: bool = False,
    explore_rate: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Which sequences keep the teacher anchor: a (B,) bool tensor, plus closed counts per gate.

    ``old_logp``, ``teacher_logp``, ``mask`` are (B, T); ``advantages`` and ``group_success`` (the
    success rate of the group each sequence belongs to) are (B,).
    """
    B = advantages.shape[0]
    device = advantages.device
    all_open = torch.ones(B, dtype=torch.bool, device=device)
    align_open = adv_open = explore_open = all_open
    if align_tau is not None:
        valid = mask.bool()
        gap = torch.where(valid, (old_logp - teacher_logp).abs(), torch.zeros_like(old_logp))  # (B, T)
        mean_gap = gap.sum(-1) / valid.sum(-1).clamp(min=1)  # (B,)
        align_open = mean_gap <= align_tau
    if adv_tau is not None:
        adv_open = advantages >= adv_tau if adv_positive_only else advantages.abs() >= adv_tau
    if explore_rate is not None:
        if group_success is None:
            raise ValueError("the exploration gate needs group_success (the success rate of each group)")
        explore_open = group_success < explore_rate
    is_open = align_open & adv_open & explore_open  # (B,)
    metrics = {
        "gate/align_closed": (~align_open).sum().float(),
        "gate/adv_closed": (~adv_open).sum().float(),
        "gate/explore_closed": (~explore_open).sum().float(),
        "gate/open_frac": is_open.float().mean(),
    }
    return is_open, metrics


def gated_alpha(alpha: float, is_open: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-sequence alpha (B, 1): ``alpha`` where the gate is open, 1 (pure GRPO anchor) where closed."""
    open_alpha = torch.full(is_open.shape, alpha, dtype=dtype, device=is_open.device)  # (B,)
    return torch.where(is_open, open_alpha, torch.ones_like(open_alpha)).unsqueeze(1)  # (B, 1)
