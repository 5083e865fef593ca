"""A teacher model held in this process, on the training device (the default backend)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from rlad.teacher.logprobs import sampled_token_logprobs

DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class TeacherLoadError(ValueError):
    """The teacher model or tokenizer could not be loaded; the message says from where."""


def load_teacher_model(name_or_path: str, dtype: str = "auto") -> PreTrainedModel:
    """Load a causal LM by hub name or local path, frozen, in eval mode."""
    if dtype not in DTYPES:
        raise TeacherLoadError(f"unknown teacher_dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    name_or_path = _resolved(name_or_path)
    looks_local = name_or_path.startswith((".", "/", "~")) or Path(name_or_path).exists()
    if looks_local and not Path(name_or_path).expanduser().exists():
        raise TeacherLoadError(f"teacher_model path {name_or_path!r} does not exist")
    try:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=DTYPES[dtype])
    except (OSError, ValueError) as err:
        raise TeacherLoadError(f"could not load teacher_model {name_or_path!r}: {err}") from err
    return model


def load_teacher_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    name_or_path = _resolved(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        raise TeacherLoadError(
            f"could not load the tokenizer of teacher_model {name_or_path!r}: {err}"
        ) from err


def _resolved(spec: str) -> str:
    """Packaged real models (``smollm2-135m-sums``, ``*.gguf``) and ``toy:`` specs become folders."""
    from rlad.run.models import ModelLoadError, resolve_model

    try:
        return resolve_model(spec)
    except ModelLoadError as err:
        raise TeacherLoadError(str(err)) from err


class LocalTeacher:
    """Scores completions with a frozen model on ``device``.

    ``temperature`` divides the logits before the log-softmax; the trainer sets it to the student's
    sampling temperature so that log(pi_S / pi_T) compares the same tempered distributions.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        device: torch.device | str | None = None,
        temperature: float = 1.0,
        batch_size: int | None = None,
    ) -> None:
        self.model = model.eval().requires_grad_(False)
        if device is not None:
            self.model.to(device)
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def embedding_rows(self) -> int:
        """Rows of the output embedding: the largest token id the teacher can score, plus one."""
        return self.model.get_output_embeddings().weight.shape[0]

    def score(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        completion_ids: torch.Tensor,
        completion_mask: torch.Tensor,
    ) -> torch.Tensor:
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1).to(self.device)  # (B, P + T)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1).to(self.device)  # (B, P + T)
        logps = sampled_token_logprobs(
            self.model, input_ids, attention_mask, completion_ids.shape[1], self.temperature, self.batch_size
        )  # (B, T)
        return logps.to(completion_ids.device)
