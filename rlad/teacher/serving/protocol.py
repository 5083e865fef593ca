"""The wire format between :class:`~rlad.teacher.serving.client.RemoteTeacher` and a teacher server.

The scoring call is the subset of vLLM's OpenAI-compatible completions API that returns the
log-prob of every *given* token (vLLM 0.10+, ``vllm/entrypoints/openai/protocol.py``):

request  ``POST /v1/completions``::

    {"model": "teacher", "prompt": [[1, 17, 4, ...], [1, 9, ...]],   # token ids, one list per sequence
     "max_tokens": 0, "echo": true, "prompt_logprobs": 0, "temperature": 1.0}

response::

    {"choices": [{"index": 0, "prompt_token_ids": [1, 17, 4, ...],
                  "prompt_logprobs": [null, {"17": {"logprob": -2.31, "rank": 5, "decoded_token": "a"}}, ...]},
                 ...]}

``prompt_logprobs[j]`` is log pi(x_j | x_<j): the first entry is null (nothing precedes it) and each
dict holds at least the given token's id (JSON object keys are strings). ``max_tokens: 0`` with
``echo: true`` is vLLM's "echo without generation"; ``prompt_logprobs: 0`` asks for the given token
only, no top-k alternatives.

Two caveats are the reason for :data:`TOKENIZER_INFO`, an rlad extension:

* vLLM computes prompt log-probs from untempered logits (it ignores ``temperature`` there, as of
  0.11), while TRRD needs the teacher at the student's sampling temperature. ``rlad serve-teacher``
  applies ``temperature`` and says so in its tokenizer description (``"applies_temperature": true``).
* the OpenAI API has no call that returns a vocabulary, so the pre-flight tokenizer check needs
  ``GET /rlad/tokenizer`` (vocabulary, special tokens, chat template, embedding rows, fingerprint) and
  ``POST /rlad/render_chat``; against another server the client spot-checks ``POST /tokenize`` instead.

Authentication is vLLM's too: a server started with an API key wants ``Authorization: Bearer KEY`` on
every request (``rlad serve-teacher`` leaves ``GET /health`` open) and answers 401 without it. Both
sides read the key from :data:`API_KEY_ENV` when none is given.

Pure functions only: building requests, packing padded batches into sequences, and checking responses.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import torch

COMPLETIONS = "/v1/completions"
MODELS = "/v1/models"
TOKENIZE = "/tokenize"
DETOKENIZE = "/detokenize"
HEALTH = "/health"
TOKENIZER_INFO = "/rlad/tokenizer"
RENDER_CHAT = "/rlad/render_chat"

# The environment variable that holds the shared secret, for the server and for the client.
API_KEY_ENV = "RLAD_TEACHER_API_KEY"

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "pad_token", "unk_token")


class MalformedResponseError(ValueError):
    """A server answered 200 with a body that is not a valid scoring response; the message says where."""


def pack_rows(
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
) -> tuple[list[list[int]], list[int]]:
    """Turn a padded batch into unpadded token sequences and the number of completion tokens to score.

    Prompts (B, P) are left-padded and completions (B, T) right-padded, as TRL produces them: each
    row's mask must be one block of ones (at the right of the prompt, at the left of the completion).
    Sequence b is the prompt's real tokens followed by the completion's first ``num_scored[b]`` tokens.

    >>> ids = torch.tensor([[0, 5, 6], [7, 8, 9]]); pm = torch.tensor([[0, 1, 1], [1, 1, 1]])
    >>> cids = torch.tensor([[3, 4], [2, 0]]); cm = torch.tensor([[1, 1], [1, 0]])
    >>> pack_rows(ids, pm, cids, cm)
    ([[5, 6, 3, 4], [7, 8, 9, 2]], [2, 1])
    """
    prompt_mask, completion_mask = prompt_mask.bool().cpu(), completion_mask.bool().cpu()
    prompt_ids, completion_ids = prompt_ids.cpu(), completion_ids.cpu()
    P, T = prompt_mask.shape[1], completion_mask.shape[1]
    n_prompt = prompt_mask.sum(dim=1)  # (B,)
    n_completion = completion_mask.sum(dim=1)  # (B,)
    # A left-padded prompt row is (P - n) zeros then n ones; a right-padded completion row n ones then zeros.
    expected_prompt = torch.arange(P).unsqueeze(0) >= (P - n_prompt).unsqueeze(1)  # (B, P)
    expected_completion = torch.arange(T).unsqueeze(0) < n_completion.unsqueeze(1)  # (B, T)
    if not torch.equal(prompt_mask, expected_prompt):
        raise ValueError("prompt_mask must be left-padded: each row zeros, then one block of ones")
    if not torch.equal(completion_mask, expected_completion):
        raise ValueError("completion_mask must be right-padded: each row one block of ones, then zeros")
    if (n_prompt == 0).any():
        raise ValueError(
            "every prompt needs at least one token (the first completion token is scored given it)"
        )
    sequences = [
        prompt_ids[b, P - int(n_prompt[b]) :].tolist() + completion_ids[b, : int(n_completion[b])].tolist()
        for b in range(prompt_ids.shape[0])
    ]
    return sequences, n_completion.tolist()


def scoring_request(sequences: list[list[int]], model: str | None, temperature: float) -> dict[str, Any]:
    """The ``POST /v1/completions`` body that asks for the log-prob of every given token."""
    body: dict[str, Any] = {
        "prompt": sequences,
        "max_tokens": 0,
        "echo": True,
        "prompt_logprobs": 0,
        "temperature": temperature,
    }
    if model is not None:
        body["model"] = model
    return body


def _logprob_of(entry: Any, token: int, where: str) -> float:
    if not isinstance(entry, dict):
        raise MalformedResponseError(
            f"{where}: expected an object of token id -> logprob, got {type(entry).__name__}"
        )
    value = entry.get(str(token))
    if value is None:
        raise MalformedResponseError(
            f"{where}: the given token {token} is missing (keys: {sorted(entry)[:5]})"
        )
    if isinstance(value, dict):
        value = value.get("logprob")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedResponseError(f"{where}: logprob of token {token} is not a number: {value!r}")
    if math.isnan(value) or value > 1e-4:
        raise MalformedResponseError(f"{where}: logprob of token {token} is {value}, not a log-probability")
    return float(value)


def parse_scoring_response(body: Any, sequences: list[list[int]], num_scored: list[int]) -> list[list[float]]:
    """The log-probs of the last ``num_scored[i]`` tokens of each sequence, checked against what was sent.

    Raises :class:`MalformedResponseError` naming the first problem: a missing field, a choice count
    or sequence length that does not match the request, token ids that differ from those sent (a
    server that re-tokenised), or a value that is not a log-probability.
    """
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise MalformedResponseError("response has no 'choices' list")
    choices = body["choices"]
    if len(choices) != len(sequences):
        raise MalformedResponseError(f"response has {len(choices)} choices for {len(sequences)} sequences")
    by_index: dict[int, dict] = {}
    for position, choice in enumerate(choices):
        index = choice.get("index", position) if isinstance(choice, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(sequences) or index in by_index:
            raise MalformedResponseError(f"choice {position} has a missing, duplicate or out-of-range index")
        by_index[index] = choice
    out = []
    for i, (tokens, n) in enumerate(zip(sequences, num_scored)):
        choice = by_index[i]
        echoed = choice.get("prompt_token_ids")
        if echoed is not None and echoed != tokens:
            raise MalformedResponseError(f"choice {i}: the server scored other token ids than those sent")
        logprobs = choice.get("prompt_logprobs")
        if not isinstance(logprobs, list) or len(logprobs) != len(tokens):
            got = len(logprobs) if isinstance(logprobs, list) else type(logprobs).__name__
            raise MalformedResponseError(
                f"choice {i}: prompt_logprobs should have {len(tokens)} entries, got {got}"
            )
        start = len(tokens) - n
        out.append(
            [
                _logprob_of(logprobs[j], tokens[j], f"choice {i} position {j}")
                for j in range(start, len(tokens))
            ]
        )
    return out


def field(answer: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    """``answer[name]`` if ``answer`` is a JSON object holding a ``kind`` there, else MalformedResponseError.

    >>> field({"tokens": [1, 2]}, "tokens", list)
    [1, 2]
    """
    if not isinstance(answer, dict) or not isinstance(answer.get(name), kind):
        raise MalformedResponseError(f"response has no {name!r} of type {getattr(kind, '__name__', kind)}")
    return answer[name]


def check_tokenizer_description(description: Any) -> dict[str, Any]:
    """The answer of ``GET /rlad/tokenizer``, checked for shape and against its own fingerprint."""
    for name in ("vocab", "special_tokens", "special_token_ids"):
        field(description, name, dict)
    if tokenizer_fingerprint(description) != description.get("fingerprint"):
        raise MalformedResponseError(
            "the tokenizer description does not match its fingerprint (truncated or altered)"
        )
    return description


def describe_tokenizer(tokenizer: Any, embedding_rows: int | None) -> dict[str, Any]:
    """What the pre-flight check needs to know about a tokenizer, as JSON, with a fingerprint of it.

    The fingerprint is the SHA-256 of the vocabulary, the special tokens and the chat template, so two
    servers (or a server before and after a restart) can be compared without moving the vocabulary.
    """
    description = {
        "vocab": tokenizer.get_vocab(),
        "special_tokens": {name: getattr(tokenizer, name, None) for name in SPECIAL_TOKEN_NAMES},
        "special_token_ids": {
            f"{name}_id": getattr(tokenizer, f"{name}_id", None) for name in SPECIAL_TOKEN_NAMES
        },
        "chat_template": getattr(tokenizer, "chat_template", None) or None,
    }
    description["fingerprint"] = tokenizer_fingerprint(description)
    description["embedding_rows"] = embedding_rows
    return description


def tokenizer_fingerprint(description: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of the vocabulary, special tokens and chat template."""
    keys = ("vocab", "special_tokens", "special_token_ids", "chat_template")
    canonical = json.dumps({k: description.get(k) for k in keys}, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def error_body(message: str, status: int, param: str | None = None) -> dict[str, Any]:
    """vLLM's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = {
        400: "BadRequestError",
        401: "AuthenticationError",
        404: "NotFoundError",
        405: "MethodNotAllowed",
        411: "LengthRequired",
        413: "RequestTooLarge",
        501: "NotImplemented",
    }
    return {
        "error": {
            "message": message,
            "type": kind.get(status, "BadRequestError" if status < 500 else "InternalServerError"),
            "param": param,
            "code": status,
        }
    }
