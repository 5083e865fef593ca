"""Scripted fault injection for the remote-teacher tests: a server that answers /v1/completions from a
list of actions (malformed, slow, failing, or normal answers), and the rest from a real TeacherApp."""

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rlad.teacher.serving.server import TeacherApp

# An action answers one /v1/completions request: it gets the real answer's thunk and returns (status, body).
Action = Callable[[Callable[[], tuple[int, dict]]], tuple[int, bytes]]


def ok(real):
    status, answer = real()
    return status, json.dumps(answer).encode()


def raw(status: int, body: bytes) -> Action:
    return lambda real: (status, body)


def edited(edit: Callable[[dict], None]) -> Action:
    def act(real):
        status, answer = real()
        edit(answer)
        return status, json.dumps(answer).encode()

    return act


def slow(seconds: float) -> Action:
    def act(real):
        time.sleep(seconds)
        return ok(real)

    return act


class ScriptedServer:
    """Answers /v1/completions from a script of actions (then normally); other paths from a real app.

    ``rlad_endpoints=False`` makes it look like vLLM: no /rlad/* endpoints, no temperature.
    """

    def __init__(self, app: TeacherApp, script: list[Action], rlad_endpoints: bool = True) -> None:
        self.app, self.script, self.rlad_endpoints = app, list(script), rlad_endpoints
        self.completions_seen = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._reply(*outer.answer("GET", self.path, None))

            def do_POST(self):
                self._reply(
                    *outer.answer("POST", self.path, self.rfile.read(int(self.headers["Content-Length"])))
                )

            def _reply(self, status, data):
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, method, path, body):
        if path.startswith("/rlad/") and not self.rlad_endpoints:
            return 404, json.dumps({"error": {"message": "Not Found", "code": 404}}).encode()
        if path != "/v1/completions":
            status, answer = self.app.handle(method, path, body)
            return status, json.dumps(answer).encode()
        with self.lock:
            self.completions_seen += 1
            action = self.script.pop(0) if self.script else ok
        return action(lambda: self.app.handle(method, path, body))

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
