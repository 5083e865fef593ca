"""RemoteTeacher under faults: malformed answers, slow answers, server errors, refused requests, no server.

No test here depends on the machine's speed. A "slow" answer is one the server holds back until the test
releases it (`Stalled`), so a timeout can only come from the client's own limit; budgets are counted in
attempts and requests seen by the server, and seconds appear only as limits far above any real answer.
"""

import socket
import threading

import pytest
import torch
from teacher_backends.backend_helpers import edited, ok, raw

from rlad.teacher import LocalTeacher, RemoteTeacher, TeacherRequestError, TeacherUnavailableError

FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05}
TIMEOUT_S = 1.0  # the client's limit; a real answer of the tiny teacher takes milliseconds
HANG_GUARD_S = 30.0  # a stalled answer is sent after this at the latest (only if a test is broken)


class Stalled:
    """An action that holds its answer back until `release` (or the hang guard), recording what it sent."""

    def __init__(self) -> None:
        self.release, self.answered = threading.Event(), []

    def __call__(self, real):
        self.release.wait(HANG_GUARD_S)
        self.answered.append(True)
        return ok(real)


@pytest.fixture()
def stalled():
    """``stalled()`` makes a `Stalled` action; all are released when the test ends."""
    made: list[Stalled] = []

    def make() -> Stalled:
        made.append(Stalled())
        return made[-1]

    yield make
    for action in made:
        action.release.set()


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


def test_a_slow_answer_times_out_and_is_retried(scripted, stalled, padded_batch, expected):
    held = stalled()
    server = scripted([held])
    teacher = RemoteTeacher(server.url, timeout_s=TIMEOUT_S, max_retries=2, **FAST)
    torch.testing.assert_close(teacher.score(*padded_batch), expected, rtol=0, atol=2e-6)
    # The answer came from the retry: the first request was still held back when the client gave up on it.
    assert teacher.stats["failed_attempts"] == 1 and server.completions_seen == 2 and not held.answered


def test_always_slow_raises_after_the_budget(scripted, stalled, padded_batch):
    held = [stalled() for _ in range(3)]
    server = scripted(held)
    teacher = RemoteTeacher(server.url, timeout_s=TIMEOUT_S, max_retries=2, **FAST)
    with pytest.raises(
        TeacherUnavailableError, match=r"after 3 attempt\(s\).*last error: timed out after 1 s"
    ):
        teacher.score(*padded_batch)
    assert server.completions_seen == 3 and not any(h.answered for h in held)


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
    from rlad.teacher.serving.server import ServerLimits, TeacherServer

    with TeacherServer(teacher_model, char_tokenizer, limits=ServerLimits(max_sequence_length=8)) as server:
        teacher = RemoteTeacher(server.url)
        with pytest.raises(ValueError, match="row 0 has 13 prompt \\+ completion tokens; .* at most 8"):
            teacher.score(*padded_batch)


def test_no_server_at_all(padded_batch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Refused at once, three times (not a timeout: the message says so; the backoff is FAST).
    with pytest.raises(
        TeacherUnavailableError,
        match=rf"at http://127.0.0.1:{port} gave no valid answer to GET "
        r"/v1/models after 3 attempt\(s\).*connection refused",
    ):
        RemoteTeacher(f"http://127.0.0.1:{port}", max_retries=2, **FAST)


def test_bad_construction_arguments():
    with pytest.raises(
        ValueError, match="timeout_s=0 must be positive; url=.localhost:8000. must look like http://host:port"
    ):
        RemoteTeacher("localhost:8000", timeout_s=0)


def test_one_refused_request_stops_the_others_retrying(scripted, padded_batch):
    # Five one-row requests at once: four get 503 (retryable), one gets 400. A 60 s backoff is far longer
    # than this test, so any retry seen by the server means someone waited out a backoff.
    server = scripted(
        [raw(503, b"busy")] * 3 + [raw(400, b'{"error": {"message": "no"}}')] + [raw(503, b"")] * 50
    )
    teacher = RemoteTeacher(
        server.url, batch_size=1, max_concurrency=5, max_retries=1, backoff_s=60.0, max_backoff_s=60.0
    )
    with pytest.raises(TeacherRequestError, match=r"HTTP 400\): no"):
        teacher.score(*padded_batch)
    assert server.completions_seen <= 5  # score raised without waiting for the others' backoff ...
    teacher._pool.shutdown(wait=True)  # ... and they stop waiting too: with a 60 s backoff this is instant
    assert 4 <= server.completions_seen <= 5 and teacher.stats["failed_attempts"] <= 4
