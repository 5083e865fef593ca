"""A small, fast supervised trainer for building toy teachers and students on a CPU in seconds to minutes.

Not the user-facing SFT (that is TRL's ``SFTTrainer``): a plain PyTorch loop with nothing in the way.
Each step draws *fresh* problems from ``sample_pairs(batch_size, rng)``, so the model learns the task
instead of memorising a fixed set, and minimises the completion-only negative log-likelihood

    L = - (1 / N) * sum_{i, t in completion_i} log p(y_{i,t} | prompt_i, y_{i,<t})

averaged over all N completion tokens of the batch (token-mean). A sequence is
``tokenizer(prompt)`` (``<bos>`` + prompt, exactly what TRL feeds GRPO for a plain prompt) followed by
``tokenizer(completion, add_special_tokens=False)`` and ``<eos>``, so the model learns to stop.
Prompt tokens and padding are masked out of the loss.

Sequences are padded on the right and no attention mask is passed: with a causal mask a real token never
attends to the padding after it, and the model keeps the fast ``is_causal`` attention path.

Optimiser: AdamW with linear warmup, a constant peak until ``decay_start`` (a fraction of the budget),
then cosine (or linear) decay to ``min_lr_ratio * lr`` (``decay_start=0``: plain warmup + cosine;
``decay_start=0.75``: "warmup-stable-decay"), or decay on demand (``callback`` + ``anneal_steps``).
Arithmetic is learnt in a sudden rise after a long plateau, and an early decay can starve it: a pair
recipe (:mod:`rlad.toy.pair`) can keep the peak rate until a probe sees the rise, then anneal.
The budget is a number of steps, never seconds, so a run is the same on a busy machine and an idle one.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

SamplePairs = Callable[[int, random.Random], list[tuple[str, str]]]
# Called as callback(step) every `callback_every` steps, model in eval mode; True: stop (or start annealing).
StepCallback = Callable[[int], bool | None]

IGNORE_INDEX = -100


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase, pairs: list[tuple[str, str]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and completion-only ``labels``, both (B, T).

    ``labels`` equals ``input_ids`` on completion tokens (``<eos>`` included) and ``IGNORE_INDEX`` on the
    prompt and on padding. Labels are not shifted: position t is predicted from positions < t.
    Raises ValueError when a text has characters the tokenizer does not know (they would become
    ``<unk>``, which decoding drops: a model would learn to write text that its own samples lose).
    """
    prompts = [p for p, _ in pairs]
    completions = [c for _, c in pairs]
    prompt_ids = tokenizer(prompts)["input_ids"]
    completion_ids = tokenizer(completions, add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    if unk is not None:
        for text, ids in zip(prompts + completions, prompt_ids + completion_ids):
            if unk in ids:
                unknown = sorted(
                    {ch for ch in text if tokenizer(ch, add_special_tokens=False)["input_ids"] == [unk]}
                )
                raise ValueError(
                    f"characters {''.join(unknown)!r} of {text!r} are not in the tokenizer's vocabulary"
                )
    eos = tokenizer.eos_token_id
    lengths = [len(p) + len(c) + 1 for p, c in zip(prompt_ids, completion_ids)]
    input_ids = torch.full((len(pairs), max(lengths)), tokenizer.pad_token_id, dtype=torch.long)  # (B, T)
    labels = torch.full_like(input_ids, IGNORE_INDEX)  # (B, T)
    for i, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        completion = torch.tensor([*c, eos], dtype=torch.long)  # (C_i + 1,)
        input_ids[i, : len(p)] = torch.tensor(p, dtype=torch.long)
        input_ids[i, len(p) : lengths[i]] = completion
        labels[i, len(p) : lengths[i]] = completion
    return input_ids, labels


def split_by_length(pairs: list[tuple[str, str]], n_parts: int) -> list[list[tuple[str, str]]]:
    """``pairs`` sorted by total length and cut into ``n_parts`` contiguous parts of near-equal size.

    >>> split_by_length([("1+1=", "2"), ("1=", "1"), ("11+11=", "22")], 2)
    [[('1=', '1')], [('1+1=', '2'), ('11+11=', '22')]]
    """
    ordered = sorted(pairs, key=lambda pair: len(pair[0]) + len(pair[1]))
    bounds = [len(ordered) * i // n_parts for i in range(n_parts + 1)]
    return [ordered[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def completion_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Token-mean negative log-likelihood of the labelled tokens, and detached statistics.

    logits: (B, T, V) from a causal LM; labels: (B, T) with ``IGNORE_INDEX`` where no loss is taken.
    """
    pred = logits[:, :-1].float()  # (B, T-1, V): position t predicts token t+1
    target = labels[:, 1:]  # (B, T-1)
    loss = F.cross_entropy(pred.reshape(-1, pred.size(-1)), target.reshape(-1), ignore_index=IGNORE_INDEX)
    n_tokens = int((target != IGNORE_INDEX).sum())
    return loss, {"loss": loss.item(), "completion_tokens": n_tokens}


def lr_multiplier(
    progress: float, warmup: float, schedule: str, min_lr_ratio: float, decay_start: float = 0.0
) -> float:
    """Learning-rate factor at ``progress`` in [0, 1] of training (``warmup``, ``decay_start``: fractions).

    >>> lr_multiplier(0.0, 0.1, "cosine", 0.1), lr_multiplier(0.1, 0.1, "cosine", 0.1)
    (0.0, 1.0)
    >>> round(lr_multiplier(1.0, 0.1, "cosine", 0.1), 6), round(lr_multiplier(0.55, 0.1, "linear", 0.0), 6)
    (0.1, 0.5)
    >>> lr_multiplier(0.7, 0.1, "cosine", 0.1, decay_start=0.8), lr_multiplier(0.9, 0.1, "linear", 0.0, 0.8)
    (1.0, 0.5)
    """
    if progress < warmup:
        return progress / warmup
    begin = max(warmup, decay_start)
    decay = min(1.0, max(0.0, progress - begin) / max(1e-12, 1.0 - begin))  # 0 -> 1 from `begin` to the end
    if schedule == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * decay))
    elif schedule == "linear":
        shape = 1.0 - decay
    else:
        raise ValueError(f"unknown schedule {schedule!r}; valid: 'cosine', 'linear'")
    return min_lr_ratio + (1.0 - min_lr_ratio) * shape


def train_on_pairs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sample_pairs: SamplePairs,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    warmup: float = 0.05,
    schedule: str = "cosine",
    decay_start: float = 0.0,
    min_lr_ratio: float = 0.1,
    weight_decay: float = 0.01,
    betas: tuple[float, float] = (0.9, 0.98),
    grad_clip: float | None = 1.0,
    progress: bool = True,
    description: str = "sft",
    callback: StepCallback | None = None,
    callback_every: int = 100,
    anneal_steps: int = 0,
    length_buckets: int = 1,
) -> dict:
    """Train ``model`` in place on fresh pairs from ``sample_pairs`` with a completion-only loss.

    Stops after ``steps`` optimiser steps; ``warmup`` is a fraction of them. ``callback(step)`` runs every ``callback_every`` steps with the model
    in eval mode (e.g. to probe accuracy or keep a snapshot); its time is not counted as training time.
    When it returns True, training stops at once (``anneal_steps=0``), or the learning rate decays from
    its current value to ``min_lr_ratio * lr`` over ``anneal_steps`` more steps (cosine) and then
    training stops: "train at the peak rate until good enough, then anneal". ``steps`` caps both.
    ``length_buckets > 1`` sorts each batch by length and runs it as that many forward/backward passes:
    less padding (about 30% less compute on mixed 2-3 operand arithmetic with 3 buckets), same gradient.

    Returns a dict: ``steps``, ``seconds`` (training only), ``callback_seconds``, ``tokens`` (all
    positions, padding included), ``tokens_per_s``, ``completion_tokens``, ``final_loss`` (mean of the
    last 10% of steps), ``losses`` and ``lrs`` (one per step), ``anneal_start`` (the step at which the
    callback asked to stop, or None). The model is left in eval mode.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps}, {batch_size}")
    if length_buckets < 1 or length_buckets > batch_size:
        raise ValueError(f"length_buckets must be in [1, batch_size], got {length_buckets}")
    if callback_every < 1 or anneal_steps < 0:
        raise ValueError(
            f"need callback_every >= 1 and anneal_steps >= 0, got {callback_every}, {anneal_steps}"
        )
    if not 0.0 <= warmup < 1.0 or not 0.0 <= decay_start < 1.0:
        raise ValueError(f"warmup and decay_start must be in [0, 1), got {warmup}, {decay_start}")
    lr_multiplier(0.5, warmup, schedule, min_lr_ratio)  # validate the schedule name before training

    rng = random.Random(seed)
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]  # matrices and embeddings
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]  # norm gains
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=betas,
    )
    model.train()
    losses: list[float] = []
    lrs: list[float] = []
    tokens = completion_tokens = 0
    callback_seconds = 0.0
    anneal_start: int | None = None  # the step at which the callback asked to stop
    anneal_from = 1.0  # the lr multiplier at that step
    start = time.perf_counter()
    bar = tqdm(total=steps, desc=description, disable=not progress, dynamic_ncols=True)
    step = 0
    while step < steps:
        if anneal_start is None:
            multiplier = lr_multiplier(step / steps, warmup, schedule, min_lr_ratio, decay_start)
        else:
            done = (step - anneal_start) / anneal_steps  # 0 -> 1 over the annealing tail
            if done >= 1.0:
                break
            multiplier = min_lr_ratio + (anneal_from - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * done))
        for group in optimizer.param_groups:
            group["lr"] = lr * multiplier

        chunks = [
            encode_pairs(tokenizer, part)
            for part in split_by_length(sample_pairs(batch_size, rng), length_buckets)
        ]
        n_labelled = sum(int((labels[:, 1:] != IGNORE_INDEX).sum()) for _, labels in chunks)
        optimizer.zero_grad(set_to_none=True)
        batch_loss = 0.0
        for input_ids, labels in chunks:  # (b, t) each; b sums to B
            logits = model(input_ids=input_ids).logits  # (b, t, V)
            loss, stats = completion_nll(logits, labels)
            weight = stats["completion_tokens"] / n_labelled  # token-mean over the whole batch
            (loss * weight).backward()
            batch_loss += stats["loss"] * weight
            tokens += input_ids.numel()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()

        step += 1
        losses.append(batch_loss)
        lrs.append(lr * multiplier)
        completion_tokens += n_labelled
        bar.update(1)
        if step % 10 == 0 or step == steps:
            rate = tokens / max(1e-9, time.perf_counter() - start - callback_seconds)
            bar.set_postfix(loss=f"{batch_loss:.3f}", tok_s=f"{rate:.0f}", refresh=False)
        if callback is not None and step % callback_every == 0:
            callback_start = time.perf_counter()
            model.eval()
            stop = callback(step)
            model.train()
            callback_seconds += time.perf_counter() - callback_start
            if stop and anneal_start is None:
                if anneal_steps == 0:
                    break
                anneal_start, anneal_from = step, max(multiplier, min_lr_ratio)
    bar.close()
    model.eval()

    seconds = time.perf_counter() - start - callback_seconds
    tail = losses[-max(1, len(losses) // 10) :] if losses else [float("nan")]
    return {
        "steps": step,
        "seconds": seconds,
        "callback_seconds": callback_seconds,
        "tokens": tokens,
        "tokens_per_s": tokens / max(seconds, 1e-9),
        "completion_tokens": completion_tokens,
        "final_loss": sum(tail) / len(tail),
        "losses": losses,
        "lrs": lrs,
        "anneal_start": anneal_start,
    }
