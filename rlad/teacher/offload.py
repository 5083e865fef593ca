"""A teacher whose weights are kept off the training device (CPU RAM by default) between scoring calls.

Two ways to score, chosen by ``compute_device``:

* ``compute_device=None`` ("in place"): score where the weights live. The training device never
  holds the teacher, at the cost of CPU-speed forwards; fine for small teachers or short completions.
* ``compute_device="cuda:0"`` ("move in"): before each scoring call every parameter and buffer is
  copied to the compute device; afterwards the device copies are dropped and the host tensors put
  back. Weights are frozen, so nothing is copied back (the naive ``model.to(device)`` /
  ``model.to("cpu")`` round trip would copy every weight twice and reallocate host memory each time).
  Host tensors are pinned when the compute device is CUDA, so the copies can run asynchronously. The
  teacher occupies the training device only while it scores, once per generated batch; the freed
  blocks return to PyTorch's caching allocator, where the student's next activations reuse them.

Scoring itself is :func:`~rlad.teacher.logprobs.sampled_token_logprobs`, as for
:class:`~rlad.teacher.local.LocalTeacher`, so all three backends agree to float rounding.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlad.teacher.local import LocalTeacher
from rlad.teacher.logprobs import sampled_token_logprobs


class OffloadedTeacher(LocalTeacher):
    """A :class:`LocalTeacher` whose weights stay on ``offload_device``; see the module docstring.

    :attr:`device` (inherited) is where the weights are between calls, i.e. ``offload_device``;
    teacher rollouts (which generate with ``model``) therefore run there too.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        compute_device: torch.device | str | None = None,
        offload_device: torch.device | str = "cpu",
        temperature: float = 1.0,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(
            model, tokenizer, device=offload_device, temperature=temperature, batch_size=batch_size
        )
        self.compute_device = None if compute_device is None else torch.device(compute_device)
        # Parameters and buffers, each tensor once (a tied embedding is one Parameter).
        self._tensors = list({id(t): t for t in [*self.model.parameters(), *self.model.buffers()]}.values())
        if self.compute_device is not None and self.compute_device.type == "cuda":
            for t in self._tensors:
                t.data = t.data.pin_memory()

    def score(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        completion_ids: torch.Tensor,
        completion_mask: torch.Tensor,
    ) -> torch.Tensor:
        device = self.compute_device or self.device
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1).to(device)  # (B, P + T)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1).to(device)  # (B, P + T)
        host = [t.data for t in self._tensors]
        try:
            if self.compute_device is not None:
                for t, h in zip(self._tensors, host):
                    t.data = h.to(self.compute_device, non_blocking=True)
            logps = sampled_token_logprobs(
                self.model,
                input_ids,
                attention_mask,
                completion_ids.shape[1],
                self.temperature,
                self.batch_size,
            )  # (B, T)
        finally:
            for t, h in zip(self._tensors, host):
                t.data = h  # drop the device copies; the host weights were never modified
        return logps.to(completion_ids.device)
