"""HTTP for the remote teacher: one JSON request at a time, with a timeout, retries and a clear last error.

:class:`JsonTransport` is what :class:`~rlad.teacher.serving.client.RemoteTeacher` sends its requests
through, kept apart from the scoring API so that the retry rules can be read on their own: a refused
connection, a timeout, a 408/425/429/5xx answer or a malformed 200 body is retried after each of
``delays`` (see `backoff_delays`); any other 4xx is the request's own fault and raises
:class:`TeacherRequestError` at once; an exhausted budget raises :class:`TeacherUnavailableError`
naming the server, the attempts, the time spent and the last error. A fresh connection per request
keeps a half-read answer of a failed attempt from confusing the next one.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class TeacherUnavailableError(RuntimeError):
    """The teacher server gave no valid answer within the retry budget."""


class TeacherRequestError(ValueError):
    """The teacher server refused a request as invalid (HTTP 4xx other than 408/425/429)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def backoff_delays(max_retries: int, backoff_s: float, max_backoff_s: float) -> list[float]:
    """Seconds to wait before each retry: doubling from ``backoff_s``, capped at ``max_backoff_s``.

    >>> backoff_delays(5, 0.5, 3.0)
    [0.5, 1.0, 2.0, 3.0, 3.0]
    """
    return [min(max_backoff_s, backoff_s * 2**k) for k in range(max_retries)]


def _describe(err: BaseException, timeout_s: float) -> str:
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout_s:g} s"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return f"{type(err).__name__}: {err}"


def _reason(raw: bytes) -> str:
    """The message of a vLLM-style error body, else the start of the body."""
    try:
        body = json.loads(raw)
        error = body.get("error", body)
        return str(error.get("message", error) if isinstance(error, dict) else error)
    except (ValueError, AttributeError):
        return raw[:300].decode(errors="replace")


class JsonTransport:
    """JSON requests to the server at ``url`` (already checked to be ``http(s)://host[:port][/path]``).

    A trailing ``/v1`` of ``url`` is dropped (paths name it); ``api_key`` is sent as
    ``Authorization: Bearer KEY``; ``stats`` counts requests and failed attempts across threads.
    """

    def __init__(self, url: str, timeout_s: float, delays: list[float], api_key: str | None) -> None:
        parts = urlsplit(url)
        base_path = parts.path.rstrip("/")
        base_path = base_path[: -len("/v1")] if base_path.endswith("/v1") else base_path
        self.url = f"{parts.scheme}://{parts.netloc}{base_path}"
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._base_path = base_path
        self.timeout_s = timeout_s
        self.delays = delays
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._stats_lock = threading.Lock()
        self.stats = {"requests": 0, "failed_attempts": 0}

    def _http(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        connection_cls = (
            http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_cls(self._host, self._port, timeout=self.timeout_s)
        try:
            data = None if body is None else json.dumps(body).encode()
            connection.request(method, self._base_path + path, body=data, headers=self._headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _request_json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        parse: Callable[[Any], Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> Any:
        """One JSON request with retries; ``parse`` checks a 200 answer (a ``ValueError`` is retried)."""
        cancel = cancel or threading.Event()
        start, last_error = time.monotonic(), ""
        for attempt in range(len(self.delays) + 1):
            with self._stats_lock:
                self.stats["requests"] += 1
            try:
                status, raw = self._http(method, path, body)
            except (OSError, http.client.HTTPException) as err:  # refused, reset, timed out, cut short
                last_error = _describe(err, self.timeout_s)
            else:
                if status == 200:
                    try:
                        answer = json.loads(raw)
                        return parse(answer) if parse is not None else answer
                    except (ValueError, TypeError, KeyError) as err:  # not JSON, MalformedResponseError
                        last_error = f"malformed response: {err}"
                elif status in RETRYABLE_STATUS:
                    last_error = f"HTTP {status}: {_reason(raw)}"
                else:
                    raise TeacherRequestError(
                        f"the teacher server refused {method} {self.url}{path} (HTTP {status}): {_reason(raw)}",
                        status,
                    )
            with self._stats_lock:
                self.stats["failed_attempts"] += 1
            if attempt < len(self.delays):
                logger.warning(
                    "teacher %s%s: %s; retry %d/%d in %.1f s",
                    self.url,
                    path,
                    last_error,
                    attempt + 1,
                    len(self.delays),
                    self.delays[attempt],
                )
                if cancel.wait(self.delays[attempt]):
                    break
        raise TeacherUnavailableError(
            f"the teacher server at {self.url} gave no valid answer to {method} {path} after "
            f"{attempt + 1} attempt(s) over {time.monotonic() - start:.1f} s; last error: {last_error}. "
            "Is it running (`rlad serve-teacher MODEL --port N`)? Retries and timeouts are set by "
            "max_retries / backoff_s / timeout_s (config: teacher_max_retries, teacher_timeout_s)."
        )
