"""``rlad serve-teacher``'s server: validated requests, 4xx answers with a JSON reason, never a crash."""

import http.client
import json
import re

import pytest
import torch

from rlad.teacher.serving.server import ServerLimits, TeacherApp, TeacherServer


def request(url: str, method: str, path: str, body=None, raw: bytes | None = None):
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    status, answer = response.status, json.loads(response.read())
    connection.close()
    return status, answer


def scoring(prompt, **extra):
    return {"prompt": prompt, "max_tokens": 0, "echo": True, "prompt_logprobs": 0, **extra}


def test_scoring_answer_has_vllms_shape(server, char_tokenizer):
    ids = char_tokenizer("12+3=15")["input_ids"]
    status, answer = request(
        server.url, "POST", "/v1/completions", scoring([ids, ids[:3]], model="teacher", logprobs=0)
    )
    assert status == 200 and answer["object"] == "text_completion" and answer["usage"]["prompt_tokens"] == 11
    first, second = answer["choices"]
    assert first["index"] == 0 and first["prompt_token_ids"] == ids and first["text"] == "<bos>12+3=15"
    assert first["prompt_logprobs"][0] is None and len(first["prompt_logprobs"]) == len(ids)
    entry = first["prompt_logprobs"][1]
    assert list(entry) == [str(ids[1])] and entry[str(ids[1])]["decoded_token"] == "1"
    assert first["logprobs"]["token_logprobs"][1] == entry[str(ids[1])]["logprob"]
    assert second["prompt_logprobs"][1:] == first["prompt_logprobs"][1:3]  # causal: a prefix scores the same


BAD_REQUESTS = [
    (scoring([[1, 2, 10_000]]), 400, r"prompt\[0\]\[2\] = 10000 is out of range \[0, \d+\)"),
    (scoring([[1, -1]]), 400, "out of range"),
    (scoring([[1, True]]), 400, r"prompt\[0\]\[1\] is True, not an integer token id"),
    (scoring([[1, 2.0]]), 400, "not an integer token id"),
    (scoring([[]]), 400, "must be a non-empty list of token ids"),
    (scoring([]), 400, "prompt must be a list of token-id lists"),
    (scoring("12+3="), 400, "text prompts are not scored here"),
    (scoring([[1, 2]] * 9), 400, "9 sequences in one request; the limit is 8"),
    (scoring([[1] * 40]), 400, "has 40 tokens; the limit is 32"),
    (scoring([[1] * 30] * 3), 400, "90 tokens in one request; the limit is 64"),
    ({"prompt": [[1, 2]], "max_tokens": 16}, 400, "send max_tokens=0 and echo=true"),
    (scoring([[1, 2]], stream=True), 400, "stream is not supported"),
    (scoring([[1, 2]], prompt_logprobs=5), 400, "prompt_logprobs must be 0"),
    (scoring([[1, 2]], temperature=0), 400, "temperature must be a positive number"),
    (scoring([[1, 2]], temperature="hot"), 400, "temperature must be a positive number"),
    (scoring([[1, 2]], model="gpt-4"), 404, "model 'gpt-4' is not served here"),
    ([1, 2, 3], 400, "the body must be a JSON object"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_REQUESTS)
def test_bad_scoring_requests_get_a_reason(body, status, message, teacher_model, char_tokenizer):
    app = TeacherApp(
        teacher_model,
        char_tokenizer,
        limits=ServerLimits(max_sequence_length=32, max_sequences=8, max_total_tokens=64),
    )
    got_status, answer = app.handle("POST", "/v1/completions", json.dumps(body).encode())
    assert got_status == status
    assert answer["error"]["code"] == status
    assert re.search(message, answer["error"]["message"]), answer


def test_http_errors_and_the_server_keeps_serving(teacher_model, char_tokenizer):
    limits = ServerLimits(max_body_bytes=2000)
    with TeacherServer(teacher_model, char_tokenizer, limits=limits) as server:
        cases = [
            ("POST", "/v1/completions", b"{not json", 400, "not valid JSON"),
            ("POST", "/v1/completions", b"\xff\xfe", 400, "not valid JSON"),
            (
                "POST",
                "/v1/completions",
                json.dumps(scoring([[1] * 2000])).encode(),
                413,
                "the limit for /v1/completions is 2000",
            ),
            ("GET", "/v1/completions", None, 405, "GET is not allowed on /v1/completions"),
            ("DELETE", "/health", None, 405, "DELETE is not allowed"),
            ("GET", "/v2/secret", None, 404, "no endpoint /v2/secret"),
            ("POST", "/tokenize", json.dumps({"prompt": 12}).encode(), 400, "prompt must be a string"),
            ("POST", "/tokenize", json.dumps({"messages": "hi"}).encode(), 400, "messages must be a list"),
            ("POST", "/detokenize", json.dumps({"tokens": [1, 999]}).encode(), 400, "out of range"),
        ]
        for method, path, raw, status, message in cases:
            got_status, answer = request(server.url, method, path, raw=raw)
            assert got_status == status, (path, answer)
            assert message in answer["error"]["message"], answer
        assert request(server.url, "GET", "/health") == (200, {"status": "ok"})


def test_a_failure_while_scoring_is_a_500_not_a_dead_server(server, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(server.app, "score_sequences", broken)
    status, answer = request(server.url, "POST", "/v1/completions", scoring([[1, 5, 6]]))
    assert status == 500 and "CUDA out of memory (simulated)" in answer["error"]["message"]
    monkeypatch.undo()
    assert request(server.url, "POST", "/v1/completions", scoring([[1, 5, 6]]))[0] == 200


def test_tokenizer_endpoints_match_the_local_tokenizer(server, char_tokenizer):
    status, models = request(server.url, "GET", "/v1/models")
    assert (
        status == 200 and models["data"][0]["id"] == "teacher" and models["data"][0]["max_model_len"] == 256
    )

    status, answer = request(server.url, "POST", "/tokenize", {"prompt": "7*6=42", "return_token_strs": True})
    assert answer["tokens"] == char_tokenizer("7*6=42")["input_ids"] and answer["count"] == 7
    assert answer["token_strs"][:2] == ["<bos>", "7"]
    messages = [{"role": "user", "content": "9-4="}]
    status, answer = request(server.url, "POST", "/tokenize", {"messages": messages})
    assert answer["tokens"] == char_tokenizer("9-4=")["input_ids"]  # the toy chat template is <bos> + content
    assert request(server.url, "POST", "/rlad/render_chat", {"messages": messages})[1] == {
        "text": "<bos>9-4="
    }
    assert request(server.url, "POST", "/detokenize", {"tokens": answer["tokens"]})[1] == {
        "prompt": "<bos>9-4="
    }

    status, info = request(server.url, "GET", "/rlad/tokenizer")
    assert info["vocab"] == char_tokenizer.get_vocab() and info["embedding_rows"] == len(char_tokenizer) + 16
    assert info["special_token_ids"]["eos_token_id"] == char_tokenizer.eos_token_id
    assert info["chat_template"] == char_tokenizer.chat_template and len(info["fingerprint"]) == 64
    assert info["applies_temperature"] is True


def test_server_restarts_on_the_same_port(teacher_model, char_tokenizer):
    server = TeacherServer(teacher_model, char_tokenizer).start()
    port = server.port
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        request(server.url, "GET", "/health")
    with TeacherServer(teacher_model, char_tokenizer, port=port) as again:
        assert request(again.url, "GET", "/health")[0] == 200
    assert torch.is_grad_enabled()  # scoring's no_grad did not leak into the caller
