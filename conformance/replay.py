"""The upstream replay server: capture bytes over real HTTP/1.1 on 127.0.0.1, cut by a schedule.

A target under test is handed `Slot.url` as its upstream base URL and appends its protocol's path
(`/v1/chat/completions`, `/v1/messages`, ...). The server picks the capture from the request, by
the first of these that names a registered slot:

1. the path: `/r/<token>/...`;
2. the `x-conformance-token` header, on any path;
3. the JSON body's `model`: the token itself, or `<anything>/<token>` (a proxy keeps or strips a
   `provider/` prefix), so a proxy whose upstream base URL is fixed (`http://127.0.0.1:<port>`)
   reaches the right capture by the model name it forwards;
4. the JSON body's `model` as a stable name (`conformance.model_names`) claimed by a slot in
   flight (`claimed`): the whole name or its last segment.

It records exactly what the target sent, and answers with the capture's bytes, one HTTP chunk per
schedule piece. Real sockets
matter: a proxy's HTTP client, its buffering and its cancellation are part of what is tested, and
none of that runs against an in-process fake.

It binds loopback only: it serves whatever bytes it is given to whoever connects, which is only
acceptable when nobody else can connect.

Only the standard library is used (`asyncio.start_server` and a small HTTP/1.1 reader), so the
server adds no dependency and every byte on the wire is the one we chose.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import re
import secrets
import socket
import struct
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .schedules import split

__all__ = ["RESET_PAUSE", "TOKEN_HEADER", "RecordedRequest", "Slot", "ReplayServer"]

TOKEN_HEADER = "x-conformance-token"
"""A request carrying this header is served that slot whatever its path."""
RESET_PAUSE = 0.05
"""Seconds a mid-stream reset waits once its bytes have left (`ReplayServer.register`)."""

_log = logging.getLogger(__name__)

_HEAD_LIMIT = 1 << 20  # StreamReader's default 64 KiB is too small for long header blocks
_READ_SIZE = 1 << 16
_PATH_TOKEN = re.compile(r"/r/([^/?#]+)(?:[/?#]|$)")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Framing is ours to decide, whatever headers the capture recorded. content-encoding goes too:
# a capture holds decoded bytes, and announcing gzip over them would break every client.
_DROPPED_HEADERS = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the target sent it upstream; `path` is the request target as sent."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names; repeated headers are joined with ", "."""
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON: what checks on the upstream request compare."""
        return json.loads(self.body)


@dataclass(slots=True)
class Slot:
    """One registered capture: where a target must send its request, and what it sent."""

    token: str
    url: str
    """`base_url + "/r/" + token`: the upstream base URL handed to a target."""
    name: str = ""
    """The stable model name this slot answers to while `claimed`."""
    requests: list[RecordedRequest] = field(default_factory=list)
    """Every request served from this slot, in order (retries included)."""
    disconnects: int = 0
    """Responses the client abandoned before their end: evidence that cancellation propagates."""


@dataclass(frozen=True, slots=True)
class _Reply:
    pieces: tuple[bytes, ...]
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    delay: float
    reset_at_end: bool
    protocol: str | None
    stall: tuple[int, float] | None = None
    reset_pause: float = 0.0


# The path suffix each wire protocol's clients post to; a request for the other one is misrouted.
_PROTOCOL_PATHS = {
    "openai-chat": "/chat/completions",
    "anthropic-messages": "/messages",
    "openai-responses": "/responses",
}


def _misrouted(path: str, protocol: str | None) -> str | None:
    """The protocol a request's path asks for, when it is not the slot's."""
    path = urlsplit(path).path.rstrip("/")
    for other, suffix in _PROTOCOL_PATHS.items():
        if other != protocol and protocol is not None and path.endswith(suffix):
            return other
    return None


class _BadRequest(Exception):
    """The client sent something that is not an HTTP/1.x request we can read."""


class ReplayServer:
    """Serve registered captures to whatever connects on a loopback port (ephemeral unless `port` is given).

    >>> async def demo() -> None:
    ...     async with ReplayServer() as server:
    ...         slot = server.register(b"data: hi\\n\\n", schedule="event")
    ...         ...  # point a target at slot.url, then inspect slot.requests
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"ReplayServer host must be a loopback IP address such as 127.0.0.1, got {host!r}"
            ) from None
        if not address.is_loopback:
            raise ValueError(
                f"ReplayServer refuses to listen on {host!r}: it serves to anyone who connects, "
                "so it binds loopback only; use 127.0.0.1 or ::1"
            )
        if not 0 <= port <= 65535:
            raise ValueError(f"ReplayServer port must be 0 (any free port) or 1-65535, got {port}")
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._base_url: str | None = None
        self._closed = False
        self._entries: dict[str, tuple[Slot, _Reply]] = {}
        # Claimed stable names, by last segment: the token in flight, and a lock per name so that
        # a second stream of the name waits for the first.
        self._names: dict[str, str] = {}
        self._name_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind the port (an ephemeral one unless `port` was given); binding happens here rather than
        at construction (no work on import)."""
        if self._server is not None or self._closed:
            raise RuntimeError("ReplayServer.start() may be called once, before close()")
        try:
            self._server = await asyncio.start_server(self._on_connect, self._host, self._port, limit=_HEAD_LIMIT)
        except OSError as error:
            if not self._port:
                raise
            raise OSError(
                error.errno,
                f"replay server cannot listen on {self._host}:{self._port} ({error.strerror}); is that port in use? Pick another with --replay-port, or 0 for any free one",
            ) from error
        host, port = self._server.sockets[0].getsockname()[:2]
        self._base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop listening and abort every open connection; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        # Aborted transports close their sockets in a callback; let it run before the loop may end.
        await asyncio.sleep(0)

    async def __aenter__(self) -> ReplayServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, known once started."""
        if self._base_url is None:
            raise RuntimeError("ReplayServer.base_url is known only after start()")
        return self._base_url

    def register(
        self,
        body: bytes,
        *,
        schedule: str = "recorded",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        reset_at_end: bool = False,
        protocol: str | None = None,
        stall: tuple[int, float] | None = None,
        reset_pause: float = RESET_PAUSE,
        name: str = "",
    ) -> Slot:
        """Make `body` available at a fresh slot. The schedule is applied now, so a bad name fails
        here rather than inside a connection.

        A 2xx status streams the pieces as chunks, `delay` seconds apart; with `reset_at_end` the
        connection is reset (a TCP RST) after the last piece, without the terminating chunk: an
        upstream cut off mid-stream. The reset waits until every byte written has left the send
        queue, then `reset_pause` seconds more (default `RESET_PAUSE`, 0.05 s), so that the
        target's HTTP client has handed those bytes on before it sees the reset: some clients
        (aiohttp) raise the reset before delivering what they had already read, which would make
        the text a target keeps before the fault a matter of timing. `reset_pause=0` resets the
        moment the bytes have left, to test exactly that race.
        Any other status sends the whole body with content-length; schedule, delay, `reset_at_end`
        and `reset_pause` then do not apply. With `protocol`, a request whose path belongs to the
        other wire protocol (`/v1/messages` for an `openai-chat` capture) is answered 400 with the
        reason, so a misrouting proxy can never pass off the other protocol's bytes as a result.
        `stall=(index, seconds)` pauses that long before piece `index` (an upstream that hangs).
        """
        if not 200 <= status <= 599:
            raise ValueError(f"status must be a final status code 200-599, got {status}")
        if delay < 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay}")
        if stall is not None and stall[1] < 0:
            raise ValueError(f"a stall must last >= 0 seconds, got {stall[1]}")
        if reset_pause < 0:
            raise ValueError(f"reset_pause must be >= 0 seconds, got {reset_pause}")
        body = bytes(body)
        pieces = tuple(split(body, schedule))
        reply = _Reply(
            pieces, body, status, _response_headers(status, headers), delay, reset_at_end, protocol, stall, reset_pause
        )
        token = secrets.token_hex(8)
        slot = Slot(token, f"{self.base_url}/r/{token}", name)
        self._entries[token] = (slot, reply)
        return slot

    def unregister(self, token: str) -> None:
        """Forget a slot (later requests get 404); unknown tokens are ignored, so cleanup is idempotent."""
        self._entries.pop(token, None)

    @contextlib.asynccontextmanager
    async def claimed(self, slot: Slot) -> AsyncIterator[None]:
        """Answer requests for `slot.name` from `slot` while inside, once no other slot of that name
        (or of its last segment) is: a stream of a name already in flight waits for it to end."""
        name = _name_key(slot.name)
        lock = self._name_locks.setdefault(name, asyncio.Lock())
        async with lock:
            self._names[name] = slot.token
            try:
                yield
            finally:
                del self._names[name]

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback rather than a coroutine: the task is created and tracked right here, so
        # close() can cancel every connection, including one accepted a moment before.
        if self._closed:
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer), name="replay-connection")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                # Each piece must leave as its own segment, not wait to be coalesced with the next.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._exchange(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # close() is waiting: don't flush to a client that may not read
            raise
        except (OSError, asyncio.IncompleteReadError):
            writer.transport.abort()  # the client left while sending its request or a short reply
            return
        except Exception:
            _log.exception("replay server: unexpected error while serving a connection")
            writer.transport.abort()
            return
        try:
            writer.close()  # flushes what is buffered, then FIN
            await writer.wait_closed()
        except OSError:
            pass
        finally:
            writer.transport.abort()  # no-op once closed; a real close if cancelled while flushing

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request, version = await _read_request(reader, writer)
        except _BadRequest as exc:
            await _write_whole(writer, 400, _error_body(str(exc), "bad_request"))
            return
        token = self._token_for(request)
        entry = self._entries.get(token) if token is not None else None
        if entry is None:
            if token is None:
                message = (
                    f"no capture registered for this request: path {request.path!r} has no /r/<token>/ "
                    f"prefix, there is no {TOKEN_HEADER} header and the body has no JSON model"
                )
            else:
                message = f"no capture registered for {token!r}: no slot has that token, and no stream of that model name is in flight"
            await _write_whole(writer, 404, _error_body(message, "not_found"))
            return
        slot, reply = entry
        slot.requests.append(request)
        asked = _misrouted(request.path, reply.protocol)
        if asked is not None:
            message = f"this capture speaks {reply.protocol}, but the request went to {urlsplit(request.path).path!r}, a {asked} path"
            await _write_whole(writer, 400, _error_body(message, "protocol_mismatch"))
            return
        if not 200 <= reply.status < 300:
            await _write_whole(writer, reply.status, reply.body, reply.headers)
            return
        if not await _stream(reply, version, reader, writer):
            slot.disconnects += 1

    def _token_for(self, request: RecordedRequest) -> str | None:
        """The path token if registered, else the header token, else the body's model (whole, or its
        last `/` segment), else the slot that claimed the model as its name; else whichever was
        given, for the 404."""
        path = request.path if request.path.startswith("/") else urlsplit(request.path).path
        match = _PATH_TOKEN.match(path)
        candidates = [match.group(1)] if match else []
        header = request.headers.get(TOKEN_HEADER, "").strip()
        if header:
            candidates.append(header)
        model = _body_model(request.body)
        if model:
            candidates.append(model)
            if "/" in model:
                candidates.append(model.rsplit("/", 1)[1])
        for candidate in candidates:
            if candidate in self._entries:
                return candidate
        if model and _name_key(model) in self._names:
            return self._names[_name_key(model)]
        return candidates[0] if candidates else None


def _name_key(name: str) -> str:
    """What a gateway may keep of a stable name: its last segment, after any `provider/` prefixes."""
    return name.rsplit("/", 1)[-1]


def _body_model(body: bytes) -> str | None:
    """The `model` string of a JSON object body, or None (no body, not JSON, no string model)."""
    if not body or body.lstrip()[:1] != b"{":
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError, JSONDecodeError, hostile nesting
        return None
    model = parsed.get("model") if isinstance(parsed, dict) else None
    return (model.strip() or None) if isinstance(model, str) else None


async def _stream(reply: _Reply, version: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Write the pieces, one chunk each; False if the client went away before the end.

    A client that closes its socket is seen at once by a reader watching for EOF (as Go's net/http
    does), not only at the next failed write, so `delay` does not hide a disconnect.
    """
    chunked = version == "HTTP/1.1"  # an HTTP/1.0 client cannot read chunks: the body is close-delimited
    framing = [("transfer-encoding", "chunked")] if chunked else []
    # A body cut off by a reset is announced as a real upstream's is, keep-alive: told the server
    # closes, Node's fetch (undici) takes the reset for the end of the body, and the proxy under
    # test never sees the upstream fail. The connection is reset, so it is never reused.
    closing = [] if chunked and reply.reset_at_end else [("connection", "close")]
    writer.write(_head(reply.status, [*reply.headers, *framing, *closing]))
    await writer.drain()
    gone = asyncio.get_running_loop().create_task(_until_eof(reader), name="replay-eof-watch")
    try:
        for index, piece in enumerate(reply.pieces):
            if index and reply.delay > 0:
                await asyncio.wait({gone}, timeout=reply.delay)
            if reply.stall is not None and index == reply.stall[0]:
                await asyncio.wait({gone}, timeout=reply.stall[1])
            if gone.done() or writer.is_closing():
                return False
            writer.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        if gone.done() or writer.is_closing():
            return False
        if reply.reset_at_end:
            await _reset(writer, reply.reset_pause, gone)
            return not gone.done()
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return True
    except OSError:  # ConnectionResetError, BrokenPipeError: the client is gone
        return False
    finally:
        gone.cancel()
        await asyncio.wait({gone})  # unlike awaiting it, this does not swallow our own cancellation


async def _reset(writer: asyncio.StreamWriter, pause: float, gone: asyncio.Task[None]) -> None:
    """Close with a TCP RST rather than a FIN, as a crashed or killed upstream does.

    A reset discards whatever the kernel has not yet delivered, so first every byte written must
    have left: the transport's buffer and the socket's send queue (Linux: SIOCOUTQ) are empty, or
    the client has stopped reading for `_FLUSH_BOUND` seconds. The peer can still read what it
    received before it sees the reset, but its HTTP client may not have read it yet, hence
    `pause` (cut short if the client leaves meanwhile).
    """
    sock = writer.get_extra_info("socket")
    deadline = time.monotonic() + _FLUSH_BOUND
    while (writer.transport.get_write_buffer_size() or _unsent(sock)) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    if pause > 0:
        await asyncio.wait({gone}, timeout=pause)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


_FLUSH_BOUND = 2.0


def _unsent(sock: Any) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer; 0 where unknown."""
    try:
        import fcntl  # Unix only
        import termios

        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])
    except (ImportError, AttributeError, OSError, ValueError):
        return 0


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Return when the client closes its side; anything it sends meanwhile is ignored (we close)."""
    with contextlib.suppress(OSError):
        while await reader.read(_READ_SIZE):
            pass


async def _read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[RecordedRequest, str]:
    """Read one request, its body included (Content-Length or chunked), and its HTTP version."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise _BadRequest(f"request head larger than {_HEAD_LIMIT} bytes") from None
    lines = head.lstrip(b"\r\n")[:-4].split(b"\r\n")  # RFC 9112 §2.2: ignore CRLFs before the request
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[0]:
        raise _BadRequest(f"malformed request line {lines[0][:100]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, colon, value = raw.decode("latin-1").partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise _BadRequest(f"malformed header line {raw[:100]!r}")
        name, value = name.lower(), value.strip(" \t")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    if "transfer-encoding" in headers:
        if headers["transfer-encoding"].lower().rsplit(",", 1)[-1].strip() != "chunked":
            raise _BadRequest(f"unsupported transfer-encoding {headers['transfer-encoding']!r}")
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        length = headers["content-length"]
        if not length.isascii() or not length.isdigit():
            raise _BadRequest(f"malformed content-length {length!r}")
        body = await reader.readexactly(int(length))
    else:
        body = b""
    return RecordedRequest(method, target, headers, body), version


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size = line[:-2].split(b";", 1)[0].strip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size):
            raise _BadRequest(f"malformed chunk size line {line[:100]!r}")
        if (length := int(size, 16)) == 0:
            break
        parts.append(await reader.readexactly(length))
        if await reader.readexactly(2) != b"\r\n":
            raise _BadRequest("chunk data not followed by CRLF")
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass  # trailer fields: not recorded
    return b"".join(parts)


async def _write_whole(
    writer: asyncio.StreamWriter, status: int, body: bytes, headers: tuple[tuple[str, str], ...] | None = None
) -> None:
    """A complete response with content-length: errors, and non-2xx captures."""
    if headers is None:
        headers = (("content-type", "application/json"),)
    framing = [("content-length", str(len(body))), ("connection", "close")]
    writer.write(_head(status, [*headers, *framing]) + body)
    await writer.drain()


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _response_headers(status: int, given: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Defaults, then the capture's headers by lower-cased name, minus the framing we control."""
    if 200 <= status < 300:
        merged = {"content-type": "text/event-stream", "cache-control": "no-cache"}
    else:
        merged = {"content-type": "application/json"}
    for name, value in (given or {}).items():
        lowered = name.lower()
        if not _HEADER_NAME.fullmatch(name) or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r}: {value!r} cannot be sent (bad name, or CR/LF in the value)")
        if lowered not in _DROPPED_HEADERS:
            merged[lowered] = value
    try:
        for value in merged.values():
            value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header value {value!r} is not latin-1 and cannot be sent") from None
    return tuple(merged.items())


def _error_body(message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind}}).encode("utf-8")
