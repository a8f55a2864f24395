"""A target run in a child process of its own, spoken to over a socket pair.

Why: a target with heavy imports (LiteLLM's take about 6 s) loads on the second core while the
harness collects, lints and imports the client SDKs, and its interpreter's exit no longer happens
inside the harness. The child freezes its heap once its streams and target are closed (`gc.freeze`,
as the plugin does at exit): the final collections would otherwise walk all of LiteLLM's heap, about
2.5 s the run waits for. A target that crashes its interpreter (a segfault in a native extension)
errors the streams it had open instead of ending the run, and is started again for the next one.

The child (`python -m conformance.targets.hosted SPEC FD`) loads SPEC with `conformance.targets.load`
and serves target protocol v1 (`conformance.targets.base`) on file descriptor FD. The parent's
`stream()` pulls one item per request, as the runner's `async for` pulls from a target in process,
so a client that stops reading leaves the child's generator suspended at a `yield`, where its
`aclose()` throws GeneratorExit, exactly as in process: cancel propagation is judged on the
target's own code path, not on a cancellation of ours.

Frames, both ways: kind (1 byte), stream id (4 bytes), payload length (4 bytes), payload. The
child answers each request for the next item with a `Head` (JSON), a chunk of bytes, an `Abort`
(its reason, UTF-8), the stream's end, or the exception that ended it.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from conformance.targets import MAX_RESTARTS, TargetError, died, load, raised
from conformance.targets.base import Abort, Exchange, Head, Route

__all__ = ["Hosted", "HostedTargetError"]

_HEADER = struct.Struct("!BII")
# parent → child
_OPEN, _NEXT, _CLOSE = b"o", b"n", b"c"
# child → parent
_READY, _FAILED, _HEAD, _CHUNK, _ABORT, _END, _ERROR = b"R", b"F", b"H", b"C", b"A", b"E", b"X"

_EXIT_BOUND = 30.0  # seconds the child may take to close its target and exit before it is killed
_LOG_TAIL = 2000


class HostedTargetError(Exception):
    """What went wrong in the child. `detail` ends the sentence "target NAME …" as
    `targets.failure` words an in-process target's exception: "raised ValueError: …"."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _frame(kind: bytes, stream: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind[0], stream, len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, int, bytes]:
    kind, stream, length = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return bytes((kind,)), stream, await reader.readexactly(length) if length else b""


class _Link:
    """One running child: its process, its socket, and the replies waiting for each stream."""

    def __init__(
        self, process: subprocess.Popen[bytes], reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: Path
    ) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.log = log
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.replies: dict[int, asyncio.Queue[tuple[bytes, bytes]]] = {}
        self.gone: str | None = None
        self.dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name="hosted-target-dispatch")

    async def _dispatch(self) -> None:
        try:
            while True:
                kind, stream, payload = await _read_frame(self.reader)
                if kind == _READY:
                    self.ready.set_result(None)
                elif kind == _FAILED:
                    self.ready.set_exception(HostedTargetError(payload.decode("utf-8", "replace")))
                elif stream in self.replies:
                    self.replies[stream].put_nowait((kind, payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.gone = await self._exit_reason()
        if not self.ready.done():
            self.ready.set_exception(HostedTargetError(self.gone))
        for queue in self.replies.values():
            queue.put_nowait((_ERROR, self.gone.encode()))

    async def _exit_reason(self) -> str:
        try:
            code = await asyncio.to_thread(self.process.wait, 2)
        except subprocess.TimeoutExpired:
            code = None
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL:].strip() if self.log.exists() else ""
        said = f"; the end of its output:\n{tail}" if tail else ", writing nothing"
        return f"{died(code)}{said}"

    def send(self, kind: bytes, stream: int, payload: bytes = b"") -> None:
        if self.gone is None and not self.writer.is_closing():
            self.writer.write(_frame(kind, stream, payload))


class Hosted:
    """Target protocol v1 for a target that runs in a child process.

    The parent knows the target's name, version and routes without loading it (collection needs
    them at once); the child is started at construction, so its imports run while the harness
    collects."""

    def __init__(
        self,
        spec: str,
        *,
        name: str,
        version: str,
        routes: frozenset[Route],
        notes: tuple[str, ...] = (),
        upstream_read_timeout: float | None = None,
        unserved: Callable[[Route, str], str | None] | None = None,
    ) -> None:
        """`unserved(route, provider)`: why the target does not serve a provider's captures on a
        route, when that is known without loading it (`runner.unserved`)."""
        self.spec = spec
        self.name = name
        self.version = version
        self.routes = routes
        self.notes = notes
        if upstream_read_timeout is not None:
            self.upstream_read_timeout = upstream_read_timeout
        if unserved is not None:
            self.unserved = unserved
        self._ids = itertools.count(1)
        self.folder = Path(tempfile.mkdtemp(prefix="conformance-hosted-"))
        """Where the child's output goes (`target-<start>.log`); removed by `aclose()`."""
        self.starts = 0
        """How many children were started: a crash starts another for the next stream, at most
        `MAX_RESTARTS` times."""
        self._unloadable: str | None = None
        self._lock: asyncio.Lock | None = None  # made on the loop that runs the streams
        self._link: _Link | None = None
        self._started: tuple[subprocess.Popen[bytes], socket.socket, Path] | None = self._start()

    def _start(self) -> tuple[subprocess.Popen[bytes], socket.socket, Path]:
        self.starts += 1
        ours, theirs = socket.socketpair()
        log = self.folder / f"target-{self.starts}.log"
        with theirs, log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "conformance.targets.hosted", self.spec, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # a native crash leaves its traceback in the log
            )
        return process, ours, log

    async def _connected(self) -> _Link:
        """The running child, started again (at most `MAX_RESTARTS` times) if the last one ended
        after loading the target; waits until it has loaded it. A child that could not load it is not started again: it would fail
        the same way, after the same imports, for every stream."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # streams that begin together share one child
            if self._unloadable is not None:
                raise HostedTargetError(self._unloadable)
            if self._link is not None and self._link.gone is not None:
                gone = self._link.gone
                await self._stop(self._link)
                self._link = None
                if self.starts > MAX_RESTARTS:  # it keeps dying: every later stream is told why
                    self._unloadable = f"{gone}\n(not started again: it died {self.starts} times)"
                    raise HostedTargetError(self._unloadable)
            if self._link is None:
                if self._started is None:
                    self._started = self._start()
                process, sock, log = self._started
                self._started = None
                reader, writer = await asyncio.open_unix_connection(sock=sock)
                self._link = _Link(process, reader, writer, log)
            link = self._link
            try:
                await asyncio.shield(link.ready)
            except HostedTargetError as error:
                self._unloadable = error.detail
                raise
        return link

    def stream(self, exchange: Exchange) -> AsyncIterator[bytes | Head | Abort]:
        if exchange.route not in self.routes:
            raise ValueError(f"{self.name} does not serve route {exchange.route!r}; it serves {sorted(self.routes)}")
        return self._stream(exchange)

    async def _stream(self, exchange: Exchange) -> AsyncIterator[bytes | Head | Abort]:
        link = await self._connected()
        stream = next(self._ids)
        replies: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()
        link.replies[stream] = replies
        finished = False
        try:
            if link.gone is not None:  # it ended while this stream waited for it
                finished = True
                raise HostedTargetError(link.gone)
            link.send(_OPEN, stream, json.dumps(_exchange_json(exchange)).encode())
            while True:
                link.send(_NEXT, stream)
                kind, payload = await replies.get()
                if kind == _CHUNK:
                    yield payload
                elif kind == _HEAD:
                    head = json.loads(payload)
                    yield Head(head["status"], tuple(tuple(pair) for pair in head["headers"]))
                elif kind == _ABORT:
                    # Last by the protocol, but the child's generator decides: it is asked for
                    # more, as in process, if the client reads on.
                    yield Abort(payload.decode("utf-8", "replace"))
                elif kind == _END:
                    finished = True
                    return
                else:
                    finished = True
                    raise HostedTargetError(payload.decode("utf-8", "replace"))
        finally:
            del link.replies[stream]
            if not finished:
                link.send(_CLOSE, stream)

    async def aclose(self) -> None:
        """Closing the socket asks the child to close its streams and its target, and exit."""
        if self._link is not None:
            await self._stop(self._link)
            self._link = None
        if self._started is not None:
            process, sock, _ = self._started
            sock.close()
            await asyncio.to_thread(_wait_or_kill, process)
            self._started = None
        shutil.rmtree(self.folder, ignore_errors=True)

    async def _stop(self, link: _Link) -> None:
        if link.ready.done() and not link.ready.cancelled():
            link.ready.exception()  # already reported to the streams that waited for it
        link.writer.close()
        await asyncio.to_thread(_wait_or_kill, link.process)
        await asyncio.wait({link.dispatcher})

    def __repr__(self) -> str:
        return f"<Hosted {self.name} {self.version} ({self.spec})>"


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=_EXIT_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exchange_json(exchange: Exchange) -> dict[str, Any]:
    return {
        "route": list(exchange.route),
        "request": exchange.request,
        "upstream_url": exchange.upstream_url,
        "token": exchange.token,
        "provider": exchange.provider,
        "headers": [list(pair) for pair in exchange.headers],
    }


def _exchange(data: dict[str, Any]) -> Exchange:
    return Exchange(
        (data["route"][0], data["route"][1]),
        data["request"],
        data["upstream_url"],
        token=data["token"],
        provider=data["provider"],
        headers=tuple((name, value) for name, value in data["headers"]),
    )


# -- the child ------------------------------------------------------------------------------------


class _Server:
    def __init__(self, target: Any, writer: asyncio.StreamWriter) -> None:
        self.target = target
        self.writer = writer
        self.streams: dict[int, AsyncIterator[Any]] = {}
        self.failed: dict[int, str] = {}
        self.steps: dict[int, asyncio.Task[None]] = {}

    def open(self, stream: int, payload: bytes) -> None:
        try:
            self.streams[stream] = self.target.stream(_exchange(json.loads(payload))).__aiter__()
        except Exception as error:
            self.failed[stream] = raised(error)

    def next(self, stream: int) -> None:
        self.steps[stream] = asyncio.get_running_loop().create_task(self._step(stream))

    async def _step(self, stream: int) -> None:
        if stream in self.failed:
            self._send(_ERROR, stream, self.failed.pop(stream).encode())
            return
        iterator = self.streams.get(stream)
        if iterator is None:
            return
        try:
            item = await iterator.__anext__()
        except StopAsyncIteration:
            self.streams.pop(stream, None)
            self._send(_END, stream)
            return
        except Exception as error:
            self.streams.pop(stream, None)
            self._send(_ERROR, stream, raised(error).encode())
            return
        if isinstance(item, Head):
            self._send(
                _HEAD,
                stream,
                json.dumps({"status": item.status, "headers": [list(pair) for pair in item.headers]}).encode(),
            )
        elif isinstance(item, Abort):
            self._send(_ABORT, stream, item.reason.encode("utf-8", "replace"))
        else:
            self._send(_CHUNK, stream, bytes(item))

    async def close(self, stream: int) -> None:
        step = self.steps.pop(stream, None)
        if step is not None and not step.done():  # the parent gave up waiting (a time-out)
            step.cancel()
            await asyncio.wait({step})
        iterator = self.streams.pop(stream, None)
        self.failed.pop(stream, None)
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            try:
                await closer()
            except Exception:  # noqa: BLE001  (the stream is being abandoned; its close may fail like any read)
                traceback.print_exc()

    async def close_all(self) -> None:
        for stream in list(self.streams):
            await self.close(stream)
        closer = getattr(self.target, "aclose", None)
        if closer is not None:
            await closer()

    def _send(self, kind: bytes, stream: int, payload: bytes = b"") -> None:
        if not self.writer.is_closing():
            self.writer.write(_frame(kind, stream, payload))


async def _serve(spec: str, fd: int) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))

    try:
        target = load(spec)
    except TargetError as error:
        writer.write(_frame(_FAILED, 0, f"could not be loaded in its process: {error} [{error.code}]".encode()))
        await writer.drain()
        return
    except Exception as error:
        writer.write(_frame(_FAILED, 0, f"could not be loaded in its process: {raised(error)}".encode()))
        await writer.drain()
        return
    writer.write(_frame(_READY, 0))
    server = _Server(target, writer)
    try:
        while True:
            try:
                kind, stream, payload = await _read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break  # the parent closed the socket: the run is over
            if kind == _OPEN:
                server.open(stream, payload)
            elif kind == _NEXT:
                server.next(stream)
            elif kind == _CLOSE:
                await server.close(stream)
    finally:
        await server.close_all()
        writer.close()


def main() -> None:
    spec, fd = sys.argv[1], int(sys.argv[2])
    asyncio.run(_serve(spec, fd))
    gc.freeze()  # nothing is left to collect that matters: streams and target are closed


if __name__ == "__main__":
    main()
