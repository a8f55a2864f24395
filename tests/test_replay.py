"""The replay server over real loopback sockets, seen through httpx and through raw bytes."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from conformance.replay import RESET_PAUSE, TOKEN_HEADER, ReplayServer
from conformance.schedules import split

BODY = (
    b'data: {"choices":[{"delta":{"content":"h\xc3\xa9llo"}}]}\r\n\r\n'
    b": keep-alive\r\n\r\n"
    b'data: {"choices":[{"delta":{"content":"\xf0\x9f\x98\x80 \xe4\xb8\xad"}}]}\r\n\r\n'
    b"data: [DONE]\r\n\r\n"
)
SCHEDULES = ["recorded", "event", "line", "byte", "adversarial", "random-3"]
REQUEST = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


@pytest.mark.parametrize("schedule", SCHEDULES)
async def test_body_arrives_byte_exact(server: ReplayServer, client: httpx.AsyncClient, schedule: str) -> None:
    slot = server.register(BODY, schedule=schedule)
    response = await client.post(slot.url + "/v1/chat/completions", json=REQUEST)
    assert response.status_code == 200
    assert response.content == BODY
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["transfer-encoding"] == "chunked"


@pytest.mark.parametrize("schedule", SCHEDULES)
async def test_aiter_raw_yields_the_scheduled_pieces(
    server: ReplayServer, client: httpx.AsyncClient, schedule: str
) -> None:
    # h11's ChunkedReader bounds every Data event by the current chunk, so chunks that arrive
    # together in one socket read still come out one by one, and httpx's aiter_raw() (no
    # chunk_size) passes them through. h11 would split a chunk only if its bytes arrived over
    # several reads (httpcore reads 64 KiB at a time); these pieces are small and leave in one send().
    slot = server.register(BODY, schedule=schedule)
    async with client.stream("POST", slot.url + "/v1/chat/completions", json=REQUEST) as response:
        received = [piece async for piece in response.aiter_raw()]
    assert received == split(BODY, schedule)


async def test_wire_has_one_http_chunk_per_piece(server: ReplayServer) -> None:
    # The same boundaries, checked on the raw bytes without any client library in between.
    slot = server.register(BODY, schedule="adversarial")
    reader, writer = await asyncio.open_connection("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))
    writer.write(f"GET /r/{slot.token}/v1/messages HTTP/1.1\r\nhost: x\r\n\r\n".encode())
    raw = await reader.read(-1)
    writer.close()
    await writer.wait_closed()
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    chunks = []
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n"
            break
        chunks.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        rest = rest[size + 2 :]
    assert chunks == split(BODY, "adversarial")


async def test_http10_client_gets_a_close_delimited_body(server: ReplayServer) -> None:
    slot = server.register(BODY, schedule="event")
    reader, writer = await asyncio.open_connection("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))
    writer.write(f"GET /r/{slot.token}/v1/chat/completions HTTP/1.0\r\n\r\n".encode())
    raw = await reader.read(-1)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body == BODY


async def test_listens_on_loopback_only(server: ReplayServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    sockets = server._server.sockets  # type: ignore[union-attr]  # the bound sockets themselves
    assert sockets
    assert {sock.getsockname()[0] for sock in sockets} == {"127.0.0.1"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "localhost", "example.com"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ReplayServer(host)


async def test_register_needs_a_started_server_and_a_known_schedule(server: ReplayServer) -> None:
    with pytest.raises(RuntimeError, match="start"):
        ReplayServer().register(BODY)
    with pytest.raises(ValueError, match="known schedules"):
        server.register(BODY, schedule="nope")


async def test_request_body_and_headers_are_recorded(server: ReplayServer, client: httpx.AsyncClient) -> None:
    slot = server.register(BODY)
    await client.post(
        slot.url + "/v1/chat/completions?beta=1",
        json=REQUEST,
        headers={"Authorization": "Bearer sk-test", "X-Custom": "1"},
    )

    async def chunked_body() -> AsyncIterator[bytes]:
        # An async iterator without a length makes httpx send a chunked request body.
        yield b'{"model": '
        yield b'"m2"}'

    await client.post(slot.url + "/chat/completions", content=chunked_body())
    first, second = slot.requests
    assert first.method == "POST"
    assert first.path == f"/r/{slot.token}/v1/chat/completions?beta=1"
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["x-custom"] == "1"
    assert first.json() == REQUEST
    assert second.headers["transfer-encoding"] == "chunked"
    assert second.json() == {"model": "m2"}


async def test_token_header_routes_any_path(server: ReplayServer, client: httpx.AsyncClient) -> None:
    slot = server.register(BODY, schedule="line")
    response = await client.post(server.base_url + "/v1/messages", json=REQUEST, headers={TOKEN_HEADER: slot.token})
    assert response.content == BODY
    assert slot.requests[0].path == "/v1/messages"


@pytest.mark.parametrize("prefix", ["", "openrouter/", "hosted_vllm/", "a/b/"])
async def test_body_model_routes_any_path(server: ReplayServer, client: httpx.AsyncClient, prefix: str) -> None:
    # A proxy with a fixed upstream base URL forwards the model name, with or without a provider prefix.
    other = server.register(b"data: other\n\n")
    slot = server.register(BODY, schedule="line")
    response = await client.post(
        server.base_url + "/v1/chat/completions", json={**REQUEST, "model": prefix + slot.token}
    )
    assert response.content == BODY
    assert len(slot.requests) == 1 and not other.requests
    assert slot.requests[0].path == "/v1/chat/completions"


async def test_path_and_header_win_over_body_model(server: ReplayServer, client: httpx.AsyncClient) -> None:
    by_path = server.register(b"data: path\n\n")
    by_header = server.register(b"data: header\n\n")
    by_model = server.register(b"data: model\n\n")
    body = {**REQUEST, "model": by_model.token}
    response = await client.post(by_path.url + "/v1/messages", json=body, headers={TOKEN_HEADER: by_header.token})
    assert response.content == b"data: path\n\n"
    response = await client.post(server.base_url + "/v1/messages", json=body, headers={TOKEN_HEADER: by_header.token})
    assert response.content == b"data: header\n\n"
    # An unregistered header token does not hide a registered model.
    response = await client.post(server.base_url + "/v1/messages", json=body, headers={TOKEN_HEADER: "nope"})
    assert response.content == b"data: model\n\n"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"model": 3}',
        b'{"model": ""}',
        b'{"model": "gpt-4o"}',
        b'{"model": "openai/nope"}',
        b'\xff{"model"',
    ],
)
async def test_body_without_a_registered_model_is_a_404(
    server: ReplayServer, client: httpx.AsyncClient, body: bytes
) -> None:
    server.register(BODY)
    response = await client.post(server.base_url + "/v1/chat/completions", content=body)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


async def test_fixed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with ReplayServer(port=port) as fixed:
        assert fixed.base_url == f"http://127.0.0.1:{port}"
        slot = fixed.register(BODY)
        assert slot.url == f"http://127.0.0.1:{port}/r/{slot.token}"
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"http://127.0.0.1:{port}/v1/chat/completions", json={**REQUEST, "model": slot.token}
            )
        assert response.content == BODY
        taken = ReplayServer(port=port)
        with pytest.raises(OSError, match=rf"cannot listen on 127.0.0.1:{port}.*--replay-port"):
            await taken.start()


def test_port_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="port"):
        ReplayServer(port=70000)


async def test_unknown_token_is_a_json_404(server: ReplayServer, client: httpx.AsyncClient) -> None:
    response = await client.post(server.base_url + "/r/nope/v1/chat/completions", json=REQUEST)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "not_found"
    assert "no capture registered for 'nope'" in error["message"]
    bare = await client.get(server.base_url + "/v1/models")
    assert bare.status_code == 404
    assert TOKEN_HEADER in bare.json()["error"]["message"]


async def test_unregistered_slot_is_gone(server: ReplayServer, client: httpx.AsyncClient) -> None:
    slot = server.register(BODY)
    server.unregister(slot.token)
    server.unregister(slot.token)  # idempotent
    assert (await client.post(slot.url + "/v1/messages", json=REQUEST)).status_code == 404


async def test_error_status_is_sent_with_content_length(server: ReplayServer, client: httpx.AsyncClient) -> None:
    error = json.dumps({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}).encode()
    slot = server.register(
        error, status=429, headers={"Content-Type": "application/json", "retry-after": "1", "content-length": "9"}
    )
    response = await client.post(slot.url + "/v1/chat/completions", json=REQUEST)
    assert response.status_code == 429
    assert response.reason_phrase == "Too Many Requests"
    assert response.headers["content-length"] == str(len(error))  # ours, not the stale one given
    assert "transfer-encoding" not in response.headers
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "rate_limit_error"


async def test_reset_at_end_resets_the_connection_after_every_piece(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    slot = server.register(BODY, schedule="event", reset_at_end=True)
    received: list[bytes] = []
    # A TCP RST, not a FIN: the client's read fails with ECONNRESET once it has every piece.
    with pytest.raises(httpx.ReadError) as raised:
        async with client.stream("POST", slot.url + "/v1/chat/completions", json=REQUEST) as response:
            async for piece in response.aiter_raw():
                received.append(piece)
    chain: list[BaseException] = []
    error: BaseException | None = raised.value
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(link, ConnectionResetError) for link in chain), chain
    assert received == split(BODY, "event")
    assert slot.disconnects == 0


async def _reset_gap(client: httpx.AsyncClient, url: str) -> tuple[list[bytes], float]:
    """(the pieces read before the reset, seconds from the last of them to the reset)."""
    received: list[bytes] = []
    last = time.monotonic()
    with pytest.raises(httpx.ReadError):
        async with client.stream("POST", url + "/v1/chat/completions", json=REQUEST) as response:
            async for piece in response.aiter_raw():
                received.append(piece)
                last = time.monotonic()
    return received, time.monotonic() - last


async def test_a_reset_waits_reset_pause_after_the_bytes_have_left(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    default = server.register(BODY, schedule="event", reset_at_end=True)
    longer = server.register(BODY, schedule="event", reset_at_end=True, reset_pause=0.6)
    received, gap = await _reset_gap(client, default.url)
    assert received == split(BODY, "event")
    assert gap >= RESET_PAUSE * 0.8  # a sleep never ends early; the margin is the clocks' granularity
    received, gap = await _reset_gap(client, longer.url)
    assert received == split(BODY, "event")
    assert gap >= 0.55
    assert default.disconnects == longer.disconnects == 0


async def test_reset_pause_zero_resets_the_moment_the_bytes_have_left(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    slot = server.register(BODY, schedule="event", reset_at_end=True, reset_pause=0)
    received, gap = await _reset_gap(client, slot.url)
    assert received == split(BODY, "event")  # httpx hands over what it read before the reset
    assert gap < 0.3  # far below the 0.6 s pause above: no pause of its own (a bound loose enough for a loaded machine)
    assert slot.disconnects == 0


async def test_a_client_that_leaves_during_the_reset_pause_is_a_disconnect(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    slot = server.register(BODY, schedule="event", reset_at_end=True, reset_pause=30)
    pieces = split(BODY, "event")
    async with client.stream("POST", slot.url + "/v1/chat/completions", json=REQUEST) as response:
        reading = response.aiter_raw()
        received = [await reading.__anext__() for _ in pieces]
        await reading.aclose()  # type: ignore[attr-defined]  # an async generator
    assert received == pieces
    started = time.monotonic()
    while not slot.disconnects and time.monotonic() - started < 5:
        await asyncio.sleep(0.01)
    assert slot.disconnects == 1  # the pause ends with the client, not after 30 s


async def test_a_negative_reset_pause_is_refused(server: ReplayServer) -> None:
    with pytest.raises(ValueError, match="reset_pause must be >= 0 seconds, got -1"):
        server.register(BODY, reset_at_end=True, reset_pause=-1)


async def test_delay_paces_the_pieces(server: ReplayServer, client: httpx.AsyncClient) -> None:
    delay = 0.15
    pieces = split(BODY, "event")
    total = delay * (len(pieces) - 1)
    slot = server.register(BODY, schedule="event", delay=delay)
    arrivals: list[float] = []
    started = time.monotonic()
    async with client.stream("POST", slot.url + "/v1/chat/completions", json=REQUEST) as response:
        async for _ in response.aiter_raw():
            arrivals.append(time.monotonic() - started)
    assert len(arrivals) == len(pieces)
    assert arrivals[0] < total / 2
    assert arrivals[-1] >= total * 0.8


async def test_early_disconnect_is_counted(server: ReplayServer, client: httpx.AsyncClient) -> None:
    body = b"".join(b"data: %d\n\n" % i for i in range(50))
    slot = server.register(body, schedule="event", delay=0.05)
    async with client.stream("POST", slot.url + "/v1/chat/completions", json=REQUEST) as response:
        pieces = response.aiter_raw()
        assert await pieces.__anext__() == b"data: 0\n\n"
        await pieces.aclose()  # type: ignore[attr-defined]  # an async generator
    # Leaving the block with the body unread makes httpcore drop the connection.
    for _ in range(200):
        if slot.disconnects:
            break
        await asyncio.sleep(0.01)
    assert slot.disconnects == 1
    assert len(slot.requests) == 1


async def test_close_aborts_open_streams_and_leaves_no_tasks(client: httpx.AsyncClient) -> None:
    server = ReplayServer()
    await server.start()
    slot = server.register(BODY, schedule="event", delay=30)
    async with client.stream("POST", slot.url + "/v1/chat/completions", json=REQUEST) as response:
        pieces = response.aiter_raw()
        assert await pieces.__anext__() == split(BODY, "event")[0]
        await asyncio.wait_for(server.close(), timeout=5)  # does not wait out the 30 s delay
        assert asyncio.all_tasks() == {asyncio.current_task()}
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await pieces.__anext__()
    await server.close()  # idempotent
    with pytest.raises(httpx.ConnectError):
        await client.post(slot.url + "/v1/chat/completions", json=REQUEST)


async def test_a_request_for_the_other_protocol_is_refused_with_the_reason() -> None:
    async with ReplayServer() as server:
        slot = server.register(b"data: [DONE]\n\n", protocol="openai-chat")
        async with httpx.AsyncClient() as client:
            refused = await client.post(slot.url + "/anthropic/v1/messages", json={"stream": True})
            served = await client.post(slot.url + "/v1/chat/completions", json={"stream": True})
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "protocol_mismatch"
    assert "speaks openai-chat" in refused.json()["error"]["message"]
    assert served.status_code == 200 and served.content == b"data: [DONE]\n\n"


# -- stable names ---------------------------------------------------------------------------------


async def test_a_claimed_name_is_served_by_whole_name_or_last_segment(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    slot = server.register(BODY, name="openrouter/tool-call")
    async with server.claimed(slot):
        for model in ("openrouter/tool-call", "tool-call", "openai/openrouter/tool-call"):
            response = await client.post(server.base_url + "/v1/chat/completions", json={**REQUEST, "model": model})
            assert response.status_code == 200 and response.content == BODY, model
    assert len(slot.requests) == 3
    # Only while claimed: a name whose stream is over is nobody's.
    response = await client.post(server.base_url + "/v1/chat/completions", json={**REQUEST, "model": "tool-call"})
    assert response.status_code == 404
    assert "no stream of that model name is in flight" in response.json()["error"]["message"]


async def test_a_second_claim_of_a_name_waits_for_the_first(server: ReplayServer) -> None:
    first = server.register(BODY, name="openai/text")
    second = server.register(BODY, name="vllm/text")  # the same last segment: a gateway may keep only that
    order: list[str] = []

    async def hold(slot: object, label: str) -> None:
        async with server.claimed(slot):  # type: ignore[arg-type]
            order.append(f"{label} in")
            await asyncio.sleep(0.05)
            order.append(f"{label} out")

    await asyncio.gather(hold(first, "first"), hold(second, "second"))
    assert order == ["first in", "first out", "second in", "second out"]


# -- a cut-off body, as Node's fetch reads it ------------------------------------------------------

_NODE_FETCH = """
const response = await fetch(process.argv[1], {method: "POST", body: "{}"});
let bytes = 0;
try {
  for await (const chunk of response.body) bytes += chunk.length;
  console.log(`ended ${bytes}`);
} catch (error) {
  console.log(`error ${error.message}`);
}
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (CI installs it from Debian's packages)")
@pytest.mark.parametrize(("reset", "seen"), [(True, "error terminated"), (False, f"ended {len(BODY)}")])
async def test_node_fetch_sees_a_reset_body_fail_and_a_whole_one_end(
    server: ReplayServer, reset: bool, seen: str
) -> None:
    # undici takes a close for the end of a body the server said it would close: a reset upstream
    # must not say so, or a Node proxy could never tell a crashed upstream from a finished one.
    slot = server.register(BODY, schedule="event", reset_at_end=reset)
    node = await asyncio.create_subprocess_exec(
        "node", "--input-type=module", "-e", _NODE_FETCH, slot.url + "/v1/chat/completions",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(node.communicate(), 30)
    assert out.decode().strip() == seen
