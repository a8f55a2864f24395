"""The `passthrough` target (`conformance/targets/passthrough.py`), the null implementation: a
transparent pipe over real HTTP on loopback, tested against the replay server. What comes out is
exactly what went in, an upstream fault reaches the client as a cut-off (`Abort`), and a client
that leaves makes the upstream see it leave."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conformance.client_request import client_request
from conformance.corpus import Capture, load_corpus
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.replay import TOKEN_HEADER, ReplayServer, Slot
from conformance.schedules import split
from conformance.targets import available, load
from conformance.targets.base import Abort, Exchange, Head, Target
from conformance.targets.passthrough import UPSTREAM_HEADER, Passthrough
from conformance.targets.reference import package_version

CAPTURES = [
    "openai-chat/openai/text-crlf",
    "openai-chat/openai/text-cr-only",
    "openai-chat/openai/multibyte-text",
    "openai-chat/dashscope/data-without-space",
    "anthropic-messages/anthropic/padding",
    "anthropic-messages/anthropic/thinking-signature",
]
SSE_TEXT = b"".join(b'data: {"n": %d}\n\n' % n for n in range(6))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def capture(capture_id: str) -> Capture:
    return next(c for c in load_corpus().captures if c.id == capture_id)


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as running:
        yield running


@pytest.fixture
async def passthrough() -> AsyncIterator[Passthrough]:
    target = Passthrough()
    yield target
    await target.aclose()


def exchange_for(slot: Slot, route: tuple[str, str], request: dict[str, Any], provider: str = "") -> Exchange:
    return Exchange(route, request, slot.url, token=slot.token, provider=provider)


def register(server: ReplayServer, item: Capture, schedule: str, **kwargs: Any) -> tuple[Slot, Exchange]:
    slot = server.register(
        item.body, schedule=schedule, status=item.status, headers=item.headers, protocol=item.protocol, **kwargs
    )
    route = (item.protocol, item.protocol)
    return slot, exchange_for(slot, route, client_request(item.request, *route), item.provider)


async def read(target: Target, exchange: Exchange) -> tuple[Head, list[bytes], list[Abort]]:
    """The Head, the body's writes, and any Abort, checking that each comes where it must."""
    items = [item async for item in target.stream(exchange)]
    head, rest = items[0], items[1:]
    assert isinstance(head, Head)
    aborts = [item for item in rest if isinstance(item, Abort)]
    assert not aborts or (len(aborts) == 1 and rest[-1] is aborts[0]), "an Abort comes last, once"
    chunks = [item for item in rest if isinstance(item, bytes)]
    assert len(chunks) + len(aborts) == len(rest)
    return head, chunks, aborts


# -- the target ----------------------------------------------------------------------------------


def test_passthrough_is_a_built_in_target_for_the_same_protocol_routes() -> None:
    target = load("passthrough")
    assert isinstance(target, Passthrough) and isinstance(target, Target)
    assert (target.name, target.version, target.upstream_read_timeout) == ("passthrough", package_version(), 2.0)
    same = ((ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES), (OPENAI_CHAT, OPENAI_CHAT), (OPENAI_RESPONSES, OPENAI_RESPONSES))
    assert target.routes == set(same)
    info = next(info for info in available() if info.spec == "passthrough")
    assert (info.kind, info.routes) == ("built-in", same)


def test_a_translating_route_is_refused() -> None:
    exchange = Exchange((OPENAI_CHAT, ANTHROPIC_MESSAGES), {}, "http://127.0.0.1:1/r/t")
    with pytest.raises(ValueError, match="serves only the same-protocol routes, not openai-chat-to-anthropic-messages"):
        Passthrough().stream(exchange)


# -- bytes in, the same bytes out -----------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["event", "byte", "adversarial"])
@pytest.mark.parametrize("capture_id", CAPTURES)
async def test_the_output_is_the_upstream_bytes_exactly(
    server: ReplayServer, passthrough: Passthrough, capture_id: str, schedule: str
) -> None:
    item = capture(capture_id)
    slot, exchange = register(server, item, schedule)
    head, chunks, aborts = await read(passthrough, exchange)
    assert b"".join(chunks) == item.body
    assert aborts == []
    assert head.status == 200 and dict(head.headers)["content-type"] == item.headers["content-type"]
    assert len(slot.requests) == 1


async def test_each_upstream_read_is_relayed_as_it_arrives_as_one_write(
    server: ReplayServer, passthrough: Passthrough
) -> None:
    item = capture("openai-chat/openai/text-lf")
    _, exchange = register(server, item, "event")
    _, chunks, _ = await read(passthrough, exchange)
    assert chunks == split(item.body, "event")


async def test_the_request_goes_upstream_unchanged_with_its_end_to_end_headers(
    server: ReplayServer, passthrough: Passthrough
) -> None:
    slot = server.register(SSE_TEXT, protocol=ANTHROPIC_MESSAGES)
    request = {"model": "claude-x", "max_tokens": 9, "stream": True, "messages": [{"role": "user", "content": "é"}]}
    route = (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES)
    exchange = Exchange(route, request, slot.url, token=slot.token, headers=(("anthropic-beta", "b1"),))
    await read(passthrough, exchange)
    [sent] = slot.requests
    assert sent.path == f"/r/{slot.token}/v1/messages"
    assert sent.json() == request
    headers = sent.headers
    assert headers["content-type"] == "application/json" and headers["accept"] == "text/event-stream"
    assert headers["anthropic-version"] == "2023-06-01" and headers["anthropic-beta"] == "b1"
    assert headers[TOKEN_HEADER] == slot.token
    assert headers["accept-encoding"] == "identity"
    assert UPSTREAM_HEADER not in headers


async def test_hop_by_hop_headers_are_not_forwarded(server: ReplayServer, passthrough: Passthrough) -> None:
    slot = server.register(SSE_TEXT, protocol=OPENAI_CHAT)
    proxy = await passthrough._proxy()
    sent = {
        UPSTREAM_HEADER: slot.url,
        "connection": "keep-alive, x-private",
        "x-private": "for the proxy only",
        "keep-alive": "timeout=5",
        "te": "trailers",
        "accept-encoding": "gzip",
        "x-end-to-end": "1",
    }
    async with httpx.AsyncClient() as client:
        response = await client.post(proxy.url + "/v1/chat/completions", json={"stream": True}, headers=sent)
    assert response.content == SSE_TEXT
    headers = slot.requests[0].headers
    assert headers["x-end-to-end"] == "1" and headers["accept-encoding"] == "identity"
    assert not {"x-private", "keep-alive", "te", UPSTREAM_HEADER} & set(headers)


@pytest.mark.parametrize("status", [429, 500])
async def test_an_upstream_error_status_is_forwarded_with_its_json_body(
    server: ReplayServer, passthrough: Passthrough, status: int
) -> None:
    error = json.dumps({"error": {"message": "slow down", "type": "rate_limit_error"}}).encode()
    slot = server.register(
        error, status=status, headers={"retry-after": "1", "x-request-id": "req_1"}, protocol=OPENAI_CHAT
    )
    exchange = exchange_for(slot, (OPENAI_CHAT, OPENAI_CHAT), {"model": "m", "stream": True, "messages": []})
    head, chunks, aborts = await read(passthrough, exchange)
    headers = dict(head.headers)
    assert head.status == status
    assert (headers["content-type"], headers["retry-after"], headers["x-request-id"]) == (
        "application/json",
        "1",
        "req_1",
    )
    assert headers["content-length"] == str(len(error)) and "transfer-encoding" not in headers
    assert b"".join(chunks) == error and aborts == []


# -- faults: what broke upstream breaks for the client --------------------------------------------


@pytest.mark.parametrize("capture_id", ["openai-chat/openai/cut-off", "anthropic-messages/anthropic/cut-off"])
async def test_an_upstream_reset_gives_the_bytes_before_it_then_an_abort(
    server: ReplayServer, passthrough: Passthrough, capture_id: str
) -> None:
    item = capture(capture_id)
    _, exchange = register(server, item, "event", reset_at_end=True)
    head, chunks, aborts = await read(passthrough, exchange)
    assert head.status == 200
    assert b"".join(chunks) == item.body
    assert [abort.reason for abort in aborts] == [
        "incomplete chunked body: the connection closed before the terminating chunk"
    ]


async def test_a_stall_past_the_read_timeout_gives_the_bytes_before_it_then_an_abort(server: ReplayServer) -> None:
    target = Passthrough(upstream_read_timeout=0.5)
    try:
        slot = server.register(SSE_TEXT, schedule="event", stall=(3, 2.5))
        exchange = exchange_for(slot, (OPENAI_CHAT, OPENAI_CHAT), {"model": "m", "stream": True, "messages": []})
        started = time.monotonic()
        _, chunks, aborts = await read(target, exchange)
        elapsed = time.monotonic() - started
    finally:
        await target.aclose()
    assert b"".join(chunks) == b"".join(split(SSE_TEXT, "event")[:3])
    assert len(aborts) == 1
    assert 0.5 <= elapsed < 2.5  # the proxy gave up after its own timeout, not at the stall's end


async def test_a_client_that_leaves_makes_the_upstream_see_a_disconnect_within_2_s(
    server: ReplayServer, passthrough: Passthrough
) -> None:
    body = b"".join(b'data: {"n": %d}\n\n' % n for n in range(50))
    slot = server.register(body, schedule="event", delay=0.1)
    stream = passthrough.stream(exchange_for(slot, (OPENAI_CHAT, OPENAI_CHAT), {"model": "m", "stream": True}))
    received = []
    async for item in stream:
        received.append(item)
        if len(received) == 4:  # the Head and three events
            break
    await stream.aclose()
    left = time.monotonic()
    while not slot.disconnects and time.monotonic() - left < 2.0:
        await asyncio.sleep(0.01)
    assert slot.disconnects == 1, "the upstream did not see the client leave within 2 s"
    assert received[1:] == split(body, "event")[:3]


async def test_concurrent_streams_each_get_exactly_their_own_capture(
    server: ReplayServer, passthrough: Passthrough
) -> None:
    positive = sorted((c for c in load_corpus().captures if c.negative is None and c.status == 200), key=lambda c: c.id)
    chosen = [positive[n % len(positive)] for n in range(16)]
    exchanges = [register(server, item, "adversarial", delay=0.002)[1] for item in chosen]
    results = await asyncio.gather(*(read(passthrough, exchange) for exchange in exchanges))
    for item, (head, chunks, aborts) in zip(chosen, results, strict=True):
        assert (head.status, b"".join(chunks), aborts) == (200, item.body, []), item.id


# -- the proxy itself -----------------------------------------------------------------------------


async def test_the_proxy_starts_on_the_first_stream_and_aclose_stops_it(server: ReplayServer) -> None:
    target = Passthrough()
    assert target._starting is None  # constructing it binds nothing
    slot = server.register(SSE_TEXT)
    await read(target, exchange_for(slot, (OPENAI_CHAT, OPENAI_CHAT), {"model": "m", "stream": True}))
    proxy = await target._proxy()
    assert proxy.url.startswith("http://127.0.0.1:")
    await target.aclose()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(proxy.url + "/v1/chat/completions", json={})
    await target.aclose()  # idempotent


async def test_the_proxy_refuses_what_it_does_not_forward(passthrough: Passthrough) -> None:
    proxy = await passthrough._proxy()
    async with httpx.AsyncClient() as client:
        other_path = await client.post(proxy.url + "/v1/completions", json={}, headers={UPSTREAM_HEADER: "http://x"})
        no_upstream = await client.post(proxy.url + "/v1/messages", json={})
    assert other_path.status_code == 404 and "forwards only POST" in other_path.json()["error"]["message"]
    assert no_upstream.status_code == 400
    assert no_upstream.json()["type"] == "error" and UPSTREAM_HEADER in no_upstream.json()["error"]["message"]


async def test_an_upstream_nobody_answers_is_a_502_in_the_client_protocol(passthrough: Passthrough) -> None:
    upstream = f"http://127.0.0.1:{closed_port()}/r/t"
    exchange = Exchange((ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES), {"stream": True}, upstream)
    head, chunks, aborts = await read(passthrough, exchange)
    assert head.status == 502 and aborts == []
    error = json.loads(b"".join(chunks))
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert "ConnectError" in error["error"]["message"]


# ------------------------------------------------------------------ the null implementation's gate


def test_the_null_implementation_passes_the_default_gate_and_only_inherits_under_strict(
    pytester: pytest.Pytester,
) -> None:
    """A transparent pipe is green under the default gate; under --strict it fails, and every verdict
    that fails is inherited from the upstream: it introduces nothing."""
    import shutil

    from conformance.corpus import default_corpus

    corpus = pytester.path / "corpus"
    for capture_id in (
        "openai-chat/openrouter/deepseek-r1-reasoning",
        "openai-chat/openai/cut-off",
        "openai-chat/openai/text-lf",
    ):
        for suffix in (".yaml", ".sse"):
            (corpus / capture_id).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(default_corpus() / f"{capture_id}{suffix}", corpus / f"{capture_id}{suffix}")
    shutil.copy(default_corpus() / "features.txt", corpus / "features.txt")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    args = [
        "-p",
        "no:cacheprovider",
        "--target=passthrough",
        f"--corpus={corpus}",
        "--report-dir",
        str(pytester.path / "out"),
    ]

    assert pytester.runpytest(*args).ret == 0
    report = json.loads((pytester.path / "out" / "passthrough" / "report.json").read_text())
    assert report["summary"]["gate"] == "PASS" and report["summary"]["inherited"] > 0
    assert report["summary"]["fail"] == report["summary"]["non-strict"] == report["summary"]["errored"] == 0

    assert pytester.runpytest(*args, "--strict").ret == 1
    report = json.loads((pytester.path / "out" / "passthrough" / "report.json").read_text())
    failing = [
        verdict["outcome"]
        for item in report["items"]
        for verdict in item.get("verdicts", {}).values()
        if isinstance(verdict, dict)
    ]
    assert failing and set(failing) == {"inherited"}
    assert report["summary"]["gate"] == "FAIL"
    # The capture items it forwarded are marked as exactly what the upstream sent.
    assert all(
        item.get("upstream_identical")
        for item in report["items"]
        if not item["id"].startswith("transport::") and item["outcome"] != "skipped"
    )
