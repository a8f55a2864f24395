"""Every server the suite starts binds 127.0.0.1, and everything it spawns is cleaned up.

After a whole `Runner` lifecycle (cases through the reference target, then `close()`) and after a
whole in-process `pytest --target=reference` run, this process holds no more listening sockets, no
more TCP sockets, no more live threads and no more child processes than it did before.

One thing is process-wide by design and taken into the baseline: the oracle server
(`conformance/oracles/_server.py`), started lazily on the first `oracle.*` check, shared by every
later check, and shut down at interpreter exit; `_shutdown()` closes its socket and thread, which
`test_oracle_server_binds_loopback_and_shuts_down` checks. The oracles' pooled httpx clients
(`conformance/oracles/_common.py`) are process-wide in the same way: their idle connections to the
oracle server are closed by the server, which closes every connection after one response.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _outcomes import assert_classes

from conformance.checks import build_context, check
from conformance.corpus import load_corpus
from conformance.oracles import _server as oracle_server
from conformance.replay import ReplayServer
from conformance.runner import Case, Runner, routes_for
from conformance.targets import load

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="inspects /proc (Linux)")

# Threads that belong to the process rather than to a run.
_PROCESS_WIDE_THREADS = ("conformance-oracle-server",)


def _socket_inodes() -> set[str]:
    """Inodes of every socket this process has open."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed while listing (the listing's own fd among them)
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    return inodes


def _tcp_table() -> dict[str, tuple[str, str]]:
    """Every TCP socket on the host: inode → (state, local address)."""
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            table[fields[9]] = (fields[3], fields[1])
    return table


def _tcp_sockets() -> dict[str, tuple[str, str]]:
    """This process's TCP sockets: inode → (state, local address). State 0A is LISTEN."""
    mine = _socket_inodes()
    return {inode: row for inode, row in _tcp_table().items() if inode in mine}


def _listening() -> set[str]:
    return {inode for inode, (state, _) in _tcp_sockets().items() if state == "0A"}


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            pids.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive() and t.name not in _PROCESS_WIDE_THREADS}


def _snapshot() -> dict[str, Any]:
    gc.collect()  # a socket only garbage holds is not a leak of the code under test
    return {"listening": _listening(), "tcp": set(_tcp_sockets()), "threads": _threads(), "children": _children()}


def _settled(before: dict[str, Any], seconds: float = 5.0) -> dict[str, Any]:
    """What is left over beyond `before`, once threads that are finishing have had time to end."""
    deadline = time.monotonic() + seconds
    while True:
        after = _snapshot()
        extra = {key: after[key] - before[key] for key in before}
        if not any(extra.values()) or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)


def _warm_up() -> None:
    """Start the process-wide oracle server (and the SDKs' pooled clients) before the baseline."""
    corpus = load_corpus()
    capture = next(c for c in corpus.captures if c.negative is None)
    check(build_context(capture.body, capture.protocol, expect=capture.expect))


@pytest.fixture
def baseline() -> Callable[[], dict[str, Any]]:
    _warm_up()
    before = _snapshot()
    return lambda: _settled(before)


def test_runner_lifecycle_leaves_nothing_behind(baseline: Callable[[], dict[str, Any]]) -> None:
    target = load("reference")
    corpus = load_corpus()
    captures = [c for c in corpus.captures if c.id.endswith(("/text", "/cut-off", "/error-mid-stream"))][:4]
    assert captures
    runner = Runner(timeout=30)
    assert _listening(), "the replay server listens while the runner is open"
    try:
        for capture in captures:
            for route in routes_for(capture, target)[0]:
                for schedule in ("event", "adversarial"):
                    result = runner.run(Case(capture, route, schedule), target)
                    assert result.outcome in ("pass", "non-strict", "inherited", "fail"), result.error
    finally:
        runner.close(target)
    assert not runner._thread.is_alive()
    assert baseline() == {"listening": set(), "tcp": set(), "threads": set(), "children": set()}


def test_runner_closed_after_a_hanging_target_leaves_nothing_behind(baseline: Callable[[], dict[str, Any]]) -> None:
    """A case that times out mid-stream is cancelled, and close() still releases everything."""
    import asyncio

    class Hangs:
        name = "hangs"
        version = "0"
        routes = frozenset({("openai-chat", "openai-chat")})

        async def stream(self, exchange: Any) -> Any:
            yield b"data: {}\n\n"
            await asyncio.sleep(3600)

    capture = next(c for c in load_corpus().captures if c.id == "openai-chat/openai/text-lf")
    runner = Runner(timeout=0.5)
    try:
        result = runner.run(Case(capture, ("openai-chat", "openai-chat"), "event"), Hangs())
        assert result.outcome == "errored"
    finally:
        runner.close()
    assert baseline() == {"listening": set(), "tcp": set(), "threads": set(), "children": set()}


def test_pytest_run_leaves_nothing_behind(pytester: pytest.Pytester, baseline: Callable[[], dict[str, Any]]) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess(
        "--target=reference", "-k", "text-lf", "-p", "no:cacheprovider", f"--report-dir={pytester.path / 'reports'}"
    )
    # The reference's openai-chat-to-anthropic-messages route reports input_tokens 0 in message_start
    # (an OpenAI upstream reports usage only at the end): non-strict, which the default gate passes.
    assert_classes(result, passed=4, non_strict=2)  # chat, and the Responses client of chat, pass
    assert baseline() == {"listening": set(), "tcp": set(), "threads": set(), "children": set()}


def _bound_to_loopback(sock_address: Any) -> bool:
    return ipaddress.ip_address(sock_address[0]).is_loopback


def test_replay_server_binds_127_0_0_1_only() -> None:
    import asyncio

    async def bound() -> tuple[Any, ...]:
        async with ReplayServer() as server:
            assert server._server is not None
            return tuple(s.getsockname() for s in server._server.sockets)

    addresses = asyncio.run(bound())
    assert addresses and all(address[0] == "127.0.0.1" for address in addresses)
    for wildcard in ("0.0.0.0", "::", "", "localhost", "192.168.1.1", "example.com"):
        with pytest.raises(ValueError):
            ReplayServer(host=wildcard)


def test_runner_replay_server_binds_127_0_0_1(baseline: Callable[[], dict[str, Any]]) -> None:
    """Seen from /proc: every socket the runner listens on is on 127.0.0.1."""
    before = _listening()
    runner = Runner()
    try:
        new = _listening() - before
        table = _tcp_table()
        assert new and all(table[inode][1].split(":")[0] == "0100007F" for inode in new), {
            inode: table[inode] for inode in new
        }
        assert runner.replay.base_url.startswith("http://127.0.0.1:")
    finally:
        runner.close()
    assert baseline() == {"listening": set(), "tcp": set(), "threads": set(), "children": set()}


def test_oracle_server_binds_loopback_and_shuts_down() -> None:
    server = oracle_server._running()
    host, port = server.socket.getsockname()[:2]
    assert host == "127.0.0.1" and port
    assert server.socket.family == socket.AF_INET
    inode = str(os.fstat(server.socket.fileno()).st_ino)
    assert _tcp_table()[inode] == ("0A", f"0100007F:{port:04X}")
    threads = [t for t in threading.enumerate() if t.name == "conformance-oracle-server"]
    assert threads and all(t.daemon for t in threads)
    oracle_server._shutdown()
    try:
        assert server.socket.fileno() == -1
        for thread in threads:
            thread.join(timeout=5)
            assert not thread.is_alive()
    finally:
        # It starts again lazily, on the next oracle check.
        assert oracle_server.base_url().startswith("http://127.0.0.1:")
