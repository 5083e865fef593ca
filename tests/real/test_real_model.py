"""The packaged real pair (SmolLM2-135M-Instruct and its LoRA sums teacher) through rlad's paths.

One conversion and one merge are shared by the whole session (and cached across sessions under
``$RLAD_CACHE`` or ``~/.cache/rlad``). Training tests are tiny: 2 prompts x 2 generations, 8 tokens.
"""

import math

import pytest
import torch

STUDENT, TEACHER = "smollm2-135m", "smollm2-135m-sums"


@pytest.fixture(scope="session")
def real_paths():
    from rlad.run.models import resolve_model

    return resolve_model(STUDENT), resolve_model(TEACHER)


@pytest.fixture(scope="session")
def real_tokenizer(real_paths):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(real_paths[0])


def test_conversion_is_a_plain_folder(real_paths):
    import json
    from pathlib import Path

    config = json.loads((Path(real_paths[0]) / "config.json").read_text())
    generation = json.loads((Path(real_paths[0]) / "generation_config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert config["eos_token_id"] == generation["eos_token_id"] == 2  # <|im_end|>
    assert config["pad_token_id"] == generation["pad_token_id"] == 2


def test_chat_template_applied(real_tokenizer):
    from rlad.eval.generation import encode_prompt, render_prompt
    from rlad.tasks import get_task

    row = get_task("sums").load(split="test", limit=1)[0]
    text = render_prompt(real_tokenizer, row["prompt"])
    assert "<|im_start|>user\nWhat is" in text and text.endswith("<|im_start|>assistant\n")
    ids = encode_prompt(real_tokenizer, row["prompt"])
    assert ids[0] == real_tokenizer.convert_tokens_to_ids("<|im_start|>") and ids.count(1) == 3


def test_tokenizer_check_passes_for_the_pair_and_fails_for_a_char_tokenizer(
    real_paths, real_tokenizer, char_tokenizer
):
    from transformers import AutoTokenizer

    from rlad.teacher.tokenizer_check import TokenizerMismatchError, check_tokenizers_match

    check_tokenizers_match(real_tokenizer, AutoTokenizer.from_pretrained(real_paths[1]))
    with pytest.raises(TokenizerMismatchError, match="tokenizers differ"):
        check_tokenizers_match(real_tokenizer, char_tokenizer)


def test_teacher_logprobs_equal_a_direct_forward(real_paths, real_tokenizer):
    from rlad.teacher.local import LocalTeacher, load_teacher_model

    teacher = load_teacher_model(TEACHER, "float32")  # the packaged name resolves to the merged folder
    scorer = LocalTeacher(teacher, real_tokenizer)
    prompt = torch.tensor([real_tokenizer("What is 2 + 3?")["input_ids"]])  # (1, P)
    completion = torch.tensor([real_tokenizer(" The answer is 5.")["input_ids"]])  # (1, T)
    logp = scorer.score(prompt, torch.ones_like(prompt), completion, torch.ones_like(completion))  # (1, T)
    with torch.no_grad():
        logits = teacher(input_ids=torch.cat([prompt, completion], 1)).logits.float()  # (1, P + T, V)
    T = completion.shape[1]
    direct = torch.log_softmax(logits[:, -T - 1 : -1], -1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(logp, direct, rtol=1e-4, atol=1e-4)


def digit_share(prompts, completions, **kwargs):
    """A dense reward (share of digit characters): groups differ, so even one 8-token step moves weights."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    return [sum(ch.isdigit() for ch in t) / max(len(t), 1) for t in texts]


def _trainer(tmp_path, loss, peft_config=None, teacher=True, dense=False, learning_rate=1e-5):
    from datasets import Dataset

    from rlad.tasks import get_task
    from rlad.trainer import RLADConfig, RLADTrainer

    task = get_task("sums")
    rows = [dict(r) for r in task.load(split="train", limit=2)]
    args = RLADConfig(
        output_dir=str(tmp_path),
        loss=loss,
        teacher_model=TEACHER if teacher else None,
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        learning_rate=learning_rate,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        bf16=False,
        disable_tqdm=True,
        seed=0,
    )
    return RLADTrainer(
        model=STUDENT,  # a packaged short name, resolved by the trainer
        reward_funcs=[digit_share] if dense else task.reward_funcs(),
        args=args,
        train_dataset=Dataset.from_list(rows),
        peft_config=peft_config,
    )


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["trrd", "grpo", "kdrl"])
def test_one_step_has_finite_metrics(tmp_path, loss, real_paths):
    trainer = _trainer(tmp_path, loss, teacher=loss != "grpo")
    trainer.train()
    logged = trainer.state.log_history[0]
    assert math.isfinite(logged["loss"]) and math.isfinite(logged["reward"])
    if loss == "trrd":
        assert math.isfinite(logged["teacher/abs_log_ratio"])


@pytest.mark.slow
def test_lora_student_saves_and_reloads(tmp_path, real_paths):
    from peft import LoraConfig, PeftModel
    from transformers import AutoModelForCausalLM

    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    trainer = _trainer(tmp_path, "trrd", lora, dense=True, learning_rate=1e-2)
    trainer.train()
    trained = trainer.model
    assert isinstance(trained, PeftModel)
    lora_b = [p for n, p in trained.named_parameters() if "lora_B" in n]
    assert any(bool(p.abs().sum() > 0) for p in lora_b)  # B starts at zero: the step moved it
    assert sum(p.numel() for p in trained.parameters() if p.requires_grad) < 1_000_000
    trainer.save_model(str(tmp_path / "lora"))
    assert (tmp_path / "lora" / "adapter_model.safetensors").stat().st_size < 2_000_000
    reloaded = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(real_paths[0]), str(tmp_path / "lora")
    )
    ids = torch.tensor([[1, 9690, 198, 2]])
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded.eval()(ids).logits, trained.eval()(ids).logits, rtol=1e-4, atol=1e-4
        )


@pytest.mark.slow
def test_full_fine_tuning_saves_and_reloads(tmp_path, real_paths):
    from transformers import AutoModelForCausalLM

    trainer = _trainer(tmp_path, "grpo", teacher=False, dense=True, learning_rate=1e-3)
    before = trainer.model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    trainer.train()
    trainer.save_model(str(tmp_path / "full"))
    reloaded = AutoModelForCausalLM.from_pretrained(str(tmp_path / "full"))
    after = reloaded.model.layers[0].self_attn.q_proj.weight
    torch.testing.assert_close(after, trainer.model.model.layers[0].self_attn.q_proj.weight.detach())
    assert not torch.equal(after, before)
