"""OpenAI Chat Completions streams (`chat.completion.chunk`): view, assembler and invariants.

Evidence references (§n, #n) point into WIRE-FACTS.md; O1-O10 are its §10 invariant list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance import schemas
from conformance.invariants import Violation, invariant
from conformance.neutral import Message, ToolCall, neutral_finish, parse_arguments
from conformance.protocols import OPENAI_CHAT
from conformance.stream import Context, Payload, hashable

__all__ = ["View", "view", "assemble", "REASONING_FIELDS", "CHUNK_SCHEMA", "ERROR_SCHEMA"]

CHUNK_SCHEMA = "openai-chat/chat.completion.chunk"
ERROR_SCHEMA = "openai-chat/error"

# Reasoning dialects, in the order a delta is read when it carries more than one (§3).
REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
_ALL_REASONING_FIELDS = (*REASONING_FIELDS, "reasoning_details")
_REASONING_KEYS = frozenset(_ALL_REASONING_FIELDS)

_NO_INDEX = 1 << 32  # keys for tool calls that carry no index, after every real index

_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


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
    """Objects with a truthy `error` key: openai-python raises APIError on them (§7.2)."""
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


def assemble(v: View) -> Message:
    """The neutral message of choice 0, read as a lenient client would."""
    message = Message()
    # Pieces are joined at the end: adding to a string attribute copies it, which is quadratic in a long stream.
    text: list[str] = []
    refusal: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, tuple[dict[str, str], list[str]]] = {}
    last_key: int | None = None
    finish: str | None = None
    for _chunk, index, choice, delta in v.deltas:
        if index != 0:
            continue
        content = delta.get("content")
        if isinstance(content, str):
            text.append(content)
        if "refusal" in delta and isinstance(delta["refusal"], str):
            refusal.append(delta["refusal"])
        if not _REASONING_KEYS.isdisjoint(delta):  # most deltas carry none, and would add ""
            reasoning.append(_reasoning(delta))
        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
            finish = _FINISH.get(choice["finish_reason"], choice["finish_reason"])
    message.text, message.refusal, message.reasoning = "".join(text), "".join(refusal), "".join(reasoning)
    # The view's tool-call objects, rather than each delta's `tool_calls` again: most deltas have none.
    for _chunk, index, call in v.tool_deltas:
        if index != 0:
            continue
        key = call.get("index")
        if not isinstance(key, int):
            # Mistral sends index-less calls, each whole with its id (§3, §4): an id starts a new call.
            key = _NO_INDEX + len(calls) if call.get("id") or last_key is None else last_key
        last_key = key
        slot, arguments = calls.setdefault(key, ({"id": "", "name": ""}, []))
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if isinstance(call.get("id"), str) and call["id"] and not slot["id"]:
            slot["id"] = call["id"]
        if isinstance(function.get("name"), str) and function["name"] and not slot["name"]:
            slot["name"] = function["name"]
        if isinstance(function.get("arguments"), str):
            arguments.append(function["arguments"])
    for key in sorted(calls):
        slot, pieces = calls[key]
        raw = "".join(pieces)
        arguments, valid = parse_arguments(raw)
        message.tool_calls.append(ToolCall(slot["id"], slot["name"], arguments, valid, raw))
    message.finish = neutral_finish(finish, bool(message.tool_calls))
    for chunk in v.chunks:
        usage = chunk.data.get("usage")
        if isinstance(usage, dict):
            message.usage = {
                "input_tokens": usage.get("prompt_tokens"),
                "output_tokens": usage.get("completion_tokens"),
            }
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


# ---------------------------------------------------------------------------------- framing (O1)


@invariant(
    "openai.sse.data-only",
    impact="strict",
    hint="",
    protocol=OPENAI_CHAT,
    evidence=[
        "§2.1 (data-only server-sent events); §7.1 deviations 1-2: an id line makes openai-python dispatch empty events"
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
    hint="",
    protocol=OPENAI_CHAT,
    evidence=["§7.1 deviation 1: openai-python dispatches an event: line without data as data '' and fails to parse it"],
)
def no_dataless_event(ctx: Context) -> Iterator[Violation]:
    """No event has an `event:` field without a `data:` field."""
    for observation in ctx.observations:
        if observation.kind == "empty-dispatch":
            yield Violation(
                "an event: field without data: openai-python dispatches it with data '' and fails to parse it",
                "data-only events",
                observation.example,
            )
            return


@invariant(
    "openai.data.json",
    impact="breaks",
    hint="",
    protocol=OPENAI_CHAT,
    evidence=["§2.1 ([DONE] is the only non-JSON data); §7.2 (openai-python raises on non-JSON data)"],
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
    hint="",
    protocol=OPENAI_CHAT,
    evidence=["§2.1; §7.2 (openai-python stops reading at [DONE], so anything after it is lost)"],
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
    hint="",
    protocol=OPENAI_CHAT,
    evidence=[
        "§2.1 (streams are terminated by data: [DONE]); §8 (an error frame ends the stream without [DONE]); #28 (EOF with no terminator is silent truncation)"
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
    hint="",
    protocol=OPENAI_CHAT,
    evidence=[
        "§8 (OpenAI: error frame, then EOF, no [DONE]; OpenRouter: the stream is terminated after the error event); O9"
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
    "openai.error.schema",
    impact="strict",
    hint="",
    protocol=OPENAI_CHAT,
    evidence=["§8 (error frame shapes of OpenAI and OpenRouter); openai-python reads error.message (§7.2)"],
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


# ---------------------------------------------------------------------------- chunk shape (O2)


@invariant(
    "openai.chunk.schema",
    impact="strict",
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "§2.2, §2.4 (lenient 2020-12 schema: OpenAI, DeepSeek, Groq, vLLM, OpenRouter streams validate; xAI, Copilot and Azure's placeholder chunk do not)"
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
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=["openai-python: a chunk whose object is not chat.completion.chunk is skipped; a choice without index raises TypeError, without delta AttributeError"],
)
def chunk_client_fields(ctx: Context) -> Iterator[Violation]:
    """Every chunk that carries choices or usage has `object: "chat.completion.chunk"` and a `choices` list, and every choice has an integer `index` and a `delta` object: the fields the openai-python client needs to read it."""
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
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "§2.2 (id and created are the same on every chunk); O2; Azure's placeholder first chunk breaks it (§2.4)"
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
    hint="",
    protocol=OPENAI_CHAT,
    evidence=["§2.3 (n=3: every chunk carries exactly one choice); O10"],
)
def one_choice_per_chunk(ctx: Context) -> Iterator[Violation]:
    """Each chunk carries at most one choice."""
    for chunk in ctx.view.chunks:
        if len(chunk.choices) > 1:
            yield Violation("chunk carries several choices", "at most 1", len(chunk.choices), chunk.event, "choices")


# ----------------------------------------------------------------------------- deltas (O3, O4)


@invariant(
    "openai.role.first-delta-only",
    impact="breaks",
    quirks=["role.every-delta"],
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "§2.3 (the first chunk of a choice is the only one with role); §7.3 (the openai-python accumulator concatenates a repeated role into 'assistantassistant'); OpenRouter, Together, Copilot, Perplexity repeat it (§4)"
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
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=_has_tool_calls,
    evidence=[
        "§2.3 (later deltas carry only index and function.arguments); §7.3 (the accumulator concatenates every string but index and type, so a repeated id or name doubles; a repeated type is harmless); Qwen and z.ai repeat empty ones (§4)"
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
    hint="",
    protocol=OPENAI_CHAT,
    applies=_has_tool_calls,
    evidence=[
        "§2.3 (the first delta for each tool call carries id, type and function.name); §7.3; Mistral sends no index (§4), which openai.tool.index-dense reports at proxy level"
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
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=_has_tool_calls,
    evidence=[
        "§2.3 (indices 0, 1, … in order); §7.3 (the accumulator inserts by index, so a first index of 1 corrupts the snapshot); Copilot→Claude starts at 1 (§4)"
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
    hint="",
    protocol=OPENAI_CHAT,
    applies=_has_tool_calls,
    evidence=[
        "§2.3 (each call has its own index); O4; #16-#18 (every call at index 0 merges calls into invalid JSON and names like search_circularsearch_circular)"
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
    hint="",
    protocol=OPENAI_CHAT,
    applies=_has_tool_calls,
    evidence=["§2.3; O4; #11, #16 (fragments that concatenate to invalid JSON)"],
)
def tool_arguments_json(ctx: Context) -> Iterator[Violation]:
    """Each finished tool call's concatenated `function.arguments` parse as a JSON object; `""` is legal only as a first fragment, never as the whole (a call with no arguments sends `"{}"`)."""
    calls = ctx.message.tool_calls
    if calls and (ctx.message.finish == "length" or ctx.view.errors or ctx.aborted):
        calls = calls[:-1]  # the call being written when max_tokens or an error cut the turn
    for call in calls:
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


# ------------------------------------------------------------------------------ finish (O5, O6)


@invariant(
    "openai.finish.once",
    impact="breaks",
    quirks=["finish.duplicate"],
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "§2.3 (OpenAI sends one finish chunk per choice); O5; #19 (a second tool_calls finish wipes the tool calls), #20 ('stopstop', doubled messages); OpenRouter, Cloudflare and Together send it twice (§4)"
    ],
)
def finish_once(ctx: Context) -> Iterator[Violation]:
    """Each choice has at most one non-null `finish_reason`, and no delta for that choice follows it."""
    finished: dict[int, int] = {}
    for chunk, index, choice, delta in ctx.view.deltas:
        if index in finished:
            yield Violation(
                "choice continues after its finish chunk",
                "nothing after the finish chunk",
                {"finish_reason": choice.get("finish_reason"), "delta": delta},
                chunk.event,
                f"choices[{index}]",
            )
            return
        if choice.get("finish_reason") is not None:
            finished[index] = chunk.event


@invariant(
    "openai.finish.tool-calls-has-calls",
    impact="breaks",
    hint="",
    protocol=OPENAI_CHAT,
    evidence=[
        "§2.3 (tool_calls finishes a turn that called tools; the reverse does not hold under a forced tool_choice); O6"
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


# ---------------------------------------------------------------------------------- usage (O7)


@invariant(
    "openai.chunk.has-choice",
    impact="breaks",
    quirks=["usage.empty-choices-chunk"],
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=lambda ctx: not _include_usage(ctx),
    evidence=["#22 (a choices:[] usage chunk sent without include_usage: IndexError in naive clients), #24"],
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
    "openai.usage.placement",
    impact="strict",
    quirks=["usage.on-finish-chunk", "usage.repeated"],
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=_include_usage,
    evidence=[
        "§2.2 stream_options.include_usage (one extra chunk before [DONE] whose choices is always an empty array; usage null on every other chunk); O7; #22-#24; DeepSeek, Groq, Mistral and OpenRouter put usage on the finish chunk (§4)"
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
        return  # an interrupted stream may lack the usage chunk (§2.2)
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


# ------------------------------------------------------------------------------ reasoning (O8)


@invariant(
    "openai.reasoning.one-field",
    impact="strict",
    quirks=["reasoning.openrouter"],
    hint="",
    protocol=OPENAI_CHAT,
    level="proxy",
    evidence=[
        "§3 (OpenRouter sends reasoning and reasoning_details with the same text; concatenating both gave 'WeWe need need'); O8; #3"
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
