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


def _scaled_models():
    """Tiny models whose forward transforms the LM head's output: Granite divides by ``logits_scaling``,
    Cohere multiplies by ``logit_scale``, Gemma 2 soft-caps. Scores that ignore these are off by 0.1-0.3 nats."""
    from transformers import (
        CohereConfig,
        CohereForCausalLM,
        Gemma2Config,
        Gemma2ForCausalLM,
        GraniteConfig,
        GraniteForCausalLM,
    )

    small = {
        "vocab_size": 97,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "pad_token_id": 2,
    }
    torch.manual_seed(0)
    yield "granite", GraniteForCausalLM(GraniteConfig(**small, logits_scaling=4.0)).eval()
    yield "cohere", CohereForCausalLM(CohereConfig(**small, logit_scale=0.3)).eval()
    gemma = Gemma2Config(**small, head_dim=16, final_logit_softcapping=2.0, attn_logit_softcapping=None)
    yield "gemma2", Gemma2ForCausalLM(gemma).eval()


def test_scaled_and_capped_logits_score_like_a_direct_forward():
    ids = torch.randint(0, 97, (3, 14), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[2, -3:] = 0
    for name, model in _scaled_models():
        with torch.no_grad():  # random heads give near-uniform logits; make them large enough to tell apart
            model.get_output_embeddings().weight.mul_(40.0)
        for temperature in (1.0, 0.7):
            fast = sampled_token_logprobs(model, ids, mask, 6, temperature, batch_size=2, chunk_tokens=5)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, -7:-1].float() / temperature
            direct = torch.log_softmax(logits, -1).gather(-1, ids[:, -6:, None]).squeeze(-1)  # (3, 6)
            direct = direct.masked_fill(mask[:, -6:] == 0, 0.0)
            torch.testing.assert_close(fast, direct, rtol=1e-5, atol=1e-5, msg=name)
            # The transform matters: the raw LM head output would give other numbers.
            hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state[:, -7:-1]
            raw = torch.log_softmax(model.get_output_embeddings()(hidden).float() / temperature, -1)
            raw = raw.gather(-1, ids[:, -6:, None]).squeeze(-1)
            assert (raw[:2] - fast[:2]).abs().max() > 1e-2, name
