"""A loopback HTTP server that serves registered stream bodies, so the official clients parse real HTTP.

The oracles hand a stream's bytes to this server and point an SDK client at it: the SDK then reads
them through its own HTTP stack, SSE decoder and stream loop, exactly as it would read a proxy.

- It listens on 127.0.0.1 only, on an ephemeral port, and starts lazily, once per process, in a
  daemon thread (again after a fork); it is shut down at interpreter exit.
- `serving(body)` registers the body under a fresh token for the duration of a `with` block and
  yields the base URL `http://127.0.0.1:<port>/o/<token>`. Any request, GET or POST, to a path
  below it answers 200 `text/event-stream` with the body, chunked, then closes the connection. The
  request itself is read and ignored.
- `serving(body, aborted=True)` leaves the chunked body unterminated and closes the connection, as
  a proxy that aborts its response does: the client then sees the body break off.
- `serving(body, status=502)` serves an error response instead: that status, the body as
  `application/json` with a Content-Length, as a proxy answers before it streams anything.
- An unknown token answers 404 with an OpenAI/Anthropic-style JSON error.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["serving", "base_url"]

_PREFIX = "/o/"
_CHUNK = 4096


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer needs 1.1; every response still closes
    timeout = 15  # seconds a client may stall before its connection is dropped
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.close_connection = True
        token = self.path[len(_PREFIX) :].split("/", 1)[0] if self.path.startswith(_PREFIX) else ""
        entry = self.server.bodies.get(token)
        if entry is None:
            status, body = (
                404,
                json.dumps(
                    {
                        "type": "error",
                        "error": {"type": "not_found_error", "message": f"no oracle stream at {self.path}"},
                    }
                ).encode(),
            )
        else:
            status, body, aborted = entry
        try:
            if status >= 300:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for start in range(0, len(body), _CHUNK):
                piece = body[start : start + _CHUNK]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if not aborted:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, e.g. at [DONE]

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bodies: dict[str, tuple[int, bytes, bool]]


_lock = threading.Lock()
_server: _Server | None = None
_pid: int | None = None


def _shutdown() -> None:
    global _server
    server, _server = _server, None
    if server is not None and _pid == os.getpid():
        server.shutdown()
        server.server_close()


def _running() -> _Server:
    global _server, _pid
    with _lock:
        if _server is None or _pid != os.getpid():
            server = _Server(("127.0.0.1", 0), _Handler)
            server.bodies = {}
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="conformance-oracle-server",
                daemon=True,
            )
            thread.start()
            if _server is None:
                atexit.register(_shutdown)
            _server, _pid = server, os.getpid()
        return _server


def base_url() -> str:
    """The server's root URL, starting it if needed."""
    host, port = _running().server_address[:2]
    return f"http://{host}:{port}"


@contextmanager
def serving(body: bytes, status: int = 200, aborted: bool = False) -> Iterator[str]:
    """Serve `body` (with `status`; cut off before its end when `aborted`) while the block runs;
    yields the base URL to hand a client."""
    server = _running()
    token = secrets.token_hex(8)
    server.bodies[token] = (status, bytes(body), aborted)
    try:
        yield f"{base_url()}{_PREFIX}{token}"
    finally:
        server.bodies.pop(token, None)
