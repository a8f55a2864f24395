"""The shape every built-in route shares, and the loop that drives one stream through it.

A `RouteStream` is created per client stream (never shared, see transport.concurrent-isolation)
and is a small state machine: each upstream event goes in, the output events it causes come out as bytes. Its
methods are the seams the mutants override, so a seeded bug is a few lines, not a copy.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, ClassVar

import httpx

from conformance.sse import Event
from conformance.targets._upstream import TIMEOUT, FramerFactory, UpstreamFailure, open_upstream
from conformance.targets.base import Exchange

__all__ = ["RouteStream", "run_route"]


class RouteStream:
    """One client stream through one route. Subclasses fill in the four hooks below."""

    upstream_path: ClassVar[str]

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.request: dict[str, Any] = exchange.request
        # Set once the output is complete (terminator or error written): the driver stops reading.
        self.done = False

    def upstream_body(self) -> dict[str, Any]:
        """The request to send upstream, in the upstream protocol."""
        raise NotImplementedError

    def on_event(self, event: Event) -> list[bytes]:
        """Output caused by one upstream event."""
        raise NotImplementedError

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        """Output for an upstream that failed (bad status, connection lost). Must set `done`."""
        raise NotImplementedError

    def on_cut_off(self) -> list[bytes]:
        """Output for an upstream body that ended before its terminator: an error, never a clean finish."""
        raise NotImplementedError


async def run_route(
    stream: RouteStream, framer: FramerFactory, timeout: httpx.Timeout = TIMEOUT
) -> AsyncGenerator[bytes, None]:
    """Drive `stream` over its upstream, yielding each output event as soon as it exists."""
    exchange = stream.exchange
    url = exchange.upstream_url.rstrip("/") + stream.upstream_path
    upstream = open_upstream(url, stream.upstream_body(), exchange.headers, framer(), timeout)
    async with aclosing(upstream) as items:
        async for item in items:
            if isinstance(item, UpstreamFailure):
                if item.kind == "cut-off":
                    break  # the body broke off: the same fault as an early EOF, handled below
                output = stream.on_failure(item)
                stream.done = True
            else:
                output = stream.on_event(item)
            for chunk in output:
                yield chunk
            if stream.done:
                return
    for chunk in stream.on_cut_off():
        yield chunk
    stream.done = True
