"""Stable model names: what a proxy configured by hand is asked for, the same on every run.

A gateway routes only the model names its configuration lists (or a `provider/*` pattern), and most
forward no custom header, so the name a client sends is the one handle a fixed upstream URL gets.
Each capture is named `<provider>/<capture>` from its id (`openai-chat/openrouter/tool-call` is
`openrouter/tool-call`); the transport checks, which synthesize their upstreams, are named
`<openai|anthropic>/conformance-<check>-to-<client protocol>` (by the upstream's protocol). `conformance models` prints them.

The replay server knows a name while a stream of it is in flight, by the whole name or its last
segment (a gateway that strips `openrouter/` forwards `tool-call`). Two streams that share a last
segment are therefore never in flight together: the second waits for the first
(`ReplayServer.claimed`).
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.corpus import Capture
from conformance.protocols import ANTHROPIC_MESSAGES
from conformance.routes import Route

__all__ = ["capture_name", "names", "transport_name", "transport_provider"]


def capture_name(capture: Capture) -> str:
    """`<provider>/<capture>`: the capture id without its protocol folder."""
    return f"{capture.provider}/{capture.id.rsplit('/', 1)[-1]}"


def transport_provider(route: Route) -> str:
    """The provider a transport check's synthesized upstream stands for."""
    return "anthropic" if route[0] == ANTHROPIC_MESSAGES else "openai"


def transport_name(check: str, route: Route) -> str:
    """The name of a transport check's stream on `route`: one per check and route, so the checks
    that wait (a paced upstream, a stall) can all be in flight at once."""
    return f"{transport_provider(route)}/conformance-{check}-to-{route[1]}"


def names(captures: Iterable[Capture], checks: Iterable[tuple[str, Route]] = ()) -> list[tuple[str, str]]:
    """(provider, name) of every capture and of every (transport check, route), sorted, once each."""
    found = {(c.provider, capture_name(c)) for c in captures}
    found |= {(transport_provider(route), transport_name(check, route)) for check, route in checks}
    return sorted(found, key=lambda pair: (pair[1], pair[0]))
