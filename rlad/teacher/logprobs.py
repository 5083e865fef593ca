"""Log-probabilities of the sampled completion tokens under a model, without full-vocabulary logits.

TRRD needs only log pi(y_t | x, y_<t) of the tokens the student sampled (spec section 1). The naive
way materialises logits of shape (B, L, V) and a float32 log-softmax of the same size: at L = 8192
and V = 151936 that is 5 GB per sequence. :func:`sampled_token_logprobs` instead runs the backbone
and projects only the completion positions through the LM head in tiles, via TRL's fused LM head
(``trl.trainer.utils.add_fused_lm_head``), which never holds more than one tile of logits.
:func:`naive_sampled_token_logprobs` is the reference it replaces, kept for tests and benchmarks.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel
from trl.trainer.utils import add_fused_lm_head

_PATCHED_TEMPERATURE = "_rlad_fused_head_temperature"


def ensure_fused_head(model: PreTrainedModel, temperature: float = 1.0) -> None:
    """Patch ``model`` once so ``model(..., labels=..., fused_lm_head=True)`` returns per-token log-probs.

    Generation is unaffected (the patched forward falls through when ``fused_lm_head`` is false).
    """
    patched = getattr(model, _PATCHED_TEMPERATURE, None)
    if patched is None:
        add_fused_lm_head(model, temperature=temperature)
        setattr(model, _PATCHED_TEMPERATURE, temperature)
    elif patched != temperature:
        raise ValueError(f"model was patched for temperature {patched}, asked for {temperature}")


def _completion_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor, num_completion: int) -> torch.Tensor:
    labels = input_ids.masked_fill(attention_mask == 0, -100)  # (B, L)
    labels[:, :-num_completion] = -100  # score only the completion positions
    return labels


@torch.no_grad()
def sampled_token_logprobs(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    num_completion: int,
    temperature: float = 1.0,
    batch_size: int | None = None,
) -> torch.Tensor:
    """log pi(token) for the last ``num_completion`` positions of ``input_ids`` (B, L): returns (B, T) float32.

    Positions where ``attention_mask`` is 0 get 0. Logits are divided by ``temperature`` first, as
    TRL does for the student, so the student / teacher ratio compares like with like.
    """
    ensure_fused_head(model, temperature)
    batch_size = batch_size or input_ids.shape[0]
    chunks = []
    for start in range(0, input_ids.shape[0], batch_size):
        ids = input_ids[start : start + batch_size]  # (b, L)
        mask = attention_mask[start : start + batch_size]  # (b, L)
        labels = _completion_labels(ids, mask, num_completion)
        out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
        chunks.append(out.log_probs[:, -num_completion:].float())  # (b, T)
    return torch.cat(chunks, dim=0)  # (B, T)


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
    logps = torch.log_softmax(logits, dim=-1)  # (B, T, V) float32: the tensor the fused head avoids
    tokens = input_ids[:, -num_completion:]  # (B, T)
    picked = logps.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return picked.masked_fill(attention_mask[:, -num_completion:] == 0, 0.0)
