"""Straight-through clamp, veto share and fraction beyond the clamp, reward totals and group success rates."""

import math

import pytest
import torch

from rlad.objectives import (
    beyond_clamp_fraction,
    group_advantages,
    group_success_rate,
    grpo_loss,
    trrd_log_ratio,
    trrd_loss,
    veto_share,
    weighted_rewards,
)


def _one_token(clamp_mode, advantage=-1.0, teacher=-4.0, alpha=0.5):
    logp = torch.tensor([[-1.0]], requires_grad=True)
    loss, metrics = trrd_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=torch.tensor([[teacher]]),
        advantages=torch.tensor([advantage]),
        mask=torch.ones(1, 1),
        alpha=alpha,
        clamp=1.0,
        clamp_mode=clamp_mode,
    )
    loss.backward()
    return loss.item(), logp.grad.item(), metrics


def test_straight_through_keeps_the_clamped_value_and_passes_the_teacher_gradient():
    # |logp - teacher| = 3 > c = 1: log rho = 0.5 * 0 + 0.5 * 1 = 0.5 in both modes; A = -1 so loss = rho.
    hard_loss, hard_grad, hard_metrics = _one_token("hard")
    st_loss, st_grad, _ = _one_token("straight_through")
    rho = math.exp(0.5)
    assert hard_loss == pytest.approx(rho, rel=1e-6) and st_loss == pytest.approx(rho, rel=1e-6)
    assert hard_grad == pytest.approx(0.5 * rho, rel=1e-6)  # the teacher term is frozen beyond c
    assert st_grad == pytest.approx(1.0 * rho, rel=1e-6)  # d log rho / d logp = alpha + (1 - alpha)
    assert hard_metrics["teacher/clamped_frac"].item() == 1.0


def test_straight_through_inside_the_clamp_is_the_hard_clamp():
    for mode in ("hard", "straight_through"):
        assert _one_token(mode, teacher=-1.5)[1] == pytest.approx(_one_token("hard", teacher=-1.5)[1])


def test_unknown_clamp_mode_is_refused():
    with pytest.raises(ValueError, match="clamp_mode='soft' is not one of hard, straight_through"):
        trrd_log_ratio(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1), 0.5, 1.0, "soft")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_alpha_one_is_grpo_to_the_last_bit_with_the_straight_through_clamp(dtype):
    g = torch.Generator().manual_seed(3)
    logp = (-torch.rand(5, 7, generator=g) * 4).to(dtype)
    old = (logp.float() + 0.3 * torch.randn(5, 7, generator=g)).to(dtype)
    teacher = (logp.float() + 3.0 * torch.randn(5, 7, generator=g)).to(dtype)
    adv = torch.randn(5, generator=g).to(dtype)
    mask = (torch.rand(5, 7, generator=g) < 0.8).int()
    a, b = logp.clone().requires_grad_(True), logp.clone().requires_grad_(True)
    loss_g, _ = grpo_loss(logp=a, old_logp=old, advantages=adv, mask=mask)
    loss_t, _ = trrd_loss(
        logp=b, old_logp=old, teacher_logp=teacher, advantages=adv, mask=mask, alpha=1.0,
        clamp_mode="straight_through",
    )  # fmt: skip
    loss_g.backward()
    loss_t.backward()
    assert torch.equal(loss_g, loss_t) and torch.equal(a.grad, b.grad)


def test_veto_share_by_hand():
    # Four A > 0 tokens at the first update, alpha 0.5, c = 1, eps_high 0.28 (log 1.28 = 0.247):
    # old - teacher = 2 (clamped to 1: log rho 0.5, vetoed), 0.4 (0.2: kept), 0.6 (0.3: vetoed), -3 (kept);
    # the A < 0 sequence and the padded token never count.
    old = torch.tensor([[-1.0, -1.0], [-1.0, -1.0], [-1.0, -1.0]])
    teacher = torch.tensor([[-3.0, -1.4], [-1.6, 2.0], [-9.0, -9.0]])
    mask = torch.tensor([[1, 1], [1, 1], [1, 0]])
    adv = torch.tensor([1.0, 2.0, -1.0])
    share = veto_share(old_logp=old, teacher_logp=teacher, advantages=adv, mask=mask)
    assert share.item() == pytest.approx(0.5)
    assert veto_share(old_logp=old, teacher_logp=teacher, advantages=adv, mask=mask, alpha=1.0).item() == 0.0
    assert veto_share(old_logp=old, teacher_logp=teacher, advantages=-adv.abs(), mask=mask).item() == 0.0
    # Without the clamp the third token (log rho 0.3) and the first (1.0) are vetoed: still 2 of 4.
    assert veto_share(old_logp=old, teacher_logp=teacher, advantages=adv, mask=mask, clamp=None).item() == 0.5


def test_veto_share_is_the_share_of_positive_tokens_with_zero_gradient_in_the_loss():
    g = torch.Generator().manual_seed(11)
    old = -torch.rand(6, 8, generator=g) * 4
    teacher = old + 1.5 * torch.randn(6, 8, generator=g)
    adv = torch.randn(6, generator=g)
    mask = (torch.rand(6, 8, generator=g) < 0.8).int()
    logp = old.clone().requires_grad_(True)
    loss, _ = trrd_loss(logp=logp, old_logp=old, teacher_logp=teacher, advantages=adv, mask=mask)
    loss.backward()
    positive = (adv[:, None] > 0) & mask.bool()
    zero_grad = (logp.grad == 0) & positive
    expected = zero_grad.sum() / positive.sum()
    share = veto_share(old_logp=old, teacher_logp=teacher, advantages=adv, mask=mask)
    assert 0 < share.item() < 1
    assert share.item() == pytest.approx(expected.item())


def test_beyond_clamp_fraction_by_hand():
    logp = torch.tensor([[-1.0, -1.0, -1.0], [-2.0, -2.0, -2.0]])
    teacher = torch.tensor([[-2.5, -1.5, 0.5], [-2.0, -9.0, -9.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert beyond_clamp_fraction(logp, teacher, mask).item() == pytest.approx(2 / 4)
    assert beyond_clamp_fraction(logp, teacher, mask, clamp=0.2).item() == pytest.approx(3 / 4)
    assert beyond_clamp_fraction(logp, teacher, mask, clamp=None).item() == 0.0


def test_weighted_rewards_and_group_success_rate():
    per_func = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan"), float("nan")], [1.0, 1.0]])
    total = weighted_rewards(per_func, torch.tensor([1.0, 0.5]))
    assert total.tolist() == [1.0, 0.5, 0.0, 1.5]
    assert group_success_rate(total, 2, 1.0).tolist() == [0.5, 0.5, 0.5, 0.5]
    assert group_success_rate(total, 4, 0.5).tolist() == [0.75] * 4
    with pytest.raises(ValueError, match="4 rewards do not split into groups of 3"):
        group_success_rate(total, 3, 1.0)


def test_advantages_leave_nan_rewards_out_like_trl():
    rewards = torch.tensor([[1.0, 0.0, float("nan")]])
    sample = group_advantages(rewards, std="sample", eps=1e-4)
    population = group_advantages(rewards, std="population", eps=1e-4)
    # Two scored members 1 and 0: mean 0.5, sample std 0.7071, population std 0.5; the NaN gets 0.
    assert sample[0].tolist() == pytest.approx([0.5 / (0.5**0.5 + 1e-4), -0.5 / (0.5**0.5 + 1e-4), 0.0])
    assert population[0].tolist() == pytest.approx([0.5 / 0.5001, -0.5 / 0.5001, 0.0])
