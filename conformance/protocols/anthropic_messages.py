"""Anthropic Messages streams: view (a state machine over the events), assembler and invariants.

Each invariant's `evidence` names its sources: Anthropic's streaming documentation
(https://docs.claude.com/en/docs/build-with-claude/streaming), the anthropic-sdk-python client,
recorded streams, and the issues that show what breaking it costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance import schemas
from conformance.invariants import Violation, invariant
from conformance.neutral import Message, ToolCall, anthropic_usage, parse_arguments
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
# Stop reasons that say no more than their neutral finish; stop_sequence and
# model_context_window_exceeded say more, and are kept as the message's native finish.
_USUAL_STOP = frozenset({"end_turn", "max_tokens", "tool_use", "refusal", "pause_turn"})
# Which delta types each block type accepts, as in every recorded stream; anthropic-sdk-python's
# accumulator silently ignores any other (`lib/streaming/_messages.py`).
_DELTAS_FOR_BLOCK = {
    "text": {"text_delta", "citations_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "mcp_tool_use": {"input_json_delta"},
}
_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_INPUT_COUNTS = frozenset({"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"})


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
    """Lifecycle breaches found while walking the events (see anthropic.block.sequence)."""
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


def _tool_input(block: Block) -> tuple[Any, bool, str]:
    """(input, valid, raw): the concatenated input_json_delta fragments, or the input the block
    started with when it had no delta (server-tool results; Kimi's client tool calls)."""
    if not block.deltas:
        start_input = block.start.get("input")
        return (start_input if start_input is not None else {}), True, ""
    raw = "".join(
        str(delta.get("partial_json", "")) for _, delta in block.deltas if delta.get("type") == "input_json_delta"
    )
    arguments, valid = parse_arguments(raw)
    return arguments, valid, raw


def _is_server_tool(kind: str) -> bool:
    """server_tool_use, mcp_tool_use and every *_tool_result block: tools the server ran, which only
    an Anthropic client can receive (anthropic-sdk-python src/anthropic/types/)."""
    return kind != "tool_use" and kind.endswith(("_tool_use", "_tool_result"))


def _server_tool(block: Block) -> dict[str, Any]:
    """A block of a tool the server ran, as `expect.server_tools` lists it."""
    if block.type in _TOOL_BLOCKS:
        arguments, _, _ = _tool_input(block)
        entry = {"type": block.type, "id": str(block.start.get("id", "")), "name": str(block.start.get("name", ""))}
        return {**entry, "input": arguments} if isinstance(arguments, dict) else entry
    return {"type": block.type, "id": str(block.start.get("tool_use_id", ""))}


def assemble(v: View) -> Message:
    """The neutral message, applying each delta only to a block of its type, as the SDK does."""
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
            arguments, valid, raw = _tool_input(block)
            message.tool_calls.append(
                ToolCall(str(block.start.get("id", "")), str(block.start.get("name", "")), arguments, valid, raw)
            )
        elif block.type == "text":
            started = block.start.get("citations")
            if isinstance(started, list):
                message.citations.extend(c for c in started if isinstance(c, dict))
            message.citations.extend(
                d["citation"]
                for _, d in block.deltas
                if d.get("type") == "citations_delta" and isinstance(d.get("citation"), dict)
            )
        elif _is_server_tool(block.type):
            message.server_tools.append(_server_tool(block))
    message.text, message.reasoning = "".join(text), "".join(reasoning)
    # The latest value of each count: message_delta's replace message_start's when present (cumulative).
    counts: dict[str, Any] = {}
    for item in v.of_type("message_start"):
        start = (item.data or {}).get("message")
        usage = start.get("usage") if isinstance(start, dict) else None
        if isinstance(usage, dict):
            counts.update((name, value) for name, value in usage.items() if name in _INPUT_COUNTS)
    for item in v.of_type("message_delta"):
        data = item.data or {}
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        stop = delta.get("stop_reason")
        if isinstance(stop, str) and stop:
            message.finish = FINISH.get(stop, stop)
            message.native_finish = stop if stop not in _USUAL_STOP else None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        counts.update((name, value) for name, value in usage.items() if name in _INPUT_COUNTS and value is not None)
        counts["output_tokens"] = usage.get("output_tokens")
        message.usage = anthropic_usage(counts)
    if v.errors:
        error = (v.errors[-1].data or {}).get("error")
        message.error = error if isinstance(error, dict) else {"message": str(error)}
    message.done = bool(v.of_type("message_stop"))
    return message


def _clean(ctx: Context) -> bool:
    """The stream neither reported an error nor was aborted: it must then end as the protocol says."""
    return not ctx.view.errors and not ctx.aborted


# --------------------------------------------------------------------------------------- framing


@invariant(
    "anthropic.sse.named-events",
    impact="breaks",
    hint="Write an event: line naming the payload's type before the data: line of every event in an Anthropic stream.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — each server-sent event has a named event type (event: message_start, …) and matching JSON data",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/_streaming.py — anthropic-sdk-python skips every event that has no event: line, so unnamed events are silently lost",
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
    hint="End an Anthropic stream after message_stop (or an error event) and never append the OpenAI data: [DONE] line.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — a Messages stream ends with message_stop and has no [DONE] sentinel",
        "https://github.com/anthropics/anthropic-sdk-csharp/pull/202 — a data: [DONE] after an Anthropic stream made the C# SDK throw \"'D' is an invalid start of a value\"",
        "https://github.com/caozhiyuan/copilot-api/pull/209 — a proxy had to skip the data: [DONE] its backend appended after message_stop on /v1/messages",
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
    hint="Send only JSON objects with a string type as data in an Anthropic stream, and turn an upstream payload you cannot parse into an error event.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — every event's data is a JSON object whose type names the event",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/_streaming.py — anthropic-sdk-python JSON-parses the data of every named event, so a non-JSON payload raises",
    ],
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
    hint="Set each event's event: line to exactly the type field of its JSON data.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — each event's SSE name matches the type in its JSON data",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/_streaming.py — anthropic-sdk-python dispatches on the event: name (ping skipped, error raised), not on the JSON type",
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
    hint="Build each known event with the fields and value types anthropic-sdk-python defines for it, and leave events of unknown types unchanged.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/raw_message_stream_event.py — the fields and types of each stream event, as the SDK models them",
        "https://docs.claude.com/en/docs/build-with-claude/streaming — new event types may be added, and clients handle unknown event types gracefully",
    ],
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


# ----------------------------------------------------------------------------------------------- order


# The fields anthropic-sdk-python's accumulator reads from each event type, and what it reads them as.
_CLIENT_FIELDS: dict[str, tuple[tuple[str, type], ...]] = {
    "message_start": (("message", dict),),
    "content_block_start": (("index", int), ("content_block", dict)),
    "content_block_delta": (("index", int), ("delta", dict)),
    "content_block_stop": (("index", int),),
    "message_delta": (("delta", dict), ("usage", dict)),
}


def _message_needs(data: dict[str, Any]) -> tuple[dict[str, Any] | None, str, type]:
    usage = data["message"].get("usage")
    if not isinstance(usage, dict):
        return data["message"], "message.usage", dict
    return data["message"], "message.content", list


def _block_needs(data: dict[str, Any]) -> tuple[dict[str, Any] | None, str, type]:
    block = data["content_block"]
    # A text or thinking block's first delta is appended to the string it starts with.
    name = {"text": "text", "thinking": "thinking"}.get(block.get("type"))
    return (block, f"content_block.{name}", str) if name else (None, "", str)


def _delta_usage_needs(data: dict[str, Any]) -> tuple[dict[str, Any] | None, str, type]:
    # The SDK replaces the message's output_tokens with this one: absent, the count is lost.
    return data["usage"], "usage.output_tokens", int


_NESTED_CLIENT_FIELDS = {
    "message_start": _message_needs,
    "content_block_start": _block_needs,
    "message_delta": _delta_usage_needs,
}


@invariant(
    "anthropic.event.client-fields",
    impact="breaks",
    hint="Give every event the fields the SDK reads: message_start a message with a usage object, block events an integer index, content_block_start a content_block, content_block_delta a delta, and message_delta a delta and a usage object.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/lib/streaming/_messages.py — accumulate_event reads message.usage, each block event's index, content_block, delta and message_delta's usage, and raises when one is missing",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/raw_message_delta_event.py — message_delta carries both a delta and a usage object",
    ],
)
def event_client_fields(ctx: Context) -> Iterator[Violation]:
    """Every event carries the fields anthropic-sdk-python's accumulator reads: `message_start` a `message` with a `usage` object and a `content` list, block events an integer `index`, `content_block_start` a `content_block` (a text or thinking block with its string), `content_block_delta` a `delta`, and `message_delta` a `delta` and a `usage` object with an integer `output_tokens`."""
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
            nested = _NESTED_CLIENT_FIELDS.get(kind)
            if nested is not None:
                container, path, expected = nested(data)
                name = path.rpartition(".")[2]
                if container is not None and type(container.get(name)) is not expected:
                    yield Violation(
                        f"{kind} without {path} as {expected.__name__}: anthropic-sdk-python raises or loses it",
                        f"{path}: {expected.__name__}",
                        container.get(name),
                        item.event,
                        path,
                    )
                    return


@invariant(
    "anthropic.message-start.first",
    impact="breaks",
    hint="Send message_start once, as the first event (pings may follow it), and when the upstream fails before the message begins send only an error event.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — a stream starts with one message_start event carrying a Message with empty content",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/lib/streaming/_messages.py — accumulate_event raises 'Unexpected event order, got X before \"message_start\"' on any event before message_start",
        "https://github.com/BerriAI/litellm/issues/32357 — LiteLLM's /v1/messages adapter sent message_start twice (and reasoning into a text block), leaving Anthropic SDK clients with empty content",
        "https://github.com/BerriAI/litellm/pull/33859 — a duplicate message_start from LiteLLM's Responses bridge was rejected by Claude Code as an event-order violation",
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
    level="proxy",
    quirks=["usage.input-updated-in-delta"],
    hint="Put the prompt's real input_tokens in message_start's usage; an adapter whose upstream reports usage only at the end cannot know it without holding the stream back, so it must at least report the real count in message_delta.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — message_start's message carries usage with the request's input_tokens",
        "https://github.com/router-for-me/CLIProxyAPI/issues/1700 — input_tokens 0 in message_start left Claude Code's context display at 0%",
        "https://github.com/sgl-project/sglang/issues/20678 — SGLang sent input_tokens 0 in message_start and the real count only in message_delta, breaking Claude Code's context tracking",
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
    hint="Number blocks 0, 1, 2… in the order they start, stop each block before starting the next, and send exactly one content_block_stop per block.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — each content block is content_block_start, its deltas and content_block_stop, and its index is its position in the final content",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/lib/streaming/_messages.py — content_block_start appends without checking the index and each delta updates content[index], so blocks must start in order with no gap",
        "https://github.com/farion1231/cc-switch/pull/2303 — tool_use blocks left open at the same time stalled Claude Code; the fix closes each block before opening the next",
        "https://github.com/maximhq/bifrost/issues/2293 — a duplicate content_block_stop made clients replay the block and show the answer twice",
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
    hint="Close the open block and start one of the right type before a delta of another kind: text_delta and citations_delta only in text blocks, thinking_delta and signature_delta only in thinking blocks, input_json_delta only in tool blocks.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — text blocks take text_delta, tool_use blocks input_json_delta, and thinking blocks thinking_delta and signature_delta",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/lib/streaming/_messages.py — a delta is applied only to a block of its own type; a mismatched delta is silently dropped",
        "https://github.com/BerriAI/litellm/issues/32357 — thinking_delta streamed inside a text block left the Anthropic SDK and Claude Code with empty content",
        'https://github.com/BerriAI/litellm/issues/33224 — a thinking_delta sent into a text block made Claude Code fail with "Content block is not a thinking block"',
    ],
)
def delta_matches_block(ctx: Context) -> Iterator[Violation]:
    """Each delta's type is one that its block's type accepts (text: text/citations, thinking: thinking/signature, tool: input_json)."""
    for block in ctx.view.blocks:
        allowed = _DELTAS_FOR_BLOCK.get(block.type)
        if allowed is None:
            continue  # unknown or result blocks: no documented deltas to hold them to, so tolerated
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
    hint="Open a text block only when the first non-empty text arrives, and drop empty text_delta events.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://github.com/BerriAI/litellm/issues/30765 — LiteLLM's /v1/messages opened an empty text block at index 0 and dropped the first text_delta after thinking",
        "https://github.com/BerriAI/litellm/issues/31561 — LiteLLM's Anthropic adapter emitted an empty text block at index 0 when the stream opened with a tool call",
        "https://github.com/BerriAI/litellm/issues/34692 — ollama_chat tool turns through LiteLLM got a spurious empty leading text block",
        'https://github.com/vercel/ai/issues/5576 — an empty text block replayed in history makes the API reject the request: "text content blocks must be non-empty"',
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
    hint="Start a tool block with input {} and stream its arguments as input_json_delta fragments that concatenate to one JSON object, or, when the upstream gave the whole input at once, put it in content_block_start and send no delta.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — tool input streams as input_json_delta partial_json strings that concatenate to the final input object",
        'https://github.com/envoyproxy/ai-gateway/issues/1465 — a start input {} followed by deltas made clients build {}{"location": …}',
        "https://github.com/earendil-works/pi/pull/2593 — Kimi sends the whole input in content_block_start with no deltas, and a client that parsed the empty partial_json replaced it with {}",
        "https://github.com/vllm-project/vllm/pull/34887 — vLLM's /v1/messages sent input_json_delta fragments that concatenated to invalid JSON",
    ],
)
def tool_input_json(ctx: Context) -> Iterator[Violation]:
    """A tool block's concatenated `partial_json` parses to an object (\"\" meaning {}), and a block that gets deltas starts with `input: {}`."""
    broken_off = ctx.message.finish == "length" or ctx.view.errors or ctx.aborted
    cut = ctx.view.blocks[-1] if ctx.view.blocks and broken_off else None
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
        arguments, valid, _ = _tool_input(block)
        if block is cut:
            continue  # max_tokens, an error or an abort stopped this block mid-input
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
    hint="Forward the upstream's signature_delta unchanged as the thinking block's last delta, and send none, rather than an empty or invented one, when the upstream gave no signature.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — signature_delta is sent just before the thinking block's content_block_stop",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/lib/streaming/_messages.py — signature_delta replaces the block's signature, which the client replays verbatim on its next turn",
        'https://github.com/dwgx/WindsurfAPI/pull/228 — a proxy\'s empty signature "" on thinking blocks was rejected by strict clients',
        'https://github.com/router-for-me/CLIProxyAPI/pull/570 — fabricated placeholder signatures made the API answer "Invalid signature in thinking block"',
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
    hint="After the last content_block_stop send exactly one message_delta with the mapped, non-null stop_reason and the final usage, merging any duplicate finish the upstream sends.",
    protocol=ANTHROPIC_MESSAGES,
    applies=_clean,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — the content blocks are followed by message_delta, with the stop reason and cumulative usage, and then message_stop",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/message.py — stop_reason is null in message_start and non-null otherwise",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/lib/streaming/_messages.py — each message_delta overwrites stop_reason and the usage counts, so a second one replaces the first",
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
    hint="Finish a complete stream with exactly one message_stop as its last event, and send an error event instead when the upstream ends without one.",
    protocol=ANTHROPIC_MESSAGES,
    applies=_clean,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — a stream ends with a final message_stop event",
        "https://github.com/xiaoyu-work/claw-os/issues/11 — a client that accepted EOF before message_stop persisted truncated answers as successful",
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
    hint="Derive stop_reason from the blocks you sent: tool_use exactly when the message has a tool_use block (unless max_tokens cut the turn), whatever the upstream's finish_reason said.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/message.py — stop_reason tool_use means the model invoked one or more tools",
        "https://github.com/BerriAI/litellm/issues/34692 — an ollama_chat tool turn through LiteLLM ended with stop_reason end_turn, so Claude Code never ran the tool",
        "https://github.com/maximhq/bifrost/issues/3638 — a mixed text and tool-call turn ended with end_turn instead of tool_use",
        "https://github.com/jasonxu114514/opencode2api/pull/27 — stop_reason tool_use with no tool_use block made Claude Code end the turn running nothing",
    ],
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
    hint="After sending an error event, close the stream without any further block, message_delta or message_stop event.",
    protocol=ANTHROPIC_MESSAGES,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — errors can arrive in the stream as an error event, such as overloaded_error",
        "https://github.com/coder/aibridge/blob/c5af6523254daa96bc9053c2892d120bd123af99/fixtures/anthropic/error.txtar — a recorded claude-sonnet-4 stream ends right after event: error, with no content_block_stop, message_delta or message_stop",
    ],
)
def error_is_last(ctx: Context) -> Iterator[Violation]:
    """Nothing follows an `error` event."""
    errors = ctx.view.errors
    if errors and errors[0].event != ctx.view.items[-1].event:
        following = ctx.view.items[errors[0].event + 1]
        yield Violation("events follow the error event", "EOF", following.type, following.event)
