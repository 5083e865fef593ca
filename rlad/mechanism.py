"""What TRRD will do for a (student, teacher, task) triple, measured before any training.

``rlad diagnose --student S --teacher T --task TASK`` samples ``k`` completions from the student on
``n`` training prompts (temperature 1 by default, as in RL), scores them with the task's verifier,
and runs both models over the sampled tokens. At the first update the student is the sampling
policy, so everything TRRD does then is fixed by these numbers:

- ``log_ratio``: the distribution of log(pi_S / pi_T) over the sampled (valid) tokens: quantiles,
  mean and a histogram. Large positive values: the teacher finds the student's own tokens unlikely.
- ``beyond_clamp``: the share of tokens with |log(pi_S / pi_T)| > c. Under the hard clamp their
  teacher term has no gradient (:func:`rlad.objectives.diagnostics.beyond_clamp_fraction`).
- ``veto_share``: the share of positive-advantage tokens whose TRRD ratio
  (1 - alpha) * clamp(log pi_S - log pi_T) already exceeds log(1 + eps_high), so the clip gives them zero
  gradient although RL wants to raise them (:func:`rlad.objectives.diagnostics.veto_share`).
  Advantages are the group-centred rewards; only their sign matters here.
- teacher agreement on the *correct* rollouts (the ones RL reinforces), three ways:
  ``agreed_share``: the share whose mean teacher log-prob per token is at least ``agree_logp``
  (default log 0.5: the teacher's geometric-mean token probability is at least one half);
  ``unvetoed_share``: the share with no vetoed token; ``argmax_match``: the share of their tokens that
  are the teacher's own greedy choice.

A pair on which TRRD cannot help shows a high veto share and low agreement; a teacher that shares the
student's pretraining and trajectory shows a log-ratio distribution centred near 0. The maths is in
:func:`mechanism_stats` (pure, tensors in, a record out); :func:`diagnose` does the sampling.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from rlad.objectives.advantages import group_advantages
from rlad.objectives.aggregation import masked_mean
from rlad.objectives.diagnostics import beyond_clamp_fraction, veto_share

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HIST_EDGES = (-4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0)  # log(pi_S / pi_T) bins, open at both ends


@dataclass
class MechanismReport:
    """The numbers ``rlad diagnose`` prints and writes (see the module docstring)."""

    num_prompts: int
    group_size: int
    num_rollouts: int
    num_tokens: int
    accuracy: float  # share of sampled rollouts the verifier accepts
    log_ratio_mean: float
    log_ratio_quantiles: dict[str, float]  # "q05", "q25", ... -> log(pi_S / pi_T)
    log_ratio_histogram: dict[str, int]  # "[a, b)" -> token count
    beyond_clamp: float
    positive_tokens: int  # tokens with A > 0
    veto_share: float
    num_correct: int
    agreed_share: float | None  # None: no correct rollout
    unvetoed_share: float | None
    argmax_match: float | None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def table(self) -> str:
        """A short human-readable table."""
        q = self.log_ratio_quantiles

        def share(x: float | None) -> str:
            return "n/a (no correct rollout)" if x is None else f"{x:.3f}"

        rows = [
            ("rollouts (prompts x k)", f"{self.num_rollouts} ({self.num_prompts} x {self.group_size})"),
            ("student accuracy", f"{self.accuracy:.3f}"),
            ("tokens", str(self.num_tokens)),
            ("log(pi_S/pi_T) mean", f"{self.log_ratio_mean:+.3f}"),
            ("  q05 q25 q50 q75 q95", " ".join(f"{v:+.2f}" for v in q.values())),
            (f"beyond clamp |d| > {self.settings.get('clamp')}", f"{self.beyond_clamp:.3f}"),
            ("veto share (A>0 tokens clipped)", f"{self.veto_share:.3f} of {self.positive_tokens}"),
            ("correct rollouts", str(self.num_correct)),
            (
                f"  teacher agrees (mean logp >= {self.settings.get('agree_logp', 0):.2f})",
                share(self.agreed_share),
            ),
            ("  with no vetoed token", share(self.unvetoed_share)),
            ("  tokens = teacher argmax", share(self.argmax_match)),
        ]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def mechanism_stats(
    *,
    student_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    mask: torch.Tensor,
    rewards: torch.Tensor,
    correct: torch.Tensor,
    teacher_argmax: torch.Tensor,
    group_size: int,
    alpha: float = 0.5,
    clamp: float | None = 1.0,
    eps_high: float = 0.28,
    agree_logp: float = math.log(0.5),
) -> MechanismReport:
    """The report from per-token tensors; pure.

    Args: ``student_logp``, ``teacher_logp`` (B, T) log-probs of the sampled tokens; ``mask`` (B, T)
    valid tokens; ``rewards`` (B,) and ``correct`` (B,) bool, rows grouped by prompt (B = P * G);
    ``teacher_argmax`` (B, T) bool, whether the sampled token is the teacher's greedy choice.
    """
    B, _ = student_logp.shape
    if B % group_size:
        raise ValueError(f"{B} rollouts do not split into groups of {group_size}")
    valid = mask.bool()  # (B, T)
    advantages = group_advantages(rewards.float().view(-1, group_size), scale="none").view(-1)  # (B,)
    gap = (student_logp - teacher_logp)[valid].float()  # (N,) log(pi_S / pi_T) per valid token
    quantiles = torch.quantile(gap, torch.tensor(QUANTILES)).tolist() if gap.numel() else [0.0] * 5
    veto = veto_share(
        old_logp=student_logp,
        teacher_logp=teacher_logp,
        advantages=advantages,
        mask=mask,
        alpha=alpha,
        clamp=clamp,
        eps_high=eps_high,
    )
    # Per-token veto flags, for the correct rollouts: the same rule as veto_share, token by token.
    teacher_term = student_logp - teacher_logp  # (B, T)
    if clamp is not None:
        teacher_term = teacher_term.clamp(-clamp, clamp)
    vetoed = ((1 - alpha) * teacher_term > math.log1p(eps_high)) & valid & (advantages.view(-1, 1) > 0)
    good = correct.bool()  # (B,)
    lengths = valid.sum(dim=1).clamp(min=1)  # (B,)
    teacher_mean = (teacher_logp * valid).sum(dim=1) / lengths  # (B,) mean per-token teacher log-prob
    num_correct = int(good.sum())
    if num_correct:
        agreed = float((teacher_mean[good] >= agree_logp).float().mean())
        unvetoed = float((~vetoed[good].any(dim=1)).float().mean())
        argmax = float(masked_mean(teacher_argmax[good].float(), valid[good]))
    else:
        agreed = unvetoed = argmax = None
    return MechanismReport(
        num_prompts=B // group_size,
        group_size=group_size,
        num_rollouts=B,
        num_tokens=int(valid.sum()),
        accuracy=float(good.float().mean()),
        log_ratio_mean=float(gap.mean()) if gap.numel() else 0.0,
        log_ratio_quantiles={f"q{round(q * 100):02d}": round(v, 4) for q, v in zip(QUANTILES, quantiles)},
        log_ratio_histogram=histogram(gap, HIST_EDGES),
        beyond_clamp=float(beyond_clamp_fraction(student_logp, teacher_logp, mask, clamp)),
        positive_tokens=int(((advantages.view(-1, 1) > 0) & valid).sum()),
        veto_share=float(veto),
        num_correct=num_correct,
        agreed_share=agreed,
        unvetoed_share=unvetoed,
        argmax_match=argmax,
        settings={"alpha": alpha, "clamp": clamp, "eps_high": eps_high, "agree_logp": agree_logp},
    )


def histogram(values: torch.Tensor, edges: tuple[float, ...]) -> dict[str, int]:
    """Counts in (-inf, e0), [e0, e1), ..., [e_last, inf).

    >>> histogram(torch.tensor([-5.0, 0.0, 0.2, 9.0]), (0.0, 1.0))
    {'(-inf, 0.0)': 1, '[0.0, 1.0)': 2, '[1.0, inf)': 1}
    """
    bounds = [-math.inf, *edges, math.inf]
    out = {}
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        label = f"({lo}, {hi})" if lo == -math.inf else f"[{lo}, {hi})"
        out[label] = int(((values >= lo) & (values < hi)).sum())
    return out


# --------------------------------------------------------------------------------------------- sampling
@torch.no_grad()
def rollout_tensors(
    student: Any,
    teacher: Any,
    tokenizer: Any,
    task: Any,
    rows: list[dict[str, Any]],
    k: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Sample ``k`` completions per row from the student; score them; log-probs under both models.

    One prompt at a time (its ``k`` rollouts share it, so nothing is left-padded and positions are
    exact). Completions end at the first eos, which counts as a token, as in TRL. Log-probs are of the
    temperature-scaled distributions, from :func:`rlad.teacher.logprobs.sampled_token_logprobs`, the
    trainer's scorer (so logit scaling and soft-capping are applied as in training).
    """
    from rlad.eval.generation import encode_prompt
    from rlad.teacher.logprobs import sampled_token_logprobs  # the trainer's definition, for both models

    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    out: dict[str, list[torch.Tensor]] = {k_: [] for k_ in ("student", "teacher", "argmax", "mask", "ids")}
    rewards, correct, width = [], [], max_new_tokens
    try:
        for row in rows:
            prompt_ids = torch.tensor([encode_prompt(tokenizer, row["prompt"])])  # (1, P)
            sampled = student.generate(
                input_ids=prompt_ids.expand(k, -1),
                attention_mask=torch.ones(k, prompt_ids.shape[1], dtype=torch.long),
                do_sample=True,
                temperature=temperature,
                top_p=1.0,
                top_k=0,
                max_new_tokens=max_new_tokens,
                pad_token_id=pad,
                eos_token_id=eos,
            )[:, prompt_ids.shape[1] :]  # (k, <=max_new_tokens)
            completion = torch.full((k, width), pad)  # (k, T)
            mask = torch.zeros((k, width), dtype=torch.bool)  # (k, T)
            for i, ids in enumerate(sampled.tolist()):
                n = ids.index(eos) + 1 if eos in ids else len(ids)
                completion[i, :n], mask[i, :n] = torch.tensor(ids[:n]), True
                text = tokenizer.decode(ids[:n], skip_special_tokens=True)
                score = task.score(text, row)
                rewards.append(float(score.reward))
                correct.append(bool(score.correct))
            full = torch.cat([prompt_ids.expand(k, -1), completion], dim=1)  # (k, P + T)
            attention = torch.cat([torch.ones_like(prompt_ids.expand(k, -1)), mask.long()], dim=1)
            s_logp = sampled_token_logprobs(student, full, attention, width, temperature)  # (k, T)
            t_logp = sampled_token_logprobs(teacher, full, attention, width, temperature)  # (k, T)
            t_argmax = _greedy_match(teacher, full, attention, width)  # (k, T)
            out["student"].append(s_logp * mask)
            out["teacher"].append(t_logp * mask)
            out["argmax"].append(t_argmax & mask)
            out["mask"].append(mask)
            out["ids"].append(completion)
    finally:
        torch.random.set_rng_state(generator_state)
    tensors = {name: torch.cat(parts) for name, parts in out.items()}  # each (P * k, T)
    tensors["rewards"] = torch.tensor(rewards)  # (P * k,)
    tensors["correct"] = torch.tensor(correct)  # (P * k,)
    return tensors


def _greedy_match(model: Any, ids: torch.Tensor, attention: torch.Tensor, width: int) -> torch.Tensor:
    """Whether each of the last ``width`` tokens is ``model``'s greedy choice, (B, T) bool. The logits'
    argmax: the temperature, scaling and soft-capping that turn them into log-probs keep their order."""
    logits = model(input_ids=ids, attention_mask=attention).logits[:, -width - 1 : -1]  # (B, T, V)
    return logits.argmax(dim=-1) == ids[:, -width:]


def diagnose(
    student: str,
    teacher: str,
    task: str,
    *,
    task_options: dict[str, Any] | None = None,
    n: int = 32,
    k: int = 4,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    split: str = "train",
    seed: int = 0,
    alpha: float = 0.5,
    clamp: float | None = 1.0,
    eps_high: float = 0.28,
    agree_logp: float = math.log(0.5),
) -> MechanismReport:
    """Load both models (any rlad model spec), check the tokenizers, sample, and report."""
    from rlad.run.models import load_model
    from rlad.tasks import get_task
    from rlad.teacher.tokenizer_check import check_tokenizers_match

    student_model, tokenizer, _ = load_model(student, dtype="float32")
    teacher_model, teacher_tokenizer, _ = load_model(teacher, dtype="float32")
    check_tokenizers_match(tokenizer, teacher_tokenizer)
    the_task = get_task(task, **(task_options or {}))
    rows = [dict(r) for r in the_task.load(split=split, limit=n, seed=seed)]
    tensors = rollout_tensors(
        student_model.cpu(),
        teacher_model.cpu(),
        tokenizer,
        the_task,
        rows,
        k,
        max_new_tokens,
        temperature,
        seed,
    )
    report = mechanism_stats(
        student_logp=tensors["student"],
        teacher_logp=tensors["teacher"],
        mask=tensors["mask"],
        rewards=tensors["rewards"],
        correct=tensors["correct"],
        teacher_argmax=tensors["argmax"],
        group_size=k,
        alpha=alpha,
        clamp=clamp,
        eps_high=eps_high,
        agree_logp=agree_logp,
    )
    report.settings.update(
        student=student,
        teacher=teacher,
        task=task,
        task_options=task_options or {},
        n=n,
        k=k,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        split=split,
        seed=seed,
    )
    return report
