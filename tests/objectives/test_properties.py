"""Property tests over random shapes, masks and dtypes."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlad.objectives import LOSSES, aggregate

DTYPES = st.sampled_from([torch.float32, torch.bfloat16, torch.float64])


@st.composite
def batches(draw, equal_lengths=False):
    B = draw(st.integers(1, 6))
    T = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**16))
    dtype = draw(DTYPES)
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(B, T, generator=g, dtype=torch.float64) * 8
    old = logp + 0.5 * torch.randn(B, T, generator=g, dtype=torch.float64)
    teacher = logp + 3.0 * torch.randn(B, T, generator=g, dtype=torch.float64)
    adv = torch.randn(B, generator=g, dtype=torch.float64) * 2
    if equal_lengths:
        mask = torch.ones(B, T, dtype=torch.int64)
    else:
        mask = (torch.rand(B, T, generator=g) < 0.7).long()
    return {
        k: v.to(dtype)
        for k, v in {"logp": logp, "old_logp": old, "teacher_logp": teacher, "advantages": adv}.items()
    } | {"mask": mask}


def _call(name, batch, **extra):
    b = dict(batch)
    if name == "grpo":
        b.pop("teacher_logp")
    if name == "opd":
        b.pop("old_logp")
        b.pop("advantages")
    return LOSSES.get(name)(**b, **extra)


@settings(max_examples=60, deadline=None)
@given(batches(), st.sampled_from(["grpo", "trrd", "kdrl", "opd"]))
def test_losses_and_gradients_are_finite(batch, name):
    batch["logp"] = batch["logp"].clone().requires_grad_(True)
    loss, metrics = _call(name, batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(batch["logp"].grad).all()
    assert all(torch.isfinite(v) for v in metrics.values())
    assert all(not v.requires_grad for v in metrics.values())


@settings(max_examples=60, deadline=None)
@given(batches(equal_lengths=True))
def test_aggregation_modes_agree_on_equal_lengths(batch):
    values = batch["teacher_logp"].double()
    mask = batch["mask"]
    a = aggregate(values, mask, "seq_mean_token_mean")
    b = aggregate(values, mask, "token_mean")
    c = aggregate(values, mask, "seq_mean_token_sum_norm")
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


@settings(max_examples=60, deadline=None)
@given(batches(), st.sampled_from(["grpo", "trrd", "kdrl", "opd"]), st.integers(0, 1000))
def test_loss_is_invariant_to_batch_order(batch, name, seed):
    batch = {k: v.double() if v.is_floating_point() else v for k, v in batch.items()}
    perm = torch.randperm(batch["mask"].shape[0], generator=torch.Generator().manual_seed(seed))
    loss, _ = _call(name, batch)
    shuffled, _ = _call(name, {k: v[perm] for k, v in batch.items()})
    torch.testing.assert_close(loss, shuffled)
