"""Group-relative advantages (GRPO, docs/method.md section 2).

For a group of G completions of one prompt with rewards r_1..r_G:

    A_i = (r_i - mean(r)) / (std(r) + eps)

The paper writes the population standard deviation; TRL uses the sample (Bessel-corrected) one
with eps = 1e-4 (``RLADConfig.advantage_std`` chooses). Groups of one completion and groups with
constant reward get advantage 0, never ``nan``: there is nothing to compare against. A reward of
``nan`` (no reward function applied to that completion) is left out of its group's mean and std and
gets advantage 0, as in TRL.
"""

from __future__ import annotations

import torch

SCALES = ("group", "batch", "none")
STDS = ("population", "sample")


def group_advantages(
    rewards: torch.Tensor,
    scale: str = "group",
    std: str = "population",
    eps: float = 1e-6,
) -> torch.Tensor:
    """Advantages for ``rewards`` (P, G): P prompts, G completions each. Returns (P, G).

    ``scale``: ``"group"`` divides by each group's std (GRPO), ``"batch"`` by the std of the whole
    batch, ``"none"`` only centres (Dr. GRPO).

    >>> group_advantages(torch.tensor([[1.0, 0.0]]), eps=0.0).tolist()
    [[1.0, -1.0]]
    >>> group_advantages(torch.tensor([[1.0, 1.0], [0.0, 2.0]]), scale="none").tolist()
    [[0.0, 0.0], [-1.0, 1.0]]
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be (P, G), got shape {tuple(rewards.shape)}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    if std not in STDS:
        raise ValueError(f"unknown std {std!r}; valid: {', '.join(STDS)}")
    rewards = rewards.float()
    centred = rewards - torch.nanmean(rewards, dim=1, keepdim=True)  # (P, G)
    if scale == "none":
        return centred.nan_to_num(0.0)
    unbiased = std == "sample"
    rows = rewards if scale == "group" else rewards.reshape(1, -1)  # (P, G) or (1, P * G)
    sigma = _nanstd(rows, unbiased)  # (P, 1) or (1, 1)
    # Constant groups have centred == 0 and sigma == 0; dividing by 1 there keeps them at 0 even with eps = 0.
    denominator = torch.where(sigma > 0, sigma + eps, torch.ones_like(sigma))
    return (centred / denominator).nan_to_num(0.0)


def _nanstd(rewards: torch.Tensor, unbiased: bool) -> torch.Tensor:
    """Std of each row of ``rewards`` (R, N) over its non-NaN entries: (R, 1); 0 where fewer than two."""
    count = (~torch.isnan(rewards)).sum(dim=1, keepdim=True)  # (R, 1)
    centred = rewards - torch.nanmean(rewards, dim=1, keepdim=True)  # (R, N)
    variance = torch.nanmean(centred**2, dim=1, keepdim=True)  # (R, 1): population
    if unbiased:
        variance = variance * count / (count - 1).clamp(min=1)
    return torch.where(count > 1, variance.sqrt(), torch.zeros_like(variance))
