"""The reference target: our own faithful implementation of every route it serves.

It is what the suite's invariants are proven against: every capture must pass through it
cleanly. The mutants in `mutants.py` are this target with one seam replaced.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator, Mapping

import httpx

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.sse import SSEParser
from conformance.targets._route import RouteStream, run_route
from conformance.targets._upstream import TIMEOUT, FramerFactory
from conformance.targets.anthropic_passthrough import AnthropicPassthrough
from conformance.targets.anthropic_to_openai import AnthropicToOpenAI
from conformance.targets.base import Exchange, Route
from conformance.targets.openai_normalizer import OpenAINormalizer
from conformance.targets.openai_to_anthropic import OpenAIToAnthropic
from conformance.targets.openai_to_responses import OpenAIToResponses
from conformance.targets.responses_passthrough import ResponsesPassthrough
from conformance.targets.responses_to_anthropic import ResponsesToAnthropic
from conformance.targets.responses_to_openai import ResponsesToOpenAI

__all__ = ["DEFAULT_UPSTREAM_READ_TIMEOUT", "ROUTE_STREAMS", "Reference", "package_version"]

# (upstream protocol, client protocol) -> the class that streams one request through that route.
ROUTE_STREAMS: Mapping[Route, type[RouteStream]] = {
    (OPENAI_CHAT, OPENAI_CHAT): OpenAINormalizer,
    (OPENAI_CHAT, ANTHROPIC_MESSAGES): OpenAIToAnthropic,
    (ANTHROPIC_MESSAGES, OPENAI_CHAT): AnthropicToOpenAI,
    (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES): AnthropicPassthrough,
    (OPENAI_RESPONSES, OPENAI_RESPONSES): ResponsesPassthrough,
    (OPENAI_RESPONSES, ANTHROPIC_MESSAGES): ResponsesToAnthropic,
    (OPENAI_CHAT, OPENAI_RESPONSES): OpenAIToResponses,
    (OPENAI_RESPONSES, OPENAI_CHAT): ResponsesToOpenAI,
}


DEFAULT_UPSTREAM_READ_TIMEOUT = 2.0  # seconds


def package_version() -> str:
    try:
        return importlib.metadata.version("llm-stream-conformance")
    except importlib.metadata.PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


class Reference:
    """Target protocol v1 (`conformance.targets.base`).

    `streams` replaces the stream class of some routes and `framer` the upstream SSE framer of
    all of them; the mutants use exactly these two seams. `upstream_read_timeout` bounds the
    silence between upstream reads (default: 2 s). Every call to `stream` builds fresh
    state and its own HTTP client, so concurrent streams share nothing.
    """

    name: str = "reference"
    version: str  # looked up per instance: importing this module does no work
    routes: frozenset[Route] = frozenset(ROUTE_STREAMS)  # class-level too, for `conformance targets`

    def __init__(
        self,
        name: str = "reference",
        *,
        streams: Mapping[Route, type[RouteStream]] | None = None,
        framer: FramerFactory = SSEParser,
        upstream_read_timeout: float | None = None,
    ) -> None:
        self.name = name
        self.version = package_version()
        self._streams = {**ROUTE_STREAMS, **(streams or {})}
        self._framer = framer
        self.routes = frozenset(self._streams)
        # How long the upstream may stay silent before the stream ends with an error: the
        # transport check `fault-stall` times its stall to outlast it. Short, because this
        # target's upstream is always the replay server on loopback, which pauses only when a
        # check stalls it on purpose; a production proxy must wait far longer (a reasoning model
        # can send nothing for minutes while it thinks).
        self.upstream_read_timeout = (
            DEFAULT_UPSTREAM_READ_TIMEOUT if upstream_read_timeout is None else upstream_read_timeout
        )
        self._timeout = httpx.Timeout(TIMEOUT.read or 30.0, connect=TIMEOUT.connect, read=self.upstream_read_timeout)

    def stream(self, exchange: Exchange) -> AsyncIterator[bytes]:
        route_stream = self._streams.get(exchange.route)
        if route_stream is None:
            raise ValueError(f"{self.name} does not serve route {exchange.route!r}; it serves {sorted(self.routes)}")
        return run_route(route_stream(exchange), self._framer, self._timeout)

    async def aclose(self) -> None:
        """Nothing to release: each stream owns, and closes, its own HTTP client."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.version}>"
