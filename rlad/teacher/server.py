"""``rlad serve-teacher``: a small HTTP server that scores given token ids with any transformers causal LM.

It answers the endpoint subset :mod:`rlad.teacher.protocol` describes, so the training process can use
:class:`~rlad.teacher.remote.RemoteTeacher` against it or against vLLM alike:

======================  ====  ==========================================================================
path                    verb  answer
======================  ====  ==========================================================================
``/v1/completions``     POST  prompt log-probs of given token ids (``max_tokens: 0``, ``echo: true``)
``/v1/models``          GET   the served model's name and maximum sequence length
``/tokenize``           POST  vLLM's ``{"prompt": str}`` or ``{"messages": [...]}`` -> ``{"tokens": [...]}``
``/detokenize``         POST  ``{"tokens": [...]}`` -> ``{"prompt": str}``
``/health``             GET   ``{"status": "ok"}``
``/rlad/tokenizer``     GET   vocabulary, special tokens, chat template, embedding rows, fingerprint
``/rlad/render_chat``   POST  the chat template applied to ``{"messages": [...]}``, as text
======================  ====  ==========================================================================

Every request is validated before the model sees it (JSON shape, token ids within the embedding,
sequence length, sequences and tokens per request, body size); a bad one gets a 4xx answer with a
JSON reason in vLLM's error shape and the server carries on. An unexpected failure while scoring is a
500 with the reason, never a dead server. Scoring runs one request at a time (a lock around the
model), with :func:`~rlad.teacher.logprobs.sampled_token_logprobs`, so no full-vocabulary logits of
a whole sequence are held; requests are parsed and answered on their own threads meanwhile.

:class:`~rlad.teacher.server_app.TeacherApp` (its own module) holds the logic (request in, status and
JSON out) and is tested without sockets; :class:`TeacherServer`, here, puts it behind
``http.server.ThreadingHTTPServer`` and can run in a thread.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlad.teacher import protocol
from rlad.teacher.local import load_teacher_model, load_teacher_tokenizer
from rlad.teacher.server_app import BadRequest, ScoringJob, ServerLimits, TeacherApp

__all__ = ["BadRequest", "ScoringJob", "ServerLimits", "TeacherApp", "TeacherServer"]

logger = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    """One connection per request (``Connection: close``), so stopping the server stops it answering."""

    server: _HTTPServer
    timeout = 120  # seconds a client may take to send its request
    server_version = "rlad-teacher"

    def do_GET(self) -> None:  # http.server's naming
        self._answer("GET", None)

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send(411, protocol.error_body("a Content-Length header is required", 411))
            return
        if int(length) > self.server.app.limits.max_body_bytes:
            limit = self.server.app.limits.max_body_bytes
            self._discard(
                int(length)
            )  # closing with unread data would reset the connection before the answer
            self._send(413, protocol.error_body(f"the body has {length} bytes; the limit is {limit}", 413))
            return
        self._answer("POST", self.rfile.read(int(length)))

    def do_PUT(self) -> None:
        self._answer(self.command, None)  # refused with 405 (or 404) and the list of endpoints

    do_DELETE = do_PATCH = do_PUT

    def _discard(self, length: int) -> None:
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    return
                length -= len(chunk)
        except OSError:
            return

    def _answer(self, method: str, body: bytes | None) -> None:
        status, answer = self.server.app.handle(method, self.path, body)
        self._send(status, answer)

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer).encode()
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            logger.info("the client of %s left before its answer", self.path)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: TeacherApp  # set by TeacherServer once the model is loaded, before any request is served

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)


class TeacherServer:
    """``TeacherApp`` behind HTTP on ``host:port`` (port 0: a free one, see :attr:`url`).

    In a test or a notebook: ``with TeacherServer(model, tokenizer) as server: RemoteTeacher(server.url)``.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str = "teacher",
        device: torch.device | str | None = None,
        batch_size: int | None = None,
        limits: ServerLimits | None = None,
        _bound: _HTTPServer | None = None,
    ) -> None:
        self.httpd = _bound if _bound is not None else _HTTPServer((host, port))
        self.app = TeacherApp(
            model, tokenizer, model_name=model_name, device=device, batch_size=batch_size, limits=limits
        )
        self.httpd.app = self.app
        self._thread: threading.Thread | None = None

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, *, dtype: str = "auto", host: str = "127.0.0.1", port: int = 0, **kwargs: Any
    ) -> TeacherServer:
        """Bind ``host:port`` (so that a busy port fails before a large model loads), then load and serve."""
        bound = _HTTPServer((host, port))
        try:
            model, tokenizer = load_teacher_model(name_or_path, dtype), load_teacher_tokenizer(name_or_path)
            return cls(model, tokenizer, _bound=bound, **kwargs)
        except BaseException:
            bound.server_close()
            raise

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.1)

    def start(self) -> TeacherServer:
        """Serve on a daemon thread (for tests and notebooks); returns self."""
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"teacher-server-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting connections and close the socket (requests already being answered finish)."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> TeacherServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
