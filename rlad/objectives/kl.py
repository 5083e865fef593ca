"""Per-token estimators of KL(pi_S || pi_X) from tokens sampled by the student (Schulman's k1, k2, k3).

With ``logp = log pi_S(y_t)`` and ``other_logp = log pi_X(y_t)`` for a token y_t drawn from pi_S and
``log_r = other_logp - logp``:

* k1 = -log_r                  unbiased for the KL value, high variance, can be negative;
* k2 = 0.5 * log_r ** 2        biased for the value, low variance, never negative;
* k3 = exp(log_r) - 1 - log_r  unbiased for the value, never negative (TRL's reference KL).

Used *as a loss* (differentiated through ``logp`` only, the sampling distribution held fixed) the
three are not interchangeable; in expectation over y_t ~ pi_S:

* grad k1 = grad log pi_S, whose expectation is 0: no distillation signal at all;
* grad k2 = (logp - other_logp) * grad log pi_S, exactly the gradient of the reverse KL(pi_S || pi_X);
* grad k3 = (1 - pi_X / pi_S) * grad log pi_S, whose expectation is the gradient of the *forward*
  KL(pi_X || pi_S).

``tests/objectives/test_kl.py`` checks all of these by exact enumeration on a small categorical
distribution. This is why the KDRL and on-policy-distillation losses default to k2.
"""

from __future__ import annotations

import torch

ESTIMATORS = ("k1", "k2", "k3")


def kl_estimate(logp: torch.Tensor, other_logp: torch.Tensor, estimator: str = "k2") -> torch.Tensor:
    """Per-token estimate of KL(pi_S || pi_X); both inputs (B, T), result (B, T).

    >>> kl_estimate(torch.tensor([-1.0]), torch.tensor([-2.0]), "k1").item()
    1.0
    >>> kl_estimate(torch.tensor([-1.0]), torch.tensor([-2.0]), "k2").item()
    0.5
    """
    log_r = other_logp - logp  # (B, T)
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        return 0.5 * log_r**2
    if estimator == "k3":
        return torch.exp(log_r) - log_r - 1
    raise ValueError(f"unknown KL estimator {estimator!r}; valid: {', '.join(ESTIMATORS)}")
