"""A teacher served over HTTP: only the log-prob of each sampled token crosses the network.

:class:`RemoteTeacher` scores a batch by sending the unpadded token ids of every (prompt, completion)
pair to ``POST /v1/completions`` (the vLLM request :mod:`rlad.teacher.serving.protocol` describes) and
reading back the log-prob of each completion token. The teacher's weights live in another process,
possibly on another machine, so the training process holds only the student.

* batching: ``batch_size`` sequences per request; requests run ``max_concurrency`` at a time on a
  thread pool, so the server can overlap parsing, scoring and answering;
* authentication: ``api_key`` (default: the ``RLAD_TEACHER_API_KEY`` environment variable, if set) is
  sent as ``Authorization: Bearer KEY``, which ``rlad serve-teacher --api-key`` and vLLM expect; a
  missing or wrong key is a 401, raised at once as :class:`TeacherRequestError` with the server's reason;
* timeouts: ``timeout_s`` bounds every socket operation of a request (connect, send, each read);
* retries: a refused connection, a timeout, a 408/425/429/5xx answer or a malformed body is retried
  after ``backoff_s * 2**k`` seconds (at most ``max_backoff_s``), ``max_retries`` times; then
  :class:`TeacherUnavailableError` names the server, the attempts, the time spent and the last error.
  Other 4xx answers (the request itself is wrong) raise :class:`TeacherRequestError` at once.
  Scoring is a pure function of the tokens, so a retried request cannot double-count anything: the
  training step waits for its teacher log-probs and then runs exactly once.
  Timeouts and retries live in :class:`~rlad.teacher.serving.transport.JsonTransport`.

The pre-flight tokenizer check (:func:`~rlad.teacher.tokenizer_check.check_tokenizers_match`) runs
against what the server actually uses, as far as the server lets us see it:

* ``rlad serve-teacher``: :attr:`RemoteTeacher.tokenizer` is a :class:`RemoteTokenizer` built from
  ``GET /rlad/tokenizer`` (the served vocabulary, special-token ids and chat template) whose
  ``apply_chat_template`` renders on the server, and :attr:`RemoteTeacher.embedding_rows` is the
  served model's output embedding size: the full check, nothing assumed.
* other servers (vLLM): there is no API that returns a vocabulary, so pass the teacher's tokenizer
  (``tokenizer=``, loaded locally: a few MB). The full check then runs against that tokenizer, and the
  server is spot-checked: its ``POST /tokenize`` of a probe text and of the probe conversation must give
  the ids the given tokenizer gives. Embedding rows are not checked (unknown). vLLM also computes prompt
  log-probs without temperature, so a temperature other than 1 is refused there.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

import torch
from transformers import PreTrainedTokenizerBase

from rlad.teacher.serving import protocol
from rlad.teacher.serving.transport import (  # noqa: F401  (the errors are imported from here too)
    RETRYABLE_STATUS,
    JsonTransport,
    TeacherRequestError,
    TeacherUnavailableError,
    backoff_delays,
)
from rlad.teacher.tokenizer_check import PROBE_CONVERSATION, TokenizerMismatchError, check_tokenizers_match

logger = logging.getLogger(__name__)

PROBE_TEXT = "12+34=46, Is 17 prime? <answer>yes</answer>\n"


class RemoteTokenizer:
    """The served tokenizer, as much as the pre-flight check uses: vocabulary, special tokens, chat template.

    Built from ``GET /rlad/tokenizer``; :meth:`apply_chat_template` asks the server to render (or
    tokenize) a conversation, so the chat-template comparison is with the server's own output.
    """

    def __init__(self, description: dict[str, Any], teacher: RemoteTeacher) -> None:
        self._vocab: dict[str, int] = dict(description["vocab"])
        self._tokens_by_id = {i: t for t, i in self._vocab.items()}
        self._teacher = teacher
        for name, value in description["special_tokens"].items():
            setattr(self, name, value)
        for name, value in description["special_token_ids"].items():
            setattr(self, name, value)
        self.chat_template: str | None = description.get("chat_template")
        self.fingerprint: str = description["fingerprint"]

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str | None]:
        return [self._tokens_by_id.get(i) for i in ids]

    def apply_chat_template(
        self, conversation: list[dict[str, str]], tokenize: bool = True, add_generation_prompt: bool = False
    ) -> str | list[int]:
        """Rendered by the server: text (``tokenize=False``) or token ids."""
        body = {"messages": conversation, "add_generation_prompt": add_generation_prompt}
        if tokenize:
            return self._teacher._request_json(
                "POST", protocol.TOKENIZE, body, parse=lambda a: protocol.field(a, "tokens", list)
            )
        return self._teacher._request_json(
            "POST", protocol.RENDER_CHAT, body, parse=lambda a: protocol.field(a, "text", str)
        )


class RemoteTeacher(JsonTransport):
    """Scores completions with a teacher served at ``url`` (``rlad serve-teacher`` or vLLM).

    ``temperature`` divides the teacher's logits, as for :class:`~rlad.teacher.LocalTeacher` (the
    trainer sets it to the student's sampling temperature). ``model`` is the served model name
    (default: the first one ``GET /v1/models`` lists). ``api_key`` (default: ``$RLAD_TEACHER_API_KEY``)
    is sent as ``Authorization: Bearer KEY``. Construction contacts the server (with the same
    retries as scoring) and fails with :class:`TeacherUnavailableError` if it cannot be reached.
    """

    def __init__(
        self,
        url: str,
        *,
        tokenizer: PreTrainedTokenizerBase | None = None,
        model: str | None = None,
        temperature: float = 1.0,
        batch_size: int | None = 32,
        max_concurrency: int = 4,
        timeout_s: float = 60.0,
        max_retries: int = 8,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        api_key: str | None = None,
    ) -> None:
        problems = []
        if not temperature > 0:
            problems.append(f"temperature={temperature} must be positive")
        if batch_size is not None and batch_size < 1:
            problems.append(f"batch_size={batch_size} must be >= 1")
        if max_concurrency < 1:
            problems.append(f"max_concurrency={max_concurrency} must be >= 1")
        if not timeout_s > 0:
            problems.append(f"timeout_s={timeout_s} must be positive")
        if max_retries < 0 or backoff_s < 0 or max_backoff_s < 0:
            problems.append("max_retries, backoff_s and max_backoff_s must be >= 0")
        api_key = api_key if api_key is not None else (os.environ.get(protocol.API_KEY_ENV) or None)
        if api_key is not None and not (api_key.isascii() and api_key.isprintable() and " " not in api_key):
            problems.append("api_key must be visible ASCII characters with no spaces")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"url={url!r} must look like http://host:port")
        if problems:
            raise ValueError("invalid RemoteTeacher: " + "; ".join(problems))
        super().__init__(url, timeout_s, backoff_delays(max_retries, backoff_s, max_backoff_s), api_key)
        self.stats["sequences"] = 0
        self.temperature = float(temperature)
        self.batch_size = batch_size or 32
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="remote-teacher")

        self.model, self.max_model_len = self._served_model(model)
        self.embedding_rows: int | None = None
        self.tokenizer, applies_temperature = self._tokenizer(tokenizer)
        if self.temperature != 1.0 and not applies_temperature:
            raise ValueError(
                f"temperature={self.temperature:g}, but the server at {self.url} does not say that it applies "
                "temperature to prompt log-probs (vLLM computes them from untempered logits); serve the "
                "teacher with `rlad serve-teacher`, or sample the student at temperature 1"
            )

    # ------------------------------------------------------------------------------------- set-up
    def _served_model(self, model: str | None) -> tuple[str | None, int | None]:
        cards = self._request_json("GET", protocol.MODELS, parse=lambda a: protocol.field(a, "data", list))
        names = [c.get("id") for c in cards if isinstance(c, dict)]
        if model is None and names:
            model = names[0]
        if model not in names:
            raise ValueError(f"the server at {self.url} serves {names}, not {model!r}")
        card = cards[names.index(model)]
        max_len = card.get("max_model_len")
        return model, max_len if isinstance(max_len, int) else None

    def _tokenizer(self, tokenizer: PreTrainedTokenizerBase | None) -> tuple[Any, bool]:
        """The tokenizer for the pre-flight check, and whether the server applies ``temperature``."""
        try:
            description = self._request_json(
                "GET", protocol.TOKENIZER_INFO, parse=protocol.check_tokenizer_description
            )
        except TeacherRequestError as err:
            if err.status != 404:
                raise
            description = None
        if description is not None:
            remote = RemoteTokenizer(description, self)
            if tokenizer is not None:  # the caller's tokenizer must be the served one
                check_tokenizers_match(tokenizer, remote)
            self.embedding_rows = description.get("embedding_rows")
            return remote, bool(description.get("applies_temperature"))
        if tokenizer is None:
            raise ValueError(
                f"the server at {self.url} has no {protocol.TOKENIZER_INFO} (it is not `rlad serve-teacher`; vLLM?): "
                "pass the teacher's tokenizer (tokenizer=...) so that the pre-flight tokenizer check can run"
            )
        self._spot_check(tokenizer)
        return tokenizer, False

    def _spot_check(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """The server must tokenize a probe text (and the probe conversation) as ``tokenizer`` does."""
        probes = [
            (
                "probe text",
                {"prompt": PROBE_TEXT, "add_special_tokens": True},
                list(tokenizer(PROBE_TEXT, add_special_tokens=True)["input_ids"]),
            )
        ]
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(
                PROBE_CONVERSATION, tokenize=False, add_generation_prompt=True
            )
            probes.append(
                (
                    "probe conversation",
                    {"messages": PROBE_CONVERSATION, "add_generation_prompt": True},
                    list(tokenizer(text, add_special_tokens=False)["input_ids"]),
                )
            )
        for what, body, expected in probes:
            try:
                served = self._request_json(
                    "POST", protocol.TOKENIZE, body, parse=lambda a: protocol.field(a, "tokens", list)
                )
            except TeacherRequestError as err:
                logger.warning("could not spot-check the tokenizer of %s (%s): %s", self.url, what, err)
                continue
            if served != expected:
                first = next(
                    (i for i, (a, b) in enumerate(zip(served, expected)) if a != b),
                    min(len(served), len(expected)),
                )
                raise TokenizerMismatchError(
                    f"the server at {self.url} tokenizes the {what} differently from the tokenizer passed: "
                    f"first difference at position {first} (server {served[first : first + 3]}, local "
                    f"{expected[first : first + 3]})"
                )

    # ------------------------------------------------------------------------------------ scoring
    def score(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        completion_ids: torch.Tensor,
        completion_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Teacher log-probs (B, T) float32 of ``completion_ids``; 0 where ``completion_mask`` is 0."""
        sequences, num_scored = protocol.pack_rows(prompt_ids, prompt_mask, completion_ids, completion_mask)
        if self.max_model_len is not None:
            for b, s in enumerate(sequences):
                if len(s) > self.max_model_len:
                    raise ValueError(
                        f"row {b} has {len(s)} prompt + completion tokens; the teacher server "
                        f"accepts at most {self.max_model_len}"
                    )
        B, T = completion_ids.shape
        out = torch.zeros(B, T, dtype=torch.float32)  # (B, T)
        rows = [b for b in range(B) if num_scored[b] > 0]
        chunks = [rows[i : i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        cancel = threading.Event()
        futures: list[Future] = [
            self._pool.submit(
                self._score_chunk, [sequences[b] for b in c], [num_scored[b] for b in c], cancel
            )
            for c in chunks
        ]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)  # all, or up to the first failure
            failed = [f.exception() for f in done if f.exception() is not None]
            if failed:
                raise failed[0]
            for chunk, future in zip(chunks, futures):
                for b, logps in zip(chunk, future.result()):
                    out[b, : num_scored[b]] = torch.tensor(logps, dtype=torch.float32)
        except BaseException:
            cancel.set()  # the other requests stop retrying
            for future in futures:
                future.cancel()
            raise
        return out.to(completion_ids.device)

    def _score_chunk(
        self, sequences: list[list[int]], num_scored: list[int], cancel: threading.Event
    ) -> list:
        body = protocol.scoring_request(sequences, self.model, self.temperature)
        logps = self._request_json(
            "POST",
            protocol.COMPLETIONS,
            body,
            cancel=cancel,
            parse=lambda answer: protocol.parse_scoring_response(answer, sequences, num_scored),
        )
        with self._stats_lock:
            self.stats["sequences"] += len(sequences)
        return logps

    def close(self) -> None:
        """Stop the request threads (idle ones exit at once)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> RemoteTeacher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
