"""Generation and accuracy helpers: order, padding invariance, reproducibility, statistics."""

import pytest
import torch

from rlad.toy.evaluate import accuracy, correctness, generate_completions, group_stats
from rlad.toy.models import build_tiny_llama
from rlad.toy.sft import train_on_pairs
from rlad.toy.tokenizer import build_char_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_char_tokenizer()


@pytest.fixture(scope="module")
def echo_model(tok):
    """Learns ``ab=`` -> ``ab`` (two letters): a deterministic completion to check decoding against."""

    def sample(n, rng):
        words = ["".join(rng.choice("abcxyz") for _ in range(2)) for _ in range(n)]
        return [(f"{w}=", w) for w in words]

    model = build_tiny_llama(tok, hidden_size=48, num_layers=2, num_heads=2, vocab_size=len(tok) + 20, seed=0)
    train_on_pairs(model, tok, sample, steps=120, batch_size=32, lr=1e-2, progress=False)
    return model


def test_greedy_completions_strip_prompt_and_special_tokens(tok, echo_model):
    prompts = ["ab=", "xc=", "zy="]
    assert generate_completions(echo_model, tok, prompts, max_new_tokens=6) == ["ab", "xc", "zy"]


def test_left_padding_does_not_change_greedy_output(tok):
    model = build_tiny_llama(tok, hidden_size=32, num_layers=2, num_heads=2, seed=4)  # random: long outputs
    prompts = ["1=", "12+34-56=", "7-8="]
    batched = generate_completions(model, tok, prompts, max_new_tokens=8, batch_size=3)
    one_by_one = [generate_completions(model, tok, [p], max_new_tokens=8)[0] for p in prompts]
    assert batched == one_by_one


def test_samples_are_prompt_major_and_reproducible(tok, echo_model):
    prompts = ["ab=", "yz="]
    kwargs = {"max_new_tokens": 5, "temperature": 1.0, "num_samples": 3, "seed": 7}
    torch.manual_seed(0)
    expected_global = torch.rand(2)
    torch.manual_seed(0)
    first = generate_completions(echo_model, tok, prompts, **kwargs)
    assert torch.equal(torch.rand(2), expected_global)  # the global RNG is untouched
    assert first == generate_completions(echo_model, tok, prompts, **kwargs)
    assert len(first) == 6
    assert first[:3].count("ab") >= 2 and first[3:].count("yz") >= 2  # samples of prompt p at p*G..p*G+G-1


def test_correctness_matrix_and_accuracy(tok, echo_model):
    examples = [("ab=", "ab"), {"prompt": "cx="}, "yy="]
    check = lambda completion, prompt: completion == prompt[:-1]  # noqa: E731
    correct = correctness(echo_model, tok, examples, check, num_samples=2, max_new_tokens=5)
    assert correct.shape == (3, 2) and correct.all()
    wrong = lambda completion, prompt: completion == "nope"  # noqa: E731
    assert accuracy(echo_model, tok, examples, wrong, max_new_tokens=5) == 0.0


def test_group_stats_by_hand():
    correct = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)  # (P=3, G=4)
    stats = group_stats(correct)
    assert stats["mean_at_g"] == pytest.approx(0.5)
    assert stats["pass_at_g"] == pytest.approx(2 / 3)
    assert stats["mixed_fraction"] == pytest.approx(1 / 3)
