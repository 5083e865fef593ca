"""Teacher agreement equals a naive full forward of the teacher (full log-softmax), pair by pair."""

import pytest
import torch

from rlad.eval.generation import HFBackend, encode_prompt
from rlad.eval.teacher_agreement import teacher_agreement
from rlad.teacher import LocalTeacher

PROMPTS = ["1+2=", "33-4+5=", [{"role": "user", "content": "7-1="}], "9", "12="]
COMPLETIONS = ["1+2=3;A:3", "x", "7-1=6;A:6", "", "no answer here at all, a long one"]


def _naive(model, tokenizer, prompt, completion):
    """Mean log-prob of the completion tokens from one unpadded forward and a full float32 log-softmax."""
    prompt_ids = encode_prompt(tokenizer, prompt)
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + completion_ids])  # (1, P + T)
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()  # (1, P + T, V)
    logps = torch.log_softmax(logits[0, :-1], dim=-1)  # (P + T - 1, V): position t predicts token t + 1
    targets = ids[0, 1:]  # (P + T - 1,)
    picked = logps.gather(-1, targets[:, None])[:, 0]  # (P + T - 1,)
    return picked[len(prompt_ids) - 1 :].mean().item()  # the T completion tokens


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_agreement_equals_naive_forward(teacher_model, tokenizer, batch_size):
    got = teacher_agreement(
        (teacher_model, tokenizer), PROMPTS, COMPLETIONS, batch_size=batch_size, show_progress=False
    )
    for prompt, completion, value in zip(PROMPTS, COMPLETIONS, got):
        if completion == "":
            assert value is None  # nothing to score
        else:
            assert value == pytest.approx(_naive(teacher_model, tokenizer, prompt, completion), abs=1e-5)


def test_accepts_a_teacher_scorer(teacher_model, tokenizer):
    pair = teacher_agreement((teacher_model, tokenizer), PROMPTS, COMPLETIONS, show_progress=False)
    scorer = teacher_agreement(
        LocalTeacher(teacher_model, tokenizer), PROMPTS, COMPLETIONS, show_progress=False
    )
    assert pair == pytest.approx(scorer)


def test_a_model_scores_its_own_greedy_text_higher_than_noise(peaky_student, tokenizer):
    # sanity of the sign and direction: the model's own argmax text reads more like it than random text
    prompts = ["1+2=", "33-4+5="]
    own = [
        g[0]
        for g in HFBackend(peaky_student, tokenizer, show_progress=False).generate(
            prompts, n=1, max_new_tokens=8, temperature=0.0, top_p=1.0, seed=0
        )
    ]
    noise = ["qQ)x", "Zz(("]
    own_score = teacher_agreement((peaky_student, tokenizer), prompts, own, show_progress=False)
    noise_score = teacher_agreement((peaky_student, tokenizer), prompts, noise, show_progress=False)
    assert all(o > n for o, n in zip(own_score, noise_score))


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="2 prompts but 1 completions"):
        teacher_agreement(object(), ["a", "b"], ["c"])
