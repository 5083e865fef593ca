"""KL estimators: values by Monte Carlo and gradients by exact enumeration on a small categorical."""

import pytest
import torch

from rlad.objectives import kl_estimate

# Student p and teacher q over 4 tokens, chosen so that KL(p||q) and KL(q||p) differ clearly.
P = torch.tensor([0.6, 0.3, 0.08, 0.02])
Q = torch.tensor([0.2, 0.2, 0.3, 0.3])
REVERSE_KL = (P * (P / Q).log()).sum().item()  # KL(p || q) ~ 0.62
FORWARD_KL = (Q * (Q / P).log()).sum().item()  # KL(q || p) ~ 0.91


def test_the_two_directions_are_far_apart():
    assert abs(REVERSE_KL - FORWARD_KL) > 0.2


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_unbiased_estimators_match_reverse_kl_by_monte_carlo(estimator):
    g = torch.Generator().manual_seed(0)
    tokens = torch.multinomial(P, 200_000, replacement=True, generator=g)
    values = kl_estimate(P.log()[tokens], Q.log()[tokens], estimator)
    assert values.mean().item() == pytest.approx(REVERSE_KL, abs=0.02)
    assert abs(values.mean().item() - FORWARD_KL) > 0.15


def test_k2_is_close_for_nearby_distributions_and_never_negative():
    near = torch.tensor([0.57, 0.31, 0.09, 0.03])
    exact = (P * (P / near).log()).sum().item()
    g = torch.Generator().manual_seed(1)
    tokens = torch.multinomial(P, 200_000, replacement=True, generator=g)
    values = kl_estimate(P.log()[tokens], near.log()[tokens], "k2")
    assert values.min().item() >= 0
    assert values.mean().item() == pytest.approx(exact, rel=0.1)


def _expected_surrogate_gradient(estimator: str) -> torch.Tensor:
    """E_{y ~ p}[grad_theta k(y)] with the sampling distribution held fixed, by enumeration."""
    theta = P.log().clone().requires_grad_(True)
    logp_all = torch.log_softmax(theta, dim=0)  # (V,)
    per_token = kl_estimate(logp_all, Q.log(), estimator)  # (V,)
    (P * per_token).sum().backward()
    return theta.grad


def _exact_gradient(direction: str) -> torch.Tensor:
    theta = P.log().clone().requires_grad_(True)
    p = torch.softmax(theta, dim=0)
    kl = (p * (p.log() - Q.log())).sum() if direction == "reverse" else (Q * (Q.log() - p.log())).sum()
    kl.backward()
    return theta.grad


def test_k2_gradient_is_the_reverse_kl_gradient():
    torch.testing.assert_close(_expected_surrogate_gradient("k2"), _exact_gradient("reverse"))


def test_k3_gradient_is_the_forward_kl_gradient():
    torch.testing.assert_close(_expected_surrogate_gradient("k3"), _exact_gradient("forward"))
    assert not torch.allclose(_exact_gradient("forward"), _exact_gradient("reverse"), atol=1e-2)


def test_k1_gradient_vanishes_in_expectation():
    torch.testing.assert_close(_expected_surrogate_gradient("k1"), torch.zeros(4), atol=1e-6, rtol=0)


def test_unknown_estimator():
    with pytest.raises(ValueError, match="valid: k1, k2, k3"):
        kl_estimate(torch.zeros(1), torch.zeros(1), "k4")
