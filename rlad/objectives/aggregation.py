"""Masked aggregation of per-token values into one scalar, with the three modes used in GRPO-family papers.

Every loss in :mod:`rlad.objectives` reduces its ``(B, T)`` per-token loss through :func:`aggregate`,
so the choice of mode is made in one place:

* ``seq_mean_token_mean`` (the RLAD paper, TRL ``loss_type="grpo"``): average the tokens of each
  sequence, then average the sequences. Short and long completions weigh the same.
* ``token_mean`` (DAPO, TRL ``loss_type="bnpo"``): one average over every valid token in the batch.
  Long completions weigh more.
* ``seq_mean_token_sum_norm`` (Dr. GRPO, TRL ``loss_type="dr_grpo"``): sum over valid tokens divided
  by ``B * norm_constant`` with a constant normaliser (the maximum completion length by default), so
  the scale does not depend on the lengths in this batch.

Masked positions never reach the result: values there are replaced by zero with ``torch.where``
(not multiplied by the mask, which would turn an ``inf`` into ``nan``).
"""

from __future__ import annotations

import torch

AGGREGATIONS = ("seq_mean_token_mean", "token_mean", "seq_mean_token_sum_norm")


def aggregate(
    values: torch.Tensor,
    mask: torch.Tensor,
    mode: str = "seq_mean_token_mean",
    norm_constant: float | None = None,
) -> torch.Tensor:
    """Reduce ``values`` (B, T) over the positions where ``mask`` (B, T) is true, by ``mode``.

    ``norm_constant`` is only used by ``seq_mean_token_sum_norm``; it defaults to T.

    >>> v = torch.tensor([[1.0, 3.0], [5.0, 0.0]]); m = torch.tensor([[1, 1], [1, 0]])
    >>> aggregate(v, m, "seq_mean_token_mean").item(), aggregate(v, m, "token_mean").item()
    (3.5, 3.0)
    >>> aggregate(v, m, "seq_mean_token_sum_norm").item()
    2.25
    """
    mask = mask.to(values.dtype)  # (B, T) of 0 / 1
    masked = torch.where(mask.bool(), values, torch.zeros_like(values))  # (B, T)
    if mode == "seq_mean_token_mean":
        per_seq = masked.sum(-1) / mask.sum(-1).clamp(min=1.0)  # (B,)
        return per_seq.mean()
    if mode == "token_mean":
        return masked.sum() / mask.sum().clamp(min=1.0)
    if mode == "seq_mean_token_sum_norm":
        norm = float(values.shape[-1] if norm_constant is None else norm_constant)
        if norm <= 0:
            raise ValueError(f"norm_constant must be positive, got {norm_constant}")
        return masked.sum() / (values.shape[0] * norm)
    raise ValueError(f"unknown aggregation mode {mode!r}; valid modes: {', '.join(AGGREGATIONS)}")


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the true positions of ``mask`` (same shape); 0 when the mask is empty."""
    mask = mask.bool()
    total = torch.where(mask, values, torch.zeros_like(values)).sum()
    return total / mask.sum().clamp(min=1)
