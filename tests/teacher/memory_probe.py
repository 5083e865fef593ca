"""Run one teacher-scoring method in a fresh process and print its peak memory (MiB) above the baseline.

Used by test_logprobs.py: ``python memory_probe.py {chunked,naive} VOCAB BATCH LENGTH``.
"""

import resource
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlad.teacher import naive_sampled_token_logprobs, sampled_token_logprobs


def main() -> None:
    method, vocab, batch, length = sys.argv[1], *map(int, sys.argv[2:5])
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=length,
    )
    model = LlamaForCausalLM(config).eval()
    ids = torch.randint(0, vocab, (batch, length))
    mask = torch.ones_like(ids)
    completion = length // 2
    # Warm up on a tiny input so one-off allocations do not count as the method's peak.
    (sampled_token_logprobs if method == "chunked" else naive_sampled_token_logprobs)(
        model, ids[:1, :8], mask[:1, :8], 4
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if method == "chunked":
        out = sampled_token_logprobs(model, ids, mask, completion)
    else:
        out = naive_sampled_token_logprobs(model, ids, mask, completion)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{(after - before) / 1024:.1f} {out.float().sum().item():.6f}")


if __name__ == "__main__":
    main()
