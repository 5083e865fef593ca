"""Log-probabilities of the sampled completion tokens under a model, without full-vocabulary logits.

TRRD needs only log pi(y_t | x, y_<t) of the tokens the student sampled (docs/method.md section 1). The naive
way (:func:`naive_sampled_token_logprobs`, kept for tests and benchmarks) materialises logits of
shape (B, L, V) and a float32 log-softmax of the same size: at L = 8192 and V = 151936 that is 5 GB
per sequence. :func:`sampled_token_logprobs` runs the backbone once, keeps only the hidden states of
the completion positions, and projects them through the LM head ``chunk_tokens`` positions at a
time.

One definition of "the model's log-probs" for teacher and student: the student's come from TRL's
fused LM head (``trl.trainer.utils.add_fused_lm_head``), which knows how each architecture turns
hidden states into logits (Gemma's soft capping, Granite's ``logits_scaling``, Cohere's
``logit_scale``, ...) and divides by the temperature. The teacher's go through the very same head:
:class:`_HiddenStates` hands TRL a "backbone" whose output is the chunk of hidden states we already
computed, so TRL's code projects, scales, caps and normalises them, and no rule is copied here.
(Calling the patched model directly would score every prompt position too, in 4096 x 32768 tiles
on CPU: more memory than the naive path at vocabulary 50k.)
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel
from trl.trainer.utils import add_fused_lm_head


class _HiddenStates(torch.nn.Module):
    """A stand-in causal LM for TRL's fused head: its backbone returns given hidden states."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.config = model.config
        self._head = model.get_output_embeddings()
        self._hidden: torch.Tensor | None = None

    def forward(self, *args, **kwargs):  # replaced by add_fused_lm_head; never called unpatched
        raise NotImplementedError

    def get_output_embeddings(self) -> torch.nn.Module:
        return self._head

    def _backbone(self, *args, **kwargs):
        return type("BackboneOutput", (), {"last_hidden_state": self._hidden})()

    # TRL reads the backbone as ``base_model`` (or ``model`` for vision-language models before transformers 5).
    base_model = property(lambda self: self._backbone)
    model = property(lambda self: self._backbone)

    def score(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log pi(targets[i]) from the hidden state that predicts it: hidden (N, H), targets (N,) -> (N,)."""
        # TRL shifts by one (position t predicts label t + 1): append a dummy position, prepend an ignored label.
        self._hidden = torch.cat([hidden, hidden.new_zeros(1, hidden.shape[-1])]).unsqueeze(
            0
        )  # (1, N + 1, H)
        labels = torch.cat([targets.new_full((1,), -100), targets]).unsqueeze(0)  # (1, N + 1)
        try:
            return self.forward(labels=labels, fused_lm_head=True).log_probs[0].float()  # (N,)
        finally:
            self._hidden = None


def fused_head(model: PreTrainedModel, temperature: float) -> _HiddenStates:
    """TRL's fused LM head over ``model``'s output layer, fed with hidden states by :meth:`_HiddenStates.score`."""
    head = _HiddenStates(model)
    add_fused_lm_head(head, temperature=temperature, outputs=("log_probs",))
    return head


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
    head = fused_head(model, temperature)
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
            chunk = slice(c, c + chunk_tokens)
            picked[chunk] = head.score(flat_hidden[chunk], flat_targets[chunk])  # (c,)
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
