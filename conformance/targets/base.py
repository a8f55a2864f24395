"""The target protocol, version 1: what the harness asks of any implementation under test.

A target is an object with three attributes and one method:

    name: str                     # shown in reports, e.g. "reference"
    version: str                  # the implementation's own version
    routes: frozenset[Route]      # the (upstream protocol, client protocol) pairs it serves
    def stream(self, exchange: Exchange) -> AsyncIterator[bytes | Head | Abort]

`stream` receives the client's request body (already in the client protocol of the route) and the
base URL of an upstream that speaks the route's upstream protocol. It sends its upstream request
to `exchange.upstream_url` plus its protocol's usual path (`/v1/chat/completions`,
`/v1/messages`), and yields the bytes of the HTTP response body it would stream to its client, in
the reads it would write them. A target that answers over HTTP may first yield one `Head` with the
status and headers its client got, so that an error answered with a 4xx or 5xx status and a JSON
body counts as an error in the client's protocol; without a `Head` the status is 200. When the
response its client got was cut off (the chunked body never ended, or the connection was reset),
it yields one `Abort` last: to the client that is an error, where a body that simply ends is a
clean end. A target knows nothing of the checks that will run on its output.

A target that needs set-up across a whole run may also define `async def aclose(self)`. One that
sends its upstream the exchange's stable model name (`exchange.name`) rather than its token sets
`stable_names = True`: the harness then never has two streams of one name in flight at once. One
that serves OpenAI Responses clients says how its streams end with `responses_profile`: "openai"
(the default: the terminal event last, no `[DONE]`, as OpenAI's API) or "open-responses" (`data:
[DONE]` after the terminal event, as the Open Responses specification).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from conformance.routes import Route, route_id

__all__ = ["PROTOCOL_VERSION", "Abort", "Route", "Exchange", "Head", "Target", "route_id"]

PROTOCOL_VERSION = 1


@dataclass(frozen=True, slots=True)
class Exchange:
    route: Route
    request: dict[str, Any]
    upstream_url: str
    """The replay upstream's base URL for this exchange, `http://127.0.0.1:PORT/r/<token>`."""
    token: str = ""
    """Names this exchange to the replay server. A proxy whose upstream URL is fixed reaches the
    right capture by sending the token as the upstream model name (optionally after a `provider/`
    prefix) or in the `x-conformance-token` header."""
    name: str = ""
    """The exchange's stable model name, `<provider>/<capture>` (`conformance.model_names`): the same
    on every run, so a gateway that routes only the names its configuration lists can be given them.
    The replay server answers to it while the exchange is in flight, if the target says it uses it
    (`stable_names`)."""
    provider: str = ""
    """Who produced the upstream bytes (`openrouter`, `deepseek`, `anthropic`, …), for a target that
    configures provider-specific parsing, as a gateway's model list would."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers the target should forward upstream."""


@dataclass(frozen=True, slots=True)
class Head:
    """The response status and headers a target's client received, yielded before any bytes."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Abort:
    """The response broke off before its end, as its client saw it: yielded last, after the bytes
    that did arrive. `reason` says how (e.g. "incomplete chunked body", "connection reset")."""

    reason: str


@runtime_checkable
class Target(Protocol):
    name: str
    version: str
    routes: frozenset[Route]

    def stream(self, exchange: Exchange) -> AsyncIterator[bytes | Head | Abort]: ...
