"""OpenAI Chat Completions streams (`chat.completion.chunk`): view, assembler and invariants.

Each invariant's `evidence` names its sources: the OpenAI OpenAPI spec
(https://github.com/openai/openai-openapi), the openai-python client, provider documentation and
recorded streams, and the issues that show what breaking it costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance import schemas
from conformance.invariants import Violation, invariant
from conformance.neutral import Message, ToolCall, neutral_finish, openai_usage, parse_arguments
from conformance.protocols import OPENAI_CHAT
from conformance.stream import Context, Payload, hashable
from conformance.usage import zeroed

__all__ = ["View", "view", "assemble", "REASONING_FIELDS", "CHUNK_SCHEMA", "ERROR_SCHEMA"]

CHUNK_SCHEMA = "openai-chat/chat.completion.chunk"
ERROR_SCHEMA = "openai-chat/error"

# Reasoning dialects (DeepSeek and vLLM<=0.10 `reasoning_content`, OpenRouter, vLLM>=0.11 and Groq
# `reasoning`, some servers `thinking`), in the order a delta is read when it carries more than one.
REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
_ALL_REASONING_FIELDS = (*REASONING_FIELDS, "reasoning_details")
_REASONING_KEYS = frozenset(_ALL_REASONING_FIELDS)

_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}

# The key of a choice's deprecated function_call among its tool calls, which count from 0.
_FUNCTION_CALL = -1

# Finish values that say no more than their neutral name; any other (function_call, OpenRouter's
# error) is kept as the message's native finish.
_USUAL_FINISH = frozenset({"stop", "length", "tool_calls", "content_filter"})


# Not frozen, like the other views' records: one is built for every chunk checked, and a frozen
# dataclass takes about three times as long to build.
@dataclass(slots=True)
class Chunk:
    event: int
    data: dict[str, Any]
    choices: list[dict[str, Any]]
    """The objects in `data["choices"]`, anything else there dropped."""


Delta = tuple[Chunk, Any, dict[str, Any], dict[str, Any]]
"""(chunk, choice index, choice, delta) for one choice of one chunk; a missing delta reads as {}."""
ToolDelta = tuple[Chunk, Any, dict[str, Any]]
"""(chunk, choice index, tool call) for one object in a delta's `tool_calls`."""


@dataclass(slots=True)
class View:
    chunks: list[Chunk] = field(default_factory=list)
    """JSON objects that are not error frames."""
    errors: list[Chunk] = field(default_factory=list)
    """Objects with a truthy `error` key: openai-python raises APIError on them (`Stream.__stream__`)."""
    done: list[int] = field(default_factory=list)
    non_json: list[Payload] = field(default_factory=list)
    count: int = 0
    deltas: list[Delta] = field(default_factory=list)
    """Every choice of every chunk, in stream order."""
    tool_deltas: list[ToolDelta] = field(default_factory=list)
    """Every tool-call object of every delta, in stream order."""


def view(payloads: list[Payload]) -> View:
    """Sort the payloads, and unpack every chunk's choices, deltas and tool calls once, for the
    assembler and every invariant to share."""
    result = View(count=len(payloads))
    # Bound once: this loop runs for every event of every stream checked.
    add_chunk, add_delta, add_tool_delta = result.chunks.append, result.deltas.append, result.tool_deltas.append
    for payload in payloads:
        data = payload.json
        if payload.is_done:
            result.done.append(payload.index)
        elif payload.json_error or not isinstance(data, dict):
            result.non_json.append(payload)
        elif data.get("error"):
            result.errors.append(Chunk(payload.index, data, _choices(data)))
        else:
            chunk = Chunk(payload.index, data, _choices(data))
            add_chunk(chunk)
            for choice in chunk.choices:
                index = choice.get("index", 0)
                if type(index) is not int:  # garbage in an index field; an int is its own key
                    index = hashable(index)
                delta = choice.get("delta")
                if not isinstance(delta, dict):
                    delta = {}
                add_delta((chunk, index, choice, delta))
                calls = delta.get("tool_calls")
                if calls and isinstance(calls, list):
                    for call in calls:
                        if isinstance(call, dict):
                            add_tool_delta((chunk, index, call))
    return result


def _choices(data: dict[str, Any]) -> list[dict[str, Any]]:
    choices = data.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _reasoning(delta: dict[str, Any]) -> str:
    for name in REASONING_FIELDS:
        value = delta.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _content_parts(content: list[Any]) -> tuple[str, str]:
    """(text, reasoning) of Mistral's array content: `text` parts, and `thinking` parts that hold
    text parts of their own (https://docs.mistral.ai/capabilities/reasoning/)."""
    text: list[str] = []
    reasoning: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            text.append(part["text"])
        elif part.get("type") == "thinking" and isinstance(part.get("thinking"), str):
            reasoning.append(part["thinking"])
        elif part.get("type") == "thinking" and isinstance(part.get("thinking"), list):
            reasoning.extend(
                str(inner["text"])
                for inner in part["thinking"]
                if isinstance(inner, dict) and isinstance(inner.get("text"), str)
            )
    return "".join(text), "".join(reasoning)


class _Calls:
    """A choice's tool calls as a lenient client rebuilds them: by index, and by id where a provider
    reuses an index (Ollama gives every parallel call index 0, each with its own id) or sends none
    (Mistral sends each call whole, with an id and no index)."""

    def __init__(self) -> None:
        self.slots: list[tuple[dict[str, str], list[str]]] = []
        self._by_index: dict[Any, int] = {}
        self._last: int | None = None

    def add(self, call: dict[str, Any]) -> None:
        key, call_id = call.get("index"), call.get("id")
        new_id = isinstance(call_id, str) and bool(call_id)
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if isinstance(key, int):
            position = self._by_index.get(key)
            # A new call at a used index comes with its own id and name (Ollama); an id alone on a
            # continuation is a provider repeating it, read as openai-python reads it: by index.
            named = isinstance(function.get("name"), str) and bool(function["name"])
            if position is None or (new_id and named and self.slots[position][0]["id"] not in ("", call_id)):
                position = self._open()
                self._by_index[key] = position
        else:
            position = self._open() if new_id or self._last is None else self._last
        self._last = position
        slot, arguments = self.slots[position]
        if new_id and not slot["id"]:
            slot["id"] = call_id
        if isinstance(function.get("name"), str) and function["name"] and not slot["name"]:
            slot["name"] = function["name"]
        if isinstance(function.get("arguments"), str):
            arguments.append(function["arguments"])

    def _open(self) -> int:
        self.slots.append(({"id": "", "name": ""}, []))
        return len(self.slots) - 1

    def calls(self) -> list[ToolCall]:
        result = []
        for slot, pieces in self.slots:
            raw = "".join(pieces)
            arguments, valid = parse_arguments(raw)
            result.append(ToolCall(slot["id"], slot["name"], arguments, valid, raw))
        return result


@dataclass(slots=True)
class _Choice:
    # Pieces are joined at the end: adding to a string copies it, which is quadratic in a long stream.
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: _Calls = field(default_factory=_Calls)
    finish: str | None = None

    def message(self) -> Message:
        message = Message(text="".join(self.text), refusal="".join(self.refusal), reasoning="".join(self.reasoning))
        message.tool_calls = self.calls.calls()
        message.native_finish = self.finish if self.finish not in _USUAL_FINISH else None
        message.finish = neutral_finish(_FINISH.get(self.finish, self.finish), bool(message.tool_calls))
        return message


def assemble(v: View) -> Message:
    """The neutral message of choice 0, with the other choices of an n > 1 stream beside it, read as
    a lenient client would."""
    choices: dict[Any, _Choice] = {}
    for _chunk, index, choice, delta in v.deltas:
        state = choices.get(index)
        if state is None:
            state = choices[index] = _Choice()
        content = delta.get("content")
        if isinstance(content, str):
            state.text.append(content)
        elif isinstance(content, list):
            text, reasoning = _content_parts(content)
            state.text.append(text)
            state.reasoning.append(reasoning)
        if "refusal" in delta and isinstance(delta["refusal"], str):
            state.refusal.append(delta["refusal"])
        if isinstance(delta.get("function_call"), dict):
            # The deprecated function_call: one unnamed-id call per choice, read as a tool call.
            state.calls.add({"index": _FUNCTION_CALL, "function": delta["function_call"]})
        if not _REASONING_KEYS.isdisjoint(delta):  # most deltas carry none, and would add ""
            state.reasoning.append(_reasoning(delta))
        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
            state.finish = choice["finish_reason"]
    # The view's tool-call objects, rather than each delta's `tool_calls` again: most deltas have none.
    for _chunk, index, call in v.tool_deltas:
        choices[index].calls.add(call)
    first = choices.pop(0, None)
    message = first.message() if first is not None else Message()
    message.choices = {index: state.message() for index, state in choices.items() if type(index) is int}
    for chunk in v.chunks:
        usage = chunk.data.get("usage")
        if isinstance(usage, dict) and not (message.usage is not None and zeroed(usage)):
            message.usage = openai_usage(usage)
    if v.errors:
        error = v.errors[-1].data["error"]
        message.error = error if isinstance(error, dict) else {"message": str(error)}
    message.done = bool(v.done)
    return message


def _ends_in_error(ctx: Context) -> bool:
    return bool(ctx.view.errors)


def _include_usage(ctx: Context) -> bool:
    options = ctx.request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


# --------------------------------------------------------------------------------------- framing


@invariant(
    "openai.sse.data-only",
    impact="strict",
    hint="Write each chunk as a single data: line followed by a blank line, with no event:, id: or retry: field.",
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-openapi — with stream: true the chunks are sent as data-only server-sent events",
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — after an id: line the openai-python decoder dispatches an empty event on every extra blank line, which then fails to parse as JSON",
    ],
)
def data_only(ctx: Context) -> Iterator[Violation]:
    """Every event is an unnamed `data:` event with no `event:` or `id:` field."""
    for index, event in enumerate(ctx.events):
        if event.type != "message" or event.last_event_id:
            yield Violation(
                "event carries an SSE field other than data",
                "type 'message', no id",
                f"type {event.type!r}, id {event.last_event_id!r}",
                index,
            )
            return


@invariant(
    "openai.sse.no-dataless-event",
    impact="breaks",
    hint="Send data-only events: no event:, id: or retry: fields, and never a blank line without a data: line before it.",
    protocol=OPENAI_CHAT,
    evidence=[
        'https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the decoder dispatches an event: line without data as data "", and the stream loop\'s json.loads then raises',
        "https://github.com/openai/openai-python/pull/2721 — events with retry, id or event fields but no data made openai-python raise JSONDecodeError",
        "https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage — per the spec an event with an empty data buffer is not dispatched at all",
    ],
)
def no_dataless_event(ctx: Context) -> Iterator[Violation]:
    """No blank line ends an event without `data:` while an `event:` or `retry:` field came before it in that event, or an `id:` field anywhere before it in the stream."""
    for observation in ctx.observations:
        if observation.kind == "empty-dispatch":
            yield Violation(
                f"{observation.example}: openai-python dispatches this blank line as an event with data '' and fails to parse it",
                "data-only events",
                observation.example,
            )
            return


@invariant(
    "openai.data.json",
    impact="breaks",
    hint="Send only JSON objects as data, plus the final [DONE], and forward upstream SSE comments as comments or not at all, never inside data:.",
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-openapi — the stream's data are chat.completion.chunk objects, terminated by data: [DONE]",
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the stream loop JSON-parses every data payload that does not start with [DONE] and raises on anything else",
        "https://github.com/mnfst/llm-gateway/issues/2053 — a gateway re-emitted OpenRouter's : OPENROUTER PROCESSING comments as data:, and the openai SDK threw on parsing them",
    ],
)
def data_is_json(ctx: Context) -> Iterator[Violation]:
    """Every `data:` payload is a JSON object, except the final `[DONE]`."""
    for payload in ctx.view.non_json:
        actual = payload.json_error or f"a JSON {type(payload.json).__name__}"
        yield Violation(
            "data is not a JSON object",
            "a JSON object or [DONE]",
            f"{actual}: {payload.event.data[:120]!r}",
            payload.index,
        )


@invariant(
    "openai.done.last",
    impact="breaks",
    hint="Send data: [DONE] once, as the very last event, after every finish and usage chunk.",
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-openapi — the stream is terminated by a data: [DONE] message",
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the stream loop stops reading at [DONE], so anything sent after it is lost",
    ],
)
def done_is_last(ctx: Context) -> Iterator[Violation]:
    """`[DONE]` appears at most once, as the last event."""
    v: View = ctx.view
    for index in v.done:
        if index != v.count - 1:
            yield Violation(
                "[DONE] is not the last event", "[DONE] last and once", f"[DONE] at event {index} of {v.count}", index
            )


@invariant(
    "openai.stream.terminated",
    impact="breaks",
    hint='End every stream with data: [DONE], or with an {"error": …} frame when the upstream failed or was cut off, never by just closing the connection.',
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-openapi — the stream is terminated by a data: [DONE] message",
        "https://github.com/coder/aibridge/blob/c5af6523254daa96bc9053c2892d120bd123af99/fixtures/openai/error.txtar — OpenAI ends a failed stream with an error frame and no [DONE]",
        "https://github.com/2389-research/tracker/issues/544 — a stream that ended before [DONE] was reported as a successful, partial response",
    ],
)
def stream_terminated(ctx: Context) -> Iterator[Violation]:
    """The stream ends with `[DONE]`, with an error frame, or aborted (a cut-off response is an error to the client), never by just stopping."""
    v: View = ctx.view
    if not v.done and not v.errors and not ctx.aborted:
        yield Violation(
            "the stream ends without [DONE] and without an error frame",
            "[DONE] or an error frame",
            "EOF",
            v.count - 1 if v.count else None,
        )


@invariant(
    "openai.error.last",
    impact="strict",
    hint="After writing an error frame, close the stream without [DONE] or any further chunk.",
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/coder/aibridge/blob/c5af6523254daa96bc9053c2892d120bd123af99/fixtures/openai/error.txtar — OpenAI (gpt-4.1) sends the error frame and then closes the stream, with no finish chunk and no [DONE]",
        "https://openrouter.ai/docs/api-reference/streaming — OpenRouter terminates the stream after its mid-stream error event",
    ],
)
def error_is_last(ctx: Context) -> Iterator[Violation]:
    """Nothing follows an error frame: no chunk and no `[DONE]`."""
    v: View = ctx.view
    if v.errors and v.errors[0].event != v.count - 1:
        yield Violation(
            "events follow the error frame",
            "the error frame last",
            f"error at event {v.errors[0].event} of {v.count}",
            v.errors[0].event + 1,
        )


@invariant(
    "openai.error.message",
    impact="breaks",
    hint='Send a mid-stream failure as data: {"error": {"message": "…", "type": "…"}}: an error object whose message is a string.',
    protocol=OPENAI_CHAT,
    evidence=[
        'https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — openai-python raises APIError with error.message when the error is an object with a message, and otherwise with the generic "An error occurred during streaming": the upstream\'s text is lost',
        'https://github.com/coder/aibridge/blob/c5af6523254daa96bc9053c2892d120bd123af99/fixtures/openai/error.txtar — OpenAI\'s mid-stream error frame is {"error": {"message": …, "type": "server_error"}}',
    ],
)
def error_message(ctx: Context) -> Iterator[Violation]:
    """An error frame's `error` is an object with a string `message`, which openai-python shows its user."""
    for chunk in ctx.view.errors:
        error = chunk.data["error"]
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            yield Violation(
                "error frame without error.message: openai-python raises with a generic message instead",
                {"error": {"message": "…"}},
                error,
                chunk.event,
                "error.message",
            )


@invariant(
    "openai.error.schema",
    impact="strict",
    hint='Send a mid-stream failure as data: {"error": {"message": "…", "type": "…"}} with a non-empty message string.',
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — openai-python raises APIError with error.message for any data object that has an error key",
        'https://github.com/coder/aibridge/blob/c5af6523254daa96bc9053c2892d120bd123af99/fixtures/openai/error.txtar — OpenAI\'s mid-stream error frame is {"error": {"message": …, "type": "server_error"}}',
        "https://openrouter.ai/docs/api-reference/streaming — OpenRouter's mid-stream error is a chunk with a top-level error {code, message}",
    ],
)
def error_schema(ctx: Context) -> Iterator[Violation]:
    """An error frame is `{"error": {"message": …}}` per the error schema."""
    for chunk in ctx.view.errors:
        for problem in schemas.problems(ERROR_SCHEMA, chunk.data)[:1]:
            yield Violation(
                f"error frame breaks the schema: {problem.message}",
                "schemas/openai-chat/error.schema.json",
                chunk.data,
                chunk.event,
                problem.path,
            )


# --------------------------------------------------------------------------------- chunk shape


@invariant(
    "openai.chunk.schema",
    impact="strict",
    hint="Emit chunks that validate against the chunk schema of the OpenAI OpenAPI spec: required fields present, enum values respected (finish_reason, service_tier), provider extras only as additional fields.",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "https://github.com/openai/openai-openapi — CreateChatCompletionStreamResponse is the chunk schema; its nullable: true fields also admit null",
        "https://spec.openapis.org/oas/3.1/dialect/base — OpenAPI 3.1 schemas are JSON Schema 2020-12, which has no nullable keyword",
        'https://github.com/Azure/azure-sdk-for-go/issues/21086 — Azure\'s placeholder first chunk (object "", created 0, choices []) does not validate',
        "https://github.com/coder/aibridge/blob/e5e573e395bb4015846c0ac4c05fd49649529352/fixtures/openai/chatcompletions/streaming_injected_tool_nonzero_index.txtar — GitHub Copilot's chunks, with no object and no finish_reason key, do not validate",
    ],
)
def chunk_schema(ctx: Context) -> Iterator[Violation]:
    """Every chunk validates against the lenient `chat.completion.chunk` schema."""
    chunks = ctx.view.chunks
    # One call for a valid stream; the chunks are explained one by one only if not.
    if schemas.all_valid(CHUNK_SCHEMA, [chunk.data for chunk in chunks]):
        return
    for chunk in chunks:
        for problem in schemas.problems(CHUNK_SCHEMA, chunk.data)[:1]:
            yield Violation(
                f"chunk breaks the schema: {problem.message}",
                "schemas/openai-chat/chat.completion.chunk.schema.json",
                _at(chunk.data, problem.path),
                chunk.event,
                problem.path,
            )


@invariant(
    "openai.chunk.client-fields",
    impact="breaks",
    hint='Give every chunk object "chat.completion.chunk" and a choices list, and every choice an integer index and a delta object, filling them in where the upstream (Azure, Copilot) leaves them out.',
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/chat/_completions.py — the stream helper skips any chunk whose object is not chat.completion.chunk and reads each choice by its integer index",
        "https://github.com/openai/openai-openapi — CreateChatCompletionStreamResponse requires object and choices, and each choice requires index and delta",
        "https://github.com/microsoft/autogen/issues/6465 — an Azure chunk whose choice had no delta made a client raise AttributeError",
        "https://github.com/coder/aibridge/blob/e5e573e395bb4015846c0ac4c05fd49649529352/fixtures/openai/chatcompletions/streaming_injected_tool_nonzero_index.txtar — GitHub Copilot's chunks carry no object field",
    ],
)
def chunk_client_fields(ctx: Context) -> Iterator[Violation]:
    """Every chunk that carries choices or usage has `object: "chat.completion.chunk"` and a `choices` list, every choice has an integer `index` and a `delta` object, and a tool-call delta's `type`, when present, is `function`: what the openai-python client needs to read it."""
    for chunk in ctx.view.chunks:
        data = chunk.data
        if not isinstance(data.get("choices"), list):
            yield Violation("chunk has no choices list", "choices: [...]", data.get("choices"), chunk.event, "choices")
            return
        if (data["choices"] or data.get("usage")) and data.get("object") != "chat.completion.chunk":
            yield Violation(
                "chunk without object chat.completion.chunk: openai-python skips it",
                "chat.completion.chunk",
                data.get("object"),
                chunk.event,
                "object",
            )
            return
        for position, choice in enumerate(data["choices"]):
            calls = choice.get("delta", {}).get("tool_calls") if isinstance(choice.get("delta"), dict) else None
            for call in calls if isinstance(calls, list) else []:
                if isinstance(call, dict) and "type" in call and call["type"] != "function":
                    yield Violation(
                        "tool call delta with a type other than function: openai-python's accumulator asserts it",
                        "function",
                        call["type"],
                        chunk.event,
                        f"choices[{position}].delta.tool_calls.type",
                    )
                    return
            if type(choice.get("index")) is not int or not isinstance(choice.get("delta"), dict):
                missing = "index" if type(choice.get("index")) is not int else "delta"
                yield Violation(
                    f"choice without an integer index and a delta object: openai-python raises on its {missing}",
                    {"index": 0, "delta": {}},
                    {key: choice.get(key) for key in ("index", "delta")},
                    chunk.event,
                    f"choices[{position}].{missing}",
                )
                return


@invariant(
    "openai.chunk.identity-stable",
    impact="strict",
    hint="Stamp every chunk with the same id, created and model, taken from the first real upstream chunk, and drop or re-stamp placeholder chunks such as Azure's.",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "https://github.com/openai/openai-openapi — each chunk has the same id and the same created timestamp",
        "https://github.com/Azure/azure-sdk-for-go/issues/21086 — Azure's first streamed chunk is a placeholder with an empty id and model and created 0",
    ],
)
def identity_stable(ctx: Context) -> Iterator[Violation]:
    """`id`, `created` and `model` are the same on every chunk."""
    first: tuple[Any, ...] | None = None
    for chunk in ctx.view.chunks:
        data = chunk.data
        identity = (data.get("id"), data.get("created"), data.get("model"))
        if first is None:
            first = identity
        elif identity != first:
            yield Violation("chunk identity changed mid-stream", _identity(first), _identity(identity), chunk.event)
            return


def _identity(values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(("id", "created", "model"), values, strict=True))


@invariant(
    "openai.choice.one-per-chunk",
    impact="strict",
    hint="Put at most one choice in each chunk, splitting an upstream chunk that carries several into one chunk per choice.",
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/tests/lib/chat/test_completions_streaming.py — a recorded gpt-4o stream with n=3 (test_parse_pydantic_model_multiple_choices) carries one choice per chunk, the indices interleaved",
    ],
)
def one_choice_per_chunk(ctx: Context) -> Iterator[Violation]:
    """Each chunk carries at most one choice."""
    for chunk in ctx.view.chunks:
        if len(chunk.choices) > 1:
            yield Violation("chunk carries several choices", "at most 1", len(chunk.choices), chunk.event, "choices")


# -------------------------------------------------------------------------------------- deltas


@invariant(
    "openai.role.first-delta-only",
    impact="breaks",
    quirks=["role.every-delta"],
    hint="Send role only in the first delta of each choice and strip it from every later delta.",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "https://github.com/openai/openai-python/blob/main/tests/lib/chat/test_completions_streaming.py — in OpenAI's recorded streams only the first delta of a choice carries role",
        'https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/_deltas.py — accumulate_delta concatenates every string except index and type, so a repeated role becomes "assistantassistant"',
        'https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-compatible-chat/openrouter-claude-opus-4-7-drives-a-tool-loop.json — OpenRouter repeats "role": "assistant" in every delta',
        "https://github.com/coder/aibridge/blob/e5e573e395bb4015846c0ac4c05fd49649529352/fixtures/openai/chatcompletions/streaming_injected_tool_nonzero_index.txtar — GitHub Copilot repeats role in every delta",
    ],
)
def role_first_only(ctx: Context) -> Iterator[Violation]:
    """`role` appears only in the first delta of each choice."""
    seen: set[int] = set()
    for chunk, index, _choice, delta in ctx.view.deltas:
        if "role" in delta and delta["role"] is not None and index in seen:
            yield Violation(
                "role repeated after the choice's first delta",
                "no role",
                delta["role"],
                chunk.event,
                f"choices[{index}].delta.role",
            )
            return
        seen.add(index)


def _has_tool_calls(ctx: Context) -> bool:
    return bool(ctx.view.tool_deltas)


@invariant(
    "openai.tool.header-once",
    impact="breaks",
    hint="Send a tool call's id and function.name only in its first delta, and strip them (or send them empty) in every later delta.",
    protocol=OPENAI_CHAT,
    level="proxy",
    quirks=["tool.index-reused"],
    applies=_has_tool_calls,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/tests/lib/chat/test_completions_streaming.py — in OpenAI's recorded streams later tool-call deltas carry only index and function.arguments",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/_deltas.py — every string but index and type is concatenated, so a repeated id or name doubles while a repeated type is harmless",
        "https://github.com/langchain-ai/langchain/issues/40041 — a repeated non-empty name in tool-call chunks is duplicated when the chunks are merged",
    ],
)
def tool_header_once(ctx: Context) -> Iterator[Violation]:
    """A tool call's non-empty `id` and `function.name` appear only in that call's first delta (a repeated empty string is harmless)."""
    seen: set[tuple[int, Any]] = set()
    for chunk, choice, call in ctx.view.tool_deltas:
        key = (choice, hashable(call.get("index")))
        if key in seen:
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            repeated = (["id"] if call.get("id") else []) + (["function.name"] if function.get("name") else [])
            if repeated:
                yield Violation(
                    "tool call header repeated in a later delta",
                    "only index and function.arguments",
                    repeated,
                    chunk.event,
                    "choices.delta.tool_calls",
                )
                return
        seen.add(key)


@invariant(
    "openai.tool.first-delta-named",
    impact="breaks",
    hint='Put the call\'s id, type "function" and function.name in the first delta of each tool call.',
    protocol=OPENAI_CHAT,
    applies=_has_tool_calls,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/tests/lib/chat/test_completions_streaming.py — in OpenAI's recorded tool-call streams the first delta of each call carries index, id, type and function.name, and later ones only arguments",
        "https://github.com/openai/openai-openapi — a tool message answers a call by its tool_call_id, and the call is run by its function name",
        "https://github.com/vercel/ai/blob/c22d50fb4f2fcd3036b6f32c652a5ff4e1d61000/packages/mistral/src/__fixtures__/mistral-tool-call.chunks.txt — Mistral sends each tool call whole, with an id but no index, which openai.tool.index-dense reports",
    ],
)
def tool_first_delta_named(ctx: Context) -> Iterator[Violation]:
    """The first delta of every tool call carries a non-empty `id` and a non-empty `function.name`."""
    seen: set[tuple[int, Any]] = set()
    for chunk, choice, call in ctx.view.tool_deltas:
        key = (choice, hashable(call.get("index")))
        if key in seen:
            continue
        seen.add(key)
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if not call.get("id") or not function.get("name"):
            yield Violation(
                "tool call's first delta lacks its id or name",
                "id and function.name",
                call,
                chunk.event,
                "choices.delta.tool_calls",
            )


@invariant(
    "openai.tool.index-dense",
    impact="breaks",
    hint="Renumber each choice's tool calls 0, 1, 2… in the order they start, giving an index-less call (Mistral) the next number.",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=_has_tool_calls,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/_deltas.py — tool calls are placed with list.insert(index) and acc[index], so a first index of 1 lands at position 0 and the next delta for index 1 starts a second call",
        "https://github.com/coder/aibridge/blob/e5e573e395bb4015846c0ac4c05fd49649529352/fixtures/openai/chatcompletions/streaming_injected_tool_nonzero_index.txtar — GitHub Copilot (Claude) starts its tool calls at index 1 after text",
        "https://github.com/vercel/ai/blob/c22d50fb4f2fcd3036b6f32c652a5ff4e1d61000/packages/mistral/src/__fixtures__/mistral-tool-call.chunks.txt — Mistral sends tool calls with no index, which makes accumulate_delta raise",
    ],
)
def tool_index_dense(ctx: Context) -> Iterator[Violation]:
    """Tool-call indices of each choice start at 0 and each new call takes the next index."""
    next_index: dict[int, int] = {}
    seen: set[tuple[int, Any]] = set()
    for chunk, choice, call in ctx.view.tool_deltas:
        index = call.get("index")
        if (choice, hashable(index)) in seen:
            continue
        seen.add((choice, hashable(index)))
        expected = next_index.get(choice, 0)
        if index != expected:
            yield Violation(
                "new tool call does not take the next index",
                expected,
                index,
                chunk.event,
                "choices.delta.tool_calls.index",
            )
            return
        next_index[choice] = expected + 1


@invariant(
    "openai.tool.index-per-id",
    impact="breaks",
    hint="Give each new tool call id its own index, renumbering when the upstream reuses an index for a different call.",
    protocol=OPENAI_CHAT,
    level="proxy",
    quirks=["tool.index-reused"],
    applies=_has_tool_calls,
    evidence=[
        "https://github.com/ollama/ollama/issues/15457 — Ollama's OpenAI-compatible stream gave every parallel tool call index 0",
        "https://github.com/vercel/ai/pull/14277 — clients merged the reused-index calls, dropping calls or corrupting their JSON arguments",
        "https://github.com/maximhq/bifrost/issues/1829 — interleaved tool-call deltas merged into names like search_circularsearch_circular",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/_deltas.py — the accumulator appends a delta to whatever call holds its index",
    ],
)
def tool_index_per_id(ctx: Context) -> Iterator[Violation]:
    """Each tool-call index belongs to one call: a delta never brings a second `id` to an index already in use."""
    owner: dict[tuple[int, Any], str] = {}
    for chunk, choice, call in ctx.view.tool_deltas:
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id or not isinstance(call.get("index"), int):
            continue  # openai.tool.index-dense (proxy level) reports a missing index
        key = (choice, call.get("index"))
        if owner.setdefault(key, call_id) != call_id:
            yield Violation(
                "a second tool call reuses an index",
                f"index {key[1]} only for {owner[key]}",
                call_id,
                chunk.event,
                "choices.delta.tool_calls.id",
            )
            return


@invariant(
    "openai.tool.arguments-json",
    impact="breaks",
    hint="Make each finished call's concatenated arguments one JSON object, sending \"{}\" for a call without arguments and never mixing two calls' fragments.",
    protocol=OPENAI_CHAT,
    applies=_has_tool_calls,
    evidence=[
        "https://github.com/openai/openai-openapi — function.arguments are the arguments the model generated, in JSON format",
        'https://github.com/BerriAI/litellm/issues/33678 — parallel calls all at index 0 were merged into {"path": "a.rs"}{"path": "b.rs"}, which fails to parse',
        'https://github.com/BerriAI/litellm/issues/5063 — a streamed tool call with no arguments ended as "", which is not JSON (fixed by sending "{}")',
    ],
)
def tool_arguments_json(ctx: Context) -> Iterator[Violation]:
    """Each finished tool call's concatenated `function.arguments` parse as a JSON object; `""` is legal only as a first fragment, never as the whole (a call with no arguments sends `"{}"`). A call of a custom tool the request declares (`{"type": "custom"}`) takes free-form text, not JSON."""
    calls = ctx.message.tool_calls
    if calls and (ctx.message.finish == "length" or ctx.view.errors or ctx.aborted):
        calls = calls[:-1]  # the call being written when max_tokens or an error cut the turn
    custom = _custom_tools(ctx.request)
    for call in (call for call in calls if call.name not in custom):
        if not call.raw_arguments.strip():
            yield Violation(
                f"tool call {call.id or call.name!r} finished with empty arguments: clients that parse them raise",
                "{}",
                call.raw_arguments,
            )
        elif not call.arguments_valid or not isinstance(call.arguments, dict):
            yield Violation(
                f"arguments of tool call {call.id or call.name!r} are not a JSON object",
                "a JSON object",
                call.arguments,
            )


def _custom_tools(request: dict[str, Any]) -> frozenset[str]:
    """The names of the custom tools a request declares, whose input is free-form text
    (https://platform.openai.com/docs/guides/function-calling#custom-tools)."""
    tools = request.get("tools")
    return frozenset(
        str((tool.get("custom") or {}).get("name") or tool.get("name"))
        for tool in (tools if isinstance(tools, list) else [])
        if isinstance(tool, dict) and tool.get("type") == "custom"
    )


# --------------------------------------------------------------------------------------- finish


@invariant(
    "openai.finish.once",
    impact="breaks",
    quirks=["finish.duplicate"],
    hint="Forward or emit at most one finish chunk per choice: drop a provider's duplicate finish chunk after keeping any usage it carries.",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "https://github.com/openai/openai-python/blob/main/tests/lib/chat/test_completions_streaming.py — in OpenAI's recorded streams each choice has one finish chunk",
        "https://github.com/QwenLM/qwen-code/issues/2402 — OpenRouter sent two finish_reason tool_calls chunks, and the second wiped the tool calls",
        'https://github.com/langchain-ai/langchain/pull/38349 — OpenRouter\'s repeated finish chunk made langchain concatenate finish_reason into "stopstop"',
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-compatible-chat/openrouter-claude-opus-4-7-drives-a-tool-loop.json — OpenRouter sends the finish chunk twice, the copy carrying the usage",
    ],
)
def finish_once(ctx: Context) -> Iterator[Violation]:
    """Each choice has at most one non-null `finish_reason`, and no content for that choice (text, refusal, reasoning or a tool call) follows it."""
    for chunk, index, choice, delta in _after_finish(ctx.view):
        if choice.get("finish_reason") is not None or _carries_content(delta):
            yield Violation(
                "a second finish, or content, after the choice's finish chunk",
                "nothing but empty deltas after the finish chunk",
                {"finish_reason": choice.get("finish_reason"), "delta": delta},
                chunk.event,
                f"choices[{index}]",
            )
            return


def _after_finish(v: View) -> Iterator[Delta]:
    """Every delta of a choice that comes after that choice's finish chunk, in stream order."""
    finished: set[Any] = set()
    for delta in v.deltas:
        if delta[1] in finished:
            yield delta
        elif delta[2].get("finish_reason") is not None:
            finished.add(delta[1])


def _carries_content(delta: dict[str, Any]) -> bool:
    return any(delta.get(name) for name in ("content", "refusal", "tool_calls", *_ALL_REASONING_FIELDS))


@invariant(
    "openai.finish.last",
    impact="strict",
    hint="Send nothing for a choice after its finish chunk: put the usage in a choices:[] chunk rather than on a trailing chunk with an empty delta.",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "https://github.com/openai/openai-openapi/blob/master/openapi.yaml — the finish chunk is a choice's last; with include_usage the usage follows in a chunk whose choices is empty",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/chat/_completions.py — the accumulator keeps a choice's finish_reason through a later chunk with an empty delta and a null finish_reason",
    ],
)
def finish_last(ctx: Context) -> Iterator[Violation]:
    """No chunk carries a delta for a choice after that choice's finish chunk, not even an empty one."""
    for chunk, index, choice, delta in _after_finish(ctx.view):
        yield Violation(
            "a chunk for the choice after its finish chunk",
            "the finish chunk last for its choice",
            {"finish_reason": choice.get("finish_reason"), "delta": delta},
            chunk.event,
            f"choices[{index}]",
        )
        return


@invariant(
    "openai.finish.tool-calls-has-calls",
    impact="breaks",
    hint="Send finish_reason tool_calls only for a choice that streamed at least one tool call, and map a tool_calls finish without calls to stop.",
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-openapi — finish_reason tool_calls means the model called a tool",
        "https://github.com/jasonxu114514/opencode2api/pull/27 — finish_reason tool_calls with no usable tool call became a turn that ran nothing and stalled the agent",
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-chat/streams-tool-call.json — under a forced tool_choice gpt-4o-mini streams a tool call and finishes with stop, so the converse does not hold",
    ],
)
def finish_tool_calls_has_calls(ctx: Context) -> Iterator[Violation]:
    """A `finish_reason` of `tool_calls` comes only after at least one tool call in that choice."""
    called: set[int] = set()
    for chunk, index, choice, delta in ctx.view.deltas:
        if delta.get("tool_calls"):
            called.add(index)
        if choice.get("finish_reason") == "tool_calls" and index not in called:
            yield Violation(
                "finish_reason tool_calls without any tool call",
                "at least one tool call",
                "none",
                chunk.event,
                f"choices[{index}].finish_reason",
            )


# --------------------------------------------------------------------------------------- usage


@invariant(
    "openai.chunk.has-choice",
    impact="breaks",
    quirks=["usage.empty-choices-chunk"],
    hint="When the client did not set stream_options.include_usage, drop choice-less chunks (usage-only or placeholder) instead of forwarding them.",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=lambda ctx: not _include_usage(ctx),
    evidence=[
        "https://github.com/openai/openai-openapi — the extra usage chunk, whose choices is empty, is sent only when stream_options.include_usage is set",
        "https://github.com/Arthur-Ficial/apfel/issues/100 — a choices: [] usage chunk sent without include_usage broke clients that read chunk.choices[0] with IndexError",
        "https://github.com/Azure/azure-sdk-for-go/issues/21086 — Azure's choice-less first chunk broke clients in the same way",
        "https://github.com/Portkey-AI/gateway/pull/1629 — choice-less usage chunks crashed a gateway's stream transform",
    ],
)
def has_choice(ctx: Context) -> Iterator[Violation]:
    """When the client did not ask for usage (`stream_options.include_usage`), every chunk carries a choice."""
    for chunk in ctx.view.chunks:
        if chunk.data.get("choices") == []:
            yield Violation(
                "choice-less chunk sent although the client did not ask for usage",
                "every chunk has a choice",
                chunk.data,
                chunk.event,
                "choices",
            )


@invariant(
    "openai.usage.last",
    impact="breaks",
    hint="Send usage on the last chunk (the choices:[] usage chunk, or the finish chunk): never follow it with a chunk whose usage is null or absent.",
    protocol=OPENAI_CHAT,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/chat/_completions.py — the accumulator sets the completion's usage from every chunk, so a later chunk without usage erases it",
        "https://github.com/openai/openai-openapi/blob/master/openapi.yaml — stream_options.include_usage: the usage chunk is the last one before data: [DONE], and every other chunk has usage null",
    ],
)
def usage_last(ctx: Context) -> Iterator[Violation]:
    """When a stream reports usage, its last chunk carries it: openai-python keeps only the last chunk's usage."""
    chunks = ctx.view.chunks
    reported = [chunk for chunk in chunks if isinstance(chunk.data.get("usage"), dict)]
    if reported and not isinstance(chunks[-1].data.get("usage"), dict):
        yield Violation(
            "a chunk without usage follows the last one with usage: openai-python reads usage as null",
            f"usage on the last chunk (event {chunks[-1].event})",
            f"usage last on event {reported[-1].event}",
            chunks[-1].event,
            "usage",
        )


@invariant(
    "openai.usage.placement",
    impact="strict",
    quirks=["usage.on-finish-chunk", "usage.repeated"],
    hint="Keep the upstream's last usage report and send it once, in a final chunk with choices: [] after every finish chunk and before [DONE], with no usage on any other chunk.",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=_include_usage,
    evidence=[
        "https://github.com/openai/openai-openapi — with include_usage one extra chunk before [DONE] carries the usage, its choices always an empty array, and every other chunk has usage null",
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-compatible-chat/deepseek-streams-text.json — DeepSeek puts usage on its finish chunk, whose choices are not empty",
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-compatible-chat/openrouter-claude-opus-4-7-drives-a-tool-loop.json — OpenRouter puts usage on a repeated finish chunk",
        "https://github.com/raullenchai/Rapid-MLX/pull/792 — usage on chunks other than the trailing choices: [] chunk made LangChain and AI SDK parsers double-count",
    ],
)
def usage_placement(ctx: Context) -> Iterator[Violation]:
    """With `include_usage`, exactly one chunk has `choices: []`, it carries the usage and follows every finish chunk, and no other chunk has usage."""
    v: View = ctx.view
    empty = [c for c in v.chunks if c.data.get("choices") == []]
    stray = [c for c in v.chunks if c.data.get("choices") != [] and c.data.get("usage") is not None]
    if stray:
        yield Violation(
            "usage on a chunk that has choices",
            "usage only on the choices:[] chunk",
            stray[0].data.get("usage"),
            stray[0].event,
            "usage",
        )
    if _ends_in_error(ctx) or ctx.aborted:
        return  # an interrupted stream may lack the usage chunk (the OpenAPI spec says so)
    if len(empty) != 1 or not isinstance(empty[0].data.get("usage"), dict):
        yield Violation(
            "include_usage needs exactly one choices:[] chunk carrying usage",
            1,
            len(empty),
            empty[1].event if len(empty) > 1 else None,
        )
        return
    last_finish = max(
        (c.event for c, _index, choice, _delta in v.deltas if choice.get("finish_reason") is not None), default=-1
    )
    if empty[0].event < last_finish:
        yield Violation(
            "usage chunk comes before a finish chunk", f"after event {last_finish}", empty[0].event, empty[0].event
        )


# ----------------------------------------------------------------------------------- reasoning


@invariant(
    "openai.reasoning.one-field",
    impact="strict",
    quirks=["reasoning.openrouter"],
    hint="Pick one reasoning field for the whole stream (reasoning_content, say) and put each reasoning fragment there once, never also in reasoning or reasoning_details.",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "https://openrouter.ai/docs/use-cases/reasoning-tokens — OpenRouter streams reasoning in both delta.reasoning and delta.reasoning_details with the same text, so a client reading both doubles it",
        "https://api-docs.deepseek.com/guides/reasoning_model — DeepSeek streams reasoning in delta.reasoning_content",
        "https://docs.vllm.ai/en/v0.11.2/features/reasoning_outputs/ — vLLM renamed reasoning_content to reasoning",
        "https://github.com/BerriAI/litellm/issues/8193 — LiteLLM dropped the reasoning OpenRouter and Nebius sent in delta.reasoning, as it read only reasoning_content",
    ],
)
def reasoning_one_field(ctx: Context) -> Iterator[Violation]:
    """Reasoning travels in one field for the whole stream, never in two fields at once."""
    used: dict[str, int] = {}
    for chunk, _index, _choice, delta in ctx.view.deltas:
        if _REASONING_KEYS.isdisjoint(delta):
            continue  # most deltas: one set look-up per key instead of a get per reasoning field
        for name in _ALL_REASONING_FIELDS:
            if delta.get(name):
                used.setdefault(name, chunk.event)
        if len(used) > 1:
            yield Violation(
                "reasoning is carried in more than one field",
                "one of " + ", ".join(_ALL_REASONING_FIELDS),
                sorted(used),
                chunk.event,
            )
            return


def _at(data: Any, path: str) -> Any:
    """The value at a dotted path such as `choices[0].delta`, or the whole object if it is gone."""
    node = data
    for part in path.replace("[", ".").replace("]", "").split(".") if path else []:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return data
    return node
