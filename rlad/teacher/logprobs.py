"""Log-probabilities of the sampled completion tokens under a model, without full-vocabulary logits.

TRRD needs only log pi(y_t | x, y_<t) of the tokens the student sampled (spec section 1). The naive
way (:func:`naive_sampled_token_logprobs`, kept for tests and benchmarks) materialises logits of
shape (B, L, V) and a float32 log-softmax of the same size: at L = 8192 and V = 151936 that is 5 GB
per sequence. :func:`sampled_token_logprobs` runs the backbone once, keeps only the hidden states of
the completion positions, and projects them through the LM head ``chunk_tokens`` positions at a
time, so at most a (chunk_tokens, V) float32 block of logits exists at once.

(TRL's fused LM head does the same job on GPUs with Triton; on CPU its torch fallback allocates
4096 x 32768 float32 tiles, which measured larger than the naive path at vocabulary 50k here.)
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel


def _final_logits(model: PreTrainedModel, logits: torch.Tensor, temperature: float) -> torch.Tensor:
    cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    if cap:
        logits = cap * torch.tanh(logits / cap)  # Gemma-style soft capping, as the model's own forward does
    return logits / temperature


@torch.no_grad()
def sampled_token_logprobs(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    num_completion: int,
    temperature: float = 1.0,
    batch_size: int | None = None,
    chunk_tokens: int = 256,
) -> torch.Tensor:
    """log pi(token) for the last ``num_completion`` positions of ``input_ids`` (B, L): returns (B, T) float32.

    Positions where ``attention_mask`` is 0 get 0. Logits are divided by ``temperature`` first, as
    TRL does for the student, so the student / teacher ratio compares like with like.
    ``batch_size`` rows go through the backbone at once (None: all).
    """
    B, L = input_ids.shape
    T = num_completion
    batch_size = batch_size or B
    head = model.get_output_embeddings()
    out = torch.zeros(B, T, dtype=torch.float32, device=input_ids.device)  # (B, T)
    for start in range(0, B, batch_size):
        rows = slice(start, start + batch_size)
        hidden = model.base_model(
            input_ids=input_ids[rows], attention_mask=attention_mask[rows]
        ).last_hidden_state
        hidden = hidden[:, L - T - 1 : L - 1]  # (b, T, H): position t predicts token t + 1
        targets = input_ids[rows, L - T :]  # (b, T)
        flat_hidden = hidden.reshape(-1, hidden.shape[-1])  # (b * T, H)
        flat_targets = targets.reshape(-1)  # (b * T,)
        picked = torch.empty(flat_targets.shape[0], dtype=torch.float32, device=input_ids.device)
        for c in range(0, flat_targets.shape[0], chunk_tokens):
            logits = _final_logits(
                model, head(flat_hidden[c : c + chunk_tokens]).float(), temperature
            )  # (c, V)
            target_logit = logits.gather(-1, flat_targets[c : c + chunk_tokens, None]).squeeze(-1)  # (c,)
            picked[c : c + chunk_tokens] = target_logit - torch.logsumexp(logits, dim=-1)
        out[rows] = picked.view(targets.shape)
    return out.masked_fill(attention_mask[:, L - T :] == 0, 0.0)


@torch.no_grad()
def naive_sampled_token_logprobs(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    num_completion: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Reference implementation: full (B, L, V) logits, float32 log-softmax, gather. Memory-hungry."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits  # (B, L, V)
    logits = logits[:, -num_completion - 1 : -1].float() / temperature  # (B, T, V)
    logps = torch.log_softmax(logits, dim=-1)  # (B, T, V) float32: the tensor the chunked path avoids
    tokens = input_ids[:, -num_completion:]  # (B, T)
    picked = logps.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return picked.masked_fill(attention_mask[:, -num_completion:] == 0, 0.0)
