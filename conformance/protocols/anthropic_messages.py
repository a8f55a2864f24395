"""Anthropic Messages streams: view (a state machine over the events), assembler and invariants.

Evidence references (§n, #n) point into WIRE-FACTS.md; A1-A11 are its §10 invariant list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance import schemas
from conformance.invariants import Violation, invariant
from conformance.neutral import Message, ToolCall, parse_arguments
from conformance.protocols import ANTHROPIC_MESSAGES
from conformance.stream import Context, Payload, hashable

__all__ = ["Block", "View", "view", "assemble", "EVENT_TYPES", "FINISH"]

EVENT_TYPES = (
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
)
_SCHEMAS = {kind: f"anthropic-messages/{kind}" for kind in EVENT_TYPES}

FINISH = {
    # stop_reason -> the neutral finish of corpus/README.md
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "pause_turn",
}
# Which delta types each block type accepts (§5.3 rule 3; the SDK ignores any other, §7.4).
_DELTAS_FOR_BLOCK = {
    "text": {"text_delta", "citations_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "mcp_tool_use": {"input_json_delta"},
}
_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


@dataclass(slots=True)
class Block:
    index: Any
    type: str
    start_event: int
    start: dict[str, Any]
    deltas: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    stop_event: int | None = None

    def delta_types(self) -> list[str]:
        return [str(delta.get("type")) for _, delta in self.deltas]


@dataclass(slots=True)
class Item:
    """One event as the machine read it: SSE name, JSON type, payload (None when not a JSON object)."""

    event: int
    name: str
    type: str
    data: dict[str, Any] | None
    raw: str


@dataclass(slots=True)
class View:
    items: list[Item] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    sequence: list[Violation] = field(default_factory=list)
    """Lifecycle breaches found while walking the events (A3)."""
    by_type: dict[str, list[Item]] = field(default_factory=dict)
    """The items of each JSON type, in stream order, so that no invariant rescans the stream."""

    def of_type(self, kind: str) -> list[Item]:
        return self.by_type.get(kind, [])

    @property
    def errors(self) -> list[Item]:
        return self.of_type("error")


def view(payloads: list[Payload]) -> View:
    """Walk the events once as the state machine start → (block start → delta* → stop)* → delta → stop."""
    result = View()
    open_block: Block | None = None
    by_index: dict[Any, Block] = {}
    for payload in payloads:
        data = payload.json if isinstance(payload.json, dict) else None
        kind = str(data.get("type")) if data is not None else ("[DONE]" if payload.is_done else "")
        item = Item(payload.index, payload.event.type, kind, data, payload.event.data)
        result.items.append(item)
        result.by_type.setdefault(kind, []).append(item)
        if data is None:
            continue
        if kind == "content_block_start":
            block_data = data.get("content_block") if isinstance(data.get("content_block"), dict) else {}
            index = hashable(data.get("index"))
            expected = len(result.blocks)
            if open_block is not None:
                result.sequence.append(
                    Violation(
                        f"block {index} starts while block {open_block.index} is open",
                        f"content_block_stop for {open_block.index}",
                        "content_block_start",
                        payload.index,
                    )
                )
            if index != expected:
                result.sequence.append(
                    Violation("block index is not the next one", expected, index, payload.index, "index")
                )
            block = Block(index, str(block_data.get("type")), payload.index, block_data)
            result.blocks.append(block)
            by_index.setdefault(index, block)
            open_block = block
        elif kind == "content_block_delta":
            index = hashable(data.get("index"))
            delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
            if open_block is None or open_block.index != index:
                result.sequence.append(
                    Violation(
                        "delta for a block that is not open",
                        open_block.index if open_block else "an open block",
                        index,
                        payload.index,
                        "index",
                    )
                )
            target = by_index.get(index)
            if target is not None:
                target.deltas.append((payload.index, delta))
        elif kind == "content_block_stop":
            index = hashable(data.get("index"))
            if open_block is None or open_block.index != index:
                result.sequence.append(
                    Violation(
                        "stop for a block that is not open",
                        open_block.index if open_block else "an open block",
                        index,
                        payload.index,
                        "index",
                    )
                )
            else:
                open_block.stop_event = payload.index
                open_block = None
        elif kind == "message_delta" and open_block is not None:
            result.sequence.append(
                Violation(
                    f"message_delta while block {open_block.index} is open",
                    f"content_block_stop for {open_block.index}",
                    "message_delta",
                    payload.index,
                )
            )
            open_block = None
    return result


def _tool_arguments(block: Block) -> tuple[Any, bool]:
    if not block.deltas:
        start_input = block.start.get("input")
        return (start_input if start_input is not None else {}), True
    raw = "".join(
        str(delta.get("partial_json", "")) for _, delta in block.deltas if delta.get("type") == "input_json_delta"
    )
    return parse_arguments(raw)


def assemble(v: View) -> Message:
    """The neutral message, applying each delta only to a block of its type, as the SDK does (§7.4)."""
    message = Message()
    # Pieces are joined at the end: adding to a string attribute copies it, which is quadratic in a long stream.
    text: list[str] = []
    reasoning: list[str] = []
    for block in v.blocks:
        for _, delta in block.deltas:
            kind = delta.get("type")
            if not isinstance(kind, str) or kind not in _DELTAS_FOR_BLOCK.get(block.type, ()):
                continue
            if kind == "text_delta":
                text.append(str(delta.get("text", "")))
            elif kind == "thinking_delta":
                reasoning.append(str(delta.get("thinking", "")))
        if block.type == "thinking":
            signatures = [str(d.get("signature", "")) for _, d in block.deltas if d.get("type") == "signature_delta"]
            signature = signatures[-1] if signatures else str(block.start.get("signature") or "")
            if signature:
                message.signatures.append(signature)
        elif block.type == "tool_use":
            arguments, valid = _tool_arguments(block)
            message.tool_calls.append(
                ToolCall(str(block.start.get("id", "")), str(block.start.get("name", "")), arguments, valid)
            )
    message.text, message.reasoning = "".join(text), "".join(reasoning)
    input_tokens: Any = None
    for item in v.of_type("message_start"):
        usage = (
            (item.data or {}).get("message", {}).get("usage")
            if isinstance((item.data or {}).get("message"), dict)
            else None
        )
        if isinstance(usage, dict):
            input_tokens = usage.get("input_tokens")
    for item in v.of_type("message_delta"):
        data = item.data or {}
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        stop = delta.get("stop_reason")
        if isinstance(stop, str) and stop:
            message.finish = FINISH.get(stop, stop)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        if usage.get("input_tokens") is not None:
            input_tokens = usage["input_tokens"]
        message.usage = {"input_tokens": input_tokens, "output_tokens": usage.get("output_tokens")}
    if v.errors:
        error = (v.errors[-1].data or {}).get("error")
        message.error = error if isinstance(error, dict) else {"message": str(error)}
    message.done = bool(v.of_type("message_stop"))
    return message


def _clean(ctx: Context) -> bool:
    """The stream neither reported an error nor was aborted: it must then end as the protocol says."""
    return not ctx.view.errors and not ctx.aborted


# ---------------------------------------------------------------------------------- framing (A1)


@invariant(
    "anthropic.sse.named-events",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§5.1 (each event has an SSE event name); §7.4 (anthropic-sdk-python silently drops events with no event: line)"
    ],
)
def named_events(ctx: Context) -> Iterator[Violation]:
    """Every event has an `event:` name."""
    for item in ctx.view.items:
        if item.name == "message":
            yield Violation(
                "event has no event: name, so the Anthropic SDK drops it", "an event: line", item.raw[:120], item.event
            )
            return


@invariant(
    "anthropic.stream.no-done",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§7.4, A1; #27 (data: [DONE] appended to an Anthropic stream broke a Go decoder with \"invalid character 'D'\")"
    ],
)
def no_done(ctx: Context) -> Iterator[Violation]:
    """No event carries the OpenAI `[DONE]` sentinel."""
    for item in ctx.view.items:
        if item.type == "[DONE]":
            yield Violation("[DONE] written into an Anthropic stream", "no [DONE]", item.raw, item.event)


@invariant(
    "anthropic.data.json",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=["§5.2 (every payload is an object with a type)"],
)
def data_is_json(ctx: Context) -> Iterator[Violation]:
    """Every `data:` payload is a JSON object with a string `type`."""
    for item in ctx.view.items:
        if item.type == "[DONE]":
            continue  # anthropic.stream.no-done reports it
        if item.data is None or not isinstance(item.data.get("type"), str):
            yield Violation(
                "data is not a JSON object with a type", "a JSON object with a string type", item.raw[:120], item.event
            )


@invariant(
    "anthropic.sse.event-matches-type",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§5.3 rule 7 (the event: name equals the JSON type on every event); §7.4 (the SDK dispatches on the event name)"
    ],
)
def event_matches_type(ctx: Context) -> Iterator[Violation]:
    """The `event:` name equals the JSON `type` of its data."""
    for item in ctx.view.items:
        if item.data is not None and item.name != "message" and item.name != item.type:
            yield Violation("event name differs from the JSON type", item.type, item.name, item.event, "type")


@invariant(
    "anthropic.event.schema",
    impact="strict",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=["§5.2 (payloads per anthropic-sdk-python types); A11: unknown event types are tolerated (§5.1)"],
)
def event_schema(ctx: Context) -> Iterator[Violation]:
    """Every event of a known type validates against its schema; unknown types are tolerated."""
    by_type = ctx.view.by_type
    # One call per event type for a valid stream; the events are explained one by one only if not.
    if all(
        schemas.all_valid(_SCHEMAS[kind], [item.data for item in by_type[kind]])
        for kind in EVENT_TYPES
        if kind in by_type
    ):
        return
    for item in ctx.view.items:
        if item.data is None or item.type not in EVENT_TYPES:
            continue
        for problem in schemas.problems(f"anthropic-messages/{item.type}", item.data)[:1]:
            yield Violation(
                f"{item.type} breaks its schema: {problem.message}",
                f"schemas/anthropic-messages/{item.type}.schema.json",
                item.data,
                item.event,
                problem.path,
            )


# ---------------------------------------------------------------------------------- order (A2, A3, A8)


# The fields anthropic-sdk-python's accumulator reads from each event type, and what it reads them as.
_CLIENT_FIELDS: dict[str, tuple[tuple[str, type], ...]] = {
    "message_start": (("message", dict),),
    "content_block_start": (("index", int), ("content_block", dict)),
    "content_block_delta": (("index", int), ("delta", dict)),
    "content_block_stop": (("index", int),),
    "message_delta": (("delta", dict), ("usage", dict)),
}


@invariant(
    "anthropic.event.client-fields",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=["anthropic-sdk-python lib/streaming/_messages.py accumulate_event reads these fields and raises without them"],
)
def event_client_fields(ctx: Context) -> Iterator[Violation]:
    """Every event carries the fields anthropic-sdk-python's accumulator reads: `message_start` a `message` with a `usage` object, block events an integer `index`, `content_block_start` a `content_block`, `content_block_delta` a `delta`, and `message_delta` a `delta` and a `usage` object."""
    for kind, fields in _CLIENT_FIELDS.items():
        for item in ctx.view.of_type(kind):
            data = item.data or {}
            for name, expected in fields:
                value = data.get(name)
                if type(value) is not expected:  # bool is an int, but not an index
                    yield Violation(
                        f"{kind} without {name} as {expected.__name__}: anthropic-sdk-python raises",
                        f"{name}: {expected.__name__}",
                        value,
                        item.event,
                        name,
                    )
                    return
            if kind == "message_start" and not isinstance(data["message"].get("usage"), dict):
                yield Violation(
                    "message_start without message.usage: anthropic-sdk-python raises",
                    "message.usage: {...}",
                    data["message"].get("usage"),
                    item.event,
                    "message.usage",
                )
                return


@invariant(
    "anthropic.message-start.first",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§5.3 rule 1 (the first non-ping event is message_start, exactly once); §7.4 (the SDK raises on any event before message_start); #5 (a duplicate message_start emptied the content)"
    ],
)
def message_start_first(ctx: Context) -> Iterator[Violation]:
    """The first event other than `ping` is `message_start` (or an `error`: the failure came before the message began), and `message_start` occurs at most once."""
    items = [item for item in ctx.view.items if item.type != "ping"]
    starts = ctx.view.of_type("message_start")
    if not items or items[0].type not in ("message_start", "error"):
        yield Violation(
            "stream does not open with message_start",
            "message_start",
            items[0].type if items else "nothing",
            items[0].event if items else None,
        )
    if len(starts) > 1:
        yield Violation("message_start sent more than once", 1, len(starts), starts[1].event)


@invariant(
    "anthropic.message-start.input-tokens",
    impact="strict",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§5.2 (message_start carries usage.input_tokens); A2; #25 (input_tokens 0 in message_start leaves Claude Code at 0% context). A warning: an adapter streaming from an upstream that reports usage only at the end cannot know the count without buffering the stream"
    ],
)
def message_start_input_tokens(ctx: Context) -> Iterator[Violation]:
    """`message_start` reports the real, non-zero `input_tokens`."""
    for item in ctx.view.of_type("message_start"):
        message = (item.data or {}).get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        tokens = usage.get("input_tokens") if isinstance(usage, dict) else None
        if not isinstance(tokens, int) or tokens <= 0:
            yield Violation(
                "message_start does not report the input tokens",
                "input_tokens > 0",
                tokens,
                item.event,
                "message.usage.input_tokens",
            )


@invariant(
    "anthropic.block.sequence",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§5.1 (start, deltas, stop per block; index is the position in content); §5.3 rule 2 (indices 0,1,2… never interleave); §7.4 (the SDK appends blocks without checking the index); #34 (a block never closed: 'Content block not found')"
    ],
)
def block_sequence(ctx: Context) -> Iterator[Violation]:
    """Blocks take indices 0..n-1 in order, never interleave, and each goes start → deltas → one stop."""
    yield from ctx.view.sequence
    if _clean(ctx):
        for block in ctx.view.blocks:
            if block.stop_event is None:
                yield Violation(
                    f"block {block.index} is never stopped", "content_block_stop", "none", block.start_event
                )


@invariant(
    "anthropic.delta.matches-block",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§5.3 rule 3; §7.4 (the SDK silently ignores a mismatched delta; Claude Code throws 'Content block is not a thinking block'); #5, #6, #8"
    ],
)
def delta_matches_block(ctx: Context) -> Iterator[Violation]:
    """Each delta's type is one that its block's type accepts (text: text/citations, thinking: thinking/signature, tool: input_json)."""
    for block in ctx.view.blocks:
        allowed = _DELTAS_FOR_BLOCK.get(block.type)
        if allowed is None:
            continue  # unknown or result blocks: no documented deltas to hold them to (A11)
        for event, delta in block.deltas:
            if not isinstance(delta.get("type"), str) or delta["type"] not in allowed:
                yield Violation(
                    f"{delta.get('type')} sent to a {block.type} block",
                    sorted(allowed),
                    delta.get("type"),
                    event,
                    "delta.type",
                )


@invariant(
    "anthropic.block.no-empty-text",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "A5; #7 and LiteLLM #31560 (spurious empty text block at index 0 before a tool call), #9, #35 (the API rejects replayed empty text blocks: 'text content blocks must be non-empty')"
    ],
)
def no_empty_text(ctx: Context) -> Iterator[Violation]:
    """No text block ends up empty and no `text_delta` is empty."""
    for block in ctx.view.blocks:
        if block.type != "text":
            continue
        texts = [
            (event, str(delta.get("text", ""))) for event, delta in block.deltas if delta.get("type") == "text_delta"
        ]
        for event, text in texts:
            if text == "":
                yield Violation("empty text_delta", "non-empty text", "", event, "delta.text")
        if (
            block.stop_event is not None
            and not str(block.start.get("text") or "")
            and not any(text for _, text in texts)
        ):
            yield Violation(
                f"text block {block.index} has no text",
                "a non-empty text block",
                "",
                block.start_event,
                "content_block",
            )


@invariant(
    "anthropic.tool.input-json",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        '§5.1 (the final input is always an object); §5.4 (the first delta may be partial_json ""; a tool with no arguments sends only that; a block with no deltas keeps its start input); #11-#14'
    ],
)
def tool_input_json(ctx: Context) -> Iterator[Violation]:
    """A tool block's concatenated `partial_json` parses to an object (\"\" meaning {}), and a block that gets deltas starts with `input: {}`."""
    cut = ctx.view.blocks[-1] if ctx.view.blocks and (ctx.message.finish == "length" or ctx.view.errors) else None
    for block in ctx.view.blocks:
        if block.type not in _TOOL_BLOCKS:
            continue
        if block.deltas and block.start.get("input") not in ({}, None):
            yield Violation(
                "tool block has a non-empty start input and deltas: clients would build {}{…}",
                {},
                block.start.get("input"),
                block.start_event,
                "content_block.input",
            )
        arguments, valid = _tool_arguments(block)
        if block is cut:
            continue  # max_tokens or an error stopped this block mid-input
        if not valid or not isinstance(arguments, dict):
            yield Violation(
                f"input of {block.type} block {block.index} is not a JSON object",
                "a JSON object",
                arguments,
                block.start_event,
            )


@invariant(
    "anthropic.thinking.signature",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "§5.1 (signature_delta comes just before content_block_stop); §5.3 rule 4 (exactly one, last); #29, #30 (empty or fabricated signatures fail on replay)"
    ],
)
def thinking_signature(ctx: Context) -> Iterator[Violation]:
    """A thinking block carries at most one `signature_delta`, as its last delta, with a non-empty signature."""
    for block in ctx.view.blocks:
        if block.type != "thinking":
            continue
        signatures = [
            (position, event, delta)
            for position, (event, delta) in enumerate(block.deltas)
            if delta.get("type") == "signature_delta"
        ]
        if len(signatures) > 1:
            yield Violation(
                f"thinking block {block.index} has several signatures", 1, len(signatures), signatures[1][1]
            )
        for position, event, delta in signatures:
            if position != len(block.deltas) - 1:
                yield Violation(
                    "signature_delta is not the block's last delta",
                    "last",
                    f"delta {position} of {len(block.deltas)}",
                    event,
                )
            if not delta.get("signature"):
                yield Violation(
                    "empty signature", "a non-empty signature", delta.get("signature"), event, "delta.signature"
                )


@invariant(
    "anthropic.message-delta.once",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    applies=_clean,
    evidence=[
        "§5.3 rule 5 (exactly one message_delta, after the last content_block_stop); §5.2 (stop_reason is non-null outside message_start); A8; #20"
    ],
)
def message_delta_once(ctx: Context) -> Iterator[Violation]:
    """A stream that did not fail has exactly one `message_delta`, after the last block stop, with a non-null `stop_reason`."""
    deltas = ctx.view.of_type("message_delta")
    if len(deltas) != 1:
        yield Violation(
            "wrong number of message_delta events", 1, len(deltas), deltas[1].event if len(deltas) > 1 else None
        )
        return
    item = deltas[0]
    last_stop = max((stop.event for stop in ctx.view.of_type("content_block_stop")), default=-1)
    if item.event < last_stop:
        yield Violation("message_delta comes before a block stop", f"after event {last_stop}", item.event, item.event)
    delta = (item.data or {}).get("delta")
    if not isinstance(delta, dict) or not delta.get("stop_reason"):
        yield Violation("message_delta has no stop_reason", "a stop_reason", delta, item.event, "delta.stop_reason")


@invariant(
    "anthropic.message-stop.last",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    applies=_clean,
    evidence=[
        "§5.1 (message_stop ends the stream); §5.3 rule 5 (message_stop is the last event); #28 (EOF with no terminal event: silent truncation)"
    ],
)
def message_stop_last(ctx: Context) -> Iterator[Violation]:
    """A stream that did not fail ends with exactly one `message_stop`."""
    items = ctx.view.items
    stops = ctx.view.of_type("message_stop")
    if len(stops) != 1 or not items or items[-1].type != "message_stop":
        yield Violation(
            "stream does not end with one message_stop",
            "message_stop last, once",
            [item.type for item in items[-3:]],
            items[-1].event if items else None,
        )


@invariant(
    "anthropic.stop-reason.tool-use",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=["§5.2 StopReason; A9; #9, #10 (a tool turn ended with end_turn), #15 (tool_use with no tool block)"],
)
def stop_reason_tool_use(ctx: Context) -> Iterator[Violation]:
    """`stop_reason` is `tool_use` exactly when the message has a `tool_use` block (a turn cut by `max_tokens` excepted)."""
    has_tool = any(block.type == "tool_use" for block in ctx.view.blocks)
    for item in ctx.view.of_type("message_delta"):
        delta = (item.data or {}).get("delta")
        stop = delta.get("stop_reason") if isinstance(delta, dict) else None
        if stop == "tool_use" and not has_tool:
            yield Violation(
                "stop_reason tool_use without a tool_use block",
                "a tool_use block",
                "none",
                item.event,
                "delta.stop_reason",
            )
        elif has_tool and stop not in ("tool_use", "max_tokens", "model_context_window_exceeded", None):
            yield Violation(
                "a tool_use turn ends with another stop_reason", "tool_use", stop, item.event, "delta.stop_reason"
            )


@invariant(
    "anthropic.error.last",
    impact="strict",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    evidence=["§8 (event: error is followed by EOF: no content_block_stop, message_delta or message_stop); A10"],
)
def error_is_last(ctx: Context) -> Iterator[Violation]:
    """Nothing follows an `error` event."""
    errors = ctx.view.errors
    if errors and errors[0].event != ctx.view.items[-1].event:
        following = ctx.view.items[errors[0].event + 1]
        yield Violation("events follow the error event", "EOF", following.type, following.event)
