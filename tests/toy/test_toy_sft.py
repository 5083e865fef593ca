"""The toy supervised trainer: batch encoding, the completion-only loss, the schedule, training itself."""

import math

import pytest
import torch

from rlad.toy.models import build_tiny_llama
from rlad.toy.sft import IGNORE_INDEX, completion_nll, encode_pairs, lr_multiplier, train_on_pairs
from rlad.toy.tokenizer import build_char_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_char_tokenizer()


def _copy_digit(n, rng):
    """A trivially learnable task: ``7=`` -> ``77``."""
    digits = [str(rng.randint(0, 9)) for _ in range(n)]
    return [(f"{d}=", d + d) for d in digits]


def test_encode_pairs_masks_prompt_and_padding(tok):
    input_ids, labels = encode_pairs(tok, [("1+2=", "3"), ("5=", "5")])
    c = tok.convert_tokens_to_ids
    bos, eos, pad = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    assert input_ids.tolist() == [
        [bos, c("1"), c("+"), c("2"), c("="), c("3"), eos],
        [bos, c("5"), c("="), c("5"), eos, pad, pad],
    ]
    m = IGNORE_INDEX
    assert labels.tolist() == [[m, m, m, m, m, c("3"), eos], [m, m, m, c("5"), eos, m, m]]


def test_completion_nll_by_hand():
    labels = torch.tensor([[IGNORE_INDEX, 2, 1]])  # (1, 3): tokens 1 and 2 are labelled
    uniform = torch.zeros(1, 3, 4)  # (1, 3, V=4)
    loss, stats = completion_nll(uniform, labels)
    assert loss.item() == pytest.approx(math.log(4))
    assert stats["completion_tokens"] == 2
    # Position 0 predicts token 1 (label 2), position 1 predicts token 2 (label 1), position 2 nothing.
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 2] = 10.0
    logits[0, 1, 1] = math.log(3.0)  # p = 3 / (3 + 3) = 0.5
    loss, _ = completion_nll(logits, labels)
    expected = 0.5 * (-math.log(math.exp(10) / (math.exp(10) + 3)) + math.log(2))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_lr_multiplier_warmup_and_decay():
    assert lr_multiplier(0.025, 0.05, "cosine", 0.1) == pytest.approx(0.5)
    assert lr_multiplier(0.05, 0.05, "cosine", 0.1) == pytest.approx(1.0)
    assert lr_multiplier(1.0, 0.05, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_multiplier(0.525, 0.05, "cosine", 0.0) == pytest.approx(0.5)
    assert lr_multiplier(1.0, 0.05, "linear", 0.2) == pytest.approx(0.2)
    # warmup-stable-decay: constant until decay_start, then the decay over the rest
    assert lr_multiplier(0.74, 0.05, "cosine", 0.1, decay_start=0.75) == 1.0
    assert lr_multiplier(0.875, 0.05, "cosine", 0.1, decay_start=0.75) == pytest.approx(0.55)
    assert lr_multiplier(1.0, 0.05, "cosine", 0.1, decay_start=0.75) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_multiplier(0.5, 0.05, "step", 0.1)


def test_training_learns_a_trivial_task(tok):
    from rlad.eval import HFBackend

    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, seed=0)
    result = train_on_pairs(model, tok, _copy_digit, steps=80, batch_size=32, lr=1e-2, progress=False)
    assert result["steps"] == 80 and len(result["losses"]) == 80
    assert result["losses"][0] > 3.0  # about log(vocab) at initialisation
    assert result["final_loss"] < 0.1
    assert result["tokens"] == 80 * 32 * 6 and result["completion_tokens"] == 80 * 32 * 3
    assert not model.training
    prompts = [f"{d}=" for d in "0123456789"]
    greedy = HFBackend(model, tok, show_progress=False).generate(prompts, 1, 4, 0.0, 1.0, seed=0)
    assert greedy == [[d + d] for d in "0123456789"]


def test_a_callback_stops_training(tok):
    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2)
    seen = []
    result = train_on_pairs(
        model, tok, _copy_digit, steps=100, batch_size=8, progress=False,
        callback=lambda step: seen.append(step) or step >= 6, callback_every=3,
    )  # fmt: skip
    assert seen == [3, 6] and result["steps"] == 6 and result["anneal_start"] is None


def test_callback_can_start_a_final_anneal(tok):
    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2)
    result = train_on_pairs(
        model, tok, _copy_digit, steps=100, batch_size=8, lr=1e-3,
        warmup=0.0, decay_start=0.5, min_lr_ratio=0.1,
        progress=False, callback=lambda step: step >= 4, callback_every=2, anneal_steps=4,
    )  # fmt: skip
    assert result["anneal_start"] == 4 and result["steps"] == 8
    # Peak lr until the callback fires, then a cosine from the current lr down to min_lr_ratio * lr.
    expected = [1e-3] * 4 + [1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert result["lrs"] == pytest.approx(expected)


def test_length_buckets_give_the_same_update(tok):
    def mixed(n, rng):
        return [("1+2=", "3"), ("10+20+30=", "10+20=30,30+30=60"), ("7=", "77"), ("abc=", "cba")] * (n // 4)

    models = []
    for buckets in (1, 3):
        model = build_tiny_llama(tok, hidden_size=32, num_layers=2, num_heads=2, seed=0)
        result = train_on_pairs(
            model, tok, mixed, steps=4, batch_size=8, lr=1e-3, length_buckets=buckets, progress=False
        )
        models.append((model, result))
    (a, ra), (b, rb) = models
    assert ra["losses"] == pytest.approx(rb["losses"], rel=1e-5)
    # Adam divides by sqrt(v): float rounding in the summed gradient shows up at ~1e-6 after a few steps.
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(a.parameters(), b.parameters()))
    assert rb["tokens"] < ra["tokens"]  # less padding


def test_same_seed_same_model(tok):
    def run():
        model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, seed=3)
        train_on_pairs(model, tok, _copy_digit, steps=5, batch_size=8, seed=4, progress=False)
        return model

    a, b = run(), run()
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_encode_pairs_refuses_characters_the_tokenizer_does_not_know():
    tok = build_char_tokenizer(alphabet="AB:?=kn,")
    with pytest.raises(
        ValueError, match=r"characters '/' of 'A=k,B:k/n' are not in the tokenizer's vocabulary"
    ):
        encode_pairs(tok, [("A:B?", "A=k,B:k/n")])
    input_ids, _ = encode_pairs(tok, [("A:B?", "A=k,B=n")])  # known characters only: fine
    assert tok.unk_token_id not in input_ids.tolist()[0]


def test_the_default_alphabet_covers_every_compact_task():
    from rlad.tasks.kk import chain as kk_chain
    from rlad.tasks.kk import compact as kk_compact
    from rlad.toy.tokenizer import DEFAULT_ALPHABET

    assert set(kk_compact.ALPHABET) <= set(DEFAULT_ALPHABET)
    assert set(kk_chain.ALPHABET) <= set(DEFAULT_ALPHABET)
