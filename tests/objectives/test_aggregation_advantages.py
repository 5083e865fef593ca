"""Aggregation modes and group advantages against hand-computed values."""

import math

import pytest
import torch

from rlad.objectives import aggregate, group_advantages, masked_mean

VALUES = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]])


def test_seq_mean_token_mean_by_hand():
    # seq 0: (1 + 2) / 2 = 1.5; seq 1: 15 / 3 = 5; mean = 3.25
    assert aggregate(VALUES, MASK, "seq_mean_token_mean").item() == 3.25


def test_token_mean_by_hand():
    assert aggregate(VALUES, MASK, "token_mean").item() == pytest.approx(18 / 5)


def test_seq_mean_token_sum_norm_by_hand():
    assert aggregate(VALUES, MASK, "seq_mean_token_sum_norm").item() == pytest.approx(18 / (2 * 3))
    assert aggregate(VALUES, MASK, "seq_mean_token_sum_norm", norm_constant=9).item() == pytest.approx(1.0)


def test_empty_sequence_counts_as_zero_not_nan():
    mask = torch.tensor([[0, 0, 0], [1, 1, 1]])
    assert aggregate(VALUES, mask, "seq_mean_token_mean").item() == 2.5
    assert masked_mean(VALUES, torch.zeros_like(mask)).item() == 0.0


def test_unknown_mode_lists_valid_ones():
    with pytest.raises(ValueError, match="token_mean"):
        aggregate(VALUES, MASK, "sum")


def test_inf_in_padding_does_not_leak():
    values = VALUES.clone()
    values[0, 2] = math.inf
    assert aggregate(values, MASK, "token_mean").item() == pytest.approx(18 / 5)


def test_group_advantages_population_std_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0]])  # mean 0.5, population std 0.5
    adv = group_advantages(rewards, eps=0.0)
    assert adv.tolist() == [[1.0, -1.0, -1.0, 1.0]]


def test_group_advantages_sample_std_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0]])  # sample std sqrt(1/3)
    adv = group_advantages(rewards, std="sample", eps=0.0)
    assert adv[0, 0].item() == pytest.approx(0.5 / math.sqrt(1 / 3))


def test_constant_groups_and_singletons_give_zero_not_nan():
    assert group_advantages(torch.tensor([[3.0, 3.0, 3.0]]), eps=0.0).tolist() == [[0.0, 0.0, 0.0]]
    assert group_advantages(torch.tensor([[3.0], [1.0]])).tolist() == [[0.0], [0.0]]
    assert group_advantages(torch.tensor([[3.0], [1.0]]), std="sample").tolist() == [[0.0], [0.0]]


def test_no_std_scaling_only_centres():
    adv = group_advantages(torch.tensor([[0.0, 4.0], [2.0, 2.0]]), scale="none")
    assert adv.tolist() == [[-2.0, 2.0], [0.0, 0.0]]


def test_batch_scaling_uses_one_std():
    rewards = torch.tensor([[0.0, 2.0], [0.0, 2.0]])  # batch population std 1
    adv = group_advantages(rewards, scale="batch", eps=0.0)
    assert adv.tolist() == [[-1.0, 1.0], [-1.0, 1.0]]


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="rewards must be"):
        group_advantages(torch.zeros(4))
    with pytest.raises(ValueError, match="unknown scale 'grp'"):
        group_advantages(torch.zeros(1, 4), scale="grp")
