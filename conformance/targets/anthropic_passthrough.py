"""Route anthropic-messages -> anthropic-messages: pass the upstream's events through, as gateways
do for native Anthropic models.

Each event's data goes out exactly as received (padding included); only the framing is
rewritten to LF with an `event:` line. Signatures are therefore byte-exact. The one thing
a pass-through adds is an `event: error` when the upstream stops without its terminator or
sends an event that is not JSON.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from conformance.sse import Event, format_event
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import anthropic_error, anthropic_error_type

__all__ = ["AnthropicPassthrough"]


class AnthropicPassthrough(RouteStream):
    upstream_path = "/v1/messages"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Which block is open, so that a mutant can close it; the reference never needs to.
        self.open_block: int | None = None

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        body = copy.deepcopy(self.request)
        body["stream"] = True
        return body

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        """The output for one upstream event: the same event, data untouched."""
        return [format_event(event.data, event=name)]

    def terminate(self, event: Event) -> list[bytes]:
        """The output for the upstream's message_stop, the last event of the stream."""
        return [format_event(event.data, event="message_stop")]

    def on_cut_off(self) -> list[bytes]:
        return [anthropic_error("api_error", "upstream closed the stream before message_stop")]

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        try:
            payload: Any = json.loads(event.data)
        except ValueError:
            # Forwarded, it would crash the client's SDK, and a stream that then finished would
            # look complete to any client that skips it: the fault is an error here.
            self.done = True
            return [anthropic_error("api_error", f"upstream sent an event whose data is not JSON: {event.data[:80]!r}")]
        json_type = payload.get("type") if isinstance(payload, dict) else None
        # An event without an `event:` line is invisible to the Anthropic SDK: name it
        # after its JSON type.
        name = event.type if event.type != "message" or not isinstance(json_type, str) else json_type
        if name == "content_block_start" and isinstance(payload, dict):
            self.open_block = payload.get("index")
        elif name == "content_block_stop":
            self.open_block = None
        if name == "message_stop":
            self.done = True
            return self.terminate(event)
        if name == "error":
            self.done = True  # passed through; the upstream ends the stream after it
        return self.forward(name, payload, event)

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        self.done = True
        error = failure.error or {}
        return [anthropic_error(anthropic_error_type(failure.status, error.get("type")), failure.message)]
