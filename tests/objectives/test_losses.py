"""GRPO, TRRD, KDRL and OPD losses: hand values, alpha = 1 equals GRPO bit for bit, padding, regimes."""

import math

import pytest
import torch

from rlad.objectives import LOSSES, grpo_loss, kdrl_loss, opd_loss, trrd_loss
from rlad.registry import UnknownNameError


def _leaf(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def test_registry_names_and_unknown_name():
    assert LOSSES.names() == ["grpo", "kdrl", "opd", "trrd"]
    with pytest.raises(UnknownNameError, match="valid names: grpo, kdrl, opd, trrd"):
        LOSSES.get("ppo")


def test_grpo_single_token_by_hand():
    # rho = e^0.1 = 1.10517 < 1.28: unclipped; loss = -rho * A = -2 * 1.10517
    logp = _leaf([[-1.0]])
    loss, metrics = grpo_loss(
        logp=logp, old_logp=torch.tensor([[-1.1]]), advantages=torch.tensor([2.0]), mask=torch.ones(1, 1)
    )
    assert loss.item() == pytest.approx(-2 * math.exp(0.1), rel=1e-6)
    loss.backward()
    assert logp.grad.item() == pytest.approx(-2 * math.exp(0.1), rel=1e-6)
    assert metrics["clip/high_frac"].item() == 0.0


def test_grpo_clipped_token_has_zero_gradient():
    logp = _leaf([[-1.0]])  # rho = e^0.5 = 1.65 > 1.28 with A > 0: clipped
    loss, metrics = grpo_loss(
        logp=logp, old_logp=torch.tensor([[-1.5]]), advantages=torch.tensor([1.0]), mask=torch.ones(1, 1)
    )
    loss.backward()
    assert loss.item() == pytest.approx(-1.28)
    assert logp.grad.item() == 0.0
    assert metrics["clip/high_frac"].item() == 1.0


def test_grpo_reference_kl_k3_by_hand():
    logp = _leaf([[-1.0]])
    ref = torch.tensor([[-2.0]])
    loss, metrics = grpo_loss(
        logp=logp,
        old_logp=logp.detach(),
        advantages=torch.tensor([0.0]),
        mask=torch.ones(1, 1),
        ref_logp=ref,
        beta=0.1,
    )
    k3 = math.exp(-1.0) + 1.0 - 1.0
    assert loss.item() == pytest.approx(0.1 * k3, rel=1e-6)
    assert metrics["kl/ref"].item() == pytest.approx(k3, rel=1e-6)


def test_trrd_first_step_ratio_by_hand():
    # logp == old_logp; teacher likes the token less: log rho = 0.5 * clamp(-1 - (-1.6)) = 0.3
    logp = _leaf([[-1.0]])
    loss, metrics = trrd_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=torch.tensor([[-1.6]]),
        advantages=torch.tensor([-1.0]),
        mask=torch.ones(1, 1),
    )
    rho = math.exp(0.3)
    assert metrics["ratio/mean"].item() == pytest.approx(rho, rel=1e-6)
    assert loss.item() == pytest.approx(rho, rel=1e-6)  # A < 0, rho > 1: unclipped, loss = -rho * A
    loss.backward()
    assert logp.grad.item() == pytest.approx(rho, rel=1e-6)  # d(log rho)/d(logp) = 0.5 + 0.5


def test_trrd_clamp_limits_teacher_term_and_its_gradient():
    # |logp - teacher| = 3 > c = 1: teacher term clamped to 1 and carries no gradient.
    logp = _leaf([[-1.0]])
    loss, metrics = trrd_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=torch.tensor([[-4.0]]),
        advantages=torch.tensor([-1.0]),
        mask=torch.ones(1, 1),
        alpha=0.5,
        clamp=1.0,
    )
    rho = math.exp(0.5)
    assert loss.item() == pytest.approx(rho, rel=1e-6)
    loss.backward()
    assert logp.grad.item() == pytest.approx(0.5 * rho, rel=1e-6)
    assert metrics["teacher/clamped_frac"].item() == 1.0
    loss_free, _ = trrd_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=torch.tensor([[-4.0]]),
        advantages=torch.tensor([-1.0]),
        mask=torch.ones(1, 1),
        alpha=0.5,
        clamp=None,
    )
    assert loss_free.item() == pytest.approx(math.exp(1.5), rel=1e-6)


def _random_batch(seed, dtype, B=6, T=9):
    g = torch.Generator().manual_seed(seed)
    logp = (-torch.rand(B, T, generator=g) * 4).to(dtype)
    old_logp = (logp.float() + 0.3 * torch.randn(B, T, generator=g)).to(dtype)
    teacher_logp = (logp.float() + 2.0 * torch.randn(B, T, generator=g)).to(dtype)
    advantages = torch.randn(B, generator=g).to(dtype)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).int()
    return logp, old_logp, teacher_logp, advantages, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("clamp", [1.0, None])
@pytest.mark.parametrize("aggregation", ["seq_mean_token_mean", "token_mean", "seq_mean_token_sum_norm"])
def test_alpha_one_is_grpo_to_the_last_bit(dtype, clamp, aggregation):
    for seed in range(5):
        logp, old_logp, teacher_logp, advantages, mask = _random_batch(seed, dtype)
        a = logp.clone().requires_grad_(True)
        b = logp.clone().requires_grad_(True)
        loss_g, _ = grpo_loss(
            logp=a, old_logp=old_logp, advantages=advantages, mask=mask, aggregation=aggregation
        )
        loss_t, _ = trrd_loss(
            logp=b,
            old_logp=old_logp,
            teacher_logp=teacher_logp,
            advantages=advantages,
            mask=mask,
            alpha=1.0,
            clamp=clamp,
            aggregation=aggregation,
        )
        loss_g.backward()
        loss_t.backward()
        assert loss_t.dtype == dtype
        assert torch.equal(loss_g, loss_t)
        assert torch.equal(a.grad, b.grad)


def test_alpha_below_one_differs_from_grpo():
    logp, old_logp, teacher_logp, advantages, mask = _random_batch(0, torch.float32)
    loss_g, _ = grpo_loss(logp=logp, old_logp=old_logp, advantages=advantages, mask=mask)
    loss_t, _ = trrd_loss(
        logp=logp, old_logp=old_logp, teacher_logp=teacher_logp, advantages=advantages, mask=mask, alpha=0.5
    )
    assert not torch.equal(loss_g, loss_t)


# The four regimes of docs/method.md section 4, one token each at the first step (logp == old_logp), alpha 0.5,
# teacher 0.8 nats above or below the student: log rho = -/+ 0.4, rho = 0.67 or 1.49.
@pytest.mark.parametrize(
    ("advantage", "teacher_shift", "expect"),
    [
        (1.0, +0.8, "raise"),  # A > 0, teacher likes it more: room to raise pi_S
        (1.0, -0.8, "clipped"),  # A > 0, teacher likes it less: clip reached early
        (-1.0, +0.8, "clipped"),  # A < 0, teacher likes it more: pi_S cannot be cut hard
        (-1.0, -0.8, "lower"),  # A < 0, teacher likes it less: larger cut allowed
    ],
)
def test_four_regimes_gradient_sign(advantage, teacher_shift, expect):
    logp = _leaf([[-2.0]])
    loss, metrics = trrd_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=torch.tensor([[-2.0 + teacher_shift]]),
        advantages=torch.tensor([advantage]),
        mask=torch.ones(1, 1),
    )
    loss.backward()
    grad = logp.grad.item()
    # Gradient descent moves logp by -grad.
    if expect == "raise":
        assert grad < 0
    elif expect == "lower":
        assert grad > 0
    else:
        assert grad == 0.0
    regime = ("pos" if advantage > 0 else "neg") + ("_teacher_more" if teacher_shift > 0 else "_teacher_less")
    assert metrics[f"regime/{regime}/frac"].item() == 1.0
    assert metrics[f"regime/{regime}/clipped"].item() == (1.0 if expect == "clipped" else 0.0)


def test_regime_metrics_on_a_mixed_batch():
    # 2 sequences x 2 tokens: seq 0 has A > 0, seq 1 has A < 0; one padded token.
    old = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]])
    teacher = torch.tensor([[-0.5, -3.0], [-0.5, -9.0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    _, m = trrd_loss(
        logp=old.clone(), old_logp=old, teacher_logp=teacher, advantages=torch.tensor([1.0, -1.0]), mask=mask
    )
    assert m["regime/pos_teacher_more/frac"].item() == pytest.approx(1 / 3)
    assert m["regime/pos_teacher_less/frac"].item() == pytest.approx(1 / 3)
    assert m["regime/neg_teacher_more/frac"].item() == pytest.approx(1 / 3)
    assert m["regime/neg_teacher_less/frac"].item() == 0.0
    assert m["regime/zero_adv/frac"].item() == 0.0
    # pos_teacher_less: log rho = 0.5 * clamp(2, -1, 1) = 0.5 > log 1.28: clipped
    assert m["regime/pos_teacher_less/clipped"].item() == 1.0
    assert m["teacher/clamped_frac"].item() == pytest.approx(1 / 3)
    assert m["teacher/abs_log_ratio"].item() == pytest.approx((0.5 + 2.0 + 0.5) / 3)


def test_zero_advantage_gives_zero_gradient_whatever_the_teacher():
    logp, old_logp, teacher_logp, _, mask = _random_batch(3, torch.float32)
    logp.requires_grad_(True)
    loss, _ = trrd_loss(
        logp=logp,
        old_logp=old_logp,
        teacher_logp=teacher_logp * 5,
        advantages=torch.zeros(logp.shape[0]),
        mask=mask,
    )
    loss.backward()
    assert torch.count_nonzero(logp.grad) == 0


@pytest.mark.parametrize("name", ["grpo", "trrd", "kdrl", "opd"])
def test_padding_never_moves_loss_or_gradients(name):
    logp, old_logp, teacher_logp, advantages, mask = _random_batch(4, torch.float32)
    kwargs = {"old_logp": old_logp, "teacher_logp": teacher_logp, "advantages": advantages, "mask": mask}
    if name == "grpo":
        kwargs.pop("teacher_logp")
    if name == "opd":
        kwargs.pop("old_logp")
        kwargs.pop("advantages")
    fn = LOSSES.get(name)
    clean = logp.clone().requires_grad_(True)
    loss_clean, _ = fn(logp=clean, **kwargs)
    loss_clean.backward()

    pad = ~mask.bool()
    noisy_kwargs = {
        k: (torch.where(pad, torch.full_like(v, 1e30), v) if v.dim() == 2 and k != "mask" else v)
        for k, v in kwargs.items()
    }
    noisy = torch.where(pad, torch.full_like(logp, -math.inf), logp).requires_grad_(True)
    loss_noisy, _ = fn(logp=noisy, **noisy_kwargs)
    loss_noisy.backward()
    assert torch.equal(loss_clean, loss_noisy)
    assert torch.equal(clean.grad, noisy.grad)
    assert torch.count_nonzero(noisy.grad[pad]) == 0


def test_alpha_out_of_range_is_rejected():
    logp, old_logp, teacher_logp, advantages, mask = _random_batch(0, torch.float32)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        trrd_loss(
            logp=logp,
            old_logp=old_logp,
            teacher_logp=teacher_logp,
            advantages=advantages,
            mask=mask,
            alpha=1.5,
        )


def test_per_sequence_alpha_tensor_matches_separate_calls():
    logp, old_logp, teacher_logp, advantages, mask = _random_batch(5, torch.float32, B=2)
    alpha = torch.tensor([[0.5], [1.0]])
    both, _ = trrd_loss(
        logp=logp, old_logp=old_logp, teacher_logp=teacher_logp, advantages=advantages, mask=mask, alpha=alpha
    )
    first, _ = trrd_loss(
        logp=logp[:1],
        old_logp=old_logp[:1],
        teacher_logp=teacher_logp[:1],
        advantages=advantages[:1],
        mask=mask[:1],
        alpha=0.5,
    )
    second, _ = grpo_loss(logp=logp[1:], old_logp=old_logp[1:], advantages=advantages[1:], mask=mask[1:])
    assert both.item() == pytest.approx((first.item() + second.item()) / 2, rel=1e-6)


def test_kdrl_adds_beta_times_k2_and_masks_correct_sequences():
    logp = _leaf([[-1.0], [-1.0]])
    teacher = torch.tensor([[-2.0], [-3.0]])
    zeros = torch.zeros(2)
    loss, m = kdrl_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=teacher,
        advantages=zeros,
        mask=torch.ones(2, 1),
        kd_beta=0.1,
    )
    # k2: 0.5 * 1 and 0.5 * 4; seq-mean: 0.1 * (0.5 + 2.0) / 2
    assert loss.item() == pytest.approx(0.125, rel=1e-6)
    loss_masked, m = kdrl_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=teacher,
        advantages=zeros,
        mask=torch.ones(2, 1),
        kd_beta=0.1,
        rewards=torch.tensor([1.0, 0.0]),
        kd_mask_above_reward=0.5,
    )
    assert loss_masked.item() == pytest.approx(0.1, rel=1e-6)
    assert m["kd/masked_seq_frac"].item() == 0.5


def test_kdrl_with_zero_beta_is_grpo():
    logp, old_logp, teacher_logp, advantages, mask = _random_batch(6, torch.float32)
    loss_k, _ = kdrl_loss(
        logp=logp, old_logp=old_logp, teacher_logp=teacher_logp, advantages=advantages, mask=mask, kd_beta=0.0
    )
    loss_g, _ = grpo_loss(logp=logp, old_logp=old_logp, advantages=advantages, mask=mask)
    assert torch.equal(loss_k, loss_g)


def test_opd_is_half_squared_log_ratio():
    logp = _leaf([[-1.0, -2.0]])
    loss, m = opd_loss(logp=logp, teacher_logp=torch.tensor([[-1.5, -1.0]]), mask=torch.ones(1, 2))
    assert loss.item() == pytest.approx((0.5 * 0.25 + 0.5 * 1.0) / 2)
    loss.backward()
    assert logp.grad[0].tolist() == pytest.approx([0.25, -0.5])


def test_token_weights_scale_the_policy_term_only():
    logp = _leaf([[-1.0, -1.0]])
    kwargs = {"old_logp": logp.detach(), "advantages": torch.tensor([1.0]), "mask": torch.ones(1, 2)}
    plain, _ = grpo_loss(logp=logp, **kwargs)
    weighted, _ = grpo_loss(logp=logp, token_weights=torch.tensor([[0.5, 0.0]]), **kwargs)
    assert plain.item() == -1.0
    assert weighted.item() == pytest.approx(-0.25)
    teacher = torch.tensor([[-2.0, -2.0]])
    kd_plain, _ = kdrl_loss(logp=logp, teacher_logp=teacher, kd_beta=0.1, **kwargs)
    kd_weighted, _ = kdrl_loss(
        logp=logp, teacher_logp=teacher, kd_beta=0.1, token_weights=torch.zeros(1, 2), **kwargs
    )
    assert kd_weighted.item() == pytest.approx(kd_plain.item() + 1.0)  # only the KD term (0.1 * 0.5) remains
