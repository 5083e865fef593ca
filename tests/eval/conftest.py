"""Tiny local models for the evaluation tests: the toy character tokenizer and two random 2-layer Llamas."""

import pytest
import torch

from rlad.toy.models import build_tiny_llama


@pytest.fixture(scope="session")
def tokenizer(char_tokenizer):
    """The toy character tokenizer of ``tests/conftest.py`` (chat template = ``<bos>`` + contents)."""
    return char_tokenizer


@pytest.fixture(scope="session")
def teacher_model(tokenizer):
    # untied and of a padded vocabulary, like real teachers: the scorer must not assume either
    return build_tiny_llama(
        tokenizer,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        seed=1,
        tie_word_embeddings=False,
        vocab_size=len(tokenizer) + 6,
    )


@pytest.fixture(scope="session")
def peaky_student(tokenizer):
    """A student with large random weights: context-dependent, confident outputs that often stop at eos.

    The default initialisation (std 0.02) gives near-uniform logits, so greedy decoding repeats one
    character everywhere and tests could not tell prompts apart.
    """
    model = build_tiny_llama(tokenizer, hidden_size=32, num_layers=2, num_heads=4, seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return model
