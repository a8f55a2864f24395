"""Route openai-responses -> anthropic-messages: serve Anthropic Messages events to the client from an
OpenAI Responses upstream, as LiteLLM does by default for `openai/` models on `/v1/messages`.

Each output item becomes one content block, in the order the items come, in the shape every
`anthropic.*` invariant states:
- a `reasoning` item's raw reasoning text, or else its summary, becomes a `thinking` block (one
  never both: they say the same reasoning; an item with neither opens no block);
- a `message` item's `output_text` and `refusal` parts become a `text` block (an Anthropic client
  has no refusal field, so a refusal reaches it as text), opened only on the first non-empty text;
- a `function_call` becomes a `tool_use` block whose input streams from the argument deltas;
- a `custom_tool_call` (a free-form tool such as Codex's `apply_patch`) becomes a `tool_use` block
  whose input is `{"input": <the free-form text>}`: an Anthropic tool's input is always a JSON
  object, described by an `input_schema` of type object, so the text needs a property of its own,
  the one the request mapping gives such a tool (`conformance.targets._requests`);
- a tool the server ran (`web_search_call` and the like) is left out, and so are a text's
  `url_citation` annotations: Anthropic's `web_search_tool_result` and `web_search_result_location`
  carry the results' titles, page ages, encrypted content and cited text, which a Responses stream
  does not give, so no faithful block could be built. The answer's text still comes through.

Text, reasoning or arguments a stream gives only whole (in its `.done` event, the part's done
event or `output_item.done`) are sent when they arrive, so they are never lost. The stop reason
comes from what was sent: `tool_use` when a `tool_use` block went out, `max_tokens` when the
response is incomplete for `max_output_tokens`, `refusal` for `content_filter`, else `end_turn`.
Any failure (an `error` event, `response.failed`, a body cut off before its terminal event, data
that is not JSON, an HTTP error status) ends the stream with `event: error` and nothing after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.sse import Event
from conformance.targets._requests import anthropic_to_responses_request
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import (
    anthropic_error,
    anthropic_error_type,
    anthropic_event,
    anthropic_message_start,
    dumps,
)

__all__ = ["ResponsesToAnthropic", "responses_anthropic_usage"]

_EXCERPT = 200
_STARTING = frozenset({"response.created", "response.in_progress", "response.queued"})
_FINISHED = frozenset({"response.completed", "response.incomplete"})
# Delta and .done events of a part: (part kind, block type, field of the .done event's text).
_PART_DELTAS = {
    "response.output_text.delta": ("content", "text"),
    "response.refusal.delta": ("content", "text"),
    "response.reasoning_text.delta": ("content", "thinking"),
    "response.reasoning_summary_text.delta": ("summary", "thinking"),
}
_PART_DONES = {
    "response.output_text.done": ("content", "text", "text"),
    "response.refusal.done": ("content", "text", "refusal"),
    "response.reasoning_text.done": ("content", "thinking", "text"),
    "response.reasoning_summary_text.done": ("summary", "thinking", "text"),
}
_PART_CLOSED = {"response.content_part.done": "content", "response.reasoning_summary_part.done": "summary"}
_INPUT_FIELD = {"function_call": "arguments", "custom_tool_call": "input"}
_INPUT_DELTAS = {"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"}
_INPUT_DONES = {"response.function_call_arguments.done": "arguments", "response.custom_tool_call_input.done": "input"}
# The text a part of each type holds (`output_text` and `reasoning_text` parts: `text`).
_PART_TEXT_FIELD = {"refusal": "refusal"}
# A custom tool's free-form input, wrapped as the one property of a JSON object.
_CUSTOM_OPEN, _CUSTOM_CLOSE = '{"input":"', '"}'


@dataclass(slots=True)
class _Item:
    """What has been sent of one output item."""

    type: str
    id: str = ""
    call_id: str = ""
    name: str = ""
    block: int | None = None
    """The index of the block this item has open, or of its last one."""
    sent: set[tuple[str, Any]] = field(default_factory=set)
    """The parts, (`content` or `summary`, index), whose text has gone out."""
    reasoning_kind: str | None = None
    """`content` (raw reasoning text) or `summary`: the one a reasoning item's thinking comes from."""
    input_sent: bool = False
    """A call's arguments or input have begun to go out."""
    closed: bool = False


class ResponsesToAnthropic(RouteStream):
    upstream_path = "/v1/responses"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._id = ""
        self._model = ""
        self._start_usage: dict[str, Any] | None = None
        self._started = False  # message_start written
        self._next_index = 0  # index of the next content block
        self._open: str | None = None  # type of the open block: thinking | text | tool_use
        self._open_item: _Item | None = None  # the item whose block is open
        self._items: dict[Any, _Item] = {}  # by output_index
        self._by_id: dict[str, _Item] = {}
        self._tool_blocks = 0

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        return anthropic_to_responses_request(self.request)

    def start_message(self) -> list[bytes]:
        """`message_start`. A Responses upstream reports usage only in its terminal event, so the
        input count is known here only if `response.created` carried one; otherwise it is 0 here and
        reported cumulatively in message_delta, as Anthropic's own streams update it."""
        usage = responses_anthropic_usage(self._start_usage or {})
        model = self._model or str(self.request.get("model") or "unknown")
        return [anthropic_message_start(self._id or "unknown", model, usage)]

    def terminate(self, terminal: str, response: dict[str, Any]) -> list[bytes]:
        """The single message_delta, then message_stop."""
        usage = response.get("usage")
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(terminal, response), "stop_sequence": None},
            "usage": responses_anthropic_usage(usage if isinstance(usage, dict) else {}),
        }
        return [anthropic_event(delta), anthropic_event({"type": "message_stop"})]

    def stop_reason(self, terminal: str, response: dict[str, Any]) -> str:
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        if terminal == "response.incomplete" and reason != "content_filter":
            # max_output_tokens, or a reason OpenAI has not documented: either way the answer was
            # cut short, which only max_tokens says (and which may follow a cut tool_use block).
            return "max_tokens"
        if self._tool_blocks:
            return "tool_use"  # whatever else was said (anthropic.stop-reason.tool-use)
        if reason == "content_filter":
            return "refusal"
        return "end_turn"

    def on_cut_off(self) -> list[bytes]:
        # No terminal event: the upstream was cut off; a clean message_stop would hide that.
        return [anthropic_error("api_error", "upstream closed the stream before its terminal event")]

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        if event.data.strip() == "[DONE]":
            # The Open Responses profile sends [DONE] after its terminal event, where this route has
            # already stopped reading; before it, the response never finished.
            return self._fail("api_error", "upstream sent [DONE] before its terminal event")
        try:
            payload: Any = json.loads(event.data)
        except ValueError:
            return self._fail("api_error", f"upstream sent data that is not JSON: {event.data[:_EXCERPT]!r}")
        if not isinstance(payload, dict):
            return self._fail(
                "api_error", f"upstream sent a JSON value that is not an event: {event.data[:_EXCERPT]!r}"
            )
        kind = payload.get("type")
        if not isinstance(kind, str):
            kind = event.type
        if kind in _STARTING:
            return self._starting(payload)
        if kind == "error":
            return self._upstream_error(payload)
        if kind == "response.failed":
            response = payload.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            return self._reported_failure(error if isinstance(error, dict) else {}, "upstream response failed")
        if kind in _FINISHED:
            response = payload.get("response")
            self.done = True
            response = response if isinstance(response, dict) else {}
            return self._ensure_started() + self.close_block() + self.terminate(kind, response)
        if kind == "response.output_item.added":
            return self._item_added(payload)
        if kind == "response.output_item.done":
            return self._item_done(payload)
        if kind in _PART_DELTAS:
            part_kind, block = _PART_DELTAS[kind]
            return self._part_text(payload, part_kind, block, _text(payload.get("delta")), streamed=True)
        if kind in _PART_DONES:
            part_kind, block, name = _PART_DONES[kind]
            return self._part_text(payload, part_kind, block, _text(payload.get(name)), streamed=False)
        if kind in _PART_CLOSED:
            part = payload.get("part")
            part = part if isinstance(part, dict) else {}
            part_kind = _PART_CLOSED[kind]
            block = "thinking" if part_kind == "summary" or part.get("type") == "reasoning_text" else "text"
            text = _text(part.get(_PART_TEXT_FIELD.get(str(part.get("type")), "text")))
            return self._part_text(payload, part_kind, block, text, streamed=False)
        if kind in _INPUT_DELTAS:
            return self._call_input(payload, _text(payload.get("delta")), streamed=True)
        if kind in _INPUT_DONES:
            return self._call_input(payload, _text(payload.get(_INPUT_DONES[kind])), streamed=False)
        # Anything else (response.in_progress, content_part.added, annotations, a server tool's
        # progress, event types added later) carries nothing an Anthropic client can be given.
        return []

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        return self._fail(_error_type(failure.status, failure.error or {}), failure.message)

    # -- lifecycle ------------------------------------------------------------------------------

    def _starting(self, payload: dict[str, Any]) -> list[bytes]:
        response = payload.get("response")
        if isinstance(response, dict):
            if not self._id and isinstance(response.get("id"), str):
                self._id = response["id"]
            if not self._model and isinstance(response.get("model"), str):
                self._model = response["model"]
            usage = response.get("usage")
            if not self._started and isinstance(usage, dict) and isinstance(usage.get("input_tokens"), int):
                self._start_usage = usage
        return self._ensure_started()

    def _upstream_error(self, payload: dict[str, Any]) -> list[bytes]:
        # OpenAI nests the fields under `error`; the spec's ResponseErrorEvent has them flat.
        nested = payload.get("error")
        flat = {key: value for key, value in payload.items() if key not in ("type", "sequence_number")}
        return self._reported_failure(nested if isinstance(nested, dict) else flat, "upstream reported an error")

    def _reported_failure(self, error: dict[str, Any], fallback: str) -> list[bytes]:
        message = error.get("message")
        if not isinstance(message, str) or not message:
            message = f"{fallback}: " + dumps(error)[:_EXCERPT]
        return self._fail(_error_type(None, error), message)

    def _fail(self, type_: str, message: str) -> list[bytes]:
        # After an error nothing is closed or finished: `event: error`, then EOF, as Anthropic does.
        self.done = True
        return [anthropic_error(type_, message)]

    # -- items ----------------------------------------------------------------------------------

    def _item(self, payload: dict[str, Any], body: dict[str, Any] | None = None) -> _Item:
        """The item an event names, by `output_index`, else `item_id`; made up when never added, so
        that its content is still sent."""
        index = payload.get("output_index")
        item = self._items.get(index) if isinstance(index, int) else None
        item_id = payload.get("item_id")
        if item is None and isinstance(item_id, str):
            item = self._by_id.get(item_id)
        if item is None:
            body = body or {}
            item = _Item(str(body.get("type") or ""), _text(body.get("id")) or _text(item_id))
            self._remember(index, item)
        return item

    def _remember(self, index: Any, item: _Item) -> None:
        if isinstance(index, int):
            self._items.setdefault(index, item)
        if item.id:
            self._by_id.setdefault(item.id, item)

    def _item_added(self, payload: dict[str, Any]) -> list[bytes]:
        body = payload.get("item")
        body = body if isinstance(body, dict) else {}
        item = _Item(
            str(body.get("type") or ""),
            _text(body.get("id")),
            _text(body.get("call_id")),
            _text(body.get("name")),
        )
        self._remember(payload.get("output_index"), item)
        out = self._ensure_started()
        if item.type in _INPUT_FIELD:
            # The call's id and name are known now: its block starts at once.
            out += self._tool_block(item)
            if not self.done:
                out += self._input(item, _text(body.get(_INPUT_FIELD[item.type])))
        return out

    def _item_done(self, payload: dict[str, Any]) -> list[bytes]:
        body = payload.get("item")
        body = body if isinstance(body, dict) else {}
        item = self._item(payload, body)
        item.call_id = item.call_id or _text(body.get("call_id"))
        item.name = item.name or _text(body.get("name"))
        item.type = item.type or str(body.get("type") or "")
        out = self._ensure_started()
        # Whatever the item holds that was never streamed goes out now, so that it is not lost.
        if item.type == "message":
            for number, entry in _entries(body, "content"):
                text = _text(entry.get(_PART_TEXT_FIELD.get(str(entry.get("type")), "text")))
                out += self._part_text({}, "content", "text", text, streamed=False, item=item, index=number)
        elif item.type == "reasoning":
            kinds = [item.reasoning_kind] if item.reasoning_kind else ["content", "summary"]
            for part_kind in kinds:
                entries = [
                    (number, entry)
                    for number, entry in _entries(body, str(part_kind))
                    if part_kind == "summary" or entry.get("type") == "reasoning_text"
                ]
                for number, entry in entries:
                    text = _text(entry.get("text"))
                    out += self._part_text(
                        {}, str(part_kind), "thinking", text, streamed=False, item=item, index=number
                    )
                if item.reasoning_kind:
                    break
        elif item.type in _INPUT_FIELD:
            if item.block is None:
                out += self._tool_block(item)
            if not self.done and not item.input_sent:
                out += self._input(item, _text(body.get(_INPUT_FIELD[item.type])))
        if self.done:
            return out
        item.closed = True
        if self._open_item is item:
            out += self.close_block()
        return out

    # -- text and reasoning ---------------------------------------------------------------------

    def _part_text(
        self,
        payload: dict[str, Any],
        part_kind: str,
        block: str,
        text: str,
        *,
        streamed: bool,
        item: _Item | None = None,
        index: Any = None,
    ) -> list[bytes]:
        """Send `text` of one part: every delta (`streamed`), or a part's whole text when none of it
        went out yet (a .done event, a part's done event, the item's done event)."""
        if item is None:
            item = self._item(payload)
            index = payload.get("summary_index" if part_kind == "summary" else "content_index")
        key = (part_kind, index if isinstance(index, (int, str)) else None)
        if (not streamed and key in item.sent) or not text:
            return []
        if block == "thinking":
            # One source of reasoning per item, as the assembler reads it: raw text or summary.
            if item.reasoning_kind is None:
                item.reasoning_kind = part_kind
            elif item.reasoning_kind != part_kind:
                return []
        item.sent.add(key)
        out = self._ensure_started() + self._ensure_block(block, item)
        delta = {"type": "text_delta", "text": text}
        if block == "thinking":
            delta = {"type": "thinking_delta", "thinking": text}
        return out + [self._delta(delta)]

    def _ensure_block(self, kind: str, item: _Item) -> list[bytes]:
        if self._open == kind and self._open_item is item:
            return []
        block: dict[str, Any] = {"type": "text", "text": ""}
        if kind == "thinking":
            # A Responses reasoning item has no Anthropic signature. Its `encrypted_content` is
            # OpenAI's, readable only by OpenAI: a client replaying it to Anthropic as a signature
            # would be refused, and so would a made-up one (semantic.signatures). So it is dropped,
            # the signature left empty and no signature_delta sent, as for any upstream without one.
            block = {"type": "thinking", "thinking": "", "signature": ""}
        return self.close_block() + self.start_block(block, item)

    # -- tool calls -----------------------------------------------------------------------------

    def _tool_block(self, item: _Item) -> list[bytes]:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": item.call_id or item.id or f"toolu_{self._id or 'unknown'}_{self._tool_blocks}",
            "name": item.name,
            "input": {},
        }
        self._tool_blocks += 1
        return self.close_block() + self.start_block(block, item)

    def _call_input(self, payload: dict[str, Any], text: str, *, streamed: bool) -> list[bytes]:
        item = self._item(payload)
        if not streamed and item.input_sent:
            return []
        if item.type not in _INPUT_FIELD:
            item.type = "custom_tool_call" if "custom" in str(payload.get("type")) else "function_call"
        out = self._ensure_started()
        if item.block is None:
            out += self._tool_block(item)
        elif self._open_item is not item:
            # Blocks cannot interleave, so a call's input cannot go back into a closed block.
            return out + self._fail("api_error", "upstream interleaved the input of two tool calls")
        return out + self._input(item, text)

    def _input(self, item: _Item, text: str) -> list[bytes]:
        if item.type == "custom_tool_call":
            # The free-form text as the JSON string of `input`, streamed as it comes; closed with
            # the block. Each piece is escaped alone, which is how JSON escapes a whole string.
            if not text:
                return []
            opening = "" if item.input_sent else _CUSTOM_OPEN
            item.input_sent = True
            return [self._delta({"type": "input_json_delta", "partial_json": opening + dumps(text)[1:-1]})]
        if not text:
            return []
        item.input_sent = True
        return [self._delta({"type": "input_json_delta", "partial_json": text})]

    # -- blocks ---------------------------------------------------------------------------------

    def _ensure_started(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return self.start_message()

    def start_block(self, block: dict[str, Any], item: _Item) -> list[bytes]:
        self._open = block["type"]
        self._open_item = item
        item.block = self._next_index
        start = {"type": "content_block_start", "index": self._next_index, "content_block": block}
        self._next_index += 1
        return [anthropic_event(start)]

    def close_block(self) -> list[bytes]:
        if self._open is None:
            return []
        out: list[bytes] = []
        item = self._open_item
        if item is not None and item.type == "custom_tool_call":
            # `{"input":""}` for a call whose input was empty: the property is required.
            closing = _CUSTOM_CLOSE if item.input_sent else _CUSTOM_OPEN + _CUSTOM_CLOSE
            out.append(self._delta({"type": "input_json_delta", "partial_json": closing}))
        self._open = None
        self._open_item = None
        return out + [anthropic_event({"type": "content_block_stop", "index": self._next_index - 1})]

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return anthropic_event({"type": "content_block_delta", "index": self._next_index - 1, "delta": delta})


def _error_type(status: int | None, error: dict[str, Any]) -> str:
    """The Anthropic error type for an OpenAI error: its `type` or its `code` may say what a client
    retries on (a rate limit is type `requests` or `tokens` with code `rate_limit_exceeded`)."""
    for hint in (error.get("type"), error.get("code")):
        found = anthropic_error_type(status, hint)
        if found != "api_error":
            return found
    return anthropic_error_type(status)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _entries(body: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
    entries = body.get(name)
    if not isinstance(entries, list):
        return []
    return [(number, entry) for number, entry in enumerate(entries) if isinstance(entry, dict)]


def responses_anthropic_usage(usage: dict[str, Any]) -> dict[str, int]:
    """Responses usage as Anthropic counts it. Responses' `input_tokens` includes the input served
    from the cache (`input_tokens_details.cached_tokens`) and written to it (`cache_write_tokens`),
    where Anthropic's leaves both out and reports them beside it, as `cache_read_input_tokens` and
    `cache_creation_input_tokens`; each is reported only when the upstream reported it. Responses'
    `output_tokens` already counts the reasoning, as Anthropic's does."""
    details = usage.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached, written = _count(details.get("cached_tokens")), _count(details.get("cache_write_tokens"))
    counts = {"input_tokens": max((_count(usage.get("input_tokens")) or 0) - (cached or 0) - (written or 0), 0)}
    if cached is not None:
        counts["cache_read_input_tokens"] = cached
    if written is not None:
        counts["cache_creation_input_tokens"] = written
    counts["output_tokens"] = _count(usage.get("output_tokens")) or 0
    return counts


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
