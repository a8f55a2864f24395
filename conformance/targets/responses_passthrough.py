"""Route openai-responses -> openai-responses: pass the upstream's Responses events through, as a
gateway does for OpenAI's Responses API.

Each event's data goes out as received; only the framing is rewritten to LF with an `event:` line
equal to the JSON `type`, as in every recorded Responses stream. What a pass-through adds is the
failure it must report: when the upstream stops before its terminal event (`response.completed`,
`.incomplete` or `.failed`), fails, or sends an event that is not JSON, the client gets an `error`
event and then `response.failed`, numbered on from the upstream's last `sequence_number`, as
OpenAI ends a failed stream.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from conformance.sse import Event, format_event
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import responses_failure

__all__ = ["TERMINAL", "ResponsesPassthrough"]

TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_OPENING = frozenset({"response.created", "response.in_progress", "response.queued"})


class ResponsesPassthrough(RouteStream):
    upstream_path = "/v1/responses"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sequence = -1  # the last sequence_number sent: a failure is numbered on from it
        self.response: dict[str, Any] | None = None  # from response.created, for response.failed
        self.errored = False  # the last event sent was an `error`: only response.failed may follow

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        body = copy.deepcopy(self.request)
        body["stream"] = True
        return body

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        """The output for one upstream event: the same event, data untouched."""
        return [format_event(event.data, event=name)]

    def fail(self, message: str, code: str = "server_error") -> list[bytes]:
        """An `error` event (unless the upstream's own just went out) and `response.failed`."""
        self.done = True
        events = responses_failure(self.sequence + 1, self.response, message, code, errored=self.errored)
        self.sequence += len(events)
        return events

    def on_cut_off(self) -> list[bytes]:
        return self.fail("upstream closed the stream before its terminal event")

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        try:
            payload: Any = json.loads(event.data)
        except ValueError:
            # Forwarded, it would crash the client's SDK, and a stream that then finished would
            # look complete to any client that skips it: the fault is an error here.
            return self.fail(f"upstream sent an event whose data is not JSON: {event.data[:80]!r}")
        if not isinstance(payload, dict):
            return self.fail(f"upstream sent an event that is not a JSON object: {event.data[:80]!r}")
        json_type = payload.get("type")
        name = event.type if event.type != "message" or not isinstance(json_type, str) else json_type
        sequence = payload.get("sequence_number")
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            self.sequence = max(self.sequence, sequence)
        if name in _OPENING and isinstance(payload.get("response"), dict):
            self.response = payload["response"]
        self.errored = name == "error"
        if name in TERMINAL:
            self.done = True
        return self.forward(name, payload, event)

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        error = failure.error or {}
        code = error.get("code") or error.get("type") or (f"http_{failure.status}" if failure.status else None)
        return self.fail(failure.message, str(code or "server_error"))
