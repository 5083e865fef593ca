"""What a teacher-server request may be: limits, the endpoint classes, and validation before the model.

Every refusal is a :class:`BadRequest` carrying the HTTP status and the offending field, which
:class:`~rlad.teacher.serving.app.TeacherApp` turns into vLLM's error shape. Refused values are quoted
shortened: a request may hold a megabyte where a token should be. Kept apart from the app so that the
rules can be read (and tested) without a model.
"""

from __future__ import annotations

import json
import math
import reprlib
from dataclasses import dataclass
from typing import Any

from rlad.teacher.serving import protocol

# Endpoints whose bodies feed the tokenizer rather than the model: capped at ``max_text_bytes``.
TEXT_ENDPOINTS = frozenset({protocol.TOKENIZE, protocol.DETOKENIZE, protocol.RENDER_CHAT})
# Answered without the API key: it says only that the server is up (for load balancers and scripts).
OPEN_ENDPOINTS = frozenset({protocol.HEALTH})

# A refused value is quoted in the answer, shortened: a request may hold a megabyte where a token should be.
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 40
_short.maxlist = _short.maxdict = 6
_short.maxlevel = 3


class BadRequest(ValueError):
    """A request the server refuses; ``status`` is the HTTP code and ``param`` the offending field."""

    def __init__(self, message: str, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


@dataclass(frozen=True)
class ServerLimits:
    """What one request may ask for. ``max_sequence_length`` None: the model's ``max_position_embeddings``."""

    max_sequence_length: int | None = None
    max_sequences: int = 256
    max_total_tokens: int = 1 << 20
    max_body_bytes: int = 64 << 20
    max_text_bytes: int = 256 << 10  # bodies of /tokenize, /detokenize and /rlad/render_chat

    def body_limit(self, path: str) -> int:
        """The largest body, in bytes, that ``path`` accepts."""
        if normalize_path(path) in TEXT_ENDPOINTS:
            return min(self.max_text_bytes, self.max_body_bytes)
        return self.max_body_bytes


def normalize_path(path: str) -> str:
    """``/v1/completions/?x=1`` -> ``/v1/completions``: the query and a trailing slash do not matter."""
    return path.split("?", 1)[0].rstrip("/") or "/"


@dataclass(frozen=True)
class ScoringJob:
    """A validated scoring request."""

    sequences: list[list[int]]
    temperature: float
    with_logprobs: bool  # also fill the OpenAI ``logprobs`` field of each choice


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (standard JSON has no NaN or Infinity)")


def token_list(value: Any, name: str, vocab_rows: int, max_length: int) -> list[int]:
    """`value` when it is a non-empty list of at most `max_length` token ids in [0, `vocab_rows`)."""
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{name} must be a non-empty list of token ids", param="prompt")
    if len(value) > max_length:
        raise BadRequest(f"{name} has {len(value)} tokens; the limit is {max_length}", param="prompt")
    for j, token in enumerate(value):
        if type(token) is not int:  # bool is an int subclass: refuse it too
            raise BadRequest(f"{name}[{j}] is {_short.repr(token)}, not an integer token id", param="prompt")
        if not 0 <= token < vocab_rows:
            raise BadRequest(
                f"{name}[{j}] = {_short.repr(token)} is out of range [0, {vocab_rows})", param="prompt"
            )
    return value


def parse_json(body: bytes | None) -> dict[str, Any]:
    """A request body as a JSON object; anything else (not UTF-8, too deep, NaN, a huge int) is refused."""
    try:
        request = json.loads(body or b"", parse_constant=_refuse_constant)
    except UnicodeDecodeError as err:
        raise BadRequest(f"the body is not valid JSON (not UTF-8): {err}") from err
    except RecursionError as err:
        raise BadRequest("the body is not valid JSON here: it is nested too deeply") from err
    except json.JSONDecodeError as err:
        raise BadRequest(f"the body is not valid JSON: {err}") from err
    except ValueError as err:  # an integer of more than 4300 digits (Python's limit), NaN, Infinity
        reason = str(err).split("; use sys.set_int_max_str_digits", 1)[0]
        raise BadRequest(f"the body holds a number this server does not read: {reason}") from err
    if not isinstance(request, dict):
        raise BadRequest(f"the body must be a JSON object, got {type(request).__name__}")
    return request


def parse_completion_request(
    request: dict[str, Any], model_name: str, vocab_rows: int, limits: ServerLimits
) -> ScoringJob:
    """Validate a ``/v1/completions`` body for `model_name` (token ids below `vocab_rows`, within `limits`);
    only prompt scoring (no generation) is offered."""
    model = request.get("model")
    if model is not None and model != model_name:
        raise BadRequest(
            f"model {_short.repr(model)} is not served here; this server serves {model_name!r}",
            status=404,
            param="model",
        )
    if request.get("max_tokens", 16) != 0 or request.get("echo") is not True:
        raise BadRequest(
            "this server only scores given tokens: send max_tokens=0 and echo=true", param="max_tokens"
        )
    if request.get("stream"):
        raise BadRequest("stream is not supported", param="stream")
    if request.get("n", 1) != 1:
        raise BadRequest("n must be 1", param="n")
    for field in ("prompt_logprobs", "logprobs"):
        value = request.get(field)
        if value is not None and (type(value) is not int or value != 0):
            raise BadRequest(f"{field} must be 0 (the given token's log-prob only) or absent", param=field)
    temperature = request.get("temperature", 1.0)
    temperature = 1.0 if temperature is None else temperature
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not (math.isfinite(temperature) and temperature > 0)
    ):
        raise BadRequest(
            f"temperature must be a positive number, got {_short.repr(temperature)}", param="temperature"
        )
    prompt = request.get("prompt")
    if isinstance(prompt, list) and prompt and all(type(t) is int for t in prompt):
        prompt = [prompt]  # one sequence given as a flat list of ids
    if not isinstance(prompt, list) or not prompt or not all(isinstance(s, list) for s in prompt):
        raise BadRequest(
            "prompt must be a list of token-id lists (text prompts are not scored here)", param="prompt"
        )
    if len(prompt) > limits.max_sequences:
        raise BadRequest(
            f"{len(prompt)} sequences in one request; the limit is {limits.max_sequences}",
            param="prompt",
        )
    max_length = limits.max_sequence_length
    sequences = [token_list(s, f"prompt[{i}]", vocab_rows, max_length) for i, s in enumerate(prompt)]
    total = sum(len(s) for s in sequences)
    if total > limits.max_total_tokens:
        raise BadRequest(
            f"{total} tokens in one request; the limit is {limits.max_total_tokens}", param="prompt"
        )
    return ScoringJob(sequences, float(temperature), request.get("logprobs") is not None)
