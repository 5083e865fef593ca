"""Tiny Llama models: special ids, padded vocabularies, determinism, save/load, generation."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from rlad.toy.models import build_tiny_llama, count_parameters, save_model, with_vocab_size


@pytest.fixture(scope="module")
def tok():
    from rlad.toy.tokenizer import build_char_tokenizer

    return build_char_tokenizer()


def test_special_ids_in_config_and_generation_config(tok):
    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2)
    for cfg in (model.config, model.generation_config):
        assert (cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id) == (0, 1, 2)
    assert isinstance(model, LlamaForCausalLM) and model.config.model_type == "llama"
    assert not model.training


def test_padded_vocab_sets_logit_width(tok):
    model = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, vocab_size=len(tok) + 45)
    logits = model(input_ids=tok(["12+3="], return_tensors="pt")["input_ids"]).logits  # (1, 6, V)
    assert logits.shape == (1, 6, len(tok) + 45)
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied
    with pytest.raises(ValueError, match="smaller than the tokenizer"):
        build_tiny_llama(tok, vocab_size=len(tok) - 1)


def test_untied_embeddings_count_twice(tok):
    tied = build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, vocab_size=128)
    untied = build_tiny_llama(
        tok, hidden_size=32, num_layers=1, num_heads=2, vocab_size=128, tie_word_embeddings=False
    )
    assert count_parameters(untied) - count_parameters(tied) == 128 * 32


def test_large_vocab_for_memory_tests(tok):
    model = build_tiny_llama(tok, hidden_size=16, num_layers=1, num_heads=2, vocab_size=50_000)
    assert model.get_input_embeddings().weight.shape == (50_000, 16)
    assert count_parameters(model) < 1_000_000  # the embedding dominates, tied once


def test_seeded_initialisation_is_deterministic_and_leaves_global_rng(tok):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_tiny_llama(tok, hidden_size=32, num_layers=2, num_heads=2, seed=5)
    assert torch.equal(torch.rand(3), expected)
    b = build_tiny_llama(tok, hidden_size=32, num_layers=2, num_heads=2, seed=5)
    c = build_tiny_llama(tok, hidden_size=32, num_layers=2, num_heads=2, seed=6)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.model.layers[0].mlp.up_proj.weight, c.model.layers[0].mlp.up_proj.weight)


def test_save_load_generate_offline(tok, tmp_path):
    model = build_tiny_llama(tok, hidden_size=32, num_layers=2, num_heads=2, vocab_size=len(tok) + 13, seed=1)
    save_model(model, tok, tmp_path / "m")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    loaded_tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    assert loaded.config.vocab_size == len(tok) + 13
    assert loaded.generation_config.pad_token_id == tok.pad_token_id
    ids = loaded_tok(["12+3=", "7-9="], padding=True, return_tensors="pt")  # (2, 6), left padded
    with torch.no_grad():
        assert torch.allclose(model(**ids).logits, loaded(**ids).logits, atol=1e-6)
        out = loaded.generate(**ids, max_new_tokens=5, do_sample=False)  # (2, 11)
    assert out.shape == (2, 11)
    assert torch.equal(out[:, :6], ids["input_ids"])


def test_with_vocab_size_cuts_only_padded_rows(tok):
    model = build_tiny_llama(tok, hidden_size=32, num_layers=2, num_heads=2, vocab_size=128, seed=2)
    small = with_vocab_size(model, 96)
    ids = tok(["90-78-10="], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        full, cut = model(input_ids=ids).logits, small(input_ids=ids).logits  # (1, T, 128), (1, T, 96)
    assert cut.shape[-1] == 96
    assert torch.allclose(full[..., :96], cut, atol=1e-6)
    grown = with_vocab_size(model, 160)
    assert torch.equal(grown.get_input_embeddings().weight[128:], torch.zeros(32, 32))
    assert grown.generation_config.eos_token_id == tok.eos_token_id
