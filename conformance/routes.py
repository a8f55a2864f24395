"""Routes: the (upstream protocol, client protocol) pairs a target serves, and their stable ids.

Results, reports, snapshots and expectations name items by route; they reach it here, without
importing the targets.
"""

from __future__ import annotations

__all__ = ["Route", "route_id"]

Route = tuple[str, str]
"""(upstream protocol, client protocol), e.g. ("openai-chat", "anthropic-messages")."""


def route_id(route: Route) -> str:
    return f"{route[0]}-to-{route[1]}"
