"""The teacher server holds up: hostile JSON, 50 clients at once, huge /tokenize texts, odd methods, API keys.

Every test talks to a real server on 127.0.0.1. Time bounds here are hang guards (a socket timeout far
above what any answer needs), never measurements: the machine's speed varies threefold.
"""

import http.client
import json
import socket
import threading

import pytest
import torch

from rlad.teacher import RemoteTeacher, TeacherRequestError
from rlad.teacher.serving.server import LISTEN_BACKLOG, ServerLimits, TeacherServer, check_exposure
from rlad.trainer import RLADConfig, RLADTrainer

HANG_GUARD_S = 60  # a socket timeout: no answer here needs a tenth of it


def request(url, method, path, body=None, raw=None, headers=None, timeout=HANG_GUARD_S):
    """(status, JSON answer or None for an empty body, response headers)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(
            method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else None), dict(response.headers)
    finally:
        connection.close()


def scoring(prompt):
    return {"prompt": prompt, "max_tokens": 0, "echo": True, "prompt_logprobs": 0}


def logprobs_of(answer):
    return [[next(iter(e.values()))["logprob"] for e in c["prompt_logprobs"][1:]] for c in answer["choices"]]


# ------------------------------------------------------------------------------------ hostile JSON
DEPTH = 20_000  # far past Python's recursion limit (1000)
HOSTILE_BODIES = [
    (b'{"prompt": ' + b"[" * DEPTH + b"]" * DEPTH + b"}", "nested too deeply"),
    (b"[" * DEPTH + b"]" * DEPTH, "nested too deeply"),
    (b'{"a": ' * DEPTH + b"1" + b"}" * DEPTH, "nested too deeply"),
    (b'{"prompt": [[1, ' + b"7" * 5000 + b']], "max_tokens": 0, "echo": true}', "limit (4300 digits)"),
    (b'{"prompt": [[1, 2]], "max_tokens": 0, "echo": true, "temperature": NaN}', "NaN is not a JSON number"),
    (b'{"prompt": [[1, 2]], "max_tokens": 0, "echo": true, "temperature": -Infinity}', "-Infinity is not"),
]


def test_hostile_json_is_a_400_with_a_reason(server):
    for path in ("/v1/completions", "/tokenize"):
        for raw, reason in HOSTILE_BODIES:
            status, answer, _ = request(server.url, "POST", path, raw=raw)
            message = answer["error"]["message"]
            assert status == 400 and answer["error"]["code"] == 400, (path, raw[:40], answer)
            assert (
                reason in message and "Traceback" not in message and "set_int_max_str_digits" not in message
            )
    assert request(server.url, "GET", "/health")[:2] == (200, {"status": "ok"})


def test_refused_values_are_quoted_short(server):
    """Nesting within the parser's reach and a 4000-digit id parse, then are refused in a few words."""
    nested = "[" * 500 + "1" + "]" * 500
    cases = [
        (
            '{"prompt": [[1, ' + nested + ']], "max_tokens": 0, "echo": true}',
            r"prompt[0][1] is [[[[...]]]], not",
        ),
        ('{"prompt": [[1, ' + "9" * 4000 + ']], "max_tokens": 0, "echo": true}', "out of range"),
        ('{"prompt": [[1, "' + "x" * 100_000 + '"]], "max_tokens": 0, "echo": true}', "not an integer"),
    ]
    for raw, reason in cases:
        status, answer, _ = request(server.url, "POST", "/v1/completions", raw=raw.encode())
        assert status == 400 and reason in answer["error"]["message"], answer
        assert len(answer["error"]["message"]) < 200


# ---------------------------------------------------------------------------------- many clients
def test_fifty_concurrent_requests_are_all_answered(server, char_tokenizer):
    assert LISTEN_BACKLOG >= 50 and server.httpd.request_queue_size == LISTEN_BACKLOG
    n = 50
    sequences = [char_tokenizer(f"{i}+{i}={2 * i}")["input_ids"] for i in range(n)]
    expected = server.app.score_sequences(sequences, 1.0)
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def client(i):
        barrier.wait(timeout=HANG_GUARD_S)
        try:
            status, answer, _ = request(server.url, "POST", "/v1/completions", scoring([sequences[i]]))
            results[i] = (status, logprobs_of(answer)[0] if status == 200 else answer)
        except OSError as err:
            results[i] = ("no answer", repr(err))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=2 * HANG_GUARD_S)
    answered = [i for i, r in enumerate(results) if r is not None and r[0] == 200]
    assert len(answered) == n, [r for r in results if r is None or r[0] != 200][:3]
    for i in range(n):
        assert results[i][1] == pytest.approx(expected[i], abs=1e-5)


# --------------------------------------------------------------------------------------- /tokenize
def test_tokenize_is_bounded_by_size(server, char_tokenizer):
    limit = ServerLimits().max_text_bytes
    assert server.app.limits.body_limit("/tokenize/") == limit == 256 << 10
    status, answer, _ = request(server.url, "POST", "/tokenize", {"prompt": "1" * (4 << 20)})
    assert status == 413 and f"the limit for /tokenize is {limit}" in answer["error"]["message"]
    text = "12+3=15," * ((limit - 1000) // 8)  # just under the limit: tokenized, one id per character
    status, answer, _ = request(server.url, "POST", "/tokenize", {"prompt": text})
    assert status == 200 and answer["count"] == len(text) + 1
    assert answer["tokens"] == char_tokenizer(text)["input_ids"]
    assert request(server.url, "POST", "/detokenize", {"tokens": [5] * limit})[0] == 413
    padded = json.dumps(scoring([[1, 5, 6]])).encode() + b" " * limit  # scoring keeps the 64 MiB limit
    assert request(server.url, "POST", "/v1/completions", raw=padded)[0] == 200


class _BlockingTokenizer:
    """The served tokenizer, except that tokenizing a text waits until ``release`` (a stand-in for a huge text)."""

    def __init__(self, inner):
        self.inner, self.entered, self.release = inner, threading.Event(), threading.Event()

    def __call__(self, *args, **kwargs):
        self.entered.set()
        self.release.wait(timeout=2 * HANG_GUARD_S)
        return self.inner(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_tokenize_in_flight_does_not_hold_up_scoring(server, char_tokenizer, monkeypatch):
    blocking = _BlockingTokenizer(server.app.tokenizer)
    monkeypatch.setattr(server.app, "tokenizer", blocking)
    tokenized = []
    worker = threading.Thread(
        target=lambda: tokenized.append(request(server.url, "POST", "/tokenize", {"prompt": "7*6=42"}))
    )
    worker.start()
    try:
        assert blocking.entered.wait(timeout=HANG_GUARD_S)  # /tokenize now holds the tokenizer lock
        ids = char_tokenizer("7*6=42")["input_ids"]
        # Before the fix the scoring answer waited for the tokenizer lock: this timed out.
        status, answer, _ = request(server.url, "POST", "/v1/completions", scoring([ids]), timeout=10)
        assert status == 200 and answer["choices"][0]["text"] == "<bos>7*6=42"
        assert not tokenized  # the /tokenize call was still in flight all along
    finally:
        blocking.release.set()
        worker.join(timeout=HANG_GUARD_S)
    assert tokenized[0][0] == 200 and tokenized[0][1]["tokens"] == char_tokenizer("7*6=42")["input_ids"]


# ---------------------------------------------------------------------------------- odd requests
def _raw_exchange(url, data: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=HANG_GUARD_S) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_every_method_and_malformed_request_gets_json(server):
    status, answer, headers = request(server.url, "HEAD", "/health")
    assert status == 405 and headers["Content-Type"] == "application/json" and answer is None  # no body
    cases = [
        ("OPTIONS", "/v1/completions", None, 405, "OPTIONS is not allowed on /v1/completions; it takes POST"),
        ("PUT", "/tokenize", b'{"prompt": "x"}', 405, "it takes POST"),
        ("TRACE", "/health", None, 405, "it takes GET"),
        ("OPTIONS", "*", None, 404, "no endpoint *"),
        ("BREW", "/health", None, 501, "Unsupported method ('BREW')"),
    ]
    for method, path, raw, code, reason in cases:
        status, answer, headers = request(server.url, method, path, raw=raw)
        assert (status, answer["error"]["code"]) == (code, code) and reason in answer["error"]["message"]
        assert headers["Content-Type"] == "application/json"
    for data, code, reason in [
        (b"GET /health extra HTTP/1.1\r\n\r\n", 400, "Bad request syntax"),
        (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n", 411, "Content-Length header is required"),
        (b"POST /tokenize HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 411, "Content-Length"),
        (b"GET /health HTTP/1.1\r\nX-Long: " + b"x" * 70_000 + b"\r\n\r\n", 431, "Line too long"),
    ]:
        head, _, body = _raw_exchange(server.url, data).partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.0 {code}".encode()) and b"application/json" in head, head
        assert json.loads(body)["error"]["code"] == code and reason in json.loads(body)["error"]["message"]
    assert request(server.url, "GET", "/health")[:2] == (200, {"status": "ok"})


# ------------------------------------------------------------------------------------------ API key
@pytest.fixture()
def keyed_server(teacher_model, char_tokenizer):
    with TeacherServer(teacher_model, char_tokenizer, api_key="s3cret-key") as running:
        yield running


def test_the_api_key_is_required(keyed_server):
    url = keyed_server.url
    status, answer, headers = request(url, "GET", "/v1/models")
    assert status == 401 and "needs an API key" in answer["error"]["message"]
    assert answer["error"]["type"] == "AuthenticationError" and headers["WWW-Authenticate"].startswith(
        "Bearer"
    )
    for header, reason in [
        ("Bearer wrong-key", "the API key is wrong"),
        ("Bearer s3cret-keyX", "the API key is wrong"),
        ("Bearer s3cret-ke", "the API key is wrong"),
        ("Basic czNjcmV0LWtleQ==", "is not 'Bearer KEY'"),
        ("Bearer", "is not 'Bearer KEY'"),
    ]:
        status, answer, _ = request(url, "GET", "/v1/models", headers={"Authorization": header})
        assert status == 401 and reason in answer["error"]["message"], header
    # The key is checked before the body is read or the method is judged; /health stays open.
    status, answer, _ = request(url, "POST", "/v1/completions", raw=b"[" * 100_000)
    assert status == 401
    assert request(url, "OPTIONS", "/tokenize")[0] == 401
    assert request(url, "GET", "/health")[:2] == (200, {"status": "ok"})
    good = {"Authorization": "Bearer s3cret-key"}
    assert request(url, "GET", "/v1/models", headers=good)[1]["data"][0]["id"] == "teacher"
    status, answer, _ = request(url, "POST", "/v1/completions", scoring([[1, 5, 6]]), headers=good)
    assert status == 200 and len(answer["choices"][0]["prompt_logprobs"]) == 3


def test_remote_teacher_sends_the_key(keyed_server, server, padded_batch, monkeypatch):
    monkeypatch.delenv("RLAD_TEACHER_API_KEY", raising=False)
    with pytest.raises(TeacherRequestError, match=r"HTTP 401\): this server needs an API key") as err:
        RemoteTeacher(keyed_server.url, max_retries=5, backoff_s=0.01)
    assert err.value.status == 401  # refused at once, not retried
    with pytest.raises(TeacherRequestError, match="the API key is wrong"):
        RemoteTeacher(keyed_server.url, api_key="nope", max_retries=0)
    with pytest.raises(ValueError, match="api_key must be visible ASCII characters with no spaces"):
        RemoteTeacher(keyed_server.url, api_key="two words")
    reference = RemoteTeacher(server.url).score(*padded_batch)
    with RemoteTeacher(keyed_server.url, api_key="s3cret-key") as teacher:
        assert torch.equal(teacher.score(*padded_batch), reference)
    monkeypatch.setenv("RLAD_TEACHER_API_KEY", "s3cret-key")  # the environment, when no key is passed
    with RemoteTeacher(keyed_server.url) as teacher:
        assert torch.equal(teacher.score(*padded_batch), reference)


def test_the_config_key_reaches_the_remote_client(keyed_server, char_tokenizer, tmp_path, monkeypatch):
    from trainer_helpers import COMMON, addition_dataset, digit_fraction  # tests/ is on sys.path

    from rlad.toy.models import build_tiny_llama

    monkeypatch.delenv("RLAD_TEACHER_API_KEY", raising=False)
    student = build_tiny_llama(char_tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)

    def trainer(**extra):
        args = RLADConfig(
            output_dir=str(tmp_path),
            **{**COMMON, "teacher_backend": "remote", "teacher_url": keyed_server.url, **extra},
        )
        return RLADTrainer(
            model=student,
            reward_funcs=digit_fraction,
            args=args,
            train_dataset=addition_dataset(8),
            processing_class=char_tokenizer,
        )

    built = trainer(teacher_api_key="s3cret-key")
    assert isinstance(built.teacher, RemoteTeacher) and built.teacher.model == "teacher"
    assert "s3cret-key" not in repr(built.args)
    built.save_model(str(tmp_path / "saved"))  # what a checkpoint writes, too
    saved = torch.load(tmp_path / "saved" / "training_args.bin", weights_only=False)
    assert saved.teacher_api_key is None and saved.teacher_url == keyed_server.url
    assert b"s3cret-key" not in (tmp_path / "saved" / "training_args.bin").read_bytes()
    assert built.args.teacher_api_key == "s3cret-key"  # restored for the rest of the run
    with pytest.raises(TeacherRequestError, match="HTTP 401"):
        trainer(teacher_max_retries=0)


def test_no_key_means_loopback_only(teacher_model, char_tokenizer):
    for host in ("0.0.0.0", "", "::", "192.0.2.1", "teacher.example"):
        with pytest.raises(ValueError, match="no API key is set.*--insecure-no-key"):
            TeacherServer(teacher_model, char_tokenizer, host=host)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_exposure(host, None, allow_no_key=False)
    check_exposure("0.0.0.0", "key", allow_no_key=False)
    check_exposure("0.0.0.0", None, allow_no_key=True)
    for bad in ("", "two words", "line\nbreak", "ключ"):
        with pytest.raises(ValueError, match="api_key must be visible ASCII characters with no spaces"):
            TeacherServer(teacher_model, char_tokenizer, api_key=bad)
