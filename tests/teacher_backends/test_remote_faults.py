"""RemoteTeacher under faults: malformed answers, slow answers, server errors, refused requests, no server."""

import socket
import time

import pytest
import torch
from teacher_backends.backend_helpers import edited, raw, slow

from rlad.teacher import LocalTeacher, RemoteTeacher, TeacherRequestError, TeacherUnavailableError

FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05}


def _drop_last_logprob(answer):
    answer["choices"][0]["prompt_logprobs"].pop()


def _positive_logprob(answer):
    entry = answer["choices"][0]["prompt_logprobs"][-1]
    next(iter(entry.values()))["logprob"] = 0.5


def _other_token(answer):
    entry = answer["choices"][0]["prompt_logprobs"][-1]
    entry["12345"] = entry.pop(next(iter(entry)))


def _retokenised(answer):
    answer["choices"][0]["prompt_token_ids"][1] += 1


def _one_choice_missing(answer):
    answer["choices"].pop()


MALFORMED = {
    "not json": raw(200, b"<html>502 Bad Gateway</html>"),
    "truncated": raw(200, b'{"choices": [{"index": 0, "prompt_logp'),
    "no choices": raw(200, b'{"object": "text_completion"}'),
    "short prompt_logprobs": edited(_drop_last_logprob),
    "positive logprob": edited(_positive_logprob),
    "other token": edited(_other_token),
    "re-tokenised": edited(_retokenised),
    "missing choice": edited(_one_choice_missing),
}


@pytest.fixture()
def expected(teacher_model, char_tokenizer, padded_batch):
    return LocalTeacher(teacher_model, char_tokenizer).score(*padded_batch)


@pytest.mark.parametrize("fault", list(MALFORMED))
def test_a_malformed_answer_is_retried(fault, scripted, padded_batch, expected):
    server = scripted([MALFORMED[fault]])
    teacher = RemoteTeacher(server.url, max_retries=2, **FAST)
    torch.testing.assert_close(teacher.score(*padded_batch), expected, rtol=0, atol=2e-6)
    assert teacher.stats["failed_attempts"] == 1 and server.completions_seen == 2


def test_malformed_answers_beyond_the_budget_raise(scripted, padded_batch):
    server = scripted([MALFORMED["positive logprob"]] * 10)
    teacher = RemoteTeacher(server.url, max_retries=3, **FAST)
    with pytest.raises(
        TeacherUnavailableError,
        match=r"after 4 attempt\(s\) .* last error: malformed response: "
        r"choice 0 position \d+: logprob of token \d+ is 0.5",
    ):
        teacher.score(*padded_batch)
    assert server.completions_seen == 4


def test_a_slow_answer_times_out_and_is_retried(scripted, padded_batch, expected):
    server = scripted([slow(2.0)])
    teacher = RemoteTeacher(server.url, timeout_s=0.25, max_retries=2, **FAST)
    start = time.monotonic()
    torch.testing.assert_close(teacher.score(*padded_batch), expected, rtol=0, atol=2e-6)
    assert teacher.stats["failed_attempts"] == 1 and time.monotonic() - start < 1.5  # did not wait 2 s


def test_always_slow_raises_after_the_budget(scripted, padded_batch):
    server = scripted([slow(0.6)] * 3)
    teacher = RemoteTeacher(server.url, timeout_s=0.2, max_retries=2, **FAST)
    with pytest.raises(
        TeacherUnavailableError, match=r"after 3 attempt\(s\).*last error: timed out after 0.2 s"
    ):
        teacher.score(*padded_batch)


@pytest.mark.parametrize("status", [503, 429, 502])
def test_server_errors_are_retried(status, scripted, padded_batch, expected):
    server = scripted([raw(status, b'{"error": {"message": "overloaded"}}')] * 2)
    teacher = RemoteTeacher(server.url, max_retries=2, **FAST)
    torch.testing.assert_close(teacher.score(*padded_batch), expected, rtol=0, atol=2e-6)
    assert teacher.stats["failed_attempts"] == 2


def test_out_of_range_tokens_are_refused_at_once(server, padded_batch):
    prompt_ids, prompt_mask, completion_ids, completion_mask = padded_batch
    bad = completion_ids.clone()
    bad[0, 0] = 10_000
    teacher = RemoteTeacher(server.url, max_retries=5, **FAST)
    with pytest.raises(TeacherRequestError, match=r"HTTP 400\): prompt\[0\]\[\d+\] = 10000 is out of range"):
        teacher.score(prompt_ids, prompt_mask, bad, completion_mask)
    assert teacher.stats["failed_attempts"] == 0  # a bad request is not retried


def test_too_long_sequences_are_refused_before_sending(teacher_model, char_tokenizer, padded_batch):
    from rlad.teacher.server import ServerLimits, TeacherServer

    with TeacherServer(teacher_model, char_tokenizer, limits=ServerLimits(max_sequence_length=8)) as server:
        teacher = RemoteTeacher(server.url)
        with pytest.raises(ValueError, match="row 0 has 13 prompt \\+ completion tokens; .* at most 8"):
            teacher.score(*padded_batch)


def test_no_server_at_all(padded_batch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(
        TeacherUnavailableError,
        match=rf"at http://127.0.0.1:{port} gave no valid answer to GET "
        r"/v1/models after 3 attempt\(s\).*connection refused",
    ):
        RemoteTeacher(f"http://127.0.0.1:{port}", max_retries=2, **FAST)
    assert time.monotonic() - start < 2


def test_bad_construction_arguments():
    with pytest.raises(
        ValueError, match="timeout_s=0 must be positive; url=.localhost:8000. must look like http://host:port"
    ):
        RemoteTeacher("localhost:8000", timeout_s=0)


def test_one_refused_request_stops_the_others_retrying(scripted, padded_batch):
    server = scripted(
        [raw(503, b"busy")] * 3 + [raw(400, b'{"error": {"message": "no"}}')] + [raw(503, b"")] * 50
    )
    teacher = RemoteTeacher(server.url, batch_size=1, max_concurrency=5, max_retries=5, backoff_s=2.0)
    start = time.monotonic()
    with pytest.raises(TeacherRequestError, match=r"HTTP 400\): no"):
        teacher.score(*padded_batch)
    # Neither waiting on the other requests' retries nor on their 2 s backoff.
    assert time.monotonic() - start < 1.5
