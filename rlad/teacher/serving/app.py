"""The teacher server's request logic, without sockets: JSON request in, HTTP status and JSON answer out.

:class:`TeacherApp` validates every request before the model sees it (API key, body size, JSON shape,
token ids within the embedding, sequence length, sequences and tokens per request; the rules are in
:mod:`rlad.teacher.serving.requests`) and answers the
endpoints listed in :mod:`rlad.teacher.serving.server`, which puts it behind HTTP. A refused request raises
:class:`BadRequest` inside and becomes a 4xx answer with a JSON reason in vLLM's error shape; scoring
runs one request at a time (a lock around the model) with
:func:`~rlad.teacher.logprobs.sampled_token_logprobs`.

The tokenizer endpoints (``/tokenize``, ``/detokenize``, ``/rlad/render_chat``) share one tokenizer
under one lock (fast tokenizers refuse concurrent calls: "Already borrowed"), and their bodies are
capped at ``max_text_bytes`` (256 KiB: a 4 MiB text took 9 to 14 s and 1.7 GB). Scoring answers
use a copy of the tokenizer under a lock of their own, so a long tokenization never delays scoring.
"""

from __future__ import annotations

import copy
import dataclasses
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlad.teacher.logprobs import sampled_token_logprobs
from rlad.teacher.serving import protocol
from rlad.teacher.serving.requests import (  # noqa: F401  (BadRequest, ServerLimits: imported from here too)
    OPEN_ENDPOINTS,
    BadRequest,
    ScoringJob,
    ServerLimits,
    normalize_path,
    parse_completion_request,
    parse_json,
    token_list,
)

logger = logging.getLogger(__name__)

# vLLM clamps -inf log-probs to this value so that the JSON stays standard.
LOGPROB_FLOOR = -9999.0


class TeacherApp:
    """Request handling without sockets: ``handle(method, path, body, authorization) -> (status, json_dict)``.

    ``api_key``: when set, every request but ``GET /health`` must carry ``Authorization: Bearer KEY``;
    others get a 401 answer (compared in constant time, so the answer time says nothing about the key).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        model_name: str = "teacher",
        device: torch.device | str | None = None,
        batch_size: int | None = None,
        limits: ServerLimits | None = None,
        api_key: str | None = None,
    ) -> None:
        if api_key is not None and not (
            api_key and api_key.isascii() and api_key.isprintable() and " " not in api_key
        ):
            raise ValueError(
                "api_key must be visible ASCII characters with no spaces (an HTTP header), or None"
            )
        self.model = model.eval().requires_grad_(False)
        if device is not None:
            self.model.to(device)
        self.tokenizer = tokenizer  # the tokenizer endpoints', under _tokenizer_lock
        self.model_name = model_name
        self.batch_size = batch_size
        limits = limits or ServerLimits()
        if limits.max_sequence_length is None:
            max_positions = getattr(model.config.get_text_config(), "max_position_embeddings", None) or 4096
            limits = dataclasses.replace(limits, max_sequence_length=max_positions)
        self.limits = limits
        self._api_key = None if api_key is None else api_key.encode()
        self.vocab_rows = min(model.get_input_embeddings().weight.shape[0], self._output_rows())
        self.tokenizer_description = protocol.describe_tokenizer(tokenizer, self._output_rows())
        self.tokenizer_description["applies_temperature"] = True
        self.tokenizer_description["max_model_len"] = limits.max_sequence_length
        self._model_lock = threading.Lock()
        # Fast tokenizers are not safe to call from several threads at once ("Already borrowed"), so the
        # tokenizer endpoints take turns; scoring answers decode with their own copy, under their own lock.
        self._tokenizer_lock = threading.Lock()
        try:
            self._answer_tokenizer, self._answer_lock = copy.deepcopy(tokenizer), threading.Lock()
        except Exception as err:  # a tokenizer that cannot be copied: share it, and its lock
            logger.warning("cannot copy the tokenizer (%s): /tokenize calls will delay scoring answers", err)
            self._answer_tokenizer, self._answer_lock = tokenizer, self._tokenizer_lock
        self._routes: dict[tuple[str, str], Callable[[Any], dict[str, Any]]] = {
            ("GET", protocol.HEALTH): lambda _: {"status": "ok"},
            ("GET", protocol.MODELS): lambda _: self._models(),
            ("GET", protocol.TOKENIZER_INFO): lambda _: self.tokenizer_description,
            ("POST", protocol.COMPLETIONS): self._completions,
            ("POST", protocol.TOKENIZE): self._tokenizer_locked(self._tokenize),
            ("POST", protocol.DETOKENIZE): self._tokenizer_locked(self._detokenize),
            ("POST", protocol.RENDER_CHAT): self._tokenizer_locked(self._render_chat),
        }

    def _output_rows(self) -> int:
        return self.model.get_output_embeddings().weight.shape[0]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------------------------- dispatch
    def handle(
        self, method: str, path: str, body: bytes | None, authorization: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Answer one request; never raises. ``authorization`` is the request's Authorization header."""
        path = normalize_path(path)
        try:
            self.admit(method, path, authorization, 0 if body is None else len(body))
            route = self._routes[(method, path)]
            request = parse_json(body) if method == "POST" else None
            return 200, route(request)
        except BadRequest as err:
            return err.status, protocol.error_body(str(err), err.status, err.param)
        except Exception as err:  # a scoring failure must be an answer, not a dead server
            logger.exception("failed to answer %s %s", method, path)
            return 500, protocol.error_body(f"{type(err).__name__}: {err}", 500)

    def admit(self, method: str, path: str, authorization: str | None, body_bytes: int) -> None:
        """Everything checked before a body is read: the endpoint, the method, the API key, the body size.

        Raises :class:`BadRequest` (404, 405, 401 or 413). The HTTP layer calls it with the declared
        Content-Length, so that a refused body is never stored.
        """
        path = normalize_path(path)
        methods = sorted(m for m, p in self._routes if p == path)
        if not methods:
            offered = ", ".join(sorted({p for _, p in self._routes}))
            raise BadRequest(
                f"no endpoint {path if len(path) <= 80 else path[:77] + '...'}; this server offers {offered}",
                status=404,
            )
        if path not in OPEN_ENDPOINTS:
            self._check_key(authorization)
        if method not in methods:
            raise BadRequest(f"{method} is not allowed on {path}; it takes {', '.join(methods)}", status=405)
        limit = self.limits.body_limit(path)
        if body_bytes > limit:
            raise BadRequest(f"the body has {body_bytes} bytes; the limit for {path} is {limit}", status=413)

    def _check_key(self, authorization: str | None) -> None:
        if self._api_key is None:
            return
        hint = (
            f"send the header 'Authorization: Bearer KEY' (rlad: teacher_api_key or {protocol.API_KEY_ENV})"
        )
        if not authorization:
            raise BadRequest(f"this server needs an API key: {hint}", status=401)
        scheme, _, given = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise BadRequest(f"the Authorization header is not 'Bearer KEY': {hint}", status=401)
        if not hmac.compare_digest(given.strip().encode(), self._api_key):
            raise BadRequest("the API key is wrong", status=401)

    def _tokenizer_locked(self, route: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        def call(request: Any) -> dict[str, Any]:
            with self._tokenizer_lock:
                return route(request)

        return call

    # -------------------------------------------------------------------------------------- scoring
    def parse_completion_request(self, request: dict[str, Any]) -> ScoringJob:
        """Validate a ``/v1/completions`` body against this model and these limits."""
        return parse_completion_request(request, self.model_name, self.vocab_rows, self.limits)

    def score_sequences(self, sequences: list[list[int]], temperature: float) -> list[list[float]]:
        """log pi(x_j | x_<j) for j = 1 .. len - 1 of each sequence (the first token has none)."""
        L = max(len(s) for s in sequences)
        input_ids = torch.zeros(len(sequences), L, dtype=torch.long)  # (N, L) left-padded
        attention_mask = torch.zeros(len(sequences), L, dtype=torch.long)  # (N, L)
        for i, s in enumerate(sequences):
            input_ids[i, L - len(s) :] = torch.tensor(s)
            attention_mask[i, L - len(s) :] = 1
        if L < 2:
            return [[] for _ in sequences]
        with self._model_lock:
            logps = sampled_token_logprobs(
                self.model,
                input_ids.to(self.device),
                attention_mask.to(self.device),
                L - 1,
                temperature,
                self.batch_size,
            )  # (N, L - 1)
        logps = logps.cpu().clamp(min=LOGPROB_FLOOR)
        return [logps[i, L - len(s) :].tolist() for i, s in enumerate(sequences)]

    def _completions(self, request: dict[str, Any]) -> dict[str, Any]:
        job = self.parse_completion_request(request)
        start = time.perf_counter()
        scores = self.score_sequences(job.sequences, job.temperature)
        logger.info(
            "scored %d sequences, %d tokens in %.3f s",
            len(job.sequences),
            sum(map(len, job.sequences)),
            time.perf_counter() - start,
        )
        with self._answer_lock:  # not _tokenizer_lock: a long /tokenize must not hold up scoring
            decoder = self._answer_tokenizer
            texts = [(decoder.convert_ids_to_tokens(t), decoder.decode(t)) for t in job.sequences]
        choices = []
        for i, (tokens, logps, (strings, text)) in enumerate(zip(job.sequences, scores, texts)):
            prompt_logprobs: list[dict[str, Any] | None] = [None]
            prompt_logprobs += [
                {str(t): {"logprob": lp, "rank": None, "decoded_token": s}}
                for t, lp, s in zip(tokens[1:], logps, strings[1:])
            ]
            choice: dict[str, Any] = {
                "index": i,
                "text": text,
                "logprobs": None,
                "finish_reason": "length",
                "stop_reason": None,
                "prompt_token_ids": tokens,
                "prompt_logprobs": prompt_logprobs,
            }
            if job.with_logprobs:  # the OpenAI legacy form of the same numbers
                offsets = [0]
                for s in strings[:-1]:
                    offsets.append(offsets[-1] + len(s or ""))
                choice["logprobs"] = {
                    "tokens": strings,
                    "token_logprobs": [None, *logps],
                    "top_logprobs": None,
                    "text_offset": offsets,
                }
            choices.append(choice)
        n_tokens = sum(len(s) for s in job.sequences)
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": {"prompt_tokens": n_tokens, "completion_tokens": 0, "total_tokens": n_tokens},
        }

    # ------------------------------------------------------------------------------------ tokenizer
    def _models(self) -> dict[str, Any]:
        card = {
            "id": self.model_name,
            "object": "model",
            "owned_by": "rlad",
            "max_model_len": self.limits.max_sequence_length,
        }
        return {"object": "list", "data": [card]}

    def _messages(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        messages = request.get("messages")
        ok = isinstance(messages, list) and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        )
        if not ok:
            raise BadRequest("messages must be a list of {'role': str, 'content': str}", param="messages")
        if not getattr(self.tokenizer, "chat_template", None):
            raise BadRequest("the served tokenizer has no chat template", param="messages")
        return messages

    def _flag(self, request: dict[str, Any], name: str, default: bool) -> bool:
        value = request.get(name, default)
        if not isinstance(value, bool):
            raise BadRequest(f"{name} must be true or false", param=name)
        return value

    def _tokenize(self, request: dict[str, Any]) -> dict[str, Any]:
        if "messages" in request:
            messages = self._messages(request)
            text = self.tokenizer.apply_chat_template(
                messages,
                tokenize=False,
                add_generation_prompt=self._flag(request, "add_generation_prompt", True),
            )
            tokens = self.tokenizer(text, add_special_tokens=self._flag(request, "add_special_tokens", False))
        else:
            prompt = request.get("prompt")
            if not isinstance(prompt, str):
                raise BadRequest("prompt must be a string (or send messages)", param="prompt")
            tokens = self.tokenizer(
                prompt, add_special_tokens=self._flag(request, "add_special_tokens", True)
            )
        ids = list(tokens["input_ids"])
        answer: dict[str, Any] = {
            "count": len(ids),
            "max_model_len": self.limits.max_sequence_length,
            "tokens": ids,
            "token_strs": None,
        }
        if self._flag(request, "return_token_strs", False):
            answer["token_strs"] = self.tokenizer.convert_ids_to_tokens(ids)
        return answer

    def _detokenize(self, request: dict[str, Any]) -> dict[str, Any]:
        tokens = token_list(request.get("tokens"), "tokens", self.vocab_rows, self.limits.max_total_tokens)
        return {"prompt": self.tokenizer.decode(tokens)}

    def _render_chat(self, request: dict[str, Any]) -> dict[str, Any]:
        messages = self._messages(request)
        add_generation_prompt = self._flag(request, "add_generation_prompt", False)
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return {"text": text}
