"""Chunked teacher scoring: same numbers as the naive full-logits path, several times less memory."""

import subprocess
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlad.teacher import naive_sampled_token_logprobs, sampled_token_logprobs

REPO = Path(__file__).resolve().parents[2]


def _model(vocab=97, seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config).eval()


def test_chunked_equals_naive_with_padding_and_temperature():
    model = _model()
    ids = torch.randint(0, 97, (5, 20))
    mask = torch.ones_like(ids)
    mask[0, :6] = 0  # left-padded prompt
    mask[1, -4:] = 0  # completion ended early
    for temperature in (1.0, 0.6):
        fast = sampled_token_logprobs(model, ids, mask, 9, temperature, batch_size=2, chunk_tokens=7)
        slow = naive_sampled_token_logprobs(model, ids, mask, 9, temperature)
        torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
        assert fast.shape == (5, 9)
        assert torch.all(fast[1, -4:] == 0)
        assert torch.all(fast[mask[:, -9:].bool()] < 0)


def test_logprobs_match_a_direct_forward():
    model = _model()
    ids = torch.randint(0, 97, (1, 12))
    fast = sampled_token_logprobs(model, ids, torch.ones_like(ids), 4)
    logits = model(input_ids=ids).logits[0]  # (12, V)
    expected = torch.stack([torch.log_softmax(logits[t - 1], -1)[ids[0, t]] for t in range(8, 12)])
    torch.testing.assert_close(fast[0], expected, rtol=1e-5, atol=1e-5)


def _probe(method: str) -> tuple[float, float]:
    argv = [sys.executable, "-m", "benchmarks.memory_probe", method, "50000", "8", "512"]
    out = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True)
    peak, checksum = out.stdout.split()
    return float(peak), float(checksum)


def test_peak_memory_is_several_times_smaller_than_naive_at_vocab_50k():
    chunked_mib, chunked_sum = _probe("chunked")
    naive_mib, naive_sum = _probe("naive")
    assert abs(chunked_sum - naive_sum) < 1e-2 * abs(naive_sum) / 1000
    # Naive holds (8 x 256 x 50000) float32 logits and log-softmax (~800 MiB); chunked ~150 MiB measured.
    assert naive_mib > 600
    assert naive_mib / max(chunked_mib, 1.0) > 4, (chunked_mib, naive_mib)
