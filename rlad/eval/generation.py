"""Sampling completions for evaluation: one small interface, a Transformers backend and a vLLM backend.

A backend turns prompts into ``n`` completion strings per prompt::

    backend.generate(prompts, n=8, max_new_tokens=512, temperature=0.6, top_p=0.95, seed=0)
    -> [[completion_1, ..., completion_8], ...]          # len(prompts) lists of n strings

A prompt is either a plain string or a list of chat messages (``[{"role": "user", "content": ...}]``).
Both backends turn a prompt into token ids the same way, the way TRL's GRPO trainer does, so a model
is evaluated on exactly the prompts it was trained on (:func:`encode_prompt`): chat prompts go
through the chat template with ``add_generation_prompt=True`` and are tokenized without adding
special tokens (the template already has them); plain strings are tokenized with the tokenizer's
defaults (e.g. a BOS token).

Sampling is plain temperature + nucleus sampling: top-k is switched off (Transformers defaults to
top_k=50 and a model's ``generation_config`` may set its own), so temperature 0.6 / top-p 0.95 means
what the paper means. ``temperature=0`` is greedy decoding; the n copies are then generated once.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from tqdm.auto import tqdm

Prompt = str | list[dict[str, Any]]

VLLM_INSTALL_HINT = "VLLMBackend needs the vllm package, which is not installed: pip install 'rlad[vllm]'"


@runtime_checkable
class GenerationBackend(Protocol):
    """Anything that samples ``n`` completions per prompt."""

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
    ) -> list[list[str]]:
        """``len(prompts)`` lists of ``n`` completion strings (special tokens stripped)."""
        ...


def is_conversational(prompt: Prompt) -> bool:
    """A prompt given as chat messages rather than raw text.

    >>> is_conversational("2+2="), is_conversational([{"role": "user", "content": "2+2="}])
    (False, True)
    """
    return not isinstance(prompt, str)


def render_prompt(tokenizer: Any, prompt: Prompt) -> str:
    """The text the model continues: chat messages through the chat template, strings unchanged."""
    if not is_conversational(prompt):
        return prompt
    return tokenizer.apply_chat_template(list(prompt), add_generation_prompt=True, tokenize=False)


def encode_prompt(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of a prompt, as TRL's GRPO trainer builds them (see the module docstring)."""
    text = render_prompt(tokenizer, prompt)
    return tokenizer(text, add_special_tokens=not is_conversational(prompt))["input_ids"]


def _check_sampling_args(n: int, max_new_tokens: int, temperature: float, top_p: float) -> None:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        return set()
    return {eos} if isinstance(eos, int) else set(eos)


class HFBackend:
    """Batched ``model.generate`` with left padding; runs on whatever device the model is on.

    ``batch_size`` counts generated sequences (prompt copies), not prompts: each prompt is repeated
    ``n`` times and the rows are generated ``batch_size`` at a time. If the tokenizer has no pad
    token its eos token is used for padding (set on the tokenizer, as TRL does).

    Results are reproducible for a given ``seed`` and ``batch_size`` (the torch RNG is forked, so the
    caller's RNG state is left untouched); a different batch size pads differently and draws
    different samples.
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 16, show_progress: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token is None:
                raise ValueError("the tokenizer has neither a pad token nor an eos token to pad with")
            tokenizer.pad_token = tokenizer.eos_token
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.show_progress = show_progress

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
    ) -> list[list[str]]:
        _check_sampling_args(n, max_new_tokens, temperature, top_p)
        greedy = temperature == 0
        copies = 1 if greedy else n  # greedy samples are identical: decode once, repeat
        encoded = [encode_prompt(self.tokenizer, p) for p in prompts]
        rows = [ids for ids in encoded for _ in range(copies)]  # P * copies token-id lists, prompt-major
        config = self._generation_config(max_new_tokens, temperature, top_p)
        eos = _eos_ids(self.model, self.tokenizer)
        device = self.model.device
        texts: list[str] = []
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed)
                starts = range(0, len(rows), self.batch_size)
                for start in tqdm(starts, desc="generate", unit="batch", disable=not self.show_progress):
                    batch = rows[start : start + self.batch_size]
                    texts.extend(self._generate_batch(batch, config, eos, device))
        finally:
            self.model.train(was_training)
        per_prompt = [texts[i * copies : (i + 1) * copies] for i in range(len(prompts))]
        return [group * n if greedy else group for group in per_prompt]

    def _generation_config(self, max_new_tokens: int, temperature: float, top_p: float) -> Any:
        config = copy.deepcopy(self.model.generation_config)
        sampling = (
            {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
            if temperature == 0
            else {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
        )
        config.update(
            max_new_tokens=max_new_tokens,
            num_return_sequences=1,
            pad_token_id=self.tokenizer.pad_token_id,
            **sampling,
        )
        if config.eos_token_id is None:
            config.eos_token_id = self.tokenizer.eos_token_id
        return config

    def _generate_batch(self, batch: list[list[int]], config: Any, eos: set[int], device: Any) -> list[str]:
        width = max(len(ids) for ids in batch)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch], device=device)  # (B, P)
        attention_mask = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=device
        )  # (B, P), left padded
        out = self.model.generate(
            input_ids=input_ids, attention_mask=attention_mask, generation_config=config
        )  # (B, P + new)
        completions = out[:, width:].tolist()  # (B, new)
        texts = []
        for ids in completions:
            cut = next((i for i, t in enumerate(ids) if t in eos), len(ids))  # the rest is eos / padding
            texts.append(self.tokenizer.decode(ids[:cut], skip_special_tokens=True))
        return texts


def completions_from_vllm(outputs: Sequence[Any], n: int) -> list[list[str]]:
    """vLLM ``RequestOutput`` objects (one per prompt, each with ``n`` ``.outputs``) to our format.

    The samples of a request are put in their ``index`` order, so the result does not depend on the
    order vLLM finished them in.

    >>> from types import SimpleNamespace as NS
    >>> req = NS(outputs=[NS(index=1, text="b"), NS(index=0, text="a")])
    >>> completions_from_vllm([req], n=2)
    [['a', 'b']]
    """
    result = []
    for i, request in enumerate(outputs):
        samples = sorted(request.outputs, key=lambda o: o.index)
        if len(samples) != n:
            raise ValueError(f"vLLM returned {len(samples)} completions for prompt {i}, expected n={n}")
        result.append([s.text for s in samples])
    return result


class VLLMBackend:
    """Generation with vLLM (``pip install 'rlad[vllm]'``): the fast path on GPUs.

    Prompts are tokenized by :func:`encode_prompt` with the model's tokenizer and handed to vLLM as
    token ids, so the HF and vLLM backends see identical prompts. Extra keyword arguments go to
    ``vllm.LLM`` (e.g. ``max_model_len``, ``enable_prefix_caching``).
    """

    def __init__(
        self,
        model_name_or_path: str,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "auto",
        show_progress: bool = True,
        **llm_kwargs: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as err:
            raise ImportError(VLLM_INSTALL_HINT) from err
        self._vllm = vllm
        self.llm = vllm.LLM(
            model=model_name_or_path,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            **llm_kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.show_progress = show_progress

    def generate(
        self,
        prompts: Sequence[Prompt],
        n: int,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
    ) -> list[list[str]]:
        _check_sampling_args(n, max_new_tokens, temperature, top_p)
        greedy = temperature == 0
        params = self._vllm.SamplingParams(
            n=1 if greedy else n,
            max_tokens=max_new_tokens,
            temperature=temperature,
            top_p=1.0 if greedy else top_p,
            top_k=-1,  # off, as in HFBackend
            seed=seed,
            skip_special_tokens=True,
        )
        requests = [{"prompt_token_ids": encode_prompt(self.tokenizer, p)} for p in prompts]
        outputs = self.llm.generate(requests, params, use_tqdm=self.show_progress)
        completions = completions_from_vllm(outputs, params.n)
        return [group * n if greedy else group for group in completions]
