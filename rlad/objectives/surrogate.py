"""The clipped surrogate shared by GRPO, TRRD and KDRL, and the TRRD log-ratio (docs/method.md sections 2-3).

GRPO's per-token loss with ratio rho = exp(log_ratio) and an asymmetric clip:

    L_tok = -min(rho * A, clip(rho, 1 - eps_low, 1 + eps_high) * A)

TRRD changes only ``log_ratio``. Its trust region is anchored on the geometric mixture of the old
student and the teacher, ``log anchor = alpha * old_logp + (1 - alpha) * teacher_logp``:

    log rho_TRRD = alpha * (logp - old_logp) + (1 - alpha) * clamp(logp - teacher_logp, -c, c)

so alpha = 1 is GRPO exactly.

Two clamps (``clamp_mode``): ``"hard"`` (the paper) stops the teacher term's gradient where
|logp - teacher_logp| > c, so there only alpha of the student's own gradient is left;
``"straight_through"`` keeps the clamped *value* in the ratio but lets the gradient of the
unclamped teacher term through, so far from the teacher the token still moves at full rate. (The paper's section 4.1 says "alpha = 0 recovers GRPO"; that
contradicts its own equation 3 and appendix C, and we follow the equation.)
"""

from __future__ import annotations

import torch

CLAMP_MODES = ("hard", "straight_through")


def trrd_log_ratio(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    alpha: float | torch.Tensor = 0.5,
    clamp: float | None = 1.0,
    clamp_mode: str = "hard",
) -> torch.Tensor:
    """log rho_TRRD per token; inputs (B, T), ``alpha`` a float or a (B, 1) per-sequence tensor.

    ``clamp`` is c, the bound on log(pi_S / pi_T) (the paper uses 1); ``None`` disables it.
    ``clamp_mode`` is ``"hard"`` or ``"straight_through"`` (same value, gradient of the unclamped term).

    >>> trrd_log_ratio(torch.tensor([-1.0]), torch.tensor([-1.0]), torch.tensor([-3.0])).item()
    0.5
    """
    student_term = logp - old_logp  # (B, T): log(pi_S / pi_old)
    teacher_term = logp - teacher_logp  # (B, T): log(pi_S / pi_T)
    if clamp_mode not in CLAMP_MODES:
        raise ValueError(f"clamp_mode={clamp_mode!r} is not one of {', '.join(CLAMP_MODES)}")
    if clamp is not None:
        clamped = teacher_term.clamp(-clamp, clamp)  # (B, T)
        # straight-through: forward value clamped, backward the identity (d clamped / d logp = 1).
        teacher_term = clamped if clamp_mode == "hard" else teacher_term + (clamped - teacher_term).detach()
    return alpha * student_term + (1 - alpha) * teacher_term


def clipped_surrogate(
    log_ratio: torch.Tensor,
    advantages: torch.Tensor,
    eps_low: float,
    eps_high: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token clipped policy loss (B, T) and the ratio rho (B, T).

    ``advantages`` is (B,) (one value per sequence) or already (B, T).
    The arithmetic mirrors TRL's GRPOTrainer so that equal inputs give bit-identical losses.
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)  # (B, 1)
    ratio = torch.exp(log_ratio)  # (B, T)
    clipped_ratio = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)  # (B, T)
    per_token_loss = -torch.min(ratio * advantages, clipped_ratio * advantages)  # (B, T)
    return per_token_loss, ratio


def clip_flags(
    ratio: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the clip is active (the token gets no policy gradient): (low, high), each (B, T) bool.

    Low: A < 0 and rho < 1 - eps_low. High: A > 0 and rho > 1 + eps_high.
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    low = (ratio < 1 - eps_low) & (advantages < 0)
    high = (ratio > 1 + eps_high) & (advantages > 0)
    return low, high
