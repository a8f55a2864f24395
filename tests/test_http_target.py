"""The `http` target against a tiny passthrough proxy on 127.0.0.1, and the plugin pieces it needs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _outcomes import assert_classes

from conformance.corpus import default_corpus, load_corpus
from conformance.model_names import capture_name
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT
from conformance.replay import TOKEN_HEADER, ReplayServer
from conformance.runner import Case, Runner, collect
from conformance.targets import TargetError, TargetUnavailable, load
from conformance.targets import http as http_target
from conformance.targets.base import Abort, Exchange, Head
from conformance.targets.http import ALL_ROUTES, HttpTarget, ProxyUnreachable, post_stream

SAME_PROTOCOL = "openai-chat-to-openai-chat,anthropic-messages-to-anthropic-messages"


class PassthroughProxy:
    """A proxy in its barest form: every request goes to one fixed upstream base URL, path and
    body unchanged (so the replay server routes on the model name), and the answer comes back
    with its status, content type and body bytes, one chunk per upstream read. `fail_with` makes
    it answer 502 itself."""

    def __init__(self, upstream: str, fail_with: bytes | None = None, strip_prefix: bool = False) -> None:
        self.upstream = upstream
        self.fail_with = fail_with
        self.strip_prefix = strip_prefix  # forward only the model's last segment, as a `provider/*` route does
        self.seen: list[dict] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            except asyncio.IncompleteReadError:  # the plugin's probe: a TCP connect, closed at once
                return
            method, path, _ = head[0].split(" ")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method != "POST":  # the target's version probe: this proxy has no version to tell
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                await writer.drain()
                return
            self.seen.append({"path": path, "headers": headers, "body": json.loads(body)})
            if self.fail_with is not None:
                writer.write(
                    b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%b"
                    % (len(self.fail_with), self.fail_with)
                )
                await writer.drain()
                return
            if self.strip_prefix:
                sent = json.loads(body)
                body = json.dumps({**sent, "model": sent["model"].rsplit("/", 1)[-1]}).encode()
            async with httpx.AsyncClient(timeout=10) as client:
                async with client.stream(
                    method, self.upstream + path, content=body, headers={"content-type": "application/json"}
                ) as response:
                    kind = response.headers.get("content-type", "application/octet-stream")
                    writer.write(
                        f"HTTP/1.1 {response.status_code} X\r\ncontent-type: {kind}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".encode()
                    )
                    async for piece in response.aiter_raw():
                        writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
        finally:
            writer.close()


def capture(capture_id: str):
    return next(c for c in load_corpus(default_corpus()).captures if c.id == capture_id)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def runner() -> Iterator[Runner]:
    running = Runner(timeout=15)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def proxy(runner: Runner) -> Iterator[PassthroughProxy]:
    passthrough = PassthroughProxy(runner.replay.base_url)
    runner.call(passthrough.start(), timeout=5)
    yield passthrough
    runner.call(passthrough.close(), timeout=5)


@pytest.mark.parametrize(
    ("capture_id", "route"),
    [
        ("openai-chat/openai/text-lf", (OPENAI_CHAT, OPENAI_CHAT)),
        ("anthropic-messages/anthropic/text", (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES)),
    ],
)
def test_a_text_capture_passes_through_a_passthrough_proxy(
    runner: Runner, proxy: PassthroughProxy, capture_id: str, route: tuple[str, str]
) -> None:
    target = load(f"{proxy.url}?routes={SAME_PROTOCOL}")
    result = runner.run(Case(capture(capture_id), route, "adversarial"), target)
    assert result.outcome == "pass", (result.error, result.failures)
    assert result.upstream_requests == 1
    sent = proxy.seen[0]
    assert sent["path"] == ("/v1/chat/completions" if route[1] == OPENAI_CHAT else "/v1/messages")
    # The stable name by default, the fresh token in its header.
    assert (
        sent["body"]["model"]
        == capture_name(capture(capture_id))
        == f"{capture(capture_id).provider}/{capture_id.rsplit('/', 1)[1]}"
    )
    assert re.fullmatch("[0-9a-f]{16}", sent["headers"][TOKEN_HEADER])
    assert sent["body"]["stream"] is True


def test_a_proxy_that_strips_the_provider_prefix_reaches_the_capture_by_name(runner: Runner) -> None:
    stripping = PassthroughProxy(runner.replay.base_url, strip_prefix=True)
    runner.call(stripping.start(), timeout=5)
    try:
        target = load(f"{stripping.url}?routes=openai-chat-to-openai-chat")
        result = runner.run(
            Case(capture("openai-chat/openrouter/tool-call"), (OPENAI_CHAT, OPENAI_CHAT), "event"), target
        )
    finally:
        runner.call(stripping.close(), timeout=5)
    assert result.outcome != "errored" and result.upstream_requests == 1, result.error
    assert stripping.seen[0]["body"]["model"] == "openrouter/tool-call"


def test_streams_of_one_name_are_never_in_flight_together(runner: Runner, proxy: PassthroughProxy) -> None:
    # The proxy forwards no token header, so the replay server knows each stream only by its name:
    # begun together, the second waits for the first, and each gets its own capture's bytes.
    target = load(f"{proxy.url}?routes=openai-chat-to-openai-chat")
    assert target.stable_names
    text = capture("openai-chat/openai/text-lf")
    pending = [runner.begin(Case(text, (OPENAI_CHAT, OPENAI_CHAT), schedule), target) for schedule in ("event", "byte")]
    results = [runner.judge(one, runner.wait(one)) for one in pending]
    assert [r.outcome for r in results] == ["pass", "pass"], [r.error for r in results]
    assert [len(one.slot.requests) for one in pending] == [1, 1]


def test_a_token_template_uses_no_names() -> None:
    assert not HttpTarget("http://127.0.0.1:1?model={provider}/{token}").stable_names
    assert HttpTarget("http://127.0.0.1:1?model={token}&header.x-model={name}").stable_names


def test_the_providers_table_names_the_provider_and_leaves_the_rest_unserved() -> None:
    providers = {"openrouter": "openrouter", "openai-chat/*": "openai", "anthropic-messages/moonshot": "anthropic"}
    target = HttpTarget("http://127.0.0.1:1", providers=providers)
    assert target.provider_name(OPENAI_CHAT, "openrouter") == "openrouter"
    assert target.provider_name(OPENAI_CHAT, "vllm") == "openai"
    assert target.provider_name(ANTHROPIC_MESSAGES, "moonshot") == "anthropic"
    assert target.unserved((OPENAI_CHAT, OPENAI_CHAT), "moonshot") is None
    reason = target.unserved((ANTHROPIC_MESSAGES, OPENAI_CHAT), "zai")
    assert reason is not None and "anthropic-messages captures from 'zai'" in reason
    assert HttpTarget("http://127.0.0.1:1").provider_name(ANTHROPIC_MESSAGES, "zai") == "zai"
    exchange = Exchange((OPENAI_CHAT, OPENAI_CHAT), {}, "http://x/r/t", token="t", name="vllm/a", provider="vllm")
    assert http_target.fill("{provider}|{name}", exchange, target.provider_name(OPENAI_CHAT, "vllm")) == "openai|vllm/a"


def test_model_template_sends_just_the_token(runner: Runner, proxy: PassthroughProxy) -> None:
    target = load(f"{proxy.url}?routes=openai-chat-to-openai-chat&model={{token}}")
    result = runner.run(Case(capture("openai-chat/vllm/reasoning-field"), (OPENAI_CHAT, OPENAI_CHAT), "event"), target)
    assert result.outcome == "pass", (result.error, result.failures)
    assert "/" not in proxy.seen[0]["body"]["model"]
    assert len(proxy.seen[0]["body"]["model"]) == 16


def test_model_template_can_use_the_litellm_prefix() -> None:
    target = HttpTarget("http://127.0.0.1:1?model={litellm}/{token}")
    exchange = Exchange((OPENAI_CHAT, OPENAI_CHAT), {}, "http://x/r/t", token="t", provider="vllm")
    from conformance.targets.http import model_name

    assert model_name(target.model, exchange) == "hosted_vllm/t"


def test_a_non_2xx_answer_is_output_as_is(runner: Runner) -> None:
    error = b'{"error": {"message": "no route for this model"}}'
    failing = PassthroughProxy(runner.replay.base_url, fail_with=error)
    runner.call(failing.start(), timeout=5)
    try:
        result = runner.run(
            Case(capture("openai-chat/openai/text-lf"), (OPENAI_CHAT, OPENAI_CHAT), "event"), HttpTarget(failing.url)
        )
    finally:
        runner.call(failing.close(), timeout=5)
    assert result.outcome == "fail"
    assert result.output == error


async def test_connection_refused_names_the_url() -> None:
    port = closed_port()
    target = HttpTarget(f"http://127.0.0.1:{port}")
    exchange = Exchange((OPENAI_CHAT, OPENAI_CHAT), {"messages": []}, "http://x/r/t", token="t", provider="openai")
    with pytest.raises(
        ProxyUnreachable,
        match=rf"cannot connect to http://127.0.0.1:{port}/v1/chat/completions.*is the proxy running\?",
    ):
        async for _ in target.stream(exchange):
            pass


def test_connection_refused_errors_the_item_with_one_clear_message(runner: Runner) -> None:
    port = closed_port()
    result = runner.run(
        Case(capture("openai-chat/openai/text-lf"), (OPENAI_CHAT, ANTHROPIC_MESSAGES), "event"),
        HttpTarget(f"http://127.0.0.1:{port}"),
    )
    assert result.outcome == "errored"
    assert f"cannot connect to http://127.0.0.1:{port}/v1/messages" in result.error
    assert "is the proxy running?" in result.error


def test_the_probe_passes_a_proxy_that_listens() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        HttpTarget(f"http://127.0.0.1:{listening.getsockname()[1]}?routes={SAME_PROTOCOL}").probe(timeout=1)


def test_the_probe_of_a_proxy_not_listening_says_what_was_tried_and_what_to_do() -> None:
    port = closed_port()
    with pytest.raises(TargetUnavailable) as caught:
        HttpTarget(f"http://127.0.0.1:{port}").probe(timeout=1)
    assert caught.value.code == "proxy-unreachable"
    message = str(caught.value)
    assert f"nothing accepted a connection to http://127.0.0.1:{port} (TCP 127.0.0.1:{port}" in message
    assert "ConnectionRefusedError" in message
    assert message.endswith(
        "Is the proxy running? Start it, or pass the URL it listens on as --target=http://HOST:PORT"
    )


def test_the_probe_is_one_connect_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = []

    def silent(address: tuple[str, int], timeout: float) -> socket.socket:
        tried.append((address, timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(http_target.socket, "create_connection", silent)
    with pytest.raises(TargetUnavailable, match=r"tried once for up to 0.5 s: TimeoutError: timed out"):
        HttpTarget("http://127.0.0.1:4000/gateway").probe(timeout=0.5)
    assert tried == [(("127.0.0.1", 4000), 0.5)]
    assert http_target.PROBE_TIMEOUT <= 5


# -- how the response ends: an Abort when it was cut off, nothing when it simply ended -------------

CUT_BODY = b'data: {"n": 1}\n\n' + b'data: {"n": 2}\n\n' + b'data: {"n": 3}\n\n'


class RawServer:
    """Answers every request (head and Content-Length body read) with `response`, byte for byte,
    then closes with a FIN: for framings the replay server never sends."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            length = next(
                (line.split(":")[1] for line in head.split("\r\n") if line.startswith("content-length:")), "0"
            )
            await reader.readexactly(int(length))
            writer.write(self.response)
            await writer.drain()
        finally:
            writer.close()  # a FIN, after what was written


def chunked(*pieces: bytes, terminated: bool) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return (
        head
        + b"".join(b"%x\r\n%b\r\n" % (len(piece), piece) for piece in pieces)
        + (b"0\r\n\r\n" if terminated else b"")
    )


def openai_exchange(upstream_token: str = "t") -> Exchange:
    return Exchange(
        (OPENAI_CHAT, OPENAI_CHAT), {"messages": []}, "http://x/r/t", token=upstream_token, provider="openai"
    )


async def read_all(base_url: str, exchange: Exchange) -> list[bytes | Head | Abort]:
    """Every item the http target yields: the proxy here is whatever listens at `base_url`."""
    return [item async for item in HttpTarget(base_url).stream(exchange)]


def body_and_ending(items: list[bytes | Head | Abort]) -> tuple[bytes, list[Abort]]:
    assert isinstance(items[0], Head)
    aborts = [item for item in items if isinstance(item, Abort)]
    assert all(isinstance(item, bytes) for item in items[1 : len(items) - len(aborts)])
    assert not aborts or items[-1] is aborts[-1]  # an Abort comes last, once
    return b"".join(item for item in items if isinstance(item, bytes)), aborts


async def test_a_reset_mid_body_ends_with_an_abort_after_the_bytes_before_it() -> None:
    # The replay server answers any path for its token header, so it stands in for the proxy here.
    async with ReplayServer() as server:
        slot = server.register(CUT_BODY, schedule="event", reset_at_end=True)
        body, aborts = body_and_ending(await read_all(server.base_url, openai_exchange(slot.token)))
    assert body == CUT_BODY
    assert aborts == [Abort("connection reset")]


async def test_a_complete_chunked_body_ends_with_no_abort() -> None:
    async with ReplayServer() as server:
        slot = server.register(CUT_BODY, schedule="byte")
        body, aborts = body_and_ending(await read_all(server.base_url, openai_exchange(slot.token)))
    assert (body, aborts) == (CUT_BODY, [])


async def test_a_chunked_body_closed_before_its_terminating_chunk_ends_with_an_abort() -> None:
    pieces = [CUT_BODY[:10], CUT_BODY[10:]]
    async with RawServer(chunked(*pieces, terminated=False)) as server:
        body, aborts = body_and_ending(await read_all(server.url, openai_exchange()))
    assert body == CUT_BODY
    assert [abort.reason for abort in aborts] == [
        "incomplete chunked body: the connection closed before the terminating chunk"
    ]


async def test_a_body_shorter_than_its_content_length_ends_with_an_abort() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n" % (len(CUT_BODY) + 5)
    async with RawServer(head + CUT_BODY) as server:
        body, aborts = body_and_ending(await read_all(server.url, openai_exchange()))
    assert body == CUT_BODY
    assert [abort.reason for abort in aborts] == [
        f"incomplete body: received {len(CUT_BODY)} bytes, expected {len(CUT_BODY) + 5}"
    ]


async def test_a_close_delimited_body_is_a_clean_end() -> None:
    # No Content-Length, no chunking: the close is how such a body ends (RFC 9112 §6.3, rule 8).
    async with RawServer(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n" + CUT_BODY) as server:
        body, aborts = body_and_ending(await read_all(server.url, openai_exchange()))
    assert (body, aborts) == (CUT_BODY, [])


async def test_a_read_timeout_mid_body_ends_with_an_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_target, "_TIMEOUT", httpx.Timeout(5.0, read=0.5))
    async with ReplayServer() as server:
        slot = server.register(CUT_BODY, schedule="event", stall=(2, 3.0))
        body, aborts = body_and_ending(await read_all(server.base_url, openai_exchange(slot.token)))
    assert body == CUT_BODY[: 2 * len(CUT_BODY) // 3]
    assert aborts == [Abort("read timeout mid-body")]


async def test_the_transport_error_hook_still_runs_before_the_abort() -> None:
    seen: list[Exception] = []

    async def hook(error: Exception) -> None:
        seen.append(error)

    async with RawServer(chunked(CUT_BODY, terminated=False)) as server:
        items = [item async for item in post_stream(server.url, openai_exchange(), "m", on_transport_error=hook)]
    assert isinstance(items[-1], Abort) and items[-2] == CUT_BODY
    assert [type(error) for error in seen] == [httpx.RemoteProtocolError]


async def test_an_abort_reaches_the_runner_as_an_aborted_ending() -> None:
    async with ReplayServer() as server:
        slot = server.register(CUT_BODY, schedule="event", reset_at_end=True)
        output = await collect(HttpTarget(server.base_url), openai_exchange(slot.token))
    assert (output.body, output.ending, output.abort_reason) == (CUT_BODY, "aborted", "connection reset")


def test_routes_default_to_all_four_and_narrow_by_query() -> None:
    assert load("http://127.0.0.1:4000").routes == ALL_ROUTES
    assert load("https://proxy.example:8443/base/").base_url == "https://proxy.example:8443/base"
    narrowed = load(f"http://127.0.0.1:4000?routes={SAME_PROTOCOL}")
    assert narrowed.routes == {(OPENAI_CHAT, OPENAI_CHAT), (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES)}
    assert narrowed.base_url == "http://127.0.0.1:4000"
    assert load(
        "http://127.0.0.1:4000?routes=openai-chat-to-anthropic-messages&routes=anthropic-messages-to-openai-chat"
    ).routes == {
        (OPENAI_CHAT, ANTHROPIC_MESSAGES),
        (ANTHROPIC_MESSAGES, OPENAI_CHAT),
    }


def test_read_timeout_declares_the_proxy_timeout_for_the_stall_check() -> None:
    from conformance import transport

    assert load("http://127.0.0.1:4000?read_timeout=2.5").upstream_read_timeout == 2.5
    assert load("http://127.0.0.1:4000").upstream_read_timeout is None
    assert transport.skip_reason("fault-stall", load("http://127.0.0.1:4000?read_timeout=2.5"), "http", 30) is None
    assert "does not declare" in (transport.skip_reason("fault-stall", load("http://127.0.0.1:4000"), "http", 30) or "")


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (
            "http://127.0.0.1:4000?routes=openai-to-openai",
            "unknown route openai-to-openai; known: anthropic-messages-to-anthropic-messages",
        ),
        ("http://127.0.0.1:4000?routes=", "unknown route (none given)"),
        ("http://127.0.0.1:4000?rootes=x", "unknown option rootes"),
        ("http://127.0.0.1:4000?model=fixed-name", "must contain {name} or {token}"),
        (
            "http://127.0.0.1:4000?model={token}-{region}",
            "may use only {name}, {token}, {provider}, {upstream} and {litellm}",
        ),
        ("http://127.0.0.1:4000?header.x-route={region}", "header.x-route: template '{region}' may use only"),
        ("http://127.0.0.1:4000?header.bad%20name=x", "'bad name' is not an HTTP header name"),
        ("http://", "is not a proxy URL"),
        ("http://127.0.0.1:4000?read_timeout=soon", "read_timeout must be a positive number of seconds, got 'soon'"),
        ("http://127.0.0.1:4000?read_timeout=0", "read_timeout must be a positive number"),
        ("http://127.0.0.1:4000?read_timeout=inf", "read_timeout must be a positive number"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(TargetError) as caught:
        load(spec)
    assert caught.value.code == "bad-url"
    assert says in str(caught.value)


def test_runner_serves_the_replay_upstream_on_a_fixed_port() -> None:
    port = closed_port()
    fixed = Runner(timeout=5, replay_port=port)
    try:
        assert fixed.replay.base_url == f"http://127.0.0.1:{port}"
    finally:
        fixed.close()


# -- through pytest, as a proxy maintainer runs it -------------------------------------------------


@contextlib.contextmanager
def proxy_in_a_thread(upstream: str) -> Iterator[PassthroughProxy]:
    """The passthrough proxy on its own loop and thread, like a proxy started by hand."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    passthrough = PassthroughProxy(upstream)
    asyncio.run_coroutine_threadsafe(passthrough.start(), loop).result(5)
    try:
        yield passthrough
    finally:
        asyncio.run_coroutine_threadsafe(passthrough.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def small_corpus(root: Path, *ids: str) -> Path:
    import shutil

    shipped = default_corpus()
    for capture_id in ids:
        for suffix in (".yaml", ".sse"):
            destination = root / f"{capture_id}{suffix}"
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shipped / f"{capture_id}{suffix}", destination)
    shutil.copy(shipped / "features.txt", root / "features.txt")
    return root


def test_pytest_against_a_proxy_configured_for_a_fixed_replay_port(pytester: pytest.Pytester) -> None:
    # The recipe of README "Testing a running proxy": the proxy's upstream is the fixed replay port.
    replay_port = closed_port()
    corpus = small_corpus(
        pytester.path / "corpus", "openai-chat/openai/text-lf", "anthropic-messages/anthropic/tool-use"
    )
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    with proxy_in_a_thread(f"http://127.0.0.1:{replay_port}") as passthrough:
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "--no-transport", f"--target={passthrough.url}?routes={SAME_PROTOCOL}", f"--replay-port={replay_port}",
            f"--corpus={corpus}", "--report-dir", str(pytester.path / "out"), "-rs",
        )  # fmt: skip
    # Each capture on its same-protocol route passes; on the 2 other routes from its protocol (to the
    # other protocol and to openai-responses), both schedules are skipped.
    result.assert_outcomes(passed=4, skipped=8)
    result.stdout.fnmatch_lines(["*does not serve route openai-chat-to-anthropic-messages*"])


def test_a_proxy_not_listening_stops_the_run_at_its_start(pytester: pytest.Pytester) -> None:
    """One message and a usage error, where every item used to error one by one: nothing runs, so
    nothing passes, and no report is written."""
    port = closed_port()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", f"--target=http://127.0.0.1:{port}?read_timeout=2", "--report-dir", str(pytester.path / "out"),
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --target=http://127.0.0.1:{port}?read_timeout=2 cannot run here [[]proxy-unreachable[]]: "
            f"nothing accepted a connection to http://127.0.0.1:{port} (TCP 127.0.0.1:{port}, tried once for up to 3 s: "
            "ConnectionRefusedError: *). Is the proxy running? Start it, or pass the URL it listens on as --target=http://HOST:PORT.",
            "The run stopped before collecting anything: no item ran, and no report was written.",
        ]
    )
    assert "passed" not in result.stdout.str() and "error" not in result.stdout.str()
    assert not (pytester.path / "out").exists()


def test_listing_the_items_of_a_proxy_not_listening_needs_no_proxy(pytester: pytest.Pytester) -> None:
    port = closed_port()
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--no-transport", f"--target=http://127.0.0.1:{port}", f"--corpus={corpus}", "--collect-only", "-q",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["conformance::openai-chat/openai/text-lf[[]openai-chat-to-openai-chat[]][[]event[]]"])


LOGGING_TARGET = '''
from pathlib import Path

from conformance.targets.reference import Reference


class Logging(Reference):
    """The reference, with a process log the way the litellm-proxy target has one."""

    def __init__(self):
        super().__init__("logging")
        self.log_path = Path(__file__).parent / "gone.log"  # aclose() removed it: log_text() still has it

    def log_text(self):
        return "proxy started\\nproxy stopped\\n"
'''


def test_a_target_log_is_attached_to_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(loggingtarget=LOGGING_TARGET)
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "--no-transport",
        "--target=loggingtarget:Logging",
        f"--corpus={corpus}",
        "--schedule=event",
        "--report-dir",
        str(pytester.path / "out"),
        "-k",
        "not openai-responses",  # the items on the openai-chat and anthropic-messages routes suffice
    )
    # The reference's adapter reports input_tokens 0 in message_start (its upstream tells only at the end).
    assert_classes(result, passed=1, non_strict=1)
    folder = pytester.path / "out" / "loggingtarget-Logging"
    # One schedule, no transport: a partial run, reported beside the full one.
    assert json.loads((folder / "report.partial.json").read_text())["header"]["target_log"] == "proxy.log"
    assert (folder / "proxy.log").read_text() == "proxy started\nproxy stopped\n"


def test_replay_port_option_is_in_the_group(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["*--replay-port=PORT*"])
