"""Teacher rollouts for groups where RL has no signal (docs/method.md section 5, from the product description).

When every student completion of a prompt fails, all advantages in that group are 0 and neither
GRPO nor TRRD learns anything from it. With ``teacher_rollouts_per_prompt = k`` the teacher then
samples k completions of that prompt (``teacher_rollouts_when="all_failed"``; ``"always"`` does it
for every group), they are verified with the same reward functions, and each *correct* one replaces
one of the group's student completions (the last ones), so the group keeps its size G.

How they are weighted: exactly like the student's completions. The group's advantages are
recomputed with the run's formula (mean and std over the G members, the std chosen by
``advantage_std``; ``scale_rewards="batch"`` is refused with teacher rollouts), so a correct teacher answer
among failures gets a large positive advantage and the failures a negative one; every sequence
counts once in the aggregation. Their old log-probs are the student's own log-probs of the teacher's
tokens (the behaviour policy did not generate them), so the student term of the ratio starts at 1;
under TRRD the teacher term still sits inside the clip, which bounds how far one off-policy sequence
can pull the student.

Requires each group to live on one process (the per-process generation batch a multiple of G) and
a local teacher model (generation needs the weights). The trainer hands this module what it needs
explicitly (:class:`RolloutSettings`, the reward functions, a student re-scorer and a logger), so it
never sees the trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rlad.objectives import group_advantages, group_success_rate, weighted_rewards
from rlad.teacher import LocalTeacher

# (B, T) tensors TRL may put in the batch, with the value that pads them when the width grows.
_TOKEN_FIELDS = {
    "completion_mask": 0,
    "old_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0,
    "sampling_per_token_logps": 0.0,
    "importance_sampling_ratio": 1.0,
    "tool_mask": 1,
}

# (ids (n, L), mask (n, L), T) -> the student's log-probs (n, T) of the last T tokens, no gradient.
StudentScorer = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class RolloutSettings:
    """What the teacher rollouts read from the run's configuration."""

    per_prompt: int  # k teacher completions per selected prompt
    when: str  # "all_failed" or "always"
    num_generations: int  # G, the group size
    success_threshold: float
    scale_rewards: str  # "group" or "none"
    advantage_std: str  # "sample" (TRL) or "population"
    max_new_tokens: int
    temperature: float
    top_p: float


class TeacherRollouts:
    def __init__(
        self,
        settings: RolloutSettings,
        teacher: Any,
        tokenizer: Any,
        reward_funcs: Sequence[Callable],
        reward_weights: torch.Tensor,
        score_student: StudentScorer,
        log: Callable[[str, float], None],
    ) -> None:
        if not isinstance(teacher, LocalTeacher):
            raise ValueError("teacher rollouts need a local teacher model (generation needs its weights)")
        if not all(callable(f) and not isinstance(f, torch.nn.Module) for f in reward_funcs):
            raise ValueError(
                "teacher rollouts are verified with function rewards; reward models are not supported"
            )
        self.settings, self.teacher, self.tokenizer = settings, teacher, tokenizer
        self.reward_funcs, self.reward_weights = list(reward_funcs), reward_weights
        self.score_student, self.log = score_student, log

    def apply(self, inputs: list[dict], output: dict[str, Any]) -> dict[str, Any]:
        G = self.settings.num_generations
        B = output["completion_ids"].shape[0]
        if B % G:
            raise ValueError(f"teacher rollouts need whole groups on each process; got {B} rows for G={G}")
        always = self.settings.when == "always"
        selected = [g for g in range(B // G) if always or output["group_success"][g * G] == 0]
        accepted = 0
        for g in selected:
            accepted += self._replace_in_group(inputs, output, g * G, G)
        self.log("teacher_rollouts/groups", float(len(selected)))
        self.log("teacher_rollouts/accepted", float(accepted))
        return output

    def _replace_in_group(self, inputs: list[dict], output: dict[str, Any], start: int, G: int) -> int:
        settings, tokenizer = self.settings, self.tokenizer
        prompt_row = output["prompt_ids"][start][output["prompt_mask"][start].bool()]  # (P_real,)
        completions = self._generate(prompt_row)  # list of k token-id lists
        texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
        rewards = self._rewards(inputs[start], texts, completions)  # (k,)
        correct = [i for i in range(len(texts)) if rewards[i] >= settings.success_threshold]
        if not correct:
            return 0
        rows = list(range(start + G - len(correct), start + G))  # the group's last members make room
        for row, i in zip(rows, correct):
            self._write_row(output, row, completions[i], tokenizer.pad_token_id)
            output["rewards"][row] = rewards[i]
        group = output["rewards"][start : start + G]  # (G,)
        output["advantages"][start : start + G] = group_advantages(
            group.view(1, G), scale=settings.scale_rewards, std=settings.advantage_std, eps=1e-4
        )[0]
        output["group_success"][start : start + G] = group_success_rate(group, G, settings.success_threshold)
        if "old_per_token_logps" in output:
            self._rescore_student(output, rows)
        return len(correct)

    @torch.no_grad()
    def _generate(self, prompt_row: torch.Tensor) -> list[list[int]]:
        settings, tokenizer, teacher = self.settings, self.tokenizer, self.teacher
        ids = prompt_row.to(teacher.device).unsqueeze(0).repeat(settings.per_prompt, 1)  # (k, P_real)
        out = teacher.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=settings.max_new_tokens,
            do_sample=True,
            temperature=settings.temperature,
            top_p=settings.top_p,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )[:, ids.shape[1] :]  # (k, T_new)
        completions = []
        for row in out.tolist():
            if tokenizer.eos_token_id in row:
                row = row[
                    : row.index(tokenizer.eos_token_id) + 1
                ]  # keep the eos, like the student's rollouts
            completions.append([t for t in row if t != tokenizer.pad_token_id or t == tokenizer.eos_token_id])
        return completions

    def _rewards(self, example: dict, texts: list[str], completions: list[list[int]]) -> torch.Tensor:
        columns = {key: [example[key]] * len(texts) for key in example if key not in ("prompt", "completion")}
        prompts = [example["prompt"]] * len(texts)
        per_func = torch.stack(
            [
                torch.tensor(
                    [
                        float("nan") if v is None else float(v)
                        for v in func(
                            prompts=prompts, completions=texts, completion_ids=completions, **columns
                        )
                    ]
                )
                for func in self.reward_funcs
            ],
            dim=1,
        )  # (k, F)
        return weighted_rewards(per_func, self.reward_weights.cpu())  # (k,)

    def _write_row(self, output: dict[str, Any], row: int, tokens: list[int], pad_id: int) -> None:
        width = output["completion_ids"].shape[1]
        if len(tokens) > width:
            self._widen(output, len(tokens), pad_id)
            width = len(tokens)
        ids = output["completion_ids"]
        ids[row] = pad_id
        ids[row, : len(tokens)] = torch.tensor(tokens, device=ids.device)
        output["completion_mask"][row] = 0
        output["completion_mask"][row, : len(tokens)] = 1
        for name, fill in _TOKEN_FIELDS.items():
            if name not in ("completion_mask",) and name in output and output[name] is not None:
                output[name][row] = fill

    @staticmethod
    def _widen(output: dict[str, Any], width: int, pad_id: int) -> None:
        grow = width - output["completion_ids"].shape[1]
        pad = torch.nn.functional.pad
        output["completion_ids"] = pad(output["completion_ids"], (0, grow), value=pad_id)
        for name, fill in _TOKEN_FIELDS.items():
            if output.get(name) is not None and output[name].dim() == 2:
                output[name] = pad(output[name], (0, grow), value=fill)

    def _rescore_student(self, output: dict[str, Any], rows: list[int]) -> None:
        index = torch.tensor(rows, device=output["prompt_ids"].device)
        ids = torch.cat([output["prompt_ids"][index], output["completion_ids"][index]], dim=1)  # (n, L)
        mask = torch.cat([output["prompt_mask"][index], output["completion_mask"][index]], dim=1)  # (n, L)
        output["old_per_token_logps"][index] = self.score_student(
            ids, mask, output["completion_ids"].shape[1]
        )
