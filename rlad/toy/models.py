"""Tiny Llama-architecture causal LMs for CPU tests, demos and benchmarks.

Why Llama: it is the plainest decoder in transformers (RMSNorm, RoPE, SwiGLU, no biases), works with
every TRL trainer, and its saved directory loads a custom tokenizer unchanged (a ``qwen2`` config makes
transformers 5 rebuild the tokenizer as byte-level BPE and drop spaces).

Embeddings are tied by default (``lm_head.weight is embed_tokens.weight``): the toy models have few
parameters and learn faster without a second ``V x H`` matrix, a model padded to a 50k vocabulary costs
half the memory, and small real students (Qwen2.5-0.5B/1.5B) tie theirs too. Pass
``tie_word_embeddings=False`` for the untied layout of larger teachers.

``vocab_size`` may exceed ``len(tokenizer)``: real checkpoints pad their embedding matrices
(Qwen2.5 students 151936 rows, teachers 152064), so a student and a teacher can share a tokenizer but
emit logits of different widths. The padded rows are never inputs; as outputs they start near the other
logits, so an untrained padded model often samples ids the tokenizer cannot decode, and supervised
training quickly pushes them down.
"""

from __future__ import annotations

import os

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase


def build_tiny_llama(
    tokenizer: PreTrainedTokenizerBase,
    *,
    hidden_size: int = 128,
    num_layers: int = 3,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 256,
    vocab_size: int | None = None,
    tie_word_embeddings: bool = True,
    seed: int = 0,
) -> LlamaForCausalLM:
    """A randomly initialised Llama whose special-token ids match ``tokenizer``.

    ``intermediate_size`` defaults to ``4 * hidden_size``; ``vocab_size`` defaults to ``len(tokenizer)``
    and may be larger (padded rows). Initialisation is deterministic in ``seed`` and leaves the global
    torch RNG untouched. The model is returned in eval mode, in float32.
    """
    n_tokens = len(tokenizer)
    vocab_size = n_tokens if vocab_size is None else vocab_size
    if vocab_size < n_tokens:
        raise ValueError(f"vocab_size={vocab_size} is smaller than the tokenizer ({n_tokens} tokens)")
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size={hidden_size} is not divisible by num_heads={num_heads}")
    num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
    if num_heads % num_kv_heads:
        raise ValueError(f"num_heads={num_heads} is not divisible by num_kv_heads={num_kv_heads}")
    special = {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    missing = [name for name, value in special.items() if value is None]
    if missing:
        raise ValueError(f"tokenizer has no {', '.join(missing)}")

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=4 * hidden_size if intermediate_size is None else intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=hidden_size // num_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie_word_embeddings,
        **special,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(**special)
    return model.eval()


def with_vocab_size(model: LlamaForCausalLM, vocab_size: int) -> LlamaForCausalLM:
    """A copy of ``model`` whose embedding (and untied ``lm_head``) has ``vocab_size`` rows.

    Rows ``0 .. min(old, new) - 1`` are copied; when growing, the new rows are zero (logit 0 for those
    ids). Cutting only padded rows (ids the tokenizer never produces) leaves every distribution over
    real tokens unchanged up to the tiny mass the padded ids had.
    """
    config = model.config.to_dict()
    config["vocab_size"] = vocab_size
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten; keep the global RNG as it was
        new = LlamaForCausalLM(LlamaConfig.from_dict(config)).to(model.dtype)
    new.generation_config = GenerationConfig.from_dict(model.generation_config.to_dict())
    state = model.state_dict()
    with torch.no_grad():
        for name, target in new.state_dict().items():
            source = state[name]
            if source.shape == target.shape:
                target.copy_(source)
            else:  # (V_old, H) -> (V_new, H): embed_tokens.weight, or lm_head.weight when untied
                rows = min(source.shape[0], vocab_size)
                target.zero_()
                target[:rows] = source[:rows]
    return new.eval()


def count_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (a tied embedding counts once)."""
    return sum(p.numel() for p in model.parameters())


def save_model(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerBase, path: str | os.PathLike) -> None:
    """Save model, generation config and tokenizer so that ``AutoModelForCausalLM.from_pretrained(path)``
    and ``AutoTokenizer.from_pretrained(path)`` load them offline."""
    os.makedirs(path, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
