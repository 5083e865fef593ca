"""The three backends return the same teacher log-probs for the same model and tokens (to float rounding)."""

import pytest
import torch

from rlad.registry import UnknownNameError
from rlad.teacher import (
    LocalTeacher,
    OffloadedTeacher,
    RemoteTeacher,
    build_teacher,
    naive_sampled_token_logprobs,
)
from rlad.teacher.serving.protocol import pack_rows


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_local_offloaded_and_remote_agree(temperature, teacher_model, char_tokenizer, padded_batch, server):
    prompt_ids, prompt_mask, completion_ids, completion_mask = padded_batch
    local_teacher = LocalTeacher(teacher_model, char_tokenizer, temperature=temperature)
    local = local_teacher.score(*padded_batch)  # (B, T)

    # The reference: the naive full-logits computation on the same padded batch.
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
    naive = naive_sampled_token_logprobs(
        teacher_model, input_ids, attention_mask, completion_ids.shape[1], temperature
    ).masked_fill(completion_mask == 0, 0.0)
    torch.testing.assert_close(local, naive, rtol=0, atol=1e-5)
    assert (local[completion_mask == 1] < 0).all() and (local[completion_mask == 0] == 0).all()

    teachers = {
        "offload in place": OffloadedTeacher(teacher_model, char_tokenizer, temperature=temperature),
        "offload moved in": OffloadedTeacher(
            teacher_model, char_tokenizer, compute_device="cpu", temperature=temperature, batch_size=2
        ),
        # 2 sequences per request, 3 requests at a time: batching and reassembly are exercised.
        "remote": RemoteTeacher(server.url, temperature=temperature, batch_size=2, max_concurrency=3),
        "remote via factory": build_teacher("remote", url=server.url + "/v1/", temperature=temperature),
        "local via factory": build_teacher(
            "local", model=teacher_model, tokenizer=char_tokenizer, temperature=temperature
        ),
    }
    for name, teacher in teachers.items():
        scores = teacher.score(*padded_batch)
        assert scores.dtype == torch.float32 and scores.shape == completion_ids.shape, name
        torch.testing.assert_close(scores, local, rtol=0, atol=2e-6, msg=name)
        assert (scores[completion_mask == 0] == 0).all(), name
    # /v1/models and /rlad/tokenizer, then the 5 rows with completion tokens, 2 per request.
    assert teachers["remote"].stats["requests"] == 2 + 3


def test_offload_puts_the_same_host_weights_back(teacher_model, char_tokenizer, padded_batch):
    teacher = OffloadedTeacher(teacher_model, char_tokenizer, compute_device="cpu")
    before = {name: p.data_ptr() for name, p in teacher.model.named_parameters()}
    teacher.score(*padded_batch)
    assert {name: p.data_ptr() for name, p in teacher.model.named_parameters()} == before
    assert teacher.device == torch.device("cpu") and teacher.embedding_rows == len(char_tokenizer) + 16


def test_pack_rows_refuses_masks_that_are_not_padding(padded_batch):
    prompt_ids, prompt_mask, completion_ids, completion_mask = padded_batch
    holed = completion_mask.clone()
    holed[0, 2] = 0
    with pytest.raises(ValueError, match="completion_mask must be right-padded"):
        pack_rows(prompt_ids, prompt_mask, completion_ids, holed)
    right_padded_prompt = prompt_mask.flip(1)
    with pytest.raises(ValueError, match="prompt_mask must be left-padded"):
        pack_rows(prompt_ids, right_padded_prompt, completion_ids, completion_mask)


def test_factory_names_and_options(teacher_model, char_tokenizer):
    with pytest.raises(
        UnknownNameError, match="unknown teacher backend 'gpu'; valid names: local, offload, remote"
    ):
        build_teacher("gpu")
    with pytest.raises(
        TypeError, match="teacher backend 'local' does not take url; it takes: batch_size, device"
    ):
        build_teacher("local", model=teacher_model, tokenizer=char_tokenizer, url="http://127.0.0.1:1")
    assert isinstance(
        build_teacher("offload", model=teacher_model, tokenizer=char_tokenizer), OffloadedTeacher
    )
