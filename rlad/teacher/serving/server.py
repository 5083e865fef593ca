"""``rlad serve-teacher``: a small HTTP server that scores given token ids with any transformers causal LM.

It answers the endpoint subset :mod:`rlad.teacher.serving.protocol` describes, so the training process can use
:class:`~rlad.teacher.serving.client.RemoteTeacher` against it or against vLLM alike:

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

Every request is validated before the model sees it (API key, JSON shape, token ids within the
embedding, sequence length, sequences and tokens per request, body size); a bad one gets a 4xx answer
with a JSON reason in vLLM's error shape and the server carries on. Every other answer is JSON too:
an unknown method (HEAD, OPTIONS, ...) is a 405 or 501, a malformed request line a 400, an unexpected
failure while scoring a 500 with the reason, never a dead server. Scoring runs one request at a time
(a lock around the model), with :func:`~rlad.teacher.logprobs.sampled_token_logprobs`, so no
full-vocabulary logits of a whole sequence are held; requests are parsed and answered on their own
threads meanwhile, and up to :data:`LISTEN_BACKLOG` connections wait to be accepted (socketserver's
default of 5 dropped most of 50 simultaneous clients).

With an API key (``api_key=``, ``rlad serve-teacher --api-key`` or ``RLAD_TEACHER_API_KEY``) every
request but ``GET /health`` needs ``Authorization: Bearer KEY``. Without one the server binds only a
loopback address unless told otherwise (``allow_no_key=True``, ``--insecure-no-key``): anyone who can
reach it could read the teacher's distributions.

:class:`~rlad.teacher.serving.app.TeacherApp` (its own module) holds the logic (request in, status and
JSON out) and is tested without sockets; :class:`TeacherServer`, here, puts it behind
``http.server.ThreadingHTTPServer`` and can run in a thread.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rlad.teacher.local import load_teacher_model, load_teacher_tokenizer
from rlad.teacher.serving import protocol
from rlad.teacher.serving.app import BadRequest, ScoringJob, ServerLimits, TeacherApp

__all__ = ["BadRequest", "ScoringJob", "ServerLimits", "TeacherApp", "TeacherServer"]

logger = logging.getLogger(__name__)


# Connections the kernel queues until the server accepts them (the OS may cap it at net.core.somaxconn).
LISTEN_BACKLOG = 1024


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine ("localhost", 127.x.x.x, ::1).

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "", "10.0.0.5", "teacher")]
    [True, True, True, False, False, False, False]
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def check_exposure(host: str, api_key: str | None, allow_no_key: bool) -> None:
    """Refuse to serve a non-loopback address without an API key, unless ``allow_no_key``."""
    if api_key is None and not allow_no_key and not is_loopback(host):
        raise ValueError(
            f"host {host!r} is reachable from other machines and no API key is set: anyone there could "
            f"read the teacher's distributions; set an API key (--api-key or {protocol.API_KEY_ENV}), bind "
            "127.0.0.1, or pass --insecure-no-key (allow_no_key=True) on a network you trust"
        )


class _Handler(BaseHTTPRequestHandler):
    """One connection per request (``Connection: close``), so stopping the server stops it answering."""

    server: _HTTPServer
    timeout = 120  # seconds a client may take to send its request
    server_version = "rlad-teacher"

    def do_GET(self) -> None:  # http.server's naming
        self._answer(None)

    def do_POST(self) -> None:
        app = self.server.app
        length = self._content_length()
        if length is None:
            self._send(411, protocol.error_body("a Content-Length header is required", 411))
            return
        try:  # the key, the method and the size are checked before the body is read
            app.admit("POST", self.path, self.headers.get("Authorization"), length)
        except BadRequest as err:
            self._discard(length)  # closing with unread data would reset the connection before the answer
            self._send(err.status, protocol.error_body(str(err), err.status, err.param))
            return
        self._answer(self.rfile.read(length))

    def do_HEAD(self) -> None:  # refused with 405 (or 404, 401) and the methods the path takes
        self._discard(self._content_length() or 0)
        self._answer(None)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_HEAD

    def _content_length(self) -> int | None:
        value = self.headers.get("Content-Length", "")
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            return None
        return int(value)

    def _discard(self, length: int) -> None:
        """Read and drop a refused body, up to the largest one accepted (beyond that, close on the client)."""
        length = min(length, self.server.app.limits.max_body_bytes)
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    return
                length -= len(chunk)
        except OSError:
            return

    def _answer(self, body: bytes | None) -> None:
        status, answer = self.server.app.handle(
            self.command, self.path, body, self.headers.get("Authorization")
        )
        self._send(status, answer)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, unknown method, header too long) as JSON."""
        reason = message or self.responses.get(code, ("error",))[0]
        self._send(code, protocol.error_body(reason, code))

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer).encode()
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="rlad-teacher"')
            self.end_headers()
            if self.command != "HEAD":  # HTTP: a HEAD answer has the headers of the answer but no body
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            logger.info("the client of %s left before its answer", getattr(self, "path", "?"))

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    app: TeacherApp  # set by TeacherServer once the model is loaded, before any request is served

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)


class TeacherServer:
    """``TeacherApp`` behind HTTP on ``host:port`` (port 0: a free one, see :attr:`url`).

    In a test or a notebook: ``with TeacherServer(model, tokenizer) as server: RemoteTeacher(server.url)``.
    ``api_key``: the shared secret clients must send (None: none). Binding a non-loopback ``host``
    without a key raises ``ValueError`` unless ``allow_no_key``.
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
        api_key: str | None = None,
        allow_no_key: bool = False,
        _bound: _HTTPServer | None = None,
    ) -> None:
        if _bound is None:
            check_exposure(host, api_key, allow_no_key)
        self.app = TeacherApp(
            model,
            tokenizer,
            model_name=model_name,
            device=device,
            batch_size=batch_size,
            limits=limits,
            api_key=api_key,
        )
        self.httpd = _bound if _bound is not None else _HTTPServer((host, port))
        self.httpd.app = self.app
        self._thread: threading.Thread | None = None

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        dtype: str = "auto",
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        allow_no_key: bool = False,
        **kwargs: Any,
    ) -> TeacherServer:
        """Bind ``host:port`` (so that a busy port fails before a large model loads), then load and serve."""
        check_exposure(host, api_key, allow_no_key)
        bound = _HTTPServer((host, port))
        try:
            model, tokenizer = load_teacher_model(name_or_path, dtype), load_teacher_tokenizer(name_or_path)
            return cls(model, tokenizer, api_key=api_key, _bound=bound, **kwargs)
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
