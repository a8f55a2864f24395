"""OpenAI Responses streams (`POST /v1/responses` with `stream: true`): view, assembler and invariants.

A Responses stream is a sequence of named events, each `event: <type>` with a JSON object whose
`type` is that name and whose `sequence_number` counts the events from 0. It opens with
`response.created`, then streams output items (`response.output_item.added` … `.done`), their
content parts (`response.content_part.added` … `.done`) and the deltas that fill them, and ends
with one terminal event: `response.completed`, `response.incomplete` or `response.failed` (an
`error` event comes right before the latter).

Two profiles end a stream differently (`Context.responses_profile`): OpenAI's own streams stop at
the terminal event, and the Open Responses specification's send `data: [DONE]` after it.

Each invariant's `evidence` names its sources: the OpenAI API reference
(https://platform.openai.com/docs/api-reference/responses-streaming), the OpenAPI spec
(https://github.com/openai/openai-openapi), openai-python's stream loop and Responses stream helper,
the Open Responses specification (https://www.openresponses.org/specification), recorded streams,
and the issues that show what breaking it costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance import schemas
from conformance.invariants import Violation, invariant
from conformance.neutral import Message, ToolCall, neutral_finish, parse_arguments
from conformance.protocols import OPEN_RESPONSES_PROFILE, OPENAI_PROFILE, OPENAI_RESPONSES
from conformance.stream import Context, Payload, hashable
from conformance.usage import details

__all__ = ["EVENT_TYPES", "TERMINAL_TYPES", "Event", "Item", "Part", "View", "assemble", "responses_usage", "view"]

EVENT_TYPES = (
    "response.created",
    "response.queued",
    "response.in_progress",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_text.annotation.added",
    "response.refusal.delta",
    "response.refusal.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
    "response.web_search_call.completed",
)
_SCHEMAS = {kind: f"openai-responses/{kind}" for kind in EVENT_TYPES}
DONE_TYPE = "[DONE]"
TERMINAL_TYPES = ("response.completed", "response.incomplete", "response.failed")
_COMPLETED = "response.completed"

# The parts of an item: `content` parts are numbered by `content_index`, reasoning summary parts by
# `summary_index`; each delta and .done event names one, and writes the field its part type holds.
_CONTENT, _SUMMARY = "content", "summary"
_INDEX_FIELD = {_CONTENT: "content_index", _SUMMARY: "summary_index"}
_PART_DELTAS = {
    "response.output_text.delta": (_CONTENT, "output_text"),
    "response.refusal.delta": (_CONTENT, "refusal"),
    "response.reasoning_text.delta": (_CONTENT, "reasoning_text"),
    "response.reasoning_summary_text.delta": (_SUMMARY, "summary_text"),
}
_PART_DONES = {
    "response.output_text.done": (_CONTENT, "output_text", "text"),
    "response.refusal.done": (_CONTENT, "refusal", "refusal"),
    "response.reasoning_text.done": (_CONTENT, "reasoning_text", "text"),
    "response.reasoning_summary_text.done": (_SUMMARY, "summary_text", "text"),
}
# Item-level input: a call's arguments or free-form input stream into the item itself.
_INPUT_FIELD = {"function_call": "arguments", "custom_tool_call": "input"}
_INPUT_DELTAS = {
    "response.function_call_arguments.delta": "function_call",
    "response.custom_tool_call_input.delta": "custom_tool_call",
}
_INPUT_DONES = {
    "response.function_call_arguments.done": "function_call",
    "response.custom_tool_call_input.done": "custom_tool_call",
}
# Events that only report the progress of a tool the server runs, naming its item.
_PROGRESS = {
    "response.web_search_call.in_progress": "web_search_call",
    "response.web_search_call.searching": "web_search_call",
    "response.web_search_call.completed": "web_search_call",
}
# Items of tools the server ran: the client keeps them to continue the conversation, and never runs
# them (https://platform.openai.com/docs/api-reference/responses-streaming).
_SERVER_TOOLS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
        "mcp_list_tools",
    }
)
_INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


# Not frozen, like the other views' records: one is built for every event checked.
@dataclass(slots=True)
class Event:
    """One event as the machine read it: SSE name, JSON type, payload (None when not a JSON object)."""

    event: int
    name: str
    type: str
    data: dict[str, Any] | None
    raw: str


@dataclass(slots=True)
class Part:
    """A content part or a reasoning summary part, and every way the stream gave its text."""

    index: Any
    kind: str
    """`content` or `summary`."""
    type: str
    """The part type: output_text, refusal, reasoning_text, summary_text."""
    added_event: int | None
    """The event that added it; None for a part a delta named that was never added."""
    deltas: list[tuple[int, str]] = field(default_factory=list)
    done_text: str | None = None
    """The text of its `.done` event (`response.output_text.done`, …)."""
    done_event: int | None = None
    closed: dict[str, Any] | None = None
    """The part as `response.content_part.done` or `response.reasoning_summary_part.done` gave it."""
    closed_event: int | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Item:
    """An output item, from `response.output_item.added` to `response.output_item.done`."""

    output_index: Any
    type: str
    id: str
    added_event: int
    added: dict[str, Any]
    done_event: int | None = None
    done: dict[str, Any] | None = None
    parts: dict[Any, Part] = field(default_factory=dict)
    summary: dict[Any, Part] = field(default_factory=dict)
    deltas: list[tuple[int, str]] = field(default_factory=list)
    """A call's argument or input fragments."""
    done_input: str | None = None
    """The arguments or input of `response.function_call_arguments.done` (or the custom tool's)."""
    done_input_event: int | None = None

    def last(self) -> dict[str, Any]:
        """The item as it ended, or as it started when it never ended."""
        return self.done if self.done is not None else self.added


@dataclass(slots=True)
class View:
    events: list[Event] = field(default_factory=list)
    by_type: dict[str, list[Event]] = field(default_factory=dict)
    """The events of each JSON type, in stream order, so that no invariant rescans the stream."""
    items: list[Item] = field(default_factory=list)
    """The output items in the order they were added."""
    item_breaches: list[Violation] = field(default_factory=list)
    """Item lifecycle breaches found while walking the events (openai-responses.item.sequence)."""
    part_breaches: list[Violation] = field(default_factory=list)
    """Part lifecycle breaches found while walking the events (openai-responses.part.sequence)."""

    def of_type(self, kind: str) -> list[Event]:
        return self.by_type.get(kind, [])

    @property
    def errors(self) -> list[Event]:
        return self.of_type("error")

    @property
    def done(self) -> list[Event]:
        return self.of_type(DONE_TYPE)

    @property
    def terminals(self) -> list[Event]:
        return sorted((e for kind in TERMINAL_TYPES for e in self.of_type(kind)), key=lambda e: e.event)

    @property
    def completed(self) -> bool:
        """The stream's last terminal event is `response.completed`: every item and part must be closed."""
        terminals = self.terminals
        return bool(terminals) and terminals[-1].type == _COMPLETED


# ------------------------------------------------------------------------------------- the view


class _Walker:
    """The state machine: items by `output_index`, their parts by `content_index` and
    `summary_index`, each checked to be open when an event names it."""

    def __init__(self) -> None:
        self.view = View()
        self.by_index: dict[Any, Item] = {}
        self.by_id: dict[str, Item] = {}
        self.unindexed: set[tuple[Any, str]] = set()
        """(output_index, part kind) of the items whose events left out the part's index, told once."""

    def walk(self, payloads: list[Payload]) -> View:
        for payload in payloads:
            data = payload.json if isinstance(payload.json, dict) else None
            kind = str(data.get("type")) if data is not None else (DONE_TYPE if payload.is_done else "")
            event = Event(payload.index, payload.event.type, kind, data, payload.event.data)
            self.view.events.append(event)
            self.view.by_type.setdefault(kind, []).append(event)
            if data is not None:
                self._dispatch(event, data)
        return self.view

    def _dispatch(self, event: Event, data: dict[str, Any]) -> None:
        kind = event.type
        if kind == "response.output_item.added":
            self._item_added(event, data)
        elif kind == "response.output_item.done":
            self._item_done(event, data)
        elif kind == "response.content_part.added":
            self._part_added(event, data, _CONTENT)
        elif kind == "response.reasoning_summary_part.added":
            self._part_added(event, data, _SUMMARY)
        elif kind == "response.content_part.done":
            self._part_closed(event, data, _CONTENT)
        elif kind == "response.reasoning_summary_part.done":
            self._part_closed(event, data, _SUMMARY)
        elif kind in _PART_DELTAS:
            self._part_delta(event, data, *_PART_DELTAS[kind])
        elif kind in _PART_DONES:
            self._part_text_done(event, data, *_PART_DONES[kind])
        elif kind == "response.output_text.annotation.added":
            self._annotation(event, data)
        elif kind in _INPUT_DELTAS:
            item = self._open_item(event, data, _INPUT_DELTAS[kind])
            if item is not None:
                item.deltas.append((event.event, _text(data.get("delta"))))
        elif kind in _INPUT_DONES:
            self._input_done(event, data, _INPUT_DONES[kind])
        elif kind in _PROGRESS:
            self._open_item(event, data, _PROGRESS[kind])

    # ------------------------------------------------------------------------------- items

    def _item_added(self, event: Event, data: dict[str, Any]) -> None:
        raw = data.get("item")
        body: dict[str, Any] = raw if isinstance(raw, dict) else {}
        index = hashable(data.get("output_index"))
        expected = len(self.view.items)
        if index != expected or index in self.by_index:
            self._item_breach(
                "output item added at an output_index that is not its position",
                expected,
                data.get("output_index"),
                event,
                "output_index",
            )
        item = Item(index, str(body.get("type")), _text(body.get("id")), event.event, body)
        self.view.items.append(item)
        self.by_index.setdefault(index, item)
        if item.id:
            self.by_id.setdefault(item.id, item)

    def _item_done(self, event: Event, data: dict[str, Any]) -> None:
        raw = data.get("item")
        body: dict[str, Any] = raw if isinstance(raw, dict) else {}
        item = self.by_index.get(hashable(data.get("output_index")))
        if item is None:
            self._item_breach(
                "output_item.done for an item that was never added",
                "a response.output_item.added first",
                data.get("output_index"),
                event,
                "output_index",
            )
            return
        if item.done_event is not None:
            self._item_breach(
                f"output item {item.output_index} is done twice",
                "one response.output_item.done",
                f"again at event {event.event}",
                event,
            )
            return
        if item.id and body.get("id") not in (None, item.id):
            self._item_breach("output_item.done carries another item's id", item.id, body.get("id"), event, "item.id")
        item.done, item.done_event = body, event.event

    def _open_item(self, event: Event, data: dict[str, Any], expected_type: str | None = None) -> Item | None:
        """The item an event names by `output_index` (or, failing that, by `item_id`, so that its
        content still counts), after checking that it is open, is the one its `item_id` names and
        has the type the event belongs to."""
        index = hashable(data.get("output_index"))
        item = self.by_index.get(index)
        if item is None:
            self._item_breach(
                f"{event.type} names output item {data.get('output_index')!r}, which was never added",
                "an added output_index",
                data.get("output_index"),
                event,
                "output_index",
            )
            item_id = data.get("item_id")
            return self.by_id.get(item_id) if isinstance(item_id, str) else None
        if item.done_event is not None:
            self._item_breach(
                f"{event.type} for output item {item.output_index} after its output_item.done",
                "an open item",
                f"done at event {item.done_event}",
                event,
            )
        if "item_id" in data and item.id and data.get("item_id") != item.id:
            self._item_breach(
                f"{event.type} names another item_id than output item {item.output_index}'s",
                item.id,
                data.get("item_id"),
                event,
                "item_id",
            )
        if expected_type is not None and item.type != expected_type:
            self._item_breach(f"{event.type} for a {item.type} item", expected_type, item.type, event, "output_index")
        return item

    def _input_done(self, event: Event, data: dict[str, Any], item_type: str) -> None:
        item = self._open_item(event, data, item_type)
        if item is None:
            return
        value = data.get(_INPUT_FIELD[item_type])
        item.done_input = value if isinstance(value, str) else None
        item.done_input_event = event.event

    def _item_breach(self, message: str, expected: Any, actual: Any, event: Event, path: str = "") -> None:
        self.view.item_breaches.append(Violation(message, expected, actual, event.event, path))

    # ------------------------------------------------------------------------------- parts

    def _part_added(self, event: Event, data: dict[str, Any], kind: str) -> None:
        item = self._open_item(event, data)
        if item is None:
            return
        parts = item.parts if kind == _CONTENT else item.summary
        index_field = _INDEX_FIELD[kind]
        index = hashable(data.get(index_field))
        if index != len(parts) or index in parts:
            self._part_breach(
                f"{event.type} at a {index_field} that is not the part's position",
                len(parts),
                data.get(index_field),
                event,
                index_field,
            )
        raw = data.get("part")
        part_type = str(raw.get("type")) if isinstance(raw, dict) else "None"
        parts.setdefault(index, Part(index, kind, part_type, event.event))

    def _part_closed(self, event: Event, data: dict[str, Any], kind: str) -> None:
        part = self._part(event, data, kind)
        if part is None:
            return
        if part.closed_event is not None:
            self._part_breach(
                f"part {part.index} of output item {data.get('output_index')!r} is done twice",
                "one done event",
                f"again at event {event.event}",
                event,
            )
            return
        raw = data.get("part")
        part.closed, part.closed_event = (raw if isinstance(raw, dict) else {}), event.event

    def _part_delta(self, event: Event, data: dict[str, Any], kind: str, part_type: str) -> None:
        part = self._part(event, data, kind, part_type)
        if part is not None:
            part.deltas.append((event.event, _text(data.get("delta"))))

    def _part_text_done(self, event: Event, data: dict[str, Any], kind: str, part_type: str, name: str) -> None:
        part = self._part(event, data, kind, part_type)
        if part is None:
            return
        if part.done_event is not None:
            self._part_breach(
                f"{event.type} sent twice for part {part.index}", "once", f"again at event {event.event}", event
            )
        value = data.get(name)
        part.done_text, part.done_event = (value if isinstance(value, str) else None), event.event

    def _annotation(self, event: Event, data: dict[str, Any]) -> None:
        part = self._part(event, data, _CONTENT, "output_text")
        if part is not None and isinstance(data.get("annotation"), dict):
            part.annotations.append(data["annotation"])

    def _part(self, event: Event, data: dict[str, Any], kind: str, part_type: str | None = None) -> Part | None:
        """The open part an event names, checked like `_open_item`; a part that was never added is
        made up (and reported), so that the text a lenient client would keep is kept."""
        item = self._open_item(event, data)
        if item is None:
            return None
        parts = item.parts if kind == _CONTENT else item.summary
        index_field = _INDEX_FIELD[kind]
        index = hashable(data.get(index_field))
        if index is None:
            # No index: a lenient client writes it to the part being written, the item's latest open
            # one, else the next; keyed by its position, its `.done` (which may name it) finds it.
            open_parts = [key for key, found in parts.items() if found.closed_event is None]
            index = open_parts[-1] if open_parts else len(parts)
            if index in parts and (item.output_index, kind) not in self.unindexed:
                self._part_breach(
                    f"{event.type} names no {index_field} in output item {item.output_index}",
                    f"the {index_field} of the part it writes",
                    None,
                    event,
                    index_field,
                )
            self.unindexed.add((item.output_index, kind))
        part = parts.get(index)
        if part is None:
            self._part_breach(
                f"{event.type} names {index_field} {data.get(index_field)!r} of output item {item.output_index}, which was never added",
                f"a {'response.content_part.added' if kind == _CONTENT else 'response.reasoning_summary_part.added'} first",
                data.get(index_field),
                event,
                index_field,
            )
            return parts.setdefault(index, Part(index, kind, part_type or "None", None))
        if part.closed_event is not None:
            self._part_breach(
                f"{event.type} for part {part.index} of output item {item.output_index} after the part is done",
                "an open part",
                f"done at event {part.closed_event}",
                event,
                index_field,
            )
        elif part_type is not None and part.added_event is not None and part.type != part_type:
            self._part_breach(f"{event.type} for a {part.type} part", part_type, part.type, event, index_field)
        return part

    def _part_breach(self, message: str, expected: Any, actual: Any, event: Event, path: str = "") -> None:
        self.view.part_breaches.append(Violation(message, expected, actual, event.event, path))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def view(payloads: list[Payload]) -> View:
    """Walk the events once, as the state machine created → (item added → (part added → delta* →
    done)* → item done)* → one terminal event."""
    return _Walker().walk(payloads)


# -------------------------------------------------------------------------------- the assembler


def _part_field(part_type: str) -> str:
    return "refusal" if part_type == "refusal" else "text"


def _joined(deltas: list[tuple[int, str]]) -> str:
    return "".join(text for _, text in deltas)


def _final_entries(item: Item, kind: str) -> list[Any]:
    entries = item.last().get(kind)
    return entries if isinstance(entries, list) else []


def _part_text(part: Part | None, final: dict[str, Any], part_type: str) -> str:
    """A part's text as a lenient client keeps it: its deltas; failing those, its `.done` text, the
    part as it was closed, or the item's final content (a proxy that sends a text whole)."""
    if part is not None and part.deltas:
        return _joined(part.deltas)
    if part is not None and part.done_text is not None:
        return part.done_text
    name = _part_field(part_type)
    for source in (part.closed if part is not None else None, final):
        if isinstance(source, dict) and isinstance(source.get(name), str):
            return str(source[name])
    return ""


def _parts(item: Item, kind: str) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(part type, text, annotations) of each part of an item, streamed or only in its final form."""
    streamed = item.parts if kind == _CONTENT else item.summary
    final = _final_entries(item, kind)
    keys = list(streamed) + [index for index in range(len(final)) if index not in streamed]
    for key in keys:
        part = streamed.get(key)
        entry = final[key] if type(key) is int and 0 <= key < len(final) and isinstance(final[key], dict) else {}
        part_type = part.type if part is not None and part.added_event is not None else str(entry.get("type"))
        annotations = part.annotations if part is not None and part.annotations else _annotations(part, entry)
        yield part_type, _part_text(part, entry, part_type), annotations


def _annotations(part: Part | None, entry: dict[str, Any]) -> list[dict[str, Any]]:
    for source in (part.closed if part is not None else None, entry):
        found = source.get("annotations") if isinstance(source, dict) else None
        if isinstance(found, list) and found:
            return [annotation for annotation in found if isinstance(annotation, dict)]
    return []


def _reasoning(item: Item) -> str:
    """A reasoning item's raw reasoning text when it streamed any, else its summary: each says the
    same reasoning, so one is taken, never both. Encrypted reasoning is opaque: it is no text (see
    `_encrypted`)."""
    raw = "".join(text for part_type, text, _ in _parts(item, _CONTENT) if part_type == "reasoning_text")
    return raw or "".join(text for _, text, _ in _parts(item, _SUMMARY))


def _encrypted(item: Item) -> str:
    """A reasoning item's `encrypted_content`, the opaque reasoning a stateless client sends back on
    its next turn: the completed item's (`response.output_item.done`), else the added item's, whose
    may be incomplete (openai-python's `ResponseReasoningItem`); "" when neither has one."""
    for body in (item.done, item.added):
        value = body.get("encrypted_content") if body is not None else None
        if isinstance(value, str) and value:
            return value
    return ""


def _call_input(item: Item) -> str:
    """A call's arguments (or custom input): its deltas, else its `.done` event, else the item."""
    if item.deltas:
        return _joined(item.deltas)
    if item.done_input is not None:
        return item.done_input
    return _text(item.last().get(_INPUT_FIELD[item.type]))


def _tool_call(item: Item) -> ToolCall:
    last = item.last()
    call_id = _text(last.get("call_id")) or _text(item.added.get("call_id"))
    name = _text(last.get("name")) or _text(item.added.get("name"))
    raw = _call_input(item)
    if item.type == "function_call":
        arguments, valid = parse_arguments(raw)
        return ToolCall(call_id, name, arguments, valid, raw)
    # A custom tool's input is free-form text (a SQL query, a patch), not JSON: kept as it came.
    return ToolCall(call_id, name, raw, True, raw)


def _server_tool(item: Item) -> dict[str, Any]:
    """An item of a tool the server ran, as `expect.server_tools` lists it: what it did (a web
    search's `action`: query and sources) as its input."""
    entry: dict[str, Any] = {"type": item.type, "id": item.id}
    action = item.last().get("action")
    if isinstance(action, dict):
        entry["input"] = action
    return entry


def responses_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Responses `usage` in neutral terms: `input_tokens` already counts the cached input
    (`input_tokens_details.cached_tokens`), and `output_tokens` the reasoning
    (`output_tokens_details.reasoning_tokens`), as OpenAI's chat usage does."""
    neutral: dict[str, Any] = {"input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens")}
    for neutral_name, group, name in (
        ("cached_input_tokens", "input_tokens_details", "cached_tokens"),
        ("cache_creation_input_tokens", "input_tokens_details", "cache_write_tokens"),
        ("reasoning_tokens", "output_tokens_details", "reasoning_tokens"),
    ):
        value = details(usage, group).get(name)
        if value is not None:
            neutral[neutral_name] = value
    return neutral


def _error(v: View, terminal: Event | None) -> dict[str, Any] | None:
    """The error the stream reported: the last `error` event in either shape (nested under `error`,
    as OpenAI sends it, or flat, as the spec writes it), else a failed response's `error`."""
    if v.errors:
        data = v.errors[-1].data or {}
        nested = data.get("error")
        if isinstance(nested, dict):
            return dict(nested)
        return {name: data[name] for name in ("code", "message", "param") if name in data}
    if terminal is not None and terminal.type == "response.failed":
        response = (terminal.data or {}).get("response")
        error = response.get("error") if isinstance(response, dict) else None
        return dict(error) if isinstance(error, dict) else {}
    return None


def _finish(terminal: Event | None, has_tool_calls: bool) -> str | None:
    if terminal is None or terminal.type == "response.failed":
        return None
    if terminal.type == _COMPLETED:
        return neutral_finish("stop", has_tool_calls)
    response = (terminal.data or {}).get("response")
    incomplete = response.get("incomplete_details") if isinstance(response, dict) else None
    reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
    return _INCOMPLETE_FINISH.get(reason, reason) if isinstance(reason, str) else None


def assemble(v: View) -> Message:
    """The neutral message, read item by item as a lenient client would."""
    message = Message()
    # Pieces are joined at the end: adding to a string copies it, which is quadratic in a long stream.
    text: list[str] = []
    refusal: list[str] = []
    reasoning: list[str] = []
    for item in v.items:
        if item.type == "message":
            for part_type, part_text, annotations in _parts(item, _CONTENT):
                (refusal if part_type == "refusal" else text).append(part_text)
                message.citations.extend(annotations)
        elif item.type == "reasoning":
            reasoning.append(_reasoning(item))
            if encrypted := _encrypted(item):
                message.signatures.append(encrypted)
        elif item.type in _INPUT_FIELD:
            message.tool_calls.append(_tool_call(item))
        elif item.type in _SERVER_TOOLS:
            message.server_tools.append(_server_tool(item))
    message.text, message.refusal, message.reasoning = "".join(text), "".join(refusal), "".join(reasoning)
    terminals = v.terminals
    terminal = terminals[-1] if terminals else None
    response = (terminal.data or {}).get("response") if terminal is not None else None
    usage = response.get("usage") if isinstance(response, dict) else None
    if isinstance(usage, dict):
        message.usage = responses_usage(usage)
    message.finish = _finish(terminal, bool(message.tool_calls))
    message.error = _error(v, terminal)
    message.done = terminal is not None and terminal.type != "response.failed"
    return message


# ------------------------------------------------------------------------------------ framing


def _json_events(ctx: Context) -> Iterator[Event]:
    """The events whose data is a JSON object ([DONE] and unparsable data are judged elsewhere)."""
    return (event for event in ctx.view.events if event.data is not None)


@invariant(
    "openai-responses.data.json",
    impact="breaks",
    hint="Send only JSON objects with a string type as data in a Responses stream (and [DONE] where the profile wants it), and turn an upstream payload you cannot parse into an error event followed by response.failed.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://platform.openai.com/docs/api-reference/responses-streaming — every streamed event is a JSON object whose type names it",
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the stream loop JSON-parses the data of every event that is not [DONE], and raises on anything else",
    ],
)
def data_is_json(ctx: Context) -> Iterator[Violation]:
    """Every `data:` payload is a JSON object with a string `type`, or the `[DONE]` sentinel."""
    for event in ctx.view.events:
        if event.type == DONE_TYPE:
            continue  # openai-responses.stream.no-done and .done-terminates judge it
        if event.data is None or not isinstance(event.data.get("type"), str):
            yield Violation(
                "data is not a JSON object with a type",
                "a JSON object with a string type",
                event.raw[:120],
                event.event,
            )


@invariant(
    "openai-responses.sse.event-matches-type",
    impact="breaks",
    hint="Write an event: line naming the payload's type before the data: line of every Responses event.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://www.openresponses.org/specification — when streaming, the event field MUST match the type in the event body",
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-responses/gpt-5-5-streams-text.json — a recorded gpt-5.5 stream names every event after its type",
        "https://github.com/ranxianglei/billion-context/issues/549 — a Responses consumer that reads only named events skipped a whole data-only stream and reported it as having no response",
    ],
)
def event_matches_type(ctx: Context) -> Iterator[Violation]:
    """Every event carries an `event:` name equal to the `type` of its JSON data."""
    for event in _json_events(ctx):
        if event.name != event.type:
            missing = event.name == "message"  # the SSE default: no event: line was sent
            yield Violation(
                "event has no event: name" if missing else "event name differs from the JSON type",
                event.type,
                None if missing else event.name,
                event.event,
                "type",
            )
            return


@invariant(
    "openai-responses.event.schema",
    impact="strict",
    hint="Build each known event with the fields and value types the OpenAPI spec gives it (sequence_number included), adding provider fields only as extras, and leave events of unknown types unchanged.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://github.com/openai/openai-openapi — ResponseStreamEvent lists every event with its required fields, sequence_number among them",
        "https://platform.openai.com/docs/api-reference/responses-streaming — the fields of each streamed event",
    ],
)
def event_schema(ctx: Context) -> Iterator[Violation]:
    """Every event of a known type validates against its schema; unknown types are tolerated."""
    by_type = ctx.view.by_type
    # One call per event type for a valid stream; the events are explained one by one only if not.
    if all(
        schemas.all_valid(_SCHEMAS[kind], [event.data for event in by_type[kind]])
        for kind in EVENT_TYPES
        if kind in by_type
    ):
        return
    for event in _json_events(ctx):
        if event.type not in _SCHEMAS:
            continue
        for problem in schemas.problems(_SCHEMAS[event.type], event.data)[:1]:
            yield Violation(
                f"{event.type} breaks its schema: {problem.message}",
                f"schemas/openai-responses/{event.type}.schema.json",
                event.data,
                event.event,
                problem.path,
            )


@invariant(
    "openai-responses.sequence.numbered",
    impact="breaks",
    hint="Number the events you send 0, 1, 2… in sequence_number, renumbering when you drop, split or add events, and never leave it out.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://github.com/openai/openai-openapi — every Responses stream event requires an integer sequence_number",
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-responses/gpt-5-5-streams-text.json — a recorded gpt-5.5 stream numbers its events 0 to 11",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — a stream resumed with starting_after yields only the events whose sequence_number is greater, so renumbered events are lost",
        "https://github.com/Wei-Shaw/sub2api/pull/7129 — Grok CLI aborted the turn with missing field `sequence_number` on a gateway's synthesized events",
        "https://github.com/ENTERPILOT/GoModel/pull/953 — a gateway that dropped and merged events left gaps in sequence_number and had to renumber them",
    ],
)
def sequence_numbered(ctx: Context) -> Iterator[Violation]:
    """Every event carries an integer `sequence_number`: 0 on the first event and one more on each next."""
    for expected, event in enumerate(_json_events(ctx)):
        number = (event.data or {}).get("sequence_number")
        if type(number) is not int or number != expected:
            yield Violation(
                "sequence_number is missing"
                if "sequence_number" not in (event.data or {})
                else "sequence_number is not the next one",
                expected,
                number,
                event.event,
                "sequence_number",
            )
            return


# ---------------------------------------------------------------------------------- lifecycle


@invariant(
    "openai-responses.response.created-first",
    impact="breaks",
    hint="Send response.created once, as the first event, even when the upstream fails at once (then follow it with error and response.failed).",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://platform.openai.com/docs/api-reference/responses-streaming — response.created is emitted when the response is created, before any other event",
        'https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — the stream helper raises RuntimeError "Expected to have received `response.created` before …" on any other first event',
    ],
)
def created_first(ctx: Context) -> Iterator[Violation]:
    """The first event is `response.created`, and it is sent only once."""
    events = ctx.view.events
    if not events or events[0].type != "response.created":
        actual = events[0].type if events else "nothing"
        yield Violation("stream does not open with response.created", "response.created", actual, 0 if events else None)
    created = ctx.view.of_type("response.created")
    if len(created) > 1:
        yield Violation("response.created sent more than once", 1, len(created), created[1].event)


@invariant(
    "openai-responses.response.terminal-last",
    impact="breaks",
    hint="End every stream with exactly one of response.completed, response.incomplete or response.failed (after an error event, response.failed), followed by nothing but the [DONE] your profile may want.",
    protocol=OPENAI_RESPONSES,
    applies=lambda ctx: not ctx.aborted,
    evidence=[
        "https://platform.openai.com/docs/api-reference/responses-streaming — a response ends with response.completed, response.incomplete or response.failed",
        'https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — get_final_response raises "Didn\'t receive a `response.completed` event." when the stream ends without it',
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the stream loop stops reading at [DONE], so an event after it is lost",
        "https://github.com/decolua/9router/pull/1648 — a router had to send response.failed when its upstream closed without a terminal event, as clients require one",
    ],
)
def terminal_last(ctx: Context) -> Iterator[Violation]:
    """A stream that was not cut off ends with exactly one terminal event (`response.completed`, `response.incomplete` or `response.failed`), followed by nothing but one `[DONE]`."""
    events = ctx.view.events
    if not events:
        yield Violation("the stream ends without a terminal event", "response.completed last", "no event")
        return
    for done in ctx.view.done:
        if done.event != events[-1].event:
            yield Violation(
                "[DONE] before the end of the stream: the client stops reading there",
                "[DONE] only as the last event",
                f"[DONE] at event {done.event} of {len(events)}",
                done.event,
            )
            return
    body = events[:-1] if events[-1].type == DONE_TYPE else events
    terminals = ctx.view.terminals
    if len(terminals) > 1:
        yield Violation("more than one terminal event", 1, [e.type for e in terminals], terminals[1].event)
    if not terminals:
        yield Violation(
            "the stream ends without a terminal event",
            "response.completed, response.incomplete or response.failed last",
            [event.type for event in events[-3:]],
            events[-1].event,
        )
        return
    after = [event for event in body if event.event > terminals[0].event]
    if after:
        yield Violation("events follow the terminal event", "nothing but [DONE]", after[0].type, after[0].event)


@invariant(
    "openai-responses.error.before-failed",
    impact="breaks",
    hint="Follow an error event at once with response.failed, and send no more output, and never response.completed, after it.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://www.openresponses.org/specification — any error incurred while streaming is followed by a response.failed event",
        "https://github.com/vercel/ai/blob/a0d48878ddcde83d53951f80bb8fd3e1117ab0a0/packages/openai/src/responses/__fixtures__/openai-error.1.chunks.txt — a recorded gpt-5-nano stream sends error and then response.failed",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — an error event in the spec's flat shape is only yielded, so a response.completed after it still reads as a complete response",
    ],
)
def error_before_failed(ctx: Context) -> Iterator[Violation]:
    """The event after an `error` event, if any, is `response.failed`."""
    events = ctx.view.events
    for error in ctx.view.errors:
        following = events[error.event + 1] if error.event + 1 < len(events) else None
        if following is not None and following.type != "response.failed":
            yield Violation(
                "an event other than response.failed follows the error",
                "response.failed",
                following.type,
                following.event,
            )


@invariant(
    "openai-responses.error.message",
    impact="breaks",
    hint='Give every error event its message: {"type": "error", "error": {"type", "code", "message", "param"}} as OpenAI sends it, or the flat {"type": "error", "code", "message", "param"} of the spec.',
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://github.com/openai/openai-openapi — ResponseErrorEvent requires a message",
        'https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — on an event with an error object openai-python raises APIError with error.message, or with the generic "An error occurred during streaming" when there is none',
        "https://github.com/vercel/ai/blob/a0d48878ddcde83d53951f80bb8fd3e1117ab0a0/packages/openai/src/responses/__fixtures__/openai-error.1.chunks.txt — OpenAI nests the error's type, code, message and param under error",
    ],
)
def error_message(ctx: Context) -> Iterator[Violation]:
    """Every `error` event carries a string message, flat (`message`) or nested (`error.message`)."""
    for error in ctx.view.errors:
        data = error.data or {}
        nested = data.get("error")
        if not isinstance(data.get("message"), str) and not (
            isinstance(nested, dict) and isinstance(nested.get("message"), str)
        ):
            yield Violation(
                "error event without a message",
                {"error": {"message": "…"}},
                {key: value for key, value in data.items() if key != "type"},
                error.event,
                "error.message",
            )


# ------------------------------------------------------------------------------------ [DONE]


def _profile(name: str) -> Callable[[Context], bool]:
    return lambda ctx: ctx.responses_profile == name


@invariant(
    "openai-responses.stream.no-done",
    impact="breaks",
    level="proxy",
    hint="End a stream for OpenAI's Responses clients after its terminal event, and never append the chat data: [DONE] line to it.",
    protocol=OPENAI_RESPONSES,
    applies=_profile(OPENAI_PROFILE),
    evidence=[
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-responses/gpt-5-5-streams-text.json — a recorded gpt-5.5 stream ends with response.completed and no [DONE]",
        "https://github.com/caozhiyuan/copilot-api/issues/338 — a /responses proxy that JSON-parses every event threw on [DONE] and closed the stream before response.completed",
        "https://github.com/praxis-proxy/praxis/pull/742 — a Responses stream parser reported [DONE] as malformed JSON and skipped persisting the response",
    ],
)
def no_done(ctx: Context) -> Iterator[Violation]:
    """Under the OpenAI profile, no event carries the `[DONE]` sentinel."""
    for event in ctx.view.done:
        yield Violation("[DONE] written into an OpenAI Responses stream", "no [DONE]", event.raw, event.event)


@invariant(
    "openai-responses.stream.done-terminates",
    impact="strict",
    level="proxy",
    hint="End a stream for Open Responses clients with data: [DONE] after its terminal event.",
    protocol=OPENAI_RESPONSES,
    applies=lambda ctx: ctx.responses_profile == OPEN_RESPONSES_PROFILE and not ctx.aborted,
    evidence=[
        "https://www.openresponses.org/specification — when streaming, the terminal event MUST be the literal string [DONE]",
        "https://github.com/Menci/Floway/pull/312 — a gateway added the [DONE] sentinel its Responses streams lacked, to follow the specification",
    ],
)
def done_terminates(ctx: Context) -> Iterator[Violation]:
    """Under the Open Responses profile, a stream that was not cut off ends with `[DONE]`."""
    events = ctx.view.events
    if not events or events[-1].type != DONE_TYPE:
        yield Violation(
            "the stream does not end with [DONE]",
            "[DONE] last",
            [event.type for event in events[-2:]],
            events[-1].event if events else None,
        )


# ------------------------------------------------------------------------------ items and parts


@invariant(
    "openai-responses.item.sequence",
    impact="breaks",
    hint="Add output items with output_index 0, 1, 2… in order, send each item's events between its output_item.added and its one output_item.done with its own item_id, and close every item before response.completed.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://platform.openai.com/docs/api-reference/responses-streaming — output_index is the index of the output item in the response's output",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — output_item.added appends to the output and every later event reads output[output_index], asserting a function_call item for argument deltas",
        "https://github.com/openai/openai-python/issues/2852 — events naming an output_index that was never added made the stream helper raise IndexError",
        "https://www.openresponses.org/specification — an item's first event is response.output_item.added and it is closed with response.output_item.done",
    ],
)
def item_sequence(ctx: Context) -> Iterator[Violation]:
    """Items are added at `output_index` 0, 1, 2… in order; each event for an item names it by its `output_index` and `item_id` between its `output_item.added` and its one `output_item.done`; and a completed response has closed every item."""
    yield from ctx.view.item_breaches
    if ctx.view.completed:
        for item in ctx.view.items:
            if item.done_event is None:
                yield Violation(
                    f"output item {item.output_index} is never done",
                    "response.output_item.done",
                    "none",
                    item.added_event,
                )


@invariant(
    "openai-responses.part.sequence",
    impact="breaks",
    hint="Open every content part (content_part.added) and summary part (reasoning_summary_part.added) at the next index before its deltas, send each delta to an open part of its own type, and close each part once before its item is done.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://www.openresponses.org/specification — streamable content is backed by a content part: content_part.added, the deltas, the .done event, then content_part.done",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — content_part.added appends to the item's content and output_text.delta reads content[content_index], asserting an output_text part",
        "https://github.com/KochC/opencode-llm-proxy/issues/48 — a proxy that never sent response.content_part.done broke the Responses event lifecycle clients follow",
    ],
)
def part_sequence(ctx: Context) -> Iterator[Violation]:
    """Content parts are added at `content_index` 0, 1, 2… and summary parts at `summary_index` 0, 1, 2… within their item; each delta and `.done` event names an open part of its type; and a completed response has closed every part once."""
    yield from ctx.view.part_breaches
    if ctx.view.completed:
        for item in ctx.view.items:
            for part in (*item.parts.values(), *item.summary.values()):
                if part.added_event is not None and part.closed_event is None:
                    yield Violation(
                        f"{part.kind} part {part.index} of output item {item.output_index} is never done",
                        "response.content_part.done"
                        if part.kind == _CONTENT
                        else "response.reasoning_summary_part.done",
                        "none",
                        part.added_event,
                    )


def _representations(part: Part, item: Item, kind: str) -> Iterator[tuple[str, int | None, str]]:
    """(where, event, text) of every form in which the stream gave a part's text."""
    if part.deltas:
        yield "the concatenated deltas", part.deltas[0][0], _joined(part.deltas)
    if part.done_text is not None:
        yield "the .done event", part.done_event, part.done_text
    name = _part_field(part.type)
    if part.closed is not None and isinstance(part.closed.get(name), str):
        yield "the part's done event", part.closed_event, str(part.closed[name])
    final = _final_entries(item, kind) if item.done is not None else []
    entry = final[part.index] if type(part.index) is int and 0 <= part.index < len(final) else None
    if isinstance(entry, dict) and isinstance(entry.get(name), str):
        yield "response.output_item.done", item.done_event, str(entry[name])


def _input_representations(item: Item) -> Iterator[tuple[str, int | None, str]]:
    if item.deltas:
        yield "the concatenated deltas", item.deltas[0][0], _joined(item.deltas)
    if item.done_input is not None:
        yield "the .done event", item.done_input_event, item.done_input
    value = item.done.get(_INPUT_FIELD[item.type]) if item.done is not None else None
    if isinstance(value, str):
        yield "response.output_item.done", item.done_event, value


def _disagreements(what: str, forms: list[tuple[str, int | None, str]]) -> Iterator[Violation]:
    if not forms:
        return
    first_where, _, first = forms[0]
    for where, event, value in forms[1:]:
        if value != first:
            yield Violation(f"{what}: {where} differs from {first_where}", first[:200], value[:200], event)


@invariant(
    "openai-responses.delta.matches-done",
    impact="breaks",
    hint="Put in every .done event, content_part.done and output_item.done exactly the text, arguments or input whose deltas you streamed, and keep them when you rewrite a delta.",
    protocol=OPENAI_RESPONSES,
    evidence=[
        "https://platform.openai.com/docs/api-reference/responses-streaming — the .done events carry the finalized text, refusal, arguments or input, and output_item.done the whole item",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — the stream helper builds text from the deltas but takes output_text.done's text, and the final response from response.completed, so a client sees both",
        "https://github.com/KochC/opencode-llm-proxy/issues/48 — a proxy sent response.output_text.done with an empty text after streaming the deltas",
    ],
)
def delta_matches_done(ctx: Context) -> Iterator[Violation]:
    """For each part and each call, the concatenated deltas, its `.done` event, its part's done event and its `output_item.done` agree wherever the stream gives them (a missing `.done`, such as `response.custom_tool_call_input.done`, is tolerated)."""
    for item in ctx.view.items:
        for kind in (_CONTENT, _SUMMARY):
            for part in (item.parts if kind == _CONTENT else item.summary).values():
                what = f"{kind} part {part.index} of output item {item.output_index}"
                yield from _disagreements(what, list(_representations(part, item, kind)))
        if item.type in _INPUT_FIELD:
            what = f"the {_INPUT_FIELD[item.type]} of output item {item.output_index}"
            yield from _disagreements(what, list(_input_representations(item)))
