"""Peak host memory of teacher scoring, chunked vs naive, in a fresh process.

    python -m benchmarks.memory_probe {chunked,naive} VOCAB BATCH LENGTH    # prints: peak_MiB checksum

Also used by ``tests/teacher/test_logprobs.py``. A one-layer Llama with the given vocabulary,
random token ids, scoring of the second half of each sequence (the "completion"), and the growth of the
process's peak resident set size (VmHWM, which unlike ``ru_maxrss`` is not inherited across exec from
the parent, e.g. pytest) during that one call (a warm-up call on a tiny input runs first, so
one-off allocations are not counted). The naive method materialises the float32 log-softmax over the
whole (batch, length, vocab) logits; ``rlad.teacher.sampled_token_logprobs`` gathers the sampled token
chunk by chunk and never holds that tensor. Both must return the same log-probs (the checksum).
"""

from __future__ import annotations

import subprocess
import sys

from rlad.compare.pool import REPO, single_thread_env


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (VmHWM), in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(method: str, vocab: int, batch: int, length: int) -> tuple[float, float]:
    """(peak MiB above the baseline, checksum of the returned log-probs), in this process."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from rlad.teacher import naive_sampled_token_logprobs, sampled_token_logprobs

    score = sampled_token_logprobs if method == "chunked" else naive_sampled_token_logprobs
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
    ids = torch.randint(0, vocab, (batch, length))  # (B, T)
    mask = torch.ones_like(ids)  # (B, T)
    score(model, ids[:1, :8], mask[:1, :8], 4)  # warm-up
    before = peak_rss_mib()
    out = score(model, ids, mask, length // 2)  # (B, T/2)
    return peak_rss_mib() - before, out.float().sum().item()


def probe(method: str, vocab: int, batch: int, length: int) -> dict[str, float | int | str]:
    """Run :func:`measure` in a fresh process (peak RSS is per process) and parse its line."""
    argv = [sys.executable, "-m", "benchmarks.memory_probe", method, str(vocab), str(batch), str(length)]
    out = subprocess.run(argv, cwd=REPO, env=single_thread_env(), capture_output=True, text=True, check=True)
    peak, checksum = out.stdout.split()[-2:]
    naive_mib = batch * length * vocab * 4 / 2**20  # one float32 (B, T, V) tensor
    return {
        "method": method,
        "vocab": vocab,
        "batch": batch,
        "length": length,
        "peak_mib": float(peak),
        "checksum": float(checksum),
        "one_fp32_logits_tensor_mib": round(naive_mib, 1),
    }


def main() -> None:
    method, vocab, batch, length = sys.argv[1], *map(int, sys.argv[2:5])
    peak, checksum = measure(method, vocab, batch, length)
    print(f"{peak:.1f} {checksum:.6f}")


if __name__ == "__main__":
    main()
