"""``RLADTrainer``: TRL's GRPOTrainer with a teacher inside the objective (RLAD, Zhang et al. 2026).

One batch, top to bottom (docs/method.md section 5):

1. Rollouts: TRL samples G completions per prompt (HF generate or vLLM) and scores them with the
   reward functions; its group advantages are used unchanged.
2. Scoring: :meth:`_generate_and_score_completions` adds the teacher's log-prob of every sampled
   token, once per generated batch (not per optimisation step), with no gradient, via the teacher
   backend (:mod:`rlad.teacher`). It also keeps each completion's reward and its group's success rate.
3. Selection: the optional explicit gates (:mod:`rlad.objectives.gates`) choose per sequence whether
   the teacher anchors its trust region.
4. Update: :meth:`_compute_loss` calls one pure objective from :data:`rlad.objectives.LOSSES` with
   exactly the tensors and hyper-parameters its registration declares. This is where the teacher
   enters the ratio. No loss is named in this file: what a loss needs is read from its spec.

What is overridden from ``trl.GRPOTrainer`` (TRL pinned to 1.16.x) and why:

* ``__init__``: load the teacher and run the tokenizer pre-flight check before any training.
* ``_calculate_rewards``: keep the (all-process) rewards so gates and logs can see them.
* ``_generate_and_score_completions``: add teacher log-probs, rewards and group success rates
  (and, with ``advantage_std="population"``, replace TRL's advantages by the paper's).
* ``_compute_loss``: replace TRL's loss maths with our registered objectives; everything else TRL
  does there (student log-probs, old log-probs, gradient-accumulation scaling, metric logging)
  is kept the same, so ``loss="grpo"`` reproduces TRL's GRPO to float rounding.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import PreTrainedModel
from trl import GRPOTrainer

from rlad.objectives import (
    gated_alpha,
    group_advantages,
    group_success_rate,
    imitation_gates,
    masked_mean,
    weighted_rewards,
)
from rlad.teacher import (
    TeacherScorer,
    build_teacher,
    check_tokenizers_match,
    load_teacher_model,
    load_teacher_tokenizer,
)
from rlad.trainer.config import RLADConfig
from rlad.trainer.teacher_rollouts import RolloutSettings, TeacherRollouts


class RLADTrainer(GRPOTrainer):
    """Train a student with RL on verifiable rewards while a frozen teacher shapes each update.

    ``teacher`` may be a :class:`~rlad.teacher.TeacherScorer` (any backend), a loaded
    ``PreTrainedModel`` (then pass ``teacher_tokenizer`` unless it can be loaded from the model's
    ``name_or_path``), or omitted to load ``args.teacher_model``.
    """

    def __init__(
        self,
        model: str | PreTrainedModel,
        reward_funcs: Any,
        args: RLADConfig,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        teacher: TeacherScorer | PreTrainedModel | None = None,
        teacher_tokenizer: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(args, RLADConfig):
            raise TypeError(f"RLADTrainer needs an RLADConfig, got {type(args).__name__}")
        if args.needs_teacher and teacher is None and args.teacher_model is None and args.teacher_url is None:
            raise ValueError(
                f"loss={args.loss!r} needs a teacher: set teacher_model (or teacher_url) or pass teacher="
            )
        if isinstance(model, str):  # packaged real models and toy: specs resolve to a folder
            from rlad.run.models import resolve_model

            model = resolve_model(model)
        teacher_model = None
        remote = args.teacher_backend == "remote"
        if teacher is None and args.teacher_model is not None and args.needs_teacher and not remote:
            teacher_model = load_teacher_model(
                args.teacher_model, args.teacher_dtype
            )  # fails fast on bad paths
            teacher_tokenizer = teacher_tokenizer or load_teacher_tokenizer(args.teacher_model)
        super().__init__(
            model=model,
            reward_funcs=reward_funcs,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            **kwargs,
        )
        self.teacher = self._build_teacher(
            teacher if teacher is not None else teacher_model, teacher_tokenizer
        )
        self.loss_spec = args.loss_spec
        self.teacher_rollouts = (
            self._build_teacher_rollouts() if args.teacher_rollouts_per_prompt > 0 else None
        )
        self._last_rewards_per_func: torch.Tensor | None = None

    # ----------------------------------------------------------------------------------- teacher set-up
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """Transformers pickles ``self.args`` into ``training_args.bin``: never with the teacher's API key
        (the remote client already holds its own copy)."""
        key, self.args.teacher_api_key = self.args.teacher_api_key, None
        try:
            super()._save(output_dir, state_dict)
        finally:
            self.args.teacher_api_key = key

    def _build_teacher(self, teacher: Any, teacher_tokenizer: Any) -> TeacherScorer | None:
        args = self.args
        if teacher is None and args.teacher_backend == "remote" and args.needs_teacher:
            if teacher_tokenizer is None and args.teacher_model is not None:
                teacher_tokenizer = load_teacher_tokenizer(args.teacher_model)  # for servers other than ours
            teacher = build_teacher(
                "remote",
                url=args.teacher_url,
                tokenizer=teacher_tokenizer,
                temperature=self.temperature,
                batch_size=args.teacher_batch_size,
                max_concurrency=args.teacher_max_concurrency,
                timeout_s=args.teacher_timeout_s,
                max_retries=args.teacher_max_retries,
                api_key=args.teacher_api_key,
            )
        if teacher is None:
            return None
        if isinstance(teacher, PreTrainedModel):
            if teacher_tokenizer is None:
                teacher_tokenizer = load_teacher_tokenizer(teacher.name_or_path)
            common = {
                "model": teacher,
                "tokenizer": teacher_tokenizer,
                "temperature": self.temperature,
                "batch_size": args.teacher_batch_size,
            }
            if args.teacher_backend == "offload":
                compute = self.accelerator.device if args.teacher_offload_move else None
                teacher = build_teacher(
                    "offload", **common, offload_device=args.teacher_offload_device, compute_device=compute
                )
            else:
                teacher = build_teacher("local", **common, device=self.accelerator.device)
        if not isinstance(teacher, TeacherScorer):
            raise TypeError(
                f"teacher must be a TeacherScorer or a PreTrainedModel, got {type(teacher).__name__}"
            )
        rows = getattr(teacher, "embedding_rows", None)
        check_tokenizers_match(self.processing_class, teacher.tokenizer, teacher_embedding_rows=rows)
        return teacher

    def _build_teacher_rollouts(self) -> TeacherRollouts:
        args = self.args
        settings = RolloutSettings(
            per_prompt=args.teacher_rollouts_per_prompt,
            when=args.teacher_rollouts_when,
            num_generations=self.num_generations,
            success_threshold=args.success_threshold,
            scale_rewards=self.scale_rewards,
            advantage_std=args.advantage_std,
            max_new_tokens=args.max_completion_length,
            temperature=args.temperature,
            top_p=args.top_p,
        )

        @torch.no_grad()
        def score_student(ids: torch.Tensor, mask: torch.Tensor, num_completion: int) -> torch.Tensor:
            return self._get_per_token_logps_and_entropies(self.model, ids, mask, num_completion)[0]

        return TeacherRollouts(
            settings,
            teacher=self.teacher,
            tokenizer=self.processing_class,
            reward_funcs=self.reward_funcs,
            reward_weights=self.reward_weights,
            score_student=score_student,
            log=lambda name, value: self._metrics["train"][name].append(value),
        )

    # ---------------------------------------------------------------------------- rollouts and scoring
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func  # (N_all_processes, n_funcs)
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        output.update(self._local_rewards(len(inputs), mode))
        if self.teacher_rollouts is not None and mode == "train":
            output = self.teacher_rollouts.apply(inputs, output)
        if self.teacher is not None and self.loss_spec.needs_teacher:
            start = time.perf_counter()
            output["teacher_per_token_logps"] = self.teacher.score(
                output["prompt_ids"],
                output["prompt_mask"],
                output["completion_ids"],
                output["completion_mask"],
            )  # (B, T)
            self._metrics[mode]["timing/teacher_scoring_s"].append(time.perf_counter() - start)
        return output

    def _local_rewards(self, num_local: int, mode: str) -> dict[str, torch.Tensor]:
        """This process's total rewards (B,), its groups' success rates (B,) and, when the population std
        is asked for, its advantages (B,) recomputed from all processes' rewards."""
        per_func = self._last_rewards_per_func  # (N, n_funcs) over all processes
        rewards = weighted_rewards(per_func, self.reward_weights)  # (N,)
        G = self.num_generations if mode == "train" else self.num_generations_eval
        rank = self.accelerator.process_index
        local = slice(rank * num_local, (rank + 1) * num_local)
        out = {
            "rewards": rewards[local],
            "group_success": group_success_rate(rewards, G, self.args.success_threshold)[local],
        }
        if self.args.advantage_std != "sample":
            unscorable = torch.isnan(per_func).all(dim=1)  # (N,): TRL leaves these out of the baseline
            grouped = torch.where(unscorable, torch.nan, rewards).view(-1, G)  # (N / G, G)
            advantages = group_advantages(grouped, self.scale_rewards, self.args.advantage_std, eps=1e-4)
            out["advantages"] = advantages.view(-1)[local]  # (B,)
        return out

    # ------------------------------------------------------------------------------------------ update
    def _compute_loss(self, model, inputs):
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)  # (B, P + T)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)  # (B, P + T)
        logits_to_keep = completion_ids.size(1)
        mask = (
            completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        )  # (B, T)

        logp, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, compute_entropy=True
        )  # (B, T) each
        old_logp = inputs.get("old_per_token_logps")
        old_logp = logp.detach() if old_logp is None else old_logp  # (B, T)
        mode = "train" if self.model.training else "eval"

        batch = {
            "logp": logp,
            "old_logp": old_logp,
            "teacher_logp": inputs.get("teacher_per_token_logps"),
            "ref_logp": inputs.get("ref_per_token_logps"),
            "advantages": inputs["advantages"],
            "mask": mask,
            "rewards": inputs["rewards"],
            "group_success": inputs["group_success"],
            "token_weights": inputs.get("importance_sampling_ratio"),
        }
        settings, gate_metrics = self._loss_settings(batch)
        loss, metrics = self.loss_spec(**self.loss_spec.arguments(batch, settings))
        if mode == "train":
            loss = loss / self.current_gradient_accumulation_steps  # TRL's scaling for gradient accumulation

        undeclared = set(metrics) - set(self.loss_spec.metrics)
        if undeclared:
            raise ValueError(f"loss {self.args.loss!r} logged undeclared metrics {sorted(undeclared)}")
        metrics = {**metrics, **gate_metrics, "entropy": masked_mean(entropies, mask)}
        self._log_loss_metrics(mode, metrics)
        return loss

    def _loss_settings(self, batch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The declared hyper-parameters at this step; the gated one per sequence (B, 1) when gates are on."""
        args = self.args
        settings = args.loss_settings(self.state.global_step, self.state.max_steps)
        if not args.any_gate:
            return settings, {}
        is_open, metrics = imitation_gates(
            old_logp=batch["old_logp"],
            teacher_logp=batch["teacher_logp"],
            mask=batch["mask"],
            advantages=batch["advantages"],
            group_success=batch["group_success"],
            align_tau=args.gate_align_tau,
            adv_tau=args.gate_adv_tau,
            adv_positive_only=args.gate_adv_positive_only,
            explore_rate=args.gate_explore_rate,
        )
        gated = self.loss_spec.gated
        settings[gated] = gated_alpha(settings[gated], is_open, dtype=batch["logp"].dtype)  # (B, 1)
        return settings, metrics

    def _log_loss_metrics(self, mode: str, metrics: dict[str, torch.Tensor]) -> None:
        """Average each scalar over processes (same key order on every rank) and hand it to TRL's logger."""
        device = self.accelerator.device
        for name in sorted(metrics):
            value = torch.as_tensor(metrics[name], dtype=torch.float32, device=device).detach().reshape(1)
            self._metrics[mode][name].append(self.accelerator.gather(value).mean().item())
