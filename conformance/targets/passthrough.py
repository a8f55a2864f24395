"""The `passthrough` target: a correct transparent pipe over real HTTP, the null implementation.

    pytest --target=passthrough

What a gateway is measured against, as Bowtie measures implementations against its null harness:
it serves the same-protocol routes (`openai-chat` → `openai-chat`, `anthropic-messages` →
`anthropic-messages`, `openai-responses` → `openai-responses`) and changes nothing, so every verdict it gets is the upstream's own, and a
gateway that does worse than it on a capture introduced the difference.

It is a small HTTP/1.1 proxy of its own on 127.0.0.1, started on the first stream, on the loop
that runs the streams, and driven as a client by the `http` target's `post_stream`: the suite's
client side (its `Abort` detection included) is exercised end to end. The client names the
upstream base URL in the `x-conformance-upstream` request header, which is not forwarded.

The proxy, for each `POST /v1/chat/completions` or `POST /v1/messages`:

- forwards the body unchanged to the upstream base URL plus the same path, with the client's
  end-to-end headers (content type, accept, `anthropic-version`, credentials, the
  `x-conformance-token`, …) but not the hop-by-hop ones (RFC 9110 §7.6.1), and asks for the
  identity encoding, so that the bytes relayed are the bytes sent;
- answers a 2xx with the upstream's status and end-to-end headers and a chunked body, one chunk
  per upstream read (`aiter_raw`), written as it arrives;
- answers any other status with the upstream's body whole, with a Content-Length;
- when the upstream breaks off mid-body (a reset, an incomplete chunked body, or no byte for
  longer than `upstream_read_timeout`), breaks off too: it closes the client's connection without
  the terminating chunk (RFC 9112 §7.1), so its client sees an incomplete body, an error, never a
  clean end;
- when its client disconnects, closes the upstream connection at once.

Each connection has its own upstream client: concurrent streams share only the listening socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import time
from collections.abc import AsyncGenerator, Iterable
from urllib.parse import urlsplit

import httpx

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.replay import (
    _HEAD_LIMIT,
    RecordedRequest,
    _BadRequest,
    _head,
    _read_request,
    _until_eof,
    _write_whole,
)
from conformance.targets._tls import tls_context
from conformance.targets.base import Abort, Exchange, Head, Route, route_id
from conformance.targets.http import CLIENT_PATHS, post_stream
from conformance.targets.reference import DEFAULT_UPSTREAM_READ_TIMEOUT, package_version

__all__ = ["ROUTES", "UPSTREAM_HEADER", "Passthrough"]

ROUTES: frozenset[Route] = frozenset(
    {(OPENAI_CHAT, OPENAI_CHAT), (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES), (OPENAI_RESPONSES, OPENAI_RESPONSES)}
)
UPSTREAM_HEADER = "x-conformance-upstream"
"""The request header in which the target tells its proxy where to forward; never forwarded."""

# Meant for one connection only, so never forwarded either way (RFC 9110 §7.6.1), besides any
# field a `Connection` header names.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the upstream client itself: the framing of the body it sends, the host it connects to,
# the identity encoding it asks for (else the relayed bytes would be compressed).
_NOT_SENT_UP = _HOP_BY_HOP | {"host", "content-length", "accept-encoding", "expect", UPSTREAM_HEADER}
# The proxy frames its own answer.
_NOT_SENT_DOWN = _HOP_BY_HOP | {"content-length"}
_PROTOCOL_OF_PATH = {path: protocol for protocol, path in CLIENT_PATHS.items()}
_CONNECT_TIMEOUT = 5.0
_WRITE_TIMEOUT = 30.0
_FLUSH_BOUND = 2.0  # seconds a client that stopped reading may hold up a reset

_log = logging.getLogger(__name__)


def _end_to_end(headers: Iterable[tuple[str, str]], dropped: frozenset[str]) -> list[tuple[str, str]]:
    pairs = [(name.lower(), value) for name, value in headers]
    named = {token.strip() for name, value in pairs if name == "connection" for token in value.lower().split(",")}
    return [(name, value) for name, value in pairs if name not in dropped and name not in named]


def _gateway_error(protocol: str, status: int, message: str) -> bytes:
    """The proxy's own error, in the body format of the client's protocol."""
    if protocol == ANTHROPIC_MESSAGES:
        kind = "timeout_error" if status == 504 else "api_error"
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    kind = "timeout" if status == 504 else "upstream_error"
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()


async def _close(writer: asyncio.StreamWriter) -> None:
    """Flush what was written, then FIN."""
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _cut(writer: asyncio.StreamWriter, chunked: bool) -> None:
    """End an answer that broke off. A chunked one closes (after its bytes) without its last chunk;
    a close-delimited one (an HTTP/1.0 client) has no way to say it but a reset."""
    if chunked:
        await _close(writer)
        return
    deadline = time.monotonic() + _FLUSH_BOUND  # a reset drops what is still buffered
    while writer.transport.get_write_buffer_size() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Proxy:
    """The loopback HTTP/1.1 proxy one `Passthrough` drives: one request per connection."""

    def __init__(self, read_timeout: float) -> None:
        self._timeout = httpx.Timeout(_WRITE_TIMEOUT, connect=_CONNECT_TIMEOUT, read=read_timeout)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._server is not None:
            await self._server.wait_closed()

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Tracked here, so that close() cancels a connection accepted a moment before.
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer), name="passthrough-connection")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # close() is waiting: don't flush to a client that may not read
            raise
        except (OSError, asyncio.IncompleteReadError):
            writer.transport.abort()  # the client left mid-request
        except Exception:
            _log.exception("passthrough proxy: unexpected error while serving a connection")
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request, version = await _read_request(reader, writer)
        except _BadRequest as error:
            await _write_whole(writer, 400, _gateway_error(OPENAI_CHAT, 400, str(error)))
            await _close(writer)
            return
        chunked = version == "HTTP/1.1"  # an HTTP/1.0 client cannot read chunks
        # The client's EOF is watched while the upstream is silent: a client that leaves is seen
        # at once, not at the next write, and the upstream connection is dropped with it.
        gone = asyncio.get_running_loop().create_task(_until_eof(reader), name="passthrough-eof-watch")
        forward = asyncio.get_running_loop().create_task(self._forward(request, chunked, writer))
        try:
            await asyncio.wait({gone, forward}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (forward, gone):
                task.cancel()
            await asyncio.wait({forward, gone})
        if forward.cancelled() or forward.exception() is not None:
            error = None if forward.cancelled() else forward.exception()
            if error is not None and not isinstance(error, OSError):  # OSError: the client is gone
                _log.error("passthrough proxy: forwarding failed", exc_info=error)
            writer.transport.abort()  # the client left, or cannot be answered: nobody to flush to
        elif forward.result():
            await _close(writer)
        else:
            await _cut(writer, chunked)

    async def _forward(self, request: RecordedRequest, chunked: bool, writer: asyncio.StreamWriter) -> bool:
        """Forward one request and relay its answer; False when the answer broke off."""
        path = urlsplit(request.path).path
        protocol = _PROTOCOL_OF_PATH.get(path, OPENAI_CHAT)
        upstream = request.headers.get(UPSTREAM_HEADER, "")
        if request.method != "POST" or path not in _PROTOCOL_OF_PATH:
            message = (
                f"this proxy forwards only POST {' and '.join(sorted(_PROTOCOL_OF_PATH))}, not {request.method} {path}"
            )
            await _write_whole(writer, 404, _gateway_error(protocol, 404, message))
            return True
        if not upstream.startswith(("http://", "https://")):
            message = f"no upstream base URL in the {UPSTREAM_HEADER} header"
            await _write_whole(writer, 400, _gateway_error(protocol, 400, message))
            return True
        url = upstream.rstrip("/") + request.path
        headers = [*_end_to_end(request.headers.items(), _NOT_SENT_UP), ("accept-encoding", "identity")]
        async with httpx.AsyncClient(timeout=self._timeout, verify=tls_context()) as client:
            try:
                async with client.stream("POST", url, content=request.body, headers=headers) as response:
                    if not 200 <= response.status_code < 300:
                        body = b"".join([piece async for piece in response.aiter_raw()])
                        down = tuple(_end_to_end(response.headers.multi_items(), _NOT_SENT_DOWN))
                        await _write_whole(writer, response.status_code, body, down)
                        return True
                    return await _relay(response, chunked, writer)
            except httpx.TransportError as error:  # before any byte of the answer went out
                status = 504 if isinstance(error, httpx.TimeoutException) else 502
                message = f"upstream {url} failed: {type(error).__name__}: {error}"
                await _write_whole(writer, status, _gateway_error(protocol, status, message))
                return True


async def _relay(response: httpx.Response, chunked: bool, writer: asyncio.StreamWriter) -> bool:
    """The upstream's status, headers and body bytes, one chunk per read; False if it broke off."""
    framing = [("transfer-encoding", "chunked")] if chunked else []
    headers = [*_end_to_end(response.headers.multi_items(), _NOT_SENT_DOWN), *framing, ("connection", "close")]
    writer.write(_head(response.status_code, headers))
    await writer.drain()
    try:
        async for piece in response.aiter_raw():
            if piece:  # an empty chunk would end the body
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
                await writer.drain()
    except httpx.TransportError:
        return False  # the upstream broke off: so does this answer
    if chunked:
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    return True


class Passthrough:
    """Target protocol v1 (`conformance.targets.base`): a transparent pipe over HTTP on loopback."""

    name = "passthrough"
    routes: frozenset[Route] = ROUTES
    version: str  # looked up per instance: importing this module does no work

    def __init__(self, *, upstream_read_timeout: float | None = None) -> None:
        self.version = package_version()
        # Short, as the reference's: the upstream is the replay server on loopback, silent only
        # when a check stalls it on purpose (the `fault-stall` check times its stall to outlast it).
        self.upstream_read_timeout = (
            DEFAULT_UPSTREAM_READ_TIMEOUT if upstream_read_timeout is None else upstream_read_timeout
        )
        self._starting: asyncio.Task[_Proxy] | None = None

    def stream(self, exchange: Exchange) -> AsyncGenerator[bytes | Head | Abort, None]:
        if exchange.route not in self.routes:
            raise ValueError(
                f"{self.name} serves only the same-protocol routes, not {route_id(exchange.route)}: a pipe translates nothing"
            )
        return self._stream(exchange)

    async def _stream(self, exchange: Exchange) -> AsyncGenerator[bytes | Head | Abort, None]:
        proxy = await self._proxy()
        items = post_stream(proxy.url, exchange, None, headers=[(UPSTREAM_HEADER, exchange.upstream_url)])
        # aclosing: a client that stops reading closes its connection now, which is what the
        # proxy sees and passes on upstream.
        async with contextlib.aclosing(items):
            async for item in items:
                yield item

    def _proxy(self) -> asyncio.Future[_Proxy]:
        """The proxy, started once per event loop: the first stream starts it, the others wait for it."""
        loop = asyncio.get_running_loop()
        if self._starting is None or self._starting.get_loop() is not loop:
            self._starting = loop.create_task(self._start(), name="passthrough-start")
        # Shielded: one stream cancelled while it waits must not cancel the start for the others.
        return asyncio.shield(self._starting)

    async def _start(self) -> _Proxy:
        proxy = _Proxy(self.upstream_read_timeout)
        await proxy.start()
        return proxy

    async def aclose(self) -> None:
        """Stop the proxy, and every connection it has open."""
        starting, self._starting = self._starting, None
        if starting is None or starting.get_loop() is not asyncio.get_running_loop():
            return  # never started, or started on a loop that is gone, with its server
        if not starting.done():
            starting.cancel()
        await asyncio.wait({starting})
        if not starting.cancelled() and starting.exception() is None:
            await starting.result().close()

    def __repr__(self) -> str:
        return f"<Passthrough {self.version}>"
