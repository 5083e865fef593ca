"""What the trainer needs from a teacher: the log-prob of each given completion token.

Any object with this ``score`` method can guide training: a model on the training device
(:class:`~rlad.teacher.local.LocalTeacher`), one kept in CPU memory between calls
(:class:`~rlad.teacher.offload.OffloadedTeacher`) or one served over HTTP
(:class:`~rlad.teacher.serving.client.RemoteTeacher`); :func:`~rlad.teacher.factory.build_teacher` builds them
by name. Only the sampled tokens' log-probs are needed, never full-vocabulary logits, which is what
makes a remote teacher possible.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from transformers import PreTrainedTokenizerBase


@runtime_checkable
class TeacherScorer(Protocol):
    tokenizer: PreTrainedTokenizerBase

    def score(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        completion_ids: torch.Tensor,
        completion_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Teacher log-probs (B, T) float32 of ``completion_ids`` (B, T) given left-padded ``prompt_ids`` (B, P).

        Positions where ``completion_mask`` is 0 are 0.
        """
        ...
