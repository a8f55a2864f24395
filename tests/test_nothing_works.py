"""No check passes when nothing works.

A check that passes against a target that streams nothing, raises, or cannot be reached says
nothing. Every stream invariant is either skipped or failed on an output with no event, and every
transport check errors, naming why, when its target cannot stream at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from conformance import transport
from conformance.checks import build_context, check
from conformance.invariants import registry
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT
from conformance.runner import Runner
from conformance.targets import load
from conformance.targets.base import Exchange, Route

ALL_ROUTES = frozenset(
    (upstream, client) for upstream in (OPENAI_CHAT, ANTHROPIC_MESSAGES) for client in (OPENAI_CHAT, ANTHROPIC_MESSAGES)
)
EXPECT = {"text": "Hello there!", "reasoning": "", "refusal": "", "tool_calls": [], "signatures": [], "finish": "stop"}
CUT = {"text": "Hello", "reasoning": "", "refusal": "", "tool_calls": [], "signatures": [], "finish": None}
REQUEST = {"model": "m", "stream": True, "stream_options": {"include_usage": True}, "messages": []}

# What a client gets when nothing works: an empty 200 body, an HTML error page sent as a stream,
# and an error status with nothing in its body.
NOTHING = [
    pytest.param(b"", 200, id="empty-body"),
    pytest.param(b"<html><body>502 Bad Gateway</body></html>", 200, id="html-page"),
    pytest.param(b"", 502, id="empty-error-response"),
]


def _stream_invariants() -> list[Any]:
    return [inv for inv in registry().values() if not inv.id.startswith("transport.")]


@pytest.mark.parametrize(("body", "status"), NOTHING)
@pytest.mark.parametrize("negative", [None, {"kind": "cut-off"}], ids=["capture-complete", "upstream-broke"])
def test_no_stream_invariant_passes_an_output_with_nothing_in_it(body: bytes, status: int, negative: Any) -> None:
    if negative and status >= 300:
        pytest.skip("an error response to a broken upstream surfaces the error: something works")
    passed = []
    for inv in _stream_invariants():
        for protocol in (inv.protocol,) if inv.protocol else (OPENAI_CHAT, ANTHROPIC_MESSAGES):
            expect = CUT if negative else {**EXPECT, "usage": {"input_tokens": 9, "output_tokens": 3}}
            ctx = build_context(body, protocol, status=status, request=REQUEST, expect=expect, negative=negative)
            if any(verdict.outcome == "pass" for verdict in check(ctx, [inv])):
                passed.append((inv.id, protocol))
    assert passed == []


def test_an_output_with_nothing_in_it_fails_and_is_not_only_skipped() -> None:
    for protocol in (OPENAI_CHAT, ANTHROPIC_MESSAGES):
        for negative, expect in ((None, EXPECT), ({"kind": "cut-off"}, CUT)):
            ctx = build_context(b"", protocol, request=REQUEST, expect=expect, negative=negative)
            assert any(verdict.outcome == "fail" for verdict in check(ctx))


class _Raises:
    name, version, routes = "raises", "0", ALL_ROUTES

    async def stream(self, exchange: Exchange) -> AsyncIterator[bytes]:
        raise RuntimeError("the proxy is down")
        yield b""


class _Silent:
    """Answers 200 with an empty body, and never asks the upstream."""

    name, version, routes = "silent", "0", ALL_ROUTES
    upstream_read_timeout = 2.0

    async def stream(self, exchange: Exchange) -> AsyncIterator[bytes]:
        return
        yield b""


class _NotFound:
    """Answers 404 without contacting the upstream, as a proxy with no route for the model does."""

    name, version, routes = "not-found", "0", ALL_ROUTES
    upstream_read_timeout = 2.0

    async def stream(self, exchange: Exchange) -> AsyncIterator[Any]:
        from conformance.targets.base import Head

        yield Head(404)
        yield b'{"error":{"message":"no route for this model"}}'


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    runner = Runner(timeout=10)
    yield runner
    runner.close()


BROKEN = {
    "unreachable": lambda: load("http://127.0.0.1:1?read_timeout=2"),
    "raises": _Raises,
    "silent": _Silent,
    "not-found": _NotFound,
}
ROUTE: Route = (OPENAI_CHAT, OPENAI_CHAT)


@pytest.mark.parametrize("broken", sorted(BROKEN))
@pytest.mark.parametrize("check_name", sorted(set(transport.CHECKS) - {"fault-stall"}))
def test_no_transport_check_passes_a_target_that_cannot_stream(runner: Runner, broken: str, check_name: str) -> None:
    target = BROKEN[broken]()
    result = transport.run_check(runner, target, transport.TransportCase(check_name, ROUTE))
    assert result.outcome == "errored", (result.outcome, [v.to_json() for v in result.verdicts])
    assert result.error
