"""Quick greedy or sampled accuracy checks for toy models (used to verify toy teachers and students).

``generate_completions`` left-pads a batch of prompts (``tokenizer(prompt)``, i.e. ``<bos>`` + prompt,
as TRL feeds GRPO), calls ``model.generate`` and returns only the completion text, special tokens
stripped. Results are prompt-major: with ``num_samples = G`` the samples of prompt ``p`` are
``completions[p * G : (p + 1) * G]``, the order GRPO groups use.

``correctness`` turns those into a (P, G) boolean matrix with a task's ``check(completion, prompt)``,
``group_stats`` summarises it: Mean@G (the accuracy over all samples), Pass@G, and the fraction of
prompts whose G samples are neither all right nor all wrong, the groups that give GRPO a non-zero
advantage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

Check = Callable[[str, str], bool]
Example = str | tuple[str, str] | Mapping[str, str]


@torch.no_grad()
def generate_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    num_samples: int = 1,
    seed: int = 0,
    batch_size: int = 256,
) -> list[str]:
    """``len(prompts) * num_samples`` completions, prompt-major; ``temperature=0`` decodes greedily.

    Sampling is reproducible in ``seed`` and leaves the global torch RNG untouched. ``batch_size``
    counts prompts per ``generate`` call.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    sample = temperature > 0
    sampling = {"temperature": temperature, "top_p": top_p, "top_k": 0} if sample else {}
    was_training = model.training
    model.eval()
    completions: list[str] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(prompts), batch_size):
            chunk = list(prompts[start : start + batch_size])
            enc = tokenizer(chunk, padding=True, padding_side="left", return_tensors="pt")  # (B, T) each
            out = model.generate(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                max_new_tokens=max_new_tokens,
                # Rows repeat each prompt G times in a row; greedy decoding is decoded once and repeated.
                num_return_sequences=num_samples if sample else 1,
                do_sample=sample,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )  # (B * G, T + new), G = num_samples when sampling, else 1
            new_tokens = out[:, enc["input_ids"].shape[1] :]  # (B * G, new)
            texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            completions.extend(texts if sample else [t for t in texts for _ in range(num_samples)])
    model.train(was_training)
    return completions


def _prompt_of(example: Example) -> str:
    if isinstance(example, str):
        return example
    if isinstance(example, Mapping):
        return example["prompt"]
    return example[0]


@torch.no_grad()
def correctness(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    check: Check,
    *,
    num_samples: int = 1,
    **generate_kwargs,
) -> torch.Tensor:
    """(P, num_samples) booleans: ``check(completion, prompt)`` for each sampled completion.

    ``examples`` are prompts, ``(prompt, completion)`` pairs (the reference completion is ignored) or
    mappings with a ``"prompt"`` key. ``generate_kwargs`` go to ``generate_completions``.
    """
    prompts = [_prompt_of(e) for e in examples]
    completions = generate_completions(model, tokenizer, prompts, num_samples=num_samples, **generate_kwargs)
    flags = [check(c, prompts[i // num_samples]) for i, c in enumerate(completions)]
    return torch.tensor(flags, dtype=torch.bool).view(len(prompts), num_samples)  # (P, G)


def group_stats(correct_P_G: torch.Tensor) -> dict[str, float]:
    """Mean@G, Pass@G and the fraction of mixed groups of a (P, G) correctness matrix.

    >>> group_stats(torch.tensor([[True, False], [True, True], [False, False], [False, True]]))
    {'mean_at_g': 0.5, 'pass_at_g': 0.75, 'mixed_fraction': 0.5}
    """
    per_prompt = correct_P_G.float().mean(dim=1)  # (P,)
    return {
        "mean_at_g": per_prompt.mean().item(),
        "pass_at_g": correct_P_G.any(dim=1).float().mean().item(),
        "mixed_fraction": ((per_prompt > 0) & (per_prompt < 1)).float().mean().item(),
    }


def accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    check: Check,
    *,
    num_samples: int = 1,
    **generate_kwargs,
) -> float:
    """Fraction of correct completions over all prompts and samples (Mean@``num_samples``)."""
    return group_stats(
        correctness(model, tokenizer, examples, check, num_samples=num_samples, **generate_kwargs)
    )["mean_at_g"]
