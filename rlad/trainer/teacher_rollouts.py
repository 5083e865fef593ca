"""Teacher rollouts for groups where RL has no signal (spec section 5, from the product description).

When every student completion of a prompt fails, all advantages in that group are 0 and neither
GRPO nor TRRD learns anything from it. With ``teacher_rollouts_per_prompt = k`` the teacher then
samples k completions of that prompt (``teacher_rollouts_when="all_failed"``; ``"always"`` does it
for every group), they are verified with the same reward functions, and each *correct* one replaces
one of the group's student completions (the last ones), so the group keeps its size G.

How they are weighted: exactly like the student's completions. The group's advantages are
recomputed with TRL's formula (mean and sample std over the G members), so a correct teacher answer
among failures gets a large positive advantage and the failures a negative one; every sequence
counts once in the aggregation. Their old log-probs are the student's own log-probs of the teacher's
tokens (the behaviour policy did not generate them), so the student term of the ratio starts at 1;
under TRRD the teacher term still sits inside the clip, which bounds how far one off-policy sequence
can pull the student.

Requires each group to live on one process (the per-process generation batch a multiple of G) and
a local teacher model (generation needs the weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from rlad.objectives import group_advantages
from rlad.teacher import LocalTeacher

if TYPE_CHECKING:
    from rlad.trainer.trainer import RLADTrainer

# (B, T) tensors TRL may put in the batch, with the value that pads them when the width grows.
_TOKEN_FIELDS = {
    "completion_mask": 0,
    "old_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0,
    "sampling_per_token_logps": 0.0,
    "importance_sampling_ratio": 1.0,
    "tool_mask": 1,
}


class TeacherRollouts:
    def __init__(self, trainer: RLADTrainer) -> None:
        self.trainer = trainer
        self.k = trainer.args.teacher_rollouts_per_prompt
        self.when = trainer.args.teacher_rollouts_when
        if self.when == "never":
            raise ValueError(
                "teacher_rollouts_per_prompt > 0 needs teacher_rollouts_when='all_failed' or 'always'"
            )
        if not isinstance(trainer.teacher, LocalTeacher):
            raise ValueError("teacher rollouts need a local teacher model (generation needs its weights)")
        if self.k >= trainer.num_generations:
            raise ValueError(
                f"teacher_rollouts_per_prompt={self.k} must be smaller than num_generations="
                f"{trainer.num_generations} so each group keeps at least one student completion"
            )
        if not all(callable(f) and not isinstance(f, torch.nn.Module) for f in trainer.reward_funcs):
            raise ValueError(
                "teacher rollouts are verified with function rewards; reward models are not supported"
            )

    def apply(self, inputs: list[dict], output: dict[str, Any]) -> dict[str, Any]:
        G = self.trainer.num_generations
        B = output["completion_ids"].shape[0]
        if B % G:
            raise ValueError(f"teacher rollouts need whole groups on each process; got {B} rows for G={G}")
        selected = [g for g in range(B // G) if self.when == "always" or output["group_success"][g * G] == 0]
        accepted = 0
        for g in selected:
            accepted += self._replace_in_group(inputs, output, g * G, G)
        mode_metrics = self.trainer._metrics["train"]
        mode_metrics["teacher_rollouts/groups"].append(float(len(selected)))
        mode_metrics["teacher_rollouts/accepted"].append(float(accepted))
        return output

    def _replace_in_group(self, inputs: list[dict], output: dict[str, Any], start: int, G: int) -> int:
        trainer, teacher = self.trainer, self.trainer.teacher
        tokenizer = trainer.processing_class
        prompt_row = output["prompt_ids"][start][output["prompt_mask"][start].bool()]  # (P_real,)
        completions = self._generate(teacher, prompt_row)  # list of k token-id lists
        texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
        rewards = self._rewards(inputs[start], texts, completions)  # (k,)
        correct = [i for i in range(len(texts)) if rewards[i] >= trainer.args.success_threshold]
        if not correct:
            return 0
        rows = list(range(start + G - len(correct), start + G))  # the group's last members make room
        for row, i in zip(rows, correct):
            self._write_row(output, row, completions[i], tokenizer.pad_token_id)
            output["rewards"][row] = rewards[i]
        group = output["rewards"][start : start + G].view(1, G)  # (1, G)
        scale = "none" if trainer.scale_rewards == "none" else "group"
        output["advantages"][start : start + G] = group_advantages(
            group, scale=scale, std="sample", eps=1e-4
        )[0]
        success = (group >= trainer.args.success_threshold).float().mean()
        output["group_success"][start : start + G] = success
        if "old_per_token_logps" in output:
            self._rescore_student(output, rows)
        return len(correct)

    @torch.no_grad()
    def _generate(self, teacher: LocalTeacher, prompt_row: torch.Tensor) -> list[list[int]]:
        args, tokenizer = self.trainer.args, self.trainer.processing_class
        ids = prompt_row.to(teacher.device).unsqueeze(0).repeat(self.k, 1)  # (k, P_real)
        out = teacher.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=args.max_completion_length,
            do_sample=True,
            temperature=args.temperature,
            top_p=args.top_p,
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
        trainer = self.trainer
        columns = {key: [example[key]] * len(texts) for key in example if key not in ("prompt", "completion")}
        prompts = [example["prompt"]] * len(texts)
        total = torch.zeros(len(texts))
        for func, weight in zip(trainer.reward_funcs, trainer.reward_weights.tolist()):
            values = func(prompts=prompts, completions=texts, completion_ids=completions, **columns)
            total += weight * torch.tensor([float("nan") if v is None else v for v in values]).nan_to_num(0.0)
        return total

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
        trainer = self.trainer
        index = torch.tensor(rows, device=output["prompt_ids"].device)
        ids = torch.cat([output["prompt_ids"][index], output["completion_ids"][index]], dim=1)
        mask = torch.cat([output["prompt_mask"][index], output["completion_mask"][index]], dim=1)
        with torch.no_grad():
            logps, _, _ = trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, mask, output["completion_ids"].shape[1]
            )
        output["old_per_token_logps"][index] = logps
