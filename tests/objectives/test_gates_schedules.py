"""Explicit imitation gates and coefficient schedules."""

import pytest
import torch

from rlad.objectives import coefficient_at, gated_alpha, imitation_gates, trrd_loss

OLD = torch.tensor([[-1.0, -1.0], [-1.0, -1.0], [-1.0, -1.0]])
TEACHER = torch.tensor([[-1.2, -1.4], [-4.0, -6.0], [-1.0, -1.0]])  # mean gaps 0.3, 4.0, 0.0
MASK = torch.ones(3, 2)
ADV = torch.tensor([1.0, -0.2, 0.5])


def test_gates_open_by_default():
    is_open, m = imitation_gates(old_logp=OLD, teacher_logp=TEACHER, mask=MASK, advantages=ADV)
    assert is_open.tolist() == [True, True, True]
    assert m["gate/open_frac"].item() == 1.0


def test_alignment_gate_closes_far_sequences():
    is_open, m = imitation_gates(old_logp=OLD, teacher_logp=TEACHER, mask=MASK, advantages=ADV, align_tau=1.0)
    assert is_open.tolist() == [True, False, True]
    assert m["gate/align_closed"].item() == 1


def test_alignment_gate_ignores_padding():
    mask = torch.tensor([[1, 0], [1, 1], [1, 1]])  # seq 0 gap becomes 0.2
    is_open, _ = imitation_gates(
        old_logp=OLD, teacher_logp=TEACHER, mask=mask, advantages=ADV, align_tau=0.25
    )
    assert is_open.tolist() == [True, False, True]


def test_advantage_gate_absolute_and_positive_only():
    is_open, _ = imitation_gates(old_logp=OLD, teacher_logp=TEACHER, mask=MASK, advantages=ADV, adv_tau=0.4)
    assert is_open.tolist() == [True, False, True]
    is_open, m = imitation_gates(
        old_logp=OLD,
        teacher_logp=TEACHER,
        mask=MASK,
        advantages=torch.tensor([1.0, -1.0, 0.5]),
        adv_tau=0.4,
        adv_positive_only=True,
    )
    assert is_open.tolist() == [True, False, True]
    assert m["gate/adv_closed"].item() == 1


def test_exploration_gate_uses_group_success():
    is_open, m = imitation_gates(
        old_logp=OLD,
        teacher_logp=TEACHER,
        mask=MASK,
        advantages=ADV,
        group_success=torch.tensor([0.25, 0.9, 0.5]),
        explore_rate=0.75,
    )
    assert is_open.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="group_success"):
        imitation_gates(old_logp=OLD, teacher_logp=TEACHER, mask=MASK, advantages=ADV, explore_rate=0.75)


def test_closed_gate_falls_back_to_grpo_anchor():
    alpha = gated_alpha(0.5, torch.tensor([True, False]))
    assert alpha.tolist() == [[0.5], [1.0]]
    logp = torch.tensor([[-1.0], [-1.0]], requires_grad=True)
    loss, _ = trrd_loss(
        logp=logp,
        old_logp=logp.detach(),
        teacher_logp=torch.tensor([[-3.0], [-3.0]]),
        advantages=torch.tensor([1.0, 1.0]),
        mask=torch.ones(2, 1),
        alpha=alpha,
    )
    loss.backward()
    # seq 0: log rho = 0.5 (teacher likes it less) > log 1.28, clipped; seq 1: plain GRPO, rho = 1, gradient -1/2
    assert logp.grad.tolist() == [[0.0], [-0.5]]


def test_linear_schedule():
    assert coefficient_at(5, 11, 5e-3, 1e-3, "linear") == pytest.approx(3e-3)
    assert coefficient_at(50, 11, 5e-3, 1e-3, "linear") == pytest.approx(1e-3)
    assert coefficient_at(3, 11, 5e-3, kind="constant") == 5e-3
    with pytest.raises(ValueError, match="valid: constant, linear"):
        coefficient_at(0, 10, 1.0, kind="cosine")
