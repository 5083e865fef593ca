"""Total rewards and group success rates: one definition for the trainer and the teacher rollouts.

TRL sums the reward functions' outputs with ``reward_weights``, treating a function's ``None``
(NaN: "does not apply to this sample") as 0 (``nansum``). A completion is a success when its total
reaches ``threshold``; the exploration gate and the teacher rollouts look at each group's success rate.
"""

from __future__ import annotations

import torch


def weighted_rewards(per_func: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Total reward (N,) from ``per_func`` (N, F) rewards and ``weights`` (F,); NaN entries count as 0.

    >>> weighted_rewards(torch.tensor([[1.0, float("nan")], [0.5, 1.0]]), torch.tensor([2.0, 1.0])).tolist()
    [2.0, 2.0]
    """
    return (per_func * weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)  # (N,)


def group_success_rate(rewards: torch.Tensor, group_size: int, threshold: float) -> torch.Tensor:
    """For ``rewards`` (N,) in consecutive groups of ``group_size``: each completion's group success rate (N,).

    >>> group_success_rate(torch.tensor([1.0, 0.0, 0.0, 0.0]), 2, 1.0).tolist()
    [0.5, 0.5, 0.0, 0.0]
    """
    if rewards.shape[0] % group_size:
        raise ValueError(f"{rewards.shape[0]} rewards do not split into groups of {group_size}")
    success = (rewards >= threshold).float().view(-1, group_size).mean(dim=1)  # (N / G,)
    return success.repeat_interleave(group_size)  # (N,)
