"""Every registered invariant passes a stream real providers send and fails a broken one.

The table below holds, for each invariant id, at least one correct stream it must pass and at least
one broken stream it must flag ("fail", or "warning" for a severity-warning invariant). Each case is
evaluated against that single invariant, so a case documents exactly one requirement.

Streams are built from constructors that follow WIRE-FACTS.md field by field: 2025+ OpenAI chunks
(§2.2, §2.3: id, object, created, model, service_tier "default", system_fingerprint, choices with
index/delta/logprobs/finish_reason, usage null, obfuscation), DeepSeek and OpenRouter variants (§3,
§4), Anthropic events (§5.2: full message_start with usage, compact JSON, pings serialised with a
space). The PASS cases include the false-positive traps of real provider streams (§2.3, §3, §5.3,
§5.4, §8); the FAIL cases are the real proxy bugs of §9 (#n in the case names' comments).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from conformance import checks  # noqa: F401  (registers every invariant)
from conformance.checks import build_context
from conformance.invariants import evaluate, registry
from conformance.protocols import ANTHROPIC_MESSAGES as AN
from conformance.protocols import OPENAI_CHAT as OA
from conformance.protocols import OPENAI_RESPONSES as RS

# =========================================================================================
# OpenAI chat chunks (WIRE-FACTS §2.2, §2.3)
# =========================================================================================

CHAT_ID = "chatcmpl-C4nR8tVq2LxWk9PzYb3Jm7HsDe1Fa"
CREATED = 1761955200
MODEL = "gpt-4.1-2025-04-14"
FINGERPRINT = "fp_b3f1157249"
CALL_A = "call_RMar1jf3YZ4Zq0CVB8iY4qw2"
CALL_B = "call_Xq8vT2LmN5pR7sK1wZ9cB4dE"

USAGE_REQUEST = {
    "model": "gpt-4.1",
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [{"role": "user", "content": "Say hello."}],
}
PLAIN_REQUEST = {"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "Say hello."}]}
FORCED_TOOL_REQUEST = {
    **USAGE_REQUEST,
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
}

_OBFUSCATION = ("F5WJ", "BQx4BOuPhw", "ZOqSCJNViC", "qMrz4iKF", "a9D5EMhH", "Se8EHx21ca")


def chunk(
    *choices: dict[str, Any], usage: dict[str, Any] | None = None, drop: Sequence[str] = (), **extra: Any
) -> dict[str, Any]:
    """A 2025+ `chat.completion.chunk`: every key OpenAI sends, in OpenAI's order (§2.3 field evolution)."""
    data: dict[str, Any] = {
        "id": CHAT_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": list(choices),
        "usage": usage,
        "obfuscation": _OBFUSCATION[len(json.dumps(choices)) % len(_OBFUSCATION)],
    }
    data.update(extra)
    for key in drop:
        data.pop(key, None)
    return data


def choice(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


def oa(
    delta: dict[str, Any],
    finish: str | None = None,
    *,
    index: int = 0,
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A chunk carrying one choice."""
    return chunk(choice(delta, finish, index), usage=usage, **extra)


def oa_role(content: str | None = "", *, index: int = 0, **delta: Any) -> dict[str, Any]:
    """A choice's first chunk: role, content ("" for text, null for a tool call), refusal null (§2.3)."""
    return oa({"role": "assistant", "content": content, **delta, "refusal": None}, index=index)


def oa_text(text: str, *, index: int = 0) -> dict[str, Any]:
    return oa({"content": text}, index=index)


def head(i: int, call_id: str, name: str, arguments: str = "") -> dict[str, Any]:
    """A tool call's first delta: index, id, type, function{name, arguments:""} (§2.3)."""
    return {"index": i, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def args(i: int, arguments: str) -> dict[str, Any]:
    """A later tool delta: only index and function.arguments (§2.3)."""
    return {"index": i, "function": {"arguments": arguments}}


def oa_calls(*calls: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return oa({"tool_calls": list(calls)}, index=index)


def oa_finish(reason: str, *, index: int = 0, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """The finish chunk: empty delta plus finish_reason (§2.3)."""
    return oa({}, reason, index=index, usage=usage)


def usage_of(prompt: int, completion: int, reasoning: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def oa_usage(prompt: int = 19, completion: int = 3) -> dict[str, Any]:
    """The include_usage chunk: `choices: []` and the whole request's usage (§2.2)."""
    return chunk(usage=usage_of(prompt, completion))


# The OpenAI mid-stream error frame, byte for byte: spaces after ':' and ',' (§8).
OPENAI_ERROR_FRAME = 'data: {"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error"}}\n\n'


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def openai(*items: dict[str, Any] | str, done: bool = True) -> bytes:
    """`data: {compact json}` events, then `data: [DONE]`; a str item is written verbatim."""
    body = "".join(item if isinstance(item, str) else f"data: {compact(item)}\n\n" for item in items)
    return (body + ("data: [DONE]\n\n" if done else "")).encode("utf-8")


# DeepSeek (§3): reasoning_content next to content, usage on the finish chunk, `: keep-alive`.
DS_ID = "21636369-8b52-4b4a-97b7-50923ceb3ffd"


def ds(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": DS_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "deepseek-reasoner",
        "system_fingerprint": "fp_ffc7281d48_prod0820_fp8_kvcache",
        "choices": [choice(delta, finish)],
        "usage": usage,
    }


# OpenRouter (§3, §4): role in every delta, provider field, reasoning and reasoning_details together.
OR_ID = "gen-1761955200-kQ3vX9mT2pLw8RzN"


def orr(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": OR_ID,
        "provider": "DeepInfra",
        "model": "z-ai/glm-4.5",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", **delta},
                "finish_reason": finish,
                "native_finish_reason": finish,
                "logprobs": None,
            }
        ],
        **extra,
    }


def or_reasoning(text: str) -> dict[str, Any]:
    return orr(
        {
            "content": "",
            "reasoning": text,
            "reasoning_details": [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}],
        }
    )


# ---------------------------------------------------------------------------- OpenAI streams

# e0 role, e1-e2 text, e3 finish, e4 usage, e5 [DONE]
OA_TEXT = openai(oa_role(), oa_text("Hello"), oa_text(" there!"), oa_finish("stop"), oa_usage(19, 3))
OA_TEXT_EXPECT = {
    "text": "Hello there!",
    "reasoning": "",
    "refusal": "",
    "tool_calls": [],
    "signatures": [],
    "finish": "stop",
    "usage": {"input_tokens": 19, "output_tokens": 3},
}
# No include_usage: no usage chunk (§2.2).
OA_TEXT_NO_USAGE = openai(oa_role(), oa_text("Hello"), oa_text(" there!"), oa_finish("stop"))

# A tool call split as OpenAI splits it (§2.3): e0 role + header, e1-e5 arguments, e6 finish, e7 usage.
OA_TOOL = openai(
    oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
    oa_calls(args(0, '{"')),
    oa_calls(args(0, "city")),
    oa_calls(args(0, '":"')),
    oa_calls(args(0, "Paris")),
    oa_calls(args(0, '"}')),
    oa_finish("tool_calls"),
    oa_usage(61, 15),
)
OA_TOOL_EXPECT = {
    "text": "",
    "tool_calls": [{"id": CALL_A, "name": "get_weather", "arguments": {"city": "Paris"}}],
    "finish": "tool_calls",
    "usage": {"input_tokens": 61, "output_tokens": 15},
}

# Two parallel calls, not interleaved (§2.3): e0 call 0 header, e1-e2 args, e3 call 1 header, e4-e5 args.
OA_PARALLEL = openai(
    oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
    oa_calls(args(0, '{"city":')),
    oa_calls(args(0, ' "Paris"}')),
    oa_calls(head(1, CALL_B, "get_time")),
    oa_calls(args(1, '{"tz":')),
    oa_calls(args(1, ' "Europe/Paris"}')),
    oa_finish("tool_calls"),
    oa_usage(80, 41),
)
OA_PARALLEL_EXPECT = {
    "text": "",
    "tool_calls": [
        {"id": CALL_A, "name": "get_weather", "arguments": {"city": "Paris"}},
        {"id": CALL_B, "name": "get_time", "arguments": {"tz": "Europe/Paris"}},
    ],
    "finish": "tool_calls",
    "usage": {"input_tokens": 80, "output_tokens": 41},
}
# ollama #15457, plexus #691: every parallel call at index 0 (#16, #17). e3 brings CALL_B to index 0.
OA_PARALLEL_ALL_INDEX_0 = openai(
    oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
    oa_calls(args(0, '{"city":')),
    oa_calls(args(0, ' "Paris"}')),
    oa_calls(head(0, CALL_B, "get_time")),
    oa_calls(args(0, '{"tz":')),
    oa_calls(args(0, ' "Europe/Paris"}')),
    oa_finish("tool_calls"),
    oa_usage(80, 41),
)

# A proxy that lost the second call's header: both calls' fragments land in one call at index 0.
OA_PARALLEL_MERGED = openai(
    oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
    oa_calls(args(0, '{"city":')),
    oa_calls(args(0, ' "Paris"}')),
    oa_calls(args(0, '{"tz":')),
    oa_calls(args(0, ' "Europe/Paris"}')),
    oa_finish("tool_calls"),
    oa_usage(80, 41),
)

# Forced named tool_choice: OpenAI finishes with "stop" although it called the tool (§2.3, 2026-05).
OA_FORCED = openai(
    oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
    oa_calls(args(0, '{"city":"Paris"}')),
    oa_finish("stop"),
    oa_usage(70, 9),
)

# A tool call whole in one delta, "index" after "function" (Groq, xAI; §3, §4).
OA_WHOLE = openai(
    oa_role(None),
    oa_calls(
        {
            "id": CALL_A,
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            "index": 0,
        }
    ),
    oa_finish("tool_calls"),
    oa_usage(70, 9),
)

# A tool with no arguments: arguments stay "" (means {}).
OA_NO_ARGS = openai(oa_role(None, tool_calls=[head(0, CALL_A, "get_time")]), oa_finish("tool_calls"), oa_usage(50, 7))

# Mid-stream error (§8): e0 role, e1-e2 text, e3 the spaced error frame, then EOF: no finish, no [DONE].
OA_ERROR = openai(oa_role(), oa_text("Here"), oa_text(" is"), OPENAI_ERROR_FRAME, done=False)
OA_ERROR_EXPECT = {"text": "Here is", "tool_calls": [], "finish": None}

# OpenRouter mid-stream error (§8): an ordinary-looking chunk with a top-level error and finish_reason "error".
OPENROUTER_ERROR_CHUNK = {
    "id": OR_ID,
    "object": "chat.completion.chunk",
    "created": CREATED,
    "model": "openai/gpt-4o",
    "provider": "openai",
    "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
}
OA_OPENROUTER_ERROR = openai(oa_role(), oa_text("Here"), oa_text(" is"), OPENROUTER_ERROR_CHUNK, done=False)

# n=3 (§2.3): one choice per chunk, indices interleaved, three finish chunks, then the usage chunk.
OA_N3 = openai(
    oa_role(index=0), oa_text("Red", index=0),
    oa_role(index=1), oa_text("Green", index=1),
    oa_role(index=2), oa_text("Blue", index=2),
    oa_finish("stop", index=0), oa_finish("stop", index=1), oa_finish("stop", index=2),
    oa_usage(12, 3),
)  # fmt: skip

# DeepSeek reasoner (§3): `: keep-alive`, reasoning_content with content null, usage on the finish chunk.
DS_USAGE = {**usage_of(15, 40, reasoning=30), "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 15}
OA_DEEPSEEK = openai(
    ": keep-alive\n\n",
    ds({"role": "assistant", "content": None, "reasoning_content": ""}),
    ds({"content": None, "reasoning_content": "9.11 vs 9.9:"}),
    ds({"content": None, "reasoning_content": " compare the tenths, 9 > 1."}),
    ds({"content": "9.9", "reasoning_content": None}),
    ds({"content": " is larger.", "reasoning_content": None}),
    ds({"content": "", "reasoning_content": None}, "stop", DS_USAGE),
)
OA_DEEPSEEK_EXPECT = {
    "text": "9.9 is larger.",
    "reasoning": "9.11 vs 9.9: compare the tenths, 9 > 1.",
    "finish": "stop",
    "usage": {"input_tokens": 15, "output_tokens": 40},
}

# vLLM >= 0.11 (§3): `reasoning`, then content with reasoning null.
OA_VLLM = openai(
    oa_role(None, reasoning=""),
    oa({"content": None, "reasoning": "Two plus two"}),
    oa({"content": None, "reasoning": " is four."}),
    oa({"content": "4", "reasoning": None}),
    oa_finish("stop"),
    oa_usage(10, 12),
)

# OpenRouter (§3): reasoning and reasoning_details with the same text, role in every delta,
# then `"reasoning":null,"reasoning_details":[]` once content starts.
OA_OPENROUTER_REASONING = openai(
    ": OPENROUTER PROCESSING\n\n",
    or_reasoning("We"),
    or_reasoning(" need 4."),
    orr({"content": "4", "reasoning": None, "reasoning_details": []}),
    orr({"content": "", "reasoning": None, "reasoning_details": []}, "stop"),
)

# =========================================================================================
# Anthropic Messages events (WIRE-FACTS §5.2-§5.4)
# =========================================================================================

MSG_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"
AMODEL = "claude-sonnet-4-5-20250929"
TOOLU_A = "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
TOOLU_B = "toolu_01Lk7c3zQeVbYp9m2WsA8nHd"
SRVTOOLU = "srvtoolu_01neq7Q1Z17oYQo2NkY42GM6"
SIG = "EkS49DUbqMpqSfbtD/VYyTkDlIEbxl6bG+zv271kFAN1Pk+SGw+2UcX9muZJDcOiJCLzV1F/kUCjFxAd78NsWW6WyFlccwiL5hD/Fp0bI+WuAeeq4Z82T1x5PlB7dG9aRQ=="
ANTHROPIC_REQUEST = {
    "model": AMODEL,
    "max_tokens": 1024,
    "stream": True,
    "messages": [{"role": "user", "content": "Say hello."}],
}


def message_start(input_tokens: int = 25, output_tokens: int = 1) -> dict[str, Any]:
    """message_start with the full Message and usage as claude-sonnet-4-5 sends it (§5.2)."""
    return {
        "type": "message_start",
        "message": {
            "model": AMODEL,
            "id": MSG_ID,
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": output_tokens,
                "service_tier": "standard",
            },
        },
    }


def block_start(i: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": i, "content_block": block}


def text_start(i: int, *, citations: bool = False) -> dict[str, Any]:
    return block_start(i, {"citations": [], "type": "text", "text": ""} if citations else {"type": "text", "text": ""})


def tool_start(
    i: int,
    tool_id: str = TOOLU_A,
    name: str = "get_weather",
    tool_input: dict[str, Any] | None = None,
    kind: str = "tool_use",
) -> dict[str, Any]:
    return block_start(
        i, {"type": kind, "id": tool_id, "name": name, "input": {} if tool_input is None else tool_input}
    )


def thinking_start(i: int, signature: str | None = "") -> dict[str, Any]:
    """claude-sonnet-4-5 starts with `"signature":""`; sonnet-4 and the docs send no key (§5.4)."""
    block: dict[str, Any] = {"type": "thinking", "thinking": ""}
    if signature is not None:
        block["signature"] = signature
    return block_start(i, block)


def block_delta(i: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": i, "delta": delta}


def text_delta(i: int, text: str) -> dict[str, Any]:
    return block_delta(i, {"type": "text_delta", "text": text})


def json_delta(i: int, partial: str) -> dict[str, Any]:
    return block_delta(i, {"type": "input_json_delta", "partial_json": partial})


def thinking_delta(i: int, text: str) -> dict[str, Any]:
    return block_delta(i, {"type": "thinking_delta", "thinking": text})


def signature_delta(i: int, signature: str = SIG) -> dict[str, Any]:
    return block_delta(i, {"type": "signature_delta", "signature": signature})


def block_stop(i: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": i}


def message_delta(
    stop_reason: str | None = "end_turn", output_tokens: int = 12, *, input_tokens: int | None = None, **usage: Any
) -> dict[str, Any]:
    """message_delta; since 2025 its usage also carries cumulative input and cache counts (§5.4)."""
    counts: dict[str, Any] = {}
    if input_tokens is not None:
        counts = {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {**counts, "output_tokens": output_tokens, **usage},
    }


MESSAGE_STOP = {"type": "message_stop"}
PING = {"type": "ping"}


def error_event(kind: str = "overloaded_error", message: str = "Overloaded") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def named(name: str | None, data: dict[str, Any] | str) -> str:
    """One event with an explicit name (None: a bare `data:` event)."""
    payload = data if isinstance(data, str) else compact(data)
    return (f"event: {name}\n" if name is not None else "") + f"data: {payload}\n\n"


def padded(data: dict[str, Any], spaces: int = 5) -> str:
    """Size-obfuscation padding inside the data line: `{"type":"content_block_stop","index":0     }` (§5.4)."""
    return named(data["type"], compact(data)[:-1] + " " * spaces + "}")


def anthropic(*events: dict[str, Any] | str) -> bytes:
    """`event: <type>` + `data: <json>` per event; pings and errors with spaces as Anthropic writes them; str verbatim."""
    parts = []
    for event in events:
        if isinstance(event, str):
            parts.append(event)
        elif event.get("type") in ("ping", "error"):
            parts.append(named(event["type"], json.dumps(event)))
        else:
            parts.append(named(event["type"], event))
    return "".join(parts).encode("utf-8")


# ------------------------------------------------------------------------- Anthropic streams

# e0 message_start, e1 text start, e2 text, e3 ping between deltas, e4 text, e5 stop, e6 message_delta, e7 message_stop
AN_TEXT = anthropic(
    message_start(25),
    text_start(0),
    text_delta(0, "Hello"),
    PING,
    text_delta(0, " there!"),
    block_stop(0),
    message_delta("end_turn", 12),
    MESSAGE_STOP,
)
AN_TEXT_EXPECT = {
    "text": "Hello there!",
    "reasoning": "",
    "refusal": "",
    "tool_calls": [],
    "signatures": [],
    "finish": "stop",
    "usage": {"input_tokens": 25, "output_tokens": 12},
}

# e0 start, e1-e3 text block, e4 tool start, e5 "" first delta, e6-e7 json, e8 stop, e9 message_delta, e10 stop
AN_TOOL = anthropic(
    message_start(412),
    text_start(0), text_delta(0, "I'll check the weather."), block_stop(0),
    tool_start(1, TOOLU_A, "get_weather"), json_delta(1, ""), json_delta(1, '{"city": "Par'), json_delta(1, 'is"}'), block_stop(1),
    message_delta("tool_use", 58, input_tokens=412),
    MESSAGE_STOP,
)  # fmt: skip
AN_TOOL_EXPECT = {
    "text": "I'll check the weather.",
    "tool_calls": [{"id": TOOLU_A, "name": "get_weather", "arguments": {"city": "Paris"}}],
    "finish": "tool_calls",
    "usage": {"input_tokens": 412, "output_tokens": 58},
}

# A tool with no arguments: only the empty first delta (§5.4; vercel/ai anthropic-tool-no-args).
AN_TOOL_NO_ARGS = anthropic(
    message_start(390),
    tool_start(0, TOOLU_B, "get_time"),
    json_delta(0, ""),
    block_stop(0),
    message_delta("tool_use", 31),
    MESSAGE_STOP,
)
AN_TOOL_NO_ARGS_EXPECT = {
    "text": "",
    "tool_calls": [{"id": TOOLU_B, "name": "get_time", "arguments": {}}],
    "finish": "tool_calls",
    "usage": {"input_tokens": 390, "output_tokens": 31},
}

# Thinking (§5.3 rule 4, §5.4): start with "signature":"", a ping, deltas, one signature_delta last.
# e0 start, e1 thinking start, e2 ping, e3-e4 thinking, e5 signature, e6 stop, e7-e9 text block, e10 message_delta, e11 stop
AN_THINKING = anthropic(
    message_start(46),
    thinking_start(0, ""), PING, thinking_delta(0, "17 × 20 = 340"), thinking_delta(0, ", plus 51 is 391."), signature_delta(0), block_stop(0),
    text_start(1), text_delta(1, "17 × 23 = 391."), block_stop(1),
    message_delta("end_turn", 71, input_tokens=46),
    MESSAGE_STOP,
)  # fmt: skip
AN_THINKING_EXPECT = {
    "text": "17 × 23 = 391.",
    "reasoning": "17 × 20 = 340, plus 51 is 391.",
    "tool_calls": [],
    "signatures": [SIG],
    "finish": "stop",
    "usage": {"input_tokens": 46, "output_tokens": 71},
}

WEB_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": SRVTOOLU,
    "content": [
        {
            "type": "web_search_result",
            "title": "Tokyo - Wikipedia",
            "url": "https://en.wikipedia.org/wiki/Tokyo",
            "encrypted_content": "EslMq1Prg2/lKf9y6QJ",
            "page_age": None,
        }
    ],
}
CITATION = {
    "type": "web_search_result_location",
    "cited_text": "Tokyo's population is estimated at 14,192,184 as of January 1, 2025.",
    "url": "https://en.wikipedia.org/wiki/Tokyo",
    "title": "Tokyo - Wikipedia",
    "encrypted_index": "Eu4BvOTIbjH6MJcD1B7x3vfKiM4l",
}
# Server tools (§5.1, §5.4): server_tool_use with an empty first delta, a result block with no
# delta, citations, pings between blocks and before message_delta, padding inside a data line.
# e0 start, e1-e3 text, e4 server_tool_use, e5 "", e6 json, e7 padded stop, e8 result start, e9 stop,
# e10 ping, e11 text start (citations), e12 citations_delta, e13 padded text, e14 stop, e15 ping, e16 message_delta, e17 stop
AN_WEB_SEARCH = anthropic(
    message_start(2310),
    text_start(0), text_delta(0, "I'll search for that."), block_stop(0),
    tool_start(1, SRVTOOLU, "web_search", kind="server_tool_use"), json_delta(1, ""), json_delta(1, '{"query": "Tokyo population 2025"}'), padded(block_stop(1)),
    block_start(2, WEB_RESULT), block_stop(2),
    PING,
    text_start(3, citations=True), block_delta(3, {"type": "citations_delta", "citation": CITATION}), padded(text_delta(3, "About 14.2 million people."), 3), block_stop(3),
    PING,
    message_delta("end_turn", 142, input_tokens=8745, server_tool_use={"web_search_requests": 1}),
    MESSAGE_STOP,
)  # fmt: skip
AN_WEB_SEARCH_EXPECT = {
    "text": "I'll search for that.About 14.2 million people.",
    "tool_calls": [],
    "finish": "stop",
    "usage": {"input_tokens": 8745, "output_tokens": 142},
    "server_tools": [
        {"type": "server_tool_use", "id": SRVTOOLU, "name": "web_search", "input": {"query": "Tokyo population 2025"}},
        {"type": "web_search_tool_result", "id": SRVTOOLU},
    ],
    "citations": [CITATION],
}

# Mid-stream error as recorded (§8, coder/aibridge error.txtar): after content_block_start and a
# ping, event: error, then EOF: no content_block_stop, message_delta or message_stop.
# e0 start, e1 text start, e2 ping, e3 error
AN_ERROR_RECORDED = anthropic(message_start(18), text_start(0), PING, error_event("api_error", "Overloaded"))
# The same with a text delta before the error (corpus error-mid-stream): e3 text, e4 error.
AN_ERROR = anthropic(message_start(18), text_start(0), PING, text_delta(0, "The lighthouse keeper"), error_event())
AN_ERROR_EXPECT = {"text": "The lighthouse keeper", "tool_calls": [], "finish": None}

# =========================================================================================
# Framing variants (§1): every sse.* invariant must pass them
# =========================================================================================


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\n", b"\r\n")


def cr_only(raw: bytes) -> bytes:
    return raw.replace(b"\n", b"\r")


def no_space(raw: bytes) -> bytes:
    """`data:{…}` and `event:x` without the optional space (§1 corollaries; DashScope)."""
    return re.sub(rb"(?m)^(data|event): ", rb"\1:", raw)


def with_comments(raw: bytes) -> bytes:
    """`: OPENROUTER PROCESSING` before the first event and `: keep-alive` between events (#31)."""
    events = raw.split(b"\n\n")
    return b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n" + b"\n\n: keep-alive\n\n".join(events)


def comment_lines_inside_events(raw: bytes) -> bytes:
    """A `: ping` comment line inside each event, before its data line."""
    return re.sub(rb"(?m)^data:", b": ping\ndata:", raw)


FRAMINGS = {
    "crlf": crlf,
    "cr-only": cr_only,
    "data-without-space": no_space,
    "comments-between-events": with_comments,
    "comment-lines-inside-events": comment_lines_inside_events,
}

# =========================================================================================
# The table
# =========================================================================================

Should = Literal["pass", "fail"]
_UNSET: Any = object()


@dataclass(frozen=True)
class Case:
    invariant: str
    name: str
    stream: bytes
    protocol: str
    request: dict[str, Any] | None = None
    expect: dict[str, Any] | None = None
    negative: dict[str, Any] | None = None
    should: Should = "pass"
    message: str = ""
    """For a failing case: a substring of the first violation's message."""
    event: Any = _UNSET
    """For a failing case: the first violation's event index (None when it points at no event)."""
    chunks: list[bytes] | None = None
    usage_requested: bool = True
    status: int = 200
    ending: str = "complete"
    expect_protocol: str | None = None
    marks: tuple[Any, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.invariant}-{self.name}"


def P(invariant: str, name: str, stream: bytes, protocol: str, **kw: Any) -> Case:
    return Case(invariant, name, stream, protocol, should="pass", **kw)


def F(invariant: str, name: str, stream: bytes, protocol: str, *, message: str, event: int | None, **kw: Any) -> Case:
    return Case(invariant, name, stream, protocol, should="fail", message=message, event=event, **kw)


def every_byte(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


NEG_CUT = {"kind": "cut-off", "reason": "EOF after the second text chunk"}
NEG_ERROR = {"kind": "upstream-error", "reason": "server_error after the second text chunk"}

# ----------------------------------------------------------------------------- sse.* (§1)

SSE_CASES = [
    P("sse.utf8", "multibyte-text", openai(oa_role(), oa_text("São Paulo, 東京 😀"), oa_finish("stop")), OA),
    P(
        "sse.utf8",
        "multibyte-split-across-reads",
        openai(oa_role(), oa_text("São Paulo, 東京 😀"), oa_finish("stop")),
        OA,
        chunks=every_byte(openai(oa_role(), oa_text("São Paulo, 東京 😀"), oa_finish("stop"))),
    ),
    P("sse.utf8", "anthropic-thinking-multibyte", AN_THINKING, AN),
    # A proxy re-encoding text as Latin-1 (#33): "São" as b"S\xe3o".
    F(
        "sse.utf8",
        "latin1-bytes",
        openai(oa_role(), oa_text("São Paulo")).replace("São".encode(), "São".encode("latin-1")),
        OA,
        message="invalid-utf8 at byte",
        event=None,
    ),
    F(
        "sse.utf8",
        "lone-continuation-byte-anthropic",
        AN_TEXT.replace(b"Hello", b"Hel\x80lo"),
        AN,
        message="invalid-utf8",
        event=None,
    ),
    P("sse.event-terminated", "openai-text", OA_TEXT, OA),
    P("sse.event-terminated", "anthropic-text", AN_TEXT, AN),
    P(
        "sse.event-terminated",
        "crlf-split-between-cr-and-lf",
        crlf(OA_TEXT),
        OA,
        chunks=[piece for part in crlf(OA_TEXT).split(b"\r") for piece in (part, b"\r")][:-1],
    ),
    # The anthropic-sdk-python fixtures end without the final blank line (§11): message_stop is never dispatched.
    F(
        "sse.event-terminated",
        "anthropic-no-final-blank-line",
        AN_TEXT[:-1],
        AN,
        message="unterminated-event at byte",
        event=None,
    ),
    F(
        "sse.event-terminated",
        "openai-done-without-blank-line",
        OA_TEXT[:-2],
        OA,
        message="unterminated-event",
        event=None,
    ),
    P("sse.has-events", "openai-text", OA_TEXT, OA),
    P("sse.has-events", "anthropic-error-stream", AN_ERROR, AN),
    F("sse.has-events", "empty-body", b"", OA, message="carries no event", event=None),
    F(
        "sse.has-events",
        "only-keep-alive-comments",
        b": keep-alive\n\n: keep-alive\n\n",
        AN,
        message="carries no event",
        event=None,
    ),
    F(
        "sse.has-events",
        "event-name-without-data",
        b"event: message_start\n\n",
        AN,
        message="carries no event",
        event=None,
    ),
]
# Every framing WHATWG allows passes every sse.* invariant and leaves the payloads JSON.
for _framing, _reframe in FRAMINGS.items():
    for _stream_name, _raw, _protocol in (("openai", OA_TEXT, OA), ("anthropic", AN_THINKING, AN)):
        for _inv in (
            "sse.utf8",
            "sse.event-terminated",
            "sse.has-events",
            "openai.data.json" if _protocol == OA else "anthropic.data.json",
        ):
            SSE_CASES.append(P(_inv, f"{_stream_name}-{_framing}", _reframe(_raw), _protocol))
    SSE_CASES.append(P("openai.sse.data-only", f"openai-{_framing}", _reframe(OA_TEXT), OA))
    SSE_CASES.append(P("anthropic.sse.named-events", f"anthropic-{_framing}", _reframe(AN_THINKING), AN))
    SSE_CASES.append(P("anthropic.sse.event-matches-type", f"anthropic-{_framing}", _reframe(AN_THINKING), AN))

# -------------------------------------------------------------------- openai framing (O1, O9)

OPENAI_FRAMING_CASES = [
    P("openai.sse.data-only", "text", OA_TEXT, OA),
    P("openai.sse.data-only", "deepseek-keep-alive", OA_DEEPSEEK, OA),
    P("openai.sse.data-only", "openrouter-processing-comments", OA_OPENROUTER_REASONING, OA),
    # §7.2: an Anthropic ping leaked into an OpenAI stream is yielded as a bogus chunk. e1 is the ping.
    F(
        "openai.sse.data-only",
        "anthropic-ping-leaked",
        openai(oa_role(), named("ping", json.dumps(PING)), oa_text("Hi"), oa_finish("stop")),
        OA,
        message="SSE field other than data",
        event=1,
    ),
    # §7.1 deviation 2: an id line makes openai-python dispatch an empty event on every extra blank line.
    F(
        "openai.sse.data-only",
        "id-lines",
        openai(oa_role(), "id: 1\ndata: " + compact(oa_text("Hi")) + "\n\n", oa_finish("stop")),
        OA,
        message="SSE field other than data",
        event=1,
    ),
    # §7.1 deviation 1: `event:` without `data:` is dispatched by openai-python with data "" -> JSONDecodeError.
    P("openai.sse.no-dataless-event", "text", OA_TEXT, OA),
    F(
        "openai.sse.no-dataless-event",
        "event-line-without-data",
        openai(oa_role(), "event: ping\n\n", oa_text("Hi"), oa_finish("stop")),
        OA,
        message="without data",
        event=None,
    ),
    P("openai.data.json", "text", OA_TEXT, OA),
    P("openai.data.json", "error-frame-with-spaces", OA_ERROR, OA),
    P("openai.data.json", "done-with-trailing-space", OA_TEXT.replace(b"data: [DONE]", b"data: [DONE] "), OA),
    F(
        "openai.data.json",
        "truncated-json",
        openai(
            oa_role(),
            'data: {"id":"'
            + CHAT_ID
            + '","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel\n\n',
            oa_finish("stop"),
        ),
        OA,
        message="data is not a JSON object",
        event=1,
    ),
    # A proxy writing str(dict) instead of JSON.
    F(
        "openai.data.json",
        "python-repr",
        openai(oa_role(), "data: {'choices': [{'index': 0, 'delta': {'content': 'Hi'}}]}\n\n", oa_finish("stop")),
        OA,
        message="data is not a JSON object",
        event=1,
    ),
    F(
        "openai.data.json",
        "json-array",
        openai(oa_role(), "data: [1, 2]\n\n"),
        OA,
        message="data is not a JSON object",
        event=1,
    ),
    P("openai.done.last", "text", OA_TEXT, OA),
    P("openai.done.last", "error-frame-without-done", OA_ERROR, OA),
    F(
        "openai.done.last",
        "done-twice",
        OA_TEXT + b"data: [DONE]\n\n",
        OA,
        message="[DONE] is not the last event",
        event=5,
    ),
    # openai-python stops at [DONE]: a usage chunk after it is lost (§7.2).
    F(
        "openai.done.last",
        "usage-after-done",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop"), "data: [DONE]\n\n", oa_usage(), done=False),
        OA,
        message="[DONE] is not the last event",
        event=3,
    ),
    P("openai.stream.terminated", "done", OA_TEXT, OA),
    P("openai.stream.terminated", "error-frame-no-done", OA_ERROR, OA),
    P("openai.stream.terminated", "openrouter-error-chunk", OA_OPENROUTER_ERROR, OA),
    # #28: EOF with no terminator.
    F(
        "openai.stream.terminated",
        "cut-off",
        openai(oa_role(), oa_text("In 1969,"), oa_text(" Apollo 11"), done=False),
        OA,
        message="ends without [DONE]",
        event=2,
    ),
    F(
        "openai.stream.terminated",
        "finish-but-no-done",
        OA_TEXT_NO_USAGE[: -len(b"data: [DONE]\n\n")],
        OA,
        message="ends without [DONE]",
        event=3,
    ),
    P("openai.error.last", "error-frame-last", OA_ERROR, OA),
    P("openai.error.last", "no-error", OA_TEXT, OA),
    P("openai.error.last", "openrouter-error-chunk-last", OA_OPENROUTER_ERROR, OA),
    F(
        "openai.error.last",
        "done-after-error",
        OA_ERROR + b"data: [DONE]\n\n",
        OA,
        message="events follow the error frame",
        event=4,
    ),
    F(
        "openai.error.last",
        "finish-after-error",
        openai(oa_role(), oa_text("Here"), OPENAI_ERROR_FRAME, oa_finish("stop")),
        OA,
        message="events follow the error frame",
        event=3,
    ),
    P("openai.error.schema", "openai-frame-with-spaces", OA_ERROR, OA),
    P("openai.error.schema", "openrouter-error-chunk", OA_OPENROUTER_ERROR, OA),
    P(
        "openai.error.schema",
        "openrouter-numeric-code",
        openai(
            {
                "error": {
                    "code": 400,
                    "message": "Provider returned error",
                    "metadata": {"provider_name": "Anthropic", "raw": "{}"},
                }
            },
            done=False,
        ),
        OA,
    ),
    F(
        "openai.error.schema",
        "error-is-a-string",
        openai(oa_role(), oa_text("Here"), 'data: {"error": "upstream timed out"}\n\n', done=False),
        OA,
        message="error frame breaks the schema",
        event=2,
    ),
    F(
        "openai.error.schema",
        "error-without-message",
        openai(oa_role(), 'data: {"error": {"type": "server_error", "detail": "boom"}}\n\n', done=False),
        OA,
        message="error frame breaks the schema",
        event=1,
    ),
]

# -------------------------------------------------------------------- chunk shape (O2, O10)

OLD_KEYS = ("usage", "service_tier", "obfuscation")  # absent in the 2024-09 recordings (§2.3)
AZURE_PLACEHOLDER = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    "system_fingerprint": None,
}
LOGPROBS = {
    "content": [
        {
            "token": "Hello",
            "logprob": -0.0001,
            "bytes": [72, 101, 108, 108, 111],
            "top_logprobs": [{"token": "Hello", "logprob": -0.0001, "bytes": [72, 101, 108, 108, 111]}],
        }
    ],
    "refusal": None,
}

CHUNK_CASES = [
    P("openai.chunk.schema", "text-2025", OA_TEXT, OA),
    P("openai.chunk.schema", "tool-call", OA_TOOL, OA),
    P("openai.chunk.schema", "n3", OA_N3, OA),
    P("openai.chunk.schema", "deepseek-reasoning-content-null", OA_DEEPSEEK, OA),
    P("openai.chunk.schema", "vllm-reasoning", OA_VLLM, OA),
    # 2024-09 recordings: no usage, service_tier or obfuscation keys (§2.3 field evolution).
    P(
        "openai.chunk.schema",
        "2024-no-usage-key",
        openai(
            chunk(choice({"role": "assistant", "content": "", "refusal": None}), drop=OLD_KEYS),
            chunk(choice({"content": "Hi"}), drop=OLD_KEYS),
            chunk(choice({}, "stop"), drop=OLD_KEYS),
        ),
        OA,
    ),
    P(
        "openai.chunk.schema",
        "logprobs",
        openai(
            oa_role(),
            chunk({"index": 0, "delta": {"content": "Hello"}, "logprobs": LOGPROBS, "finish_reason": None}),
            oa_finish("stop"),
        ),
        OA,
    ),
    P(
        "openai.chunk.schema",
        "refusal",
        openai(
            oa({"role": "assistant", "content": None, "refusal": ""}),
            oa({"refusal": "I can't help with that."}),
            oa_finish("stop"),
        ),
        OA,
    ),
    # Azure model-router placeholder first chunk (§2.4): object "", id "", created 0.
    F(
        "openai.chunk.schema",
        "azure-placeholder",
        openai(AZURE_PLACEHOLDER, oa_role(), oa_finish("stop")),
        OA,
        message="chunk breaks the schema",
        event=0,
    ),
    # O5: OpenRouter's finish_reason "error" must be mapped into the enum.
    F(
        "openai.chunk.schema",
        "finish-reason-error",
        openai(oa_role(), oa_text("Hi"), oa_finish("error")),
        OA,
        message="chunk breaks the schema",
        event=2,
    ),
    # Copilot→Claude: no object key (§4).
    F(
        "openai.chunk.schema",
        "no-object",
        openai(oa_role(), chunk(choice({"content": "Hi"}), drop=("object",)), oa_finish("stop")),
        OA,
        message="chunk breaks the schema",
        event=1,
    ),
    P("openai.chunk.identity-stable", "text-with-usage-chunk", OA_TEXT, OA),
    P("openai.chunk.identity-stable", "n3", OA_N3, OA),
    F(
        "openai.chunk.identity-stable",
        "azure-placeholder-first-chunk",
        openai(AZURE_PLACEHOLDER, oa_role(), oa_finish("stop")),
        OA,
        message="identity changed",
        event=1,
    ),
    F(
        "openai.chunk.identity-stable",
        "id-regenerated-per-chunk",
        openai(oa_role(), oa({"content": "Hi"}, id="chatcmpl-other"), oa_finish("stop")),
        OA,
        message="identity changed",
        event=1,
    ),
    F(
        "openai.chunk.identity-stable",
        "model-renamed-on-usage-chunk",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop"), chunk(usage=usage_of(1, 1), model="gpt-4.1")),
        OA,
        message="identity changed",
        event=3,
    ),
    P("openai.choice.one-per-chunk", "n3-interleaved", OA_N3, OA),
    P("openai.choice.one-per-chunk", "usage-chunk-no-choices", OA_TEXT, OA),
    F(
        "openai.choice.one-per-chunk",
        "two-choices-in-one-chunk",
        openai(
            oa_role(),
            chunk(choice({"content": "Red"}, index=0), choice({"content": "Green"}, index=1)),
            oa_finish("stop"),
        ),
        OA,
        message="several choices",
        event=1,
    ),
]

# ------------------------------------------------------------------------ deltas (O3, O4)

# Qwen/DashScope (§3, §4): later tool deltas repeat `"id":""` and `"type":"function"`. e1 repeats.
OA_QWEN_TOOL = openai(
    oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
    oa_calls({"index": 0, "id": "", "type": "function", "function": {"arguments": '{"city":'}}),
    oa_calls({"index": 0, "id": "", "type": "function", "function": {"arguments": ' "Paris"}'}}),
    oa_finish("tool_calls"),
)
# Copilot→Claude (§4): text, then the tool call at index 1. e2 is the header.
OA_COPILOT_INDEX_1 = openai(
    oa_role(),
    oa_text("Let me check."),
    oa_calls(head(1, CALL_A, "get_weather", '{"city":"Paris"}')),
    oa_finish("tool_calls"),
)

DELTA_CASES = [
    P("openai.role.first-delta-only", "text", OA_TEXT, OA),
    P("openai.role.first-delta-only", "n3-role-per-choice", OA_N3, OA),
    P("openai.role.first-delta-only", "deepseek", OA_DEEPSEEK, OA),
    P("openai.role.first-delta-only", "tool-call", OA_TOOL, OA),
    # OpenRouter/Together/Copilot repeat role (§4; the accumulator builds "assistantassistant", §7.3).
    F(
        "openai.role.first-delta-only",
        "role-in-every-delta",
        OA_OPENROUTER_REASONING,
        OA,
        message="role repeated",
        event=1,
    ),
    F(
        "openai.role.first-delta-only",
        "role-on-finish-delta",
        openai(oa_role(), oa_text("Hi"), oa({"role": "assistant"}, "stop")),
        OA,
        message="role repeated",
        event=2,
    ),
    P("openai.tool.header-once", "split-arguments", OA_TOOL, OA),
    P("openai.tool.header-once", "parallel", OA_PARALLEL, OA),
    P("openai.tool.header-once", "whole-in-one-delta", OA_WHOLE, OA),
    # Qwen repeats an empty id: openai-python concatenates "" harmlessly.
    P("openai.tool.header-once", "qwen-empty-id-and-type-repeated", OA_QWEN_TOOL, OA),
    F(
        "openai.tool.header-once",
        "id-repeated",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls({"index": 0, "id": CALL_A, "function": {"arguments": "{}"}}),
            oa_finish("tool_calls"),
        ),
        OA,
        message="header repeated",
        event=1,
    ),
    # LiteLLM repeats "type":"function" in every delta; the accumulator never concatenates type (§7.3).
    P(
        "openai.tool.header-once",
        "type-repeated",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls({"index": 0, "type": "function", "function": {"arguments": "{}"}}),
            oa_finish("tool_calls"),
        ),
        OA,
    ),
    # z.ai GLM: `"name":""` in continuation deltas: harmless, "" concatenates to nothing.
    P(
        "openai.tool.header-once",
        "empty-name-repeated",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls({"index": 0, "function": {"name": "", "arguments": "{}"}}),
            oa_finish("tool_calls"),
        ),
        OA,
    ),
    F(
        "openai.tool.header-once",
        "name-repeated",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls({"index": 0, "function": {"name": "get_weather", "arguments": "{}"}}),
            oa_finish("tool_calls"),
        ),
        OA,
        message="header repeated",
        event=1,
    ),
    P("openai.tool.first-delta-named", "split-arguments", OA_TOOL, OA),
    P("openai.tool.first-delta-named", "parallel", OA_PARALLEL, OA),
    P("openai.tool.first-delta-named", "whole-in-one-delta", OA_WHOLE, OA),
    P("openai.tool.first-delta-named", "copilot-index-1", OA_COPILOT_INDEX_1, OA),
    F(
        "openai.tool.first-delta-named",
        "first-delta-without-id",
        openai(
            oa_role(),
            oa_calls({"index": 0, "type": "function", "function": {"name": "get_weather", "arguments": ""}}),
            oa_calls(args(0, "{}")),
            oa_finish("tool_calls"),
        ),
        OA,
        message="lacks its id or name",
        event=1,
    ),
    F(
        "openai.tool.first-delta-named",
        "arguments-before-header",
        openai(
            oa_role(),
            oa_calls(args(0, '{"city":')),
            oa_calls(head(0, CALL_A, "get_weather", ' "Paris"}')),
            oa_finish("tool_calls"),
        ),
        OA,
        message="lacks its id or name",
        event=1,
    ),
    P("openai.tool.index-dense", "parallel", OA_PARALLEL, OA),
    P("openai.tool.index-dense", "single", OA_TOOL, OA),
    F(
        "openai.tool.index-dense",
        "copilot-first-index-1",
        OA_COPILOT_INDEX_1,
        OA,
        message="does not take the next index",
        event=2,
    ),
    F(
        "openai.tool.index-dense",
        "gap",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather", "{}")]),
            oa_calls(head(2, CALL_B, "get_time", "{}")),
            oa_finish("tool_calls"),
        ),
        OA,
        message="does not take the next index",
        event=1,
    ),
    P("openai.tool.index-per-id", "parallel", OA_PARALLEL, OA),
    P("openai.tool.index-per-id", "qwen-empty-id-continuation", OA_QWEN_TOOL, OA),
    F(
        "openai.tool.index-per-id",
        "all-calls-at-index-0",
        OA_PARALLEL_ALL_INDEX_0,
        OA,
        message="reuses an index",
        event=3,
    ),
    P("openai.tool.arguments-json", "split-arguments", OA_TOOL, OA),
    P("openai.tool.arguments-json", "whole-in-one-delta", OA_WHOLE, OA),
    P(
        "openai.tool.arguments-json",
        "no-arguments-sent-as-braces",
        openai(oa_role(None, tool_calls=[head(0, CALL_A, "get_time", "{}")]), oa_finish("tool_calls")),
        OA,
    ),
    # BerriAI/litellm#5063: a finished call whose arguments are "" makes clients that parse them raise.
    F("openai.tool.arguments-json", "no-arguments-left-empty", OA_NO_ARGS, OA, message="empty arguments", event=None),
    # "" is legal as a first fragment, before the real ones.
    P(
        "openai.tool.arguments-json",
        "empty-first-fragment",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_time", "")]),
            oa_calls(args(0, "{}")),
            oa_finish("tool_calls"),
        ),
        OA,
    ),
    P("openai.tool.arguments-json", "parallel", OA_PARALLEL, OA),
    # Ollama gives every parallel call index 0, each with its own id: read by id, each call is whole.
    P("openai.tool.arguments-json", "ollama-index-reused", OA_PARALLEL_ALL_INDEX_0, OA),
    F(
        "openai.tool.arguments-json",
        "parallel-merged-at-index-0",
        OA_PARALLEL_MERGED,
        OA,
        message="are not a JSON object",
        event=None,
    ),
    # vllm #34887 (#11): fragments that concatenate to invalid JSON.
    F(
        "openai.tool.arguments-json",
        "fragment-lost",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "run")]),
            oa_calls(args(0, 'code": "uptime"}')),
            oa_finish("tool_calls"),
        ),
        OA,
        message="are not a JSON object",
        event=None,
    ),
    F(
        "openai.tool.arguments-json",
        "array-not-object",
        openai(oa_role(None, tool_calls=[head(0, CALL_A, "run", "[1, 2]")]), oa_finish("tool_calls")),
        OA,
        message="are not a JSON object",
        event=None,
    ),
    # A real OpenAI stream: max_tokens reached inside the arguments, finish_reason "length".
    P(
        "openai.tool.arguments-json",
        "length-cuts-arguments",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "write_file")]),
            oa_calls(args(0, '{"path": "notes.md", "content": "# Title')),
            oa_finish("length"),
            oa_usage(40, 16),
        ),
        OA,
    ),
    P(
        "openai.tool.arguments-json",
        "error-frame-inside-arguments",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls(args(0, '{"city":')),
            OPENAI_ERROR_FRAME,
            done=False,
        ),
        OA,
    ),
]

# ------------------------------------------------------------------------- finish (O5, O6)

FINISH_CASES = [
    P("openai.finish.once", "text", OA_TEXT, OA),
    P("openai.finish.once", "n3-three-finish-chunks", OA_N3, OA),
    P("openai.finish.once", "deepseek-usage-on-finish", OA_DEEPSEEK, OA),
    P("openai.finish.once", "tool-call", OA_TOOL, OA),
    # OpenRouter #19: a second tool_calls finish chunk, carrying usage. e7 is the duplicate.
    F(
        "openai.finish.once",
        "duplicate-finish",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls(args(0, '{"city":"Paris"}')),
            oa_finish("tool_calls"),
            oa_finish("tool_calls", usage=usage_of(70, 9)),
        ),
        OA,
        message="a second finish",
        event=3,
    ),
    # vllm #36944 / LiteLLM: content flushed after the finish chunk.
    F(
        "openai.finish.once",
        "content-after-finish",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop"), oa_text("!")),
        OA,
        message="or content, after",
        event=3,
    ),
    # LiteLLM's trailing usage chunk keeps a choice with an empty delta: openai-python keeps the finish.
    P(
        "openai.finish.once",
        "empty-delta-after-finish",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop"), oa({}, None, usage=usage_of(9, 1))),
        OA,
    ),
    P("openai.finish.last", "text", OA_TEXT, OA),
    P("openai.finish.last", "n3-three-finish-chunks", OA_N3, OA),
    F(
        "openai.finish.last",
        "empty-delta-after-finish",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop"), oa({}, None, usage=usage_of(9, 1))),
        OA,
        message="after its finish chunk",
        event=3,
    ),
    P("openai.finish.tool-calls-has-calls", "tool-call", OA_TOOL, OA),
    P("openai.finish.tool-calls-has-calls", "forced-tool-choice-stop", OA_FORCED, OA),
    # Mistral-style: the whole call arrives in the finish chunk itself (§3).
    P(
        "openai.finish.tool-calls-has-calls",
        "call-in-finish-chunk",
        openai(oa_role(None), oa({"tool_calls": [head(0, CALL_A, "get_weather", '{"city":"Paris"}')]}, "tool_calls")),
        OA,
    ),
    # #15: tool_calls finish with the call dropped.
    F(
        "openai.finish.tool-calls-has-calls",
        "tool-calls-without-call",
        openai(oa_role(), oa_text("Let me check."), oa_finish("tool_calls")),
        OA,
        message="tool_calls without any tool call",
        event=2,
    ),
    F(
        "openai.finish.tool-calls-has-calls",
        "n3-second-choice-without-call",
        openai(
            oa_role(None, index=0, tool_calls=[head(0, CALL_A, "get_weather", "{}")]),
            oa_role(index=1),
            oa_finish("tool_calls", index=0),
            oa_finish("tool_calls", index=1),
        ),
        OA,
        message="tool_calls without any tool call",
        event=3,
    ),
]

# ---------------------------------------------------------------------------------- usage (O7)

USAGE_CASES = [
    P("openai.usage.placement", "include-usage", OA_TEXT, OA, request=USAGE_REQUEST),
    P("openai.chunk.has-choice", "no-include-usage", OA_TEXT_NO_USAGE, OA, request=PLAIN_REQUEST),
    P("openai.usage.placement", "n3-usage-after-three-finishes", OA_N3, OA, request=USAGE_REQUEST),
    P("openai.usage.placement", "tool-call", OA_TOOL, OA, request=USAGE_REQUEST),
    # §2.2: "If the stream is interrupted, you may not receive the final usage chunk."
    P("openai.usage.placement", "error-frame-no-usage-chunk", OA_ERROR, OA, request=USAGE_REQUEST),
    # #23: usage chunk missing despite include_usage.
    F(
        "openai.usage.placement",
        "usage-missing",
        OA_TEXT_NO_USAGE,
        OA,
        request=USAGE_REQUEST,
        message="exactly one choices:[] chunk",
        event=None,
    ),
    # #22: choices:[] chunk without include_usage (IndexError in naive clients).
    F(
        "openai.chunk.has-choice",
        "usage-chunk-not-requested",
        OA_TEXT,
        OA,
        request=PLAIN_REQUEST,
        message="did not ask for usage",
        event=4,
    ),
    # DeepSeek/Groq put usage on the finish chunk (§4): a proxy must move it to a choices:[] chunk.
    F(
        "openai.usage.placement",
        "usage-on-finish-chunk",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop", usage=usage_of(9, 1))),
        OA,
        request=USAGE_REQUEST,
        message="usage on a chunk that has choices",
        event=2,
    ),
    F(
        "openai.usage.placement",
        "usage-before-finish",
        openai(oa_role(), oa_text("Hi"), oa_usage(9, 1), oa_finish("stop")),
        OA,
        request=USAGE_REQUEST,
        message="comes before a finish chunk",
        event=2,
    ),
    # Groq 2026 sends usage twice; a proxy forwarding both choices:[] chunks. e4 is the second.
    F(
        "openai.usage.placement",
        "two-usage-chunks",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop"), oa_usage(9, 1), oa_usage(9, 1)),
        OA,
        request=USAGE_REQUEST,
        message="exactly one choices:[] chunk",
        event=4,
    ),
]

# ------------------------------------------------------------------------------ reasoning (O8)

REASONING_CASES = [
    P("openai.reasoning.one-field", "deepseek-reasoning-content", OA_DEEPSEEK, OA),
    P("openai.reasoning.one-field", "vllm-reasoning", OA_VLLM, OA),
    P("openai.reasoning.one-field", "no-reasoning", OA_TEXT, OA),
    # OpenRouter: reasoning and reasoning_details with the same text (#3, "WeWe need need"). e0 is the first.
    F(
        "openai.reasoning.one-field",
        "openrouter-reasoning-and-details",
        OA_OPENROUTER_REASONING,
        OA,
        message="more than one field",
        event=0,
    ),
    # vLLM 0.11 transition: reasoning_content and reasoning in the same delta (§3).
    F(
        "openai.reasoning.one-field",
        "vllm-both-names",
        openai(
            oa_role(None),
            oa({"content": None, "reasoning_content": "Two plus two", "reasoning": "Two plus two"}),
            oa_finish("stop"),
        ),
        OA,
        message="more than one field",
        event=1,
    ),
    F(
        "openai.reasoning.one-field",
        "switches-field-mid-stream",
        openai(
            oa_role(None),
            oa({"content": None, "reasoning_content": "Two plus"}),
            oa({"content": None, "reasoning": " two"}),
            oa_finish("stop"),
        ),
        OA,
        message="more than one field",
        event=2,
    ),
]

# ---------------------------------------------------------------------- anthropic framing (A1)

ANTHROPIC_FRAMING_CASES = [
    P("anthropic.sse.named-events", "text", AN_TEXT, AN),
    P("anthropic.sse.named-events", "web-search", AN_WEB_SEARCH, AN),
    # A proxy writing bare data: events: anthropic-sdk-python drops them all (§7.4).
    F(
        "anthropic.sse.named-events",
        "bare-data-events",
        b"".join(
            named(None, json.dumps(e) if e is PING else e).encode()
            for e in (message_start(), text_start(0), text_delta(0, "Hi"), block_stop(0), message_delta(), MESSAGE_STOP)
        ),
        AN,
        message="has no event: name",
        event=0,
    ),
    F(
        "anthropic.sse.named-events",
        "one-bare-event",
        anthropic(
            message_start(),
            text_start(0),
            named(None, text_delta(0, "Hi")),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="has no event: name",
        event=2,
    ),
    P("anthropic.stream.no-done", "text", AN_TEXT, AN),
    P("anthropic.stream.no-done", "error", AN_ERROR, AN),
    # 9router #2046 (#27).
    F(
        "anthropic.stream.no-done",
        "done-appended",
        AN_TEXT + b"data: [DONE]\n\n",
        AN,
        message="[DONE] written into an Anthropic stream",
        event=8,
    ),
    F(
        "anthropic.stream.no-done",
        "done-as-named-event",
        AN_TEXT + b"event: done\ndata: [DONE]\n\n",
        AN,
        message="[DONE]",
        event=8,
    ),
    P("anthropic.data.json", "text", AN_TEXT, AN),
    P("anthropic.data.json", "padding-inside-json", AN_WEB_SEARCH, AN),
    P(
        "anthropic.data.json",
        "unknown-event-type",
        anthropic(
            message_start(),
            {"type": "content_block_lifecycle", "index": 0},
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
    ),
    P("anthropic.data.json", "done-is-reported-elsewhere", AN_TEXT + b"data: [DONE]\n\n", AN),
    F(
        "anthropic.data.json",
        "truncated-json",
        anthropic(
            message_start(),
            text_start(0),
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_de\n\n',
            block_stop(0),
        ),
        AN,
        message="not a JSON object with a type",
        event=2,
    ),
    F(
        "anthropic.data.json",
        "no-type",
        anthropic(
            message_start(), named("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        ),
        AN,
        message="not a JSON object with a type",
        event=1,
    ),
    P("anthropic.sse.event-matches-type", "text", AN_TEXT, AN),
    P(
        "anthropic.sse.event-matches-type",
        "unknown-event-type",
        anthropic(
            message_start(),
            {"type": "content_block_lifecycle", "index": 0},
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
    ),
    F(
        "anthropic.sse.event-matches-type",
        "delta-named-delta",
        anthropic(
            message_start(),
            text_start(0),
            named("delta", text_delta(0, "Hi")),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="event name differs",
        event=2,
    ),
    # All events named "message_delta" by a naive adapter.
    F(
        "anthropic.sse.event-matches-type",
        "start-named-as-delta",
        anthropic(
            message_start(),
            named("content_block_delta", text_start(0)),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="event name differs",
        event=1,
    ),
]

# ---------------------------------------------------------------------- anthropic schema (§5.2)

SCHEMA_CASES = [
    P("anthropic.event.schema", "text", AN_TEXT, AN),
    P("anthropic.event.schema", "tool-use-empty-first-delta", AN_TOOL, AN),
    P("anthropic.event.schema", "thinking-signature-empty-at-start", AN_THINKING, AN),
    P("anthropic.event.schema", "web-search-result-citations-padding", AN_WEB_SEARCH, AN),
    P("anthropic.event.schema", "error-event", AN_ERROR, AN),
    P(
        "anthropic.event.schema",
        "unknown-event-and-block-types",
        anthropic(
            message_start(),
            {"type": "content_block_lifecycle", "index": 0},
            block_start(0, {"type": "compaction", "content": "Summary"}),
            block_delta(0, {"type": "compaction_delta", "content": "…"}),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
    ),
    P(
        "anthropic.event.schema",
        "message-delta-cumulative-usage",
        anthropic(
            message_start(0),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta("end_turn", 5, input_tokens=412, cache_read_input_tokens=0),
            MESSAGE_STOP,
        ),
        AN,
    ),
    # An OpenAI finish_reason leaked into stop_reason. e6 is the message_delta.
    F(
        "anthropic.event.schema",
        "openai-stop-reason",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta("tool_calls"),
            MESSAGE_STOP,
        ),
        AN,
        message="message_delta breaks its schema",
        event=4,
    ),
    F(
        "anthropic.event.schema",
        "message-start-without-usage",
        anthropic(
            {"type": "message_start", "message": {k: v for k, v in message_start()["message"].items() if k != "usage"}},
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="message_start breaks its schema",
        event=0,
    ),
    F(
        "anthropic.event.schema",
        "error-type-outside-enum",
        anthropic(message_start(), error_event("upstream_error", "Bad gateway")),
        AN,
        message="error breaks its schema",
        event=1,
    ),
]

# ------------------------------------------------------------------------ order (A2, A3, A8)

# Real input count only in message_delta (#25): e0 says 0.
AN_INPUT_ONLY_IN_DELTA = anthropic(
    message_start(0),
    text_start(0),
    text_delta(0, "Hi"),
    block_stop(0),
    message_delta("end_turn", 5, input_tokens=412),
    MESSAGE_STOP,
)

ORDER_CASES = [
    P("anthropic.message-start.first", "text", AN_TEXT, AN),
    P(
        "anthropic.message-start.first",
        "ping-before-start",
        anthropic(
            PING, message_start(), text_start(0), text_delta(0, "Hi"), block_stop(0), message_delta(), MESSAGE_STOP
        ),
        AN,
    ),
    P("anthropic.message-start.first", "error-stream", AN_ERROR, AN),
    # LiteLLM #32357 (#5): a duplicate message_start. e2 is the second.
    F(
        "anthropic.message-start.first",
        "duplicate-message-start",
        anthropic(
            message_start(),
            text_start(0),
            message_start(),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="more than once",
        event=2,
    ),
    F(
        "anthropic.message-start.first",
        "block-before-message-start",
        anthropic(text_start(0), message_start(), text_delta(0, "Hi"), block_stop(0), message_delta(), MESSAGE_STOP),
        AN,
        message="does not open with message_start",
        event=0,
    ),
    P("anthropic.message-start.input-tokens", "text", AN_TEXT, AN),
    P("anthropic.message-start.input-tokens", "web-search", AN_WEB_SEARCH, AN),
    F(
        "anthropic.message-start.input-tokens",
        "zero-input-tokens",
        AN_INPUT_ONLY_IN_DELTA,
        AN,
        message="does not report the input tokens",
        event=0,
    ),
    P("anthropic.block.sequence", "text-with-ping-between-deltas", AN_TEXT, AN),
    P("anthropic.block.sequence", "tool", AN_TOOL, AN),
    P("anthropic.block.sequence", "web-search-zero-delta-result-block", AN_WEB_SEARCH, AN),
    P("anthropic.block.sequence", "thinking", AN_THINKING, AN),
    P(
        "anthropic.block.sequence",
        "unknown-event-and-block-types",
        anthropic(
            message_start(),
            {"type": "content_block_lifecycle", "index": 0},
            block_start(0, {"type": "compaction", "content": "Summary"}),
            block_stop(0),
            text_start(1),
            text_delta(1, "Hi"),
            block_stop(1),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
    ),
    # §8: the error leaves the block open; that is not a lifecycle breach.
    P("anthropic.block.sequence", "error-leaves-block-open", AN_ERROR_RECORDED, AN),
    # better-ccflare #173 (#34): text block never closed before tool_use. e3 starts block 1 while 0 is open.
    F(
        "anthropic.block.sequence",
        "interleaved-blocks",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Checking."),
            tool_start(1),
            json_delta(1, "{}"),
            block_stop(0),
            block_stop(1),
            message_delta("tool_use"),
            MESSAGE_STOP,
        ),
        AN,
        message="starts while block 0 is open",
        event=3,
    ),
    F(
        "anthropic.block.sequence",
        "index-starts-at-1",
        anthropic(message_start(), text_start(1), text_delta(1, "Hi"), block_stop(1), message_delta(), MESSAGE_STOP),
        AN,
        message="not the next one",
        event=1,
    ),
    # #20: duplicate content_block_stop. e4 is the second stop.
    F(
        "anthropic.block.sequence",
        "duplicate-stop",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="stop for a block that is not open",
        event=4,
    ),
    F(
        "anthropic.block.sequence",
        "message-delta-before-block-stop",
        anthropic(message_start(), text_start(0), text_delta(0, "Hi"), message_delta(), block_stop(0), MESSAGE_STOP),
        AN,
        message="message_delta while block 0 is open",
        event=3,
    ),
    F(
        "anthropic.block.sequence",
        "cut-off-block-never-stopped",
        anthropic(message_start(), text_start(0), text_delta(0, "Once upon")),
        AN,
        message="never stopped",
        event=1,
    ),
    F(
        "anthropic.block.sequence",
        "delta-for-other-index",
        anthropic(message_start(), text_start(0), text_delta(1, "Hi"), block_stop(0), message_delta(), MESSAGE_STOP),
        AN,
        message="delta for a block that is not open",
        event=2,
    ),
    P("anthropic.message-delta.once", "text-ping-before-message-delta", AN_WEB_SEARCH, AN),
    P("anthropic.message-delta.once", "tool", AN_TOOL, AN),
    # #20: two message_delta events. e5 is the second.
    F(
        "anthropic.message-delta.once",
        "duplicate-message-delta",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="wrong number of message_delta",
        event=5,
    ),
    F(
        "anthropic.message-delta.once",
        "no-message-delta",
        anthropic(message_start(), text_start(0), text_delta(0, "Hi"), block_stop(0), MESSAGE_STOP),
        AN,
        message="wrong number of message_delta",
        event=None,
    ),
    F(
        "anthropic.message-delta.once",
        "stop-reason-null",
        anthropic(
            message_start(), text_start(0), text_delta(0, "Hi"), block_stop(0), message_delta(None), MESSAGE_STOP
        ),
        AN,
        message="no stop_reason",
        event=4,
    ),
    F(
        "anthropic.message-delta.once",
        "before-a-later-block",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            text_start(1),
            text_delta(1, "!"),
            block_stop(1),
            MESSAGE_STOP,
        ),
        AN,
        message="before a block stop",
        event=4,
    ),
    F(
        "anthropic.message-delta.once",
        "inside-an-open-block",
        anthropic(message_start(), text_start(0), text_delta(0, "Hi"), message_delta(), block_stop(0), MESSAGE_STOP),
        AN,
        message="before a block stop",
        event=3,
    ),
    P("anthropic.message-stop.last", "text", AN_TEXT, AN),
    P("anthropic.message-stop.last", "web-search", AN_WEB_SEARCH, AN),
    # #28: EOF after message_delta.
    F(
        "anthropic.message-stop.last",
        "missing-message-stop",
        anthropic(message_start(), text_start(0), text_delta(0, "Hi"), block_stop(0), message_delta()),
        AN,
        message="does not end with one message_stop",
        event=4,
    ),
    F(
        "anthropic.message-stop.last",
        "done-after-message-stop",
        AN_TEXT + b"data: [DONE]\n\n",
        AN,
        message="does not end with one message_stop",
        event=8,
    ),
    F(
        "anthropic.message-stop.last",
        "two-message-stops",
        AN_TEXT + anthropic(MESSAGE_STOP),
        AN,
        message="does not end with one message_stop",
        event=8,
    ),
]

# ---------------------------------------------------------------------- blocks (A4-A7, A9, A10)

BLOCK_CASES = [
    P("anthropic.delta.matches-block", "text", AN_TEXT, AN),
    P("anthropic.delta.matches-block", "tool-empty-first-delta", AN_TOOL, AN),
    P("anthropic.delta.matches-block", "thinking-and-signature", AN_THINKING, AN),
    P("anthropic.delta.matches-block", "server-tool-and-citations", AN_WEB_SEARCH, AN),
    P(
        "anthropic.delta.matches-block",
        "unknown-block-with-its-own-delta",
        anthropic(
            message_start(),
            block_start(0, {"type": "compaction", "content": ""}),
            block_delta(0, {"type": "compaction_delta", "content": "Summary"}),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
    ),
    # LiteLLM #32357, #33224 (#5, #6): thinking_delta into a text block. e2 is the delta.
    F(
        "anthropic.delta.matches-block",
        "thinking-delta-in-text-block",
        anthropic(
            message_start(),
            text_start(0),
            thinking_delta(0, "Let me think"),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="thinking_delta sent to a text block",
        event=2,
    ),
    # sglang #26795 (#8): text_delta sent to an open tool_use block. e3 is the delta.
    F(
        "anthropic.delta.matches-block",
        "text-delta-in-tool-block",
        anthropic(
            message_start(),
            tool_start(0),
            json_delta(0, ""),
            text_delta(0, "Checking"),
            json_delta(0, "{}"),
            block_stop(0),
            message_delta("tool_use"),
            MESSAGE_STOP,
        ),
        AN,
        message="text_delta sent to a tool_use block",
        event=3,
    ),
    P("anthropic.block.no-empty-text", "text", AN_TEXT, AN),
    P("anthropic.block.no-empty-text", "citations-start-block", AN_WEB_SEARCH, AN),
    P("anthropic.block.no-empty-text", "tool-only", AN_TOOL_NO_ARGS, AN),
    # LiteLLM #30765, #34692 (#7, #9): a spurious empty text block at index 0 before tool_use.
    F(
        "anthropic.block.no-empty-text",
        "empty-text-block-before-tool-use",
        anthropic(
            message_start(),
            text_start(0),
            block_stop(0),
            tool_start(1),
            json_delta(1, ""),
            json_delta(1, '{"city": "Paris"}'),
            block_stop(1),
            message_delta("tool_use"),
            MESSAGE_STOP,
        ),
        AN,
        message="text block 0 has no text",
        event=1,
    ),
    F(
        "anthropic.block.no-empty-text",
        "empty-text-delta",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, ""),
            text_delta(0, "Hi"),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="empty text_delta",
        event=2,
    ),
    # §8 as recorded: event: error right after content_block_start and a ping. The block is empty
    # because the stream failed, not because the provider emitted an empty block.
    P("anthropic.block.no-empty-text", "error-after-empty-text-start", AN_ERROR_RECORDED, AN),
    P("anthropic.tool.input-json", "tool-empty-first-delta", AN_TOOL, AN),
    P("anthropic.tool.input-json", "tool-no-arguments", AN_TOOL_NO_ARGS, AN),
    P("anthropic.tool.input-json", "server-tool-use-and-result", AN_WEB_SEARCH, AN),
    # Calls issued by code execution arrive with input populated at start and no delta (§5.4).
    P(
        "anthropic.tool.input-json",
        "populated-input-no-deltas",
        anthropic(
            message_start(),
            block_start(
                0,
                {
                    "type": "tool_use",
                    "id": TOOLU_A,
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                    "caller": {"type": "code_execution_20250825", "tool_id": SRVTOOLU},
                },
            ),
            block_stop(0),
            message_delta("tool_use"),
            MESSAGE_STOP,
        ),
        AN,
    ),
    # vllm #34887 (#11): fragments concatenate to invalid JSON. e1 is the block start.
    F(
        "anthropic.tool.input-json",
        "fragments-invalid-json",
        anthropic(
            message_start(),
            tool_start(0, name="run"),
            json_delta(0, ""),
            json_delta(0, 'code": "uptime"}'),
            block_stop(0),
            message_delta("tool_use"),
            MESSAGE_STOP,
        ),
        AN,
        message="is not a JSON object",
        event=1,
    ),
    # envoy ai-gateway #1465 (#12): input {…} at start plus deltas -> clients build {}{…}.
    F(
        "anthropic.tool.input-json",
        "start-input-plus-deltas",
        anthropic(
            message_start(),
            tool_start(0, tool_input={"city": "Paris"}),
            json_delta(0, '{"city": "Paris"}'),
            block_stop(0),
            message_delta("tool_use"),
            MESSAGE_STOP,
        ),
        AN,
        message="non-empty start input and deltas",
        event=1,
    ),
    # Anthropic's docs: a response cut by max_tokens may hold an incomplete tool_use block.
    P(
        "anthropic.tool.input-json",
        "max-tokens-cuts-input",
        anthropic(
            message_start(),
            tool_start(0, name="write_file"),
            json_delta(0, ""),
            json_delta(0, '{"path": "notes.md", "content": "# Ti'),
            block_stop(0),
            message_delta("max_tokens", 1024),
            MESSAGE_STOP,
        ),
        AN,
    ),
    P("anthropic.thinking.signature", "signature-empty-at-start-then-one-delta", AN_THINKING, AN),
    P(
        "anthropic.thinking.signature",
        "no-signature-key-at-start",
        anthropic(
            message_start(),
            thinking_start(0, None),
            thinking_delta(0, "Hmm."),
            signature_delta(0),
            block_stop(0),
            text_start(1),
            text_delta(1, "Hi"),
            block_stop(1),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
    ),
    P(
        "anthropic.thinking.signature",
        "redacted-thinking",
        anthropic(
            message_start(),
            block_start(
                0,
                {
                    "type": "redacted_thinking",
                    "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP",
                },
            ),
            block_stop(0),
            text_start(1),
            text_delta(1, "Hi"),
            block_stop(1),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
    ),
    # #29: signature_delta not last. e3 signature, e4 thinking after it.
    F(
        "anthropic.thinking.signature",
        "signature-not-last",
        anthropic(
            message_start(),
            thinking_start(0),
            thinking_delta(0, "Hmm"),
            signature_delta(0),
            thinking_delta(0, "."),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="not the block's last delta",
        event=3,
    ),
    F(
        "anthropic.thinking.signature",
        "empty-signature",
        anthropic(
            message_start(),
            thinking_start(0),
            thinking_delta(0, "Hmm."),
            signature_delta(0, ""),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="empty signature",
        event=3,
    ),
    F(
        "anthropic.thinking.signature",
        "two-signatures",
        anthropic(
            message_start(),
            thinking_start(0),
            thinking_delta(0, "Hmm."),
            signature_delta(0, SIG[:40]),
            signature_delta(0, SIG),
            block_stop(0),
            message_delta(),
            MESSAGE_STOP,
        ),
        AN,
        message="several signatures",
        event=4,
    ),
    P("anthropic.stop-reason.tool-use", "tool-use", AN_TOOL, AN),
    P("anthropic.stop-reason.tool-use", "server-tool-end-turn", AN_WEB_SEARCH, AN),
    P("anthropic.stop-reason.tool-use", "text-end-turn", AN_TEXT, AN),
    P(
        "anthropic.stop-reason.tool-use",
        "max-tokens-inside-tool",
        anthropic(
            message_start(),
            tool_start(0),
            json_delta(0, ""),
            json_delta(0, '{"city": "Pa'),
            block_stop(0),
            message_delta("max_tokens", 1024),
            MESSAGE_STOP,
        ),
        AN,
    ),
    # LiteLLM #34692, bifrost #3638 (#9, #10): a tool turn ends with end_turn. e8 is the message_delta.
    F(
        "anthropic.stop-reason.tool-use",
        "tool-block-end-turn",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Checking."),
            block_stop(0),
            tool_start(1),
            json_delta(1, ""),
            json_delta(1, '{"city": "Paris"}'),
            block_stop(1),
            message_delta("end_turn"),
            MESSAGE_STOP,
        ),
        AN,
        message="ends with another stop_reason",
        event=8,
    ),
    # vllm converter (#15): stop_reason tool_use with the tool block dropped.
    F(
        "anthropic.stop-reason.tool-use",
        "tool-use-without-block",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Checking."),
            block_stop(0),
            message_delta("tool_use"),
            MESSAGE_STOP,
        ),
        AN,
        message="tool_use without a tool_use block",
        event=4,
    ),
    P("anthropic.error.last", "error-then-eof", AN_ERROR, AN),
    P("anthropic.error.last", "recorded-error", AN_ERROR_RECORDED, AN),
    P("anthropic.error.last", "no-error", AN_TEXT, AN),
    F(
        "anthropic.error.last",
        "stop-events-after-error",
        AN_ERROR + anthropic(block_stop(0), message_delta(), MESSAGE_STOP),
        AN,
        message="events follow the error event",
        event=5,
    ),
    F(
        "anthropic.error.last",
        "message-stop-after-error",
        AN_ERROR + anthropic(MESSAGE_STOP),
        AN,
        message="events follow the error event",
        event=5,
    ),
]

# ------------------------------------------------------------------------- semantic.* (expect)

# The first text_delta after thinking dropped (LiteLLM #30765, #7).
AN_THINKING_FIRST_TEXT_DROPPED = anthropic(
    message_start(46), thinking_start(0, ""), thinking_delta(0, "17 × 20 = 340"), thinking_delta(0, ", plus 51 is 391."), signature_delta(0), block_stop(0),
    text_start(1), text_delta(1, "391."), block_stop(1), message_delta("end_turn", 71, input_tokens=46), MESSAGE_STOP,
)  # fmt: skip
AN_THINKING_TWO_TEXT_EXPECT = {**AN_THINKING_EXPECT, "text": "17 × 23 = 391."}
# DeepSeek through a proxy that lost reasoning_content (LiteLLM #7942, #1).
OA_DEEPSEEK_REASONING_DROPPED = openai(
    ds({"role": "assistant", "content": None}),
    ds({"content": "9.9"}),
    ds({"content": " is larger."}),
    ds({"content": ""}, "stop", DS_USAGE),
)
# Signature re-serialised by a proxy (CLIProxyAPI #2172, #30).
AN_THINKING_SIGNATURE_ALTERED = AN_THINKING.replace(SIG.encode(), SIG[:-2].encode() + b"AA")
# A Responses upstream's encrypted_content, carried verbatim as the thinking block's signature.
ENCRYPTED = "gAAAAABpXk2f8hQ1c0Jm3vR7tY5wK9zL2nB6xD4sF8gH1jA3qE7uI0oP5rT9yW2"
AN_THINKING_ENCRYPTED = AN_THINKING.replace(SIG.encode(), ENCRYPTED.encode())
FROM_RESPONSES_EXPECT = {**AN_THINKING_EXPECT, "signatures": [ENCRYPTED]}
AN_THINKING_SIGNATURE_DROPPED = anthropic(
    message_start(46), thinking_start(0, ""), thinking_delta(0, "17 × 20 = 340"), thinking_delta(0, ", plus 51 is 391."), block_stop(0),
    text_start(1), text_delta(1, "17 × 23 = 391."), block_stop(1), message_delta("end_turn", 71, input_tokens=46), MESSAGE_STOP,
)  # fmt: skip
# A proxy that wrote a cut-off upstream as a clean finish (#28).
OA_CUT_AS_CLEAN = openai(oa_role(), oa_text("Here"), oa_text(" is"), oa_finish("stop"))
OA_CUT_SILENT = openai(oa_role(), oa_text("Here"), oa_text(" is"), done=False)

# Error responses: a 4xx/5xx status with a JSON body instead of a stream (§8).
OPENAI_ERROR_BODY = (
    b'{"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": "rate_limit_exceeded"}}'
)
ANTHROPIC_ERROR_BODY = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
# --------------------------------------------------- usage details: cache and reasoning tokens

# Anthropic: input_tokens counts only what follows the last cache breakpoint; the cache reads are
# reported beside it. 80 + 20 read from the cache is 100 input tokens in all, 20 of them cached.
_CACHED_EXPECT = {**AN_TEXT_EXPECT, "usage": {"input_tokens": 100, "cached_input_tokens": 20, "output_tokens": 12}}


def _anthropic_text_with_usage(**usage: Any) -> bytes:
    return anthropic(
        message_start(1),
        text_start(0),
        text_delta(0, "Hello"),
        text_delta(0, " there!"),
        block_stop(0),
        message_delta("end_turn", 12, **usage),
        MESSAGE_STOP,
    )


def _openai_text_with_usage(cached: int, reasoning: int) -> bytes:
    usage = usage_of(100, 30, reasoning)
    usage["prompt_tokens_details"]["cached_tokens"] = cached
    return openai(oa_role(), oa_text("Hello"), oa_text(" there!"), oa_finish("stop"), chunk(usage=usage))


_OPENAI_DETAIL_EXPECT = {
    **OA_TEXT_EXPECT,
    "usage": {"input_tokens": 100, "cached_input_tokens": 20, "output_tokens": 30, "reasoning_tokens": 12},
}

# xAI leaves the reasoning out of completion_tokens (total = prompt + completion + reasoning): the
# output count is 30 + 12. Cloudflare repeats its finish chunk with every count 0.
_XAI_USAGE = {**usage_of(100, 30, 12), "total_tokens": 142}
_XAI_EXPECT = {
    **OA_TEXT_EXPECT,
    "usage": {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 42, "reasoning_tokens": 12},
}
_ZEROED = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "prompt_tokens_details": {"cached_tokens": 0}}


def _openai_text_with_usages(*usages: dict[str, Any]) -> bytes:
    return openai(oa_role(), oa_text("Hello"), oa_text(" there!"), oa_finish("stop"), *(chunk(usage=u) for u in usages))


USAGE_DETAIL_CASES = [
    P(
        "semantic.usage",
        "xai-reasoning-left-out-of-completion",
        _openai_text_with_usages(_XAI_USAGE),
        OA,
        expect=_XAI_EXPECT,
    ),
    # A proxy that folds the reasoning in, as OpenAI counts it: the same 42 output tokens.
    P(
        "semantic.usage",
        "xai-reasoning-folded-in",
        _openai_text_with_usages({**usage_of(100, 42, 12), "total_tokens": 142}),
        OA,
        expect=_XAI_EXPECT,
    ),
    F(
        "semantic.usage",
        "xai-reasoning-counted-alone",
        _openai_text_with_usages({**usage_of(100, 30, 12), "total_tokens": 130}),
        OA,
        expect=_XAI_EXPECT,
        message="usage output_tokens differs",
        event=None,
    ),
    # A zeroed repeat does not overwrite the real report; a proxy that sends only zeros lost them.
    P(
        "semantic.usage",
        "cloudflare-zeroed-repeat-ignored",
        _openai_text_with_usages(usage_of(12, 3), _ZEROED),
        OA,
        expect={
            **OA_TEXT_EXPECT,
            "usage": {"input_tokens": 12, "cached_input_tokens": 0, "output_tokens": 3, "reasoning_tokens": 0},
        },
    ),
    F(
        "semantic.usage",
        "usage-zeroed",
        _openai_text_with_usages(_ZEROED),
        OA,
        expect={**OA_TEXT_EXPECT, "usage": {"input_tokens": 12, "output_tokens": 3}},
        message="usage input_tokens differs",
        event=None,
    ),
    # An adapter that maps OpenAI prompt_tokens 100 (cached_tokens 20) to Anthropic input 80 + cache read 20.
    P(
        "semantic.usage",
        "anthropic-cache-read-mapped",
        _anthropic_text_with_usage(input_tokens=80, cache_read_input_tokens=20),
        AN,
        expect=_CACHED_EXPECT,
    ),
    # One that equates prompt_tokens with input_tokens and drops the cache: the total survives, the cache does not.
    F(
        "semantic.usage",
        "anthropic-cache-read-dropped",
        _anthropic_text_with_usage(input_tokens=100),
        AN,
        expect=_CACHED_EXPECT,
        message="usage cached_input_tokens differs",
        event=None,
    ),
    # One that equates prompt_tokens with input_tokens and also reports the cache read: 20 tokens counted twice.
    F(
        "semantic.usage",
        "anthropic-cached-counted-twice",
        _anthropic_text_with_usage(input_tokens=100, cache_read_input_tokens=20),
        AN,
        expect=_CACHED_EXPECT,
        message="usage input_tokens differs",
        event=None,
    ),
    P(
        "semantic.usage",
        "openai-cached-and-reasoning",
        _openai_text_with_usage(20, 12),
        OA,
        request=USAGE_REQUEST,
        expect=_OPENAI_DETAIL_EXPECT,
    ),
    # BerriAI/litellm#41049: reasoning_tokens reported as 0.
    F(
        "semantic.usage",
        "openai-reasoning-tokens-zeroed",
        _openai_text_with_usage(20, 0),
        OA,
        request=USAGE_REQUEST,
        expect=_OPENAI_DETAIL_EXPECT,
        message="usage reasoning_tokens differs",
        event=None,
    ),
    # Anthropic usage has no field for reasoning tokens: not compared on an Anthropic client.
    P(
        "semantic.usage",
        "reasoning-tokens-not-compared-on-anthropic",
        _anthropic_text_with_usage(input_tokens=80, cache_read_input_tokens=20),
        AN,
        expect={**AN_TEXT_EXPECT, "usage": {**_CACHED_EXPECT["usage"], "reasoning_tokens": 12}},
    ),
]

SEMANTIC_CASES = [
    P("semantic.text", "openai", OA_TEXT, OA, expect=OA_TEXT_EXPECT),
    P("semantic.text", "anthropic-web-search", AN_WEB_SEARCH, AN, expect=AN_WEB_SEARCH_EXPECT),
    P(
        "semantic.text",
        "multibyte-byte-by-byte",
        AN_THINKING,
        AN,
        expect=AN_THINKING_EXPECT,
        chunks=every_byte(AN_THINKING),
    ),
    P("semantic.text", "cr-only-framing", cr_only(OA_TEXT), OA, expect=OA_TEXT_EXPECT),
    P(
        "semantic.text",
        "refusal",
        openai(
            oa({"role": "assistant", "content": None, "refusal": ""}),
            oa({"refusal": "I can't help"}),
            oa({"refusal": " with that."}),
            oa_finish("stop"),
        ),
        OA,
        expect={"text": "", "refusal": "I can't help with that.", "finish": "stop"},
    ),
    F(
        "semantic.text",
        "first-text-after-thinking-dropped",
        AN_THINKING_FIRST_TEXT_DROPPED,
        AN,
        expect=AN_THINKING_TWO_TEXT_EXPECT,
        message="text differs; first difference at character 0",
        event=None,
    ),
    F(
        "semantic.text",
        "openai-chunk-lost",
        openai(oa_role(), oa_text("Hello"), oa_finish("stop"), oa_usage()),
        OA,
        expect=OA_TEXT_EXPECT,
        message="text differs; one is a prefix",
        event=None,
    ),
    P("semantic.reasoning", "deepseek-reasoning-content", OA_DEEPSEEK, OA, expect=OA_DEEPSEEK_EXPECT),
    P("semantic.reasoning", "anthropic-thinking", AN_THINKING, AN, expect=AN_THINKING_EXPECT),
    # A Responses capture's summary parts, one thinking text for an Anthropic client: whitespace
    # between them is the same reasoning; anything else changed is not.
    P(
        "semantic.reasoning",
        "responses-summary-parts-spaced",
        AN_THINKING,
        AN,
        expect={**AN_THINKING_EXPECT, "reasoning": "17 × 20 = 340,plus 51 is 391."},
        expect_protocol=RS,
    ),
    F(
        "semantic.reasoning",
        "responses-summary-parts-altered",
        AN_THINKING,
        AN,
        expect={**AN_THINKING_EXPECT, "reasoning": "17 × 20 = 340, plus 52 is 391."},
        expect_protocol=RS,
        message="reasoning differs",
        event=None,
    ),
    F(
        "semantic.reasoning",
        "spaced-from-a-chat-capture",
        AN_THINKING,
        AN,
        expect={**AN_THINKING_EXPECT, "reasoning": "17 × 20 = 340,plus 51 is 391."},
        expect_protocol=OA,
        message="reasoning differs",
        event=None,
    ),
    # OpenRouter's two fields carry the same text once: the assembler reads one (§3).
    P(
        "semantic.reasoning",
        "openrouter-not-doubled",
        OA_OPENROUTER_REASONING,
        OA,
        expect={"text": "4", "reasoning": "We need 4.", "finish": "stop"},
    ),
    F(
        "semantic.reasoning",
        "deepseek-reasoning-dropped",
        OA_DEEPSEEK_REASONING_DROPPED,
        OA,
        expect=OA_DEEPSEEK_EXPECT,
        message="reasoning differs",
        event=None,
    ),
    # NVIDIA NIM via LiteLLM (#6): thinking deltas sent into a text block are lost by the SDK.
    F(
        "semantic.reasoning",
        "thinking-into-text-block",
        anthropic(
            message_start(46),
            text_start(0),
            thinking_delta(0, "17 × 20 = 340, plus 51 is 391."),
            text_delta(0, "17 × 23 = 391."),
            block_stop(0),
            message_delta("end_turn", 71),
            MESSAGE_STOP,
        ),
        AN,
        expect=AN_THINKING_EXPECT,
        message="reasoning differs",
        event=None,
    ),
    P("semantic.tool-calls", "openai-split", OA_TOOL, OA, expect=OA_TOOL_EXPECT),
    P("semantic.tool-calls", "openai-parallel", OA_PARALLEL, OA, expect=OA_PARALLEL_EXPECT),
    P("semantic.tool-calls", "openai-forced-stop", OA_FORCED, OA, expect=OA_TOOL_EXPECT),
    P("semantic.tool-calls", "openai-whole", OA_WHOLE, OA, expect=OA_TOOL_EXPECT),
    P("semantic.tool-calls", "anthropic-empty-first-delta", AN_TOOL, AN, expect=AN_TOOL_EXPECT),
    P("semantic.tool-calls", "anthropic-no-arguments", AN_TOOL_NO_ARGS, AN, expect=AN_TOOL_NO_ARGS_EXPECT),
    P("semantic.tool-calls", "ollama-index-reused", OA_PARALLEL_ALL_INDEX_0, OA, expect=OA_PARALLEL_EXPECT),
    F(
        "semantic.tool-calls",
        "parallel-merged-at-index-0",
        OA_PARALLEL_MERGED,
        OA,
        expect=OA_PARALLEL_EXPECT,
        message="tool calls differ",
        event=None,
    ),
    # pi #2593 (#14): arguments overwritten with {}.
    F(
        "semantic.tool-calls",
        "arguments-overwritten-with-empty",
        anthropic(
            message_start(412),
            text_start(0),
            text_delta(0, "I'll check the weather."),
            block_stop(0),
            tool_start(1),
            block_stop(1),
            message_delta("tool_use", 58),
            MESSAGE_STOP,
        ),
        AN,
        expect=AN_TOOL_EXPECT,
        message="tool calls differ",
        event=None,
    ),
    P("semantic.tool-call-ids", "openai", OA_TOOL, OA, expect=OA_TOOL_EXPECT),
    P("semantic.tool-call-ids", "anthropic", AN_TOOL, AN, expect=AN_TOOL_EXPECT),
    F(
        "semantic.tool-call-ids",
        "ids-rewritten",
        OA_TOOL.replace(CALL_A.encode(), b"call_proxy_0001"),
        OA,
        expect=OA_TOOL_EXPECT,
        message="ids were rewritten",
        event=None,
    ),
    P("semantic.finish", "openai-stop", OA_TEXT, OA, expect=OA_TEXT_EXPECT),
    # §2.3: forced tool_choice ends in "stop" with a tool call: a tool_calls finish (corpus README).
    P("semantic.finish", "openai-forced-tool-choice-stop", OA_FORCED, OA, expect=OA_TOOL_EXPECT),
    P("semantic.finish", "anthropic-tool-use", AN_TOOL, AN, expect=AN_TOOL_EXPECT),
    P(
        "semantic.finish",
        "anthropic-max-tokens",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "The planets are"),
            block_stop(0),
            message_delta("max_tokens", 16),
            MESSAGE_STOP,
        ),
        AN,
        expect={"text": "The planets are", "finish": "length"},
    ),
    P(
        "semantic.finish",
        "openai-length",
        openai(oa_role(), oa_text("The planets are"), oa_finish("length")),
        OA,
        expect={"text": "The planets are", "finish": "length"},
    ),
    F(
        "semantic.finish",
        "length-reported-as-stop",
        openai(oa_role(), oa_text("The planets are"), oa_finish("stop")),
        OA,
        expect={"text": "The planets are", "finish": "length"},
        message="finish reason differs",
        event=None,
    ),
    F(
        "semantic.finish",
        "tool-turn-reported-as-stop-without-calls",
        openai(oa_role(), oa_text("Checking."), oa_finish("stop")),
        OA,
        expect=OA_TOOL_EXPECT,
        message="finish reason differs",
        event=None,
    ),
    # bifrost #3638, vllm #47598 (#10): an Anthropic tool turn that ends end_turn.
    F(
        "semantic.finish",
        "anthropic-tool-turn-end-turn",
        AN_TOOL.replace(b'"stop_reason":"tool_use"', b'"stop_reason":"end_turn"'),
        AN,
        expect=AN_TOOL_EXPECT,
        message="finish reason differs",
        event=None,
    ),
    P("semantic.usage", "openai-usage-chunk", OA_TEXT, OA, request=USAGE_REQUEST, expect=OA_TEXT_EXPECT),
    P("semantic.usage", "deepseek-usage-on-finish-chunk", OA_DEEPSEEK, OA, expect=OA_DEEPSEEK_EXPECT),
    P("semantic.usage", "anthropic", AN_TEXT, AN, expect=AN_TEXT_EXPECT),
    # Cumulative input_tokens only in message_delta (§5.4, vercel/ai #11611) still reports the count.
    P(
        "semantic.usage",
        "anthropic-input-only-in-message-delta",
        AN_INPUT_ONLY_IN_DELTA,
        AN,
        expect={"text": "Hi", "finish": "stop", "usage": {"input_tokens": 412, "output_tokens": 5}},
    ),
    F(
        "semantic.usage",
        "usage-lost",
        OA_TEXT_NO_USAGE,
        OA,
        request=USAGE_REQUEST,
        expect=OA_TEXT_EXPECT,
        message="usage was lost",
        event=None,
    ),
    # #25/#26: message_start 0 and message_delta without input_tokens.
    F(
        "semantic.usage",
        "anthropic-input-zeroed",
        anthropic(
            message_start(0),
            text_start(0),
            PING,
            text_delta(0, "Hello"),
            text_delta(0, " there!"),
            block_stop(0),
            message_delta("end_turn", 12),
            MESSAGE_STOP,
        ),
        AN,
        expect=AN_TEXT_EXPECT,
        message="usage input_tokens differs",
        event=None,
    ),
    *USAGE_DETAIL_CASES,
    P("semantic.signatures", "kept", AN_THINKING, AN, expect=AN_THINKING_EXPECT),
    P("semantic.signatures", "none-expected", AN_TEXT, AN, expect=AN_TEXT_EXPECT),
    F(
        "semantic.signatures",
        "signature-dropped",
        AN_THINKING_SIGNATURE_DROPPED,
        AN,
        expect=AN_THINKING_EXPECT,
        message="signatures differ",
        event=None,
    ),
    F(
        "semantic.signatures",
        "signature-altered",
        AN_THINKING_SIGNATURE_ALTERED,
        AN,
        expect=AN_THINKING_EXPECT,
        message="signatures differ",
        event=None,
    ),
    F(
        "semantic.signatures",
        "signature-invented",
        AN_THINKING,
        AN,
        expect={**AN_THINKING_EXPECT, "signatures": []},
        message="signatures differ",
        event=None,
    ),
    # From a Responses upstream, whose encrypted reasoning only OpenAI can read: all of it verbatim, or none.
    P(
        "semantic.signatures",
        "responses-encrypted-left-out",
        AN_THINKING_SIGNATURE_DROPPED,
        AN,
        expect=FROM_RESPONSES_EXPECT,
        expect_protocol=RS,
    ),
    P(
        "semantic.signatures",
        "responses-encrypted-verbatim",
        AN_THINKING_ENCRYPTED,
        AN,
        expect=FROM_RESPONSES_EXPECT,
        expect_protocol=RS,
    ),
    P(
        "semantic.signatures",
        "responses-encrypted-wrapped-whole",
        AN_THINKING_ENCRYPTED.replace(ENCRYPTED.encode(), b"litellm_encrypted_reasoning:" + ENCRYPTED.encode()),
        AN,
        expect=FROM_RESPONSES_EXPECT,
        expect_protocol=RS,
    ),
    F(
        "semantic.signatures",
        "responses-encrypted-altered",
        AN_THINKING_ENCRYPTED.replace(ENCRYPTED.encode(), ENCRYPTED[:-2].encode() + b"AA"),
        AN,
        expect=FROM_RESPONSES_EXPECT,
        expect_protocol=RS,
        message="signatures differ",
        event=None,
    ),
    F(
        "semantic.signatures",
        "responses-encrypted-partial",
        AN_THINKING_ENCRYPTED,
        AN,
        expect={**AN_THINKING_EXPECT, "signatures": [ENCRYPTED, ENCRYPTED + "b"]},
        expect_protocol=RS,
        message="signatures differ",
        event=None,
    ),
    F(
        "semantic.signatures",
        "responses-encrypted-invented",
        AN_THINKING,
        AN,
        expect={**AN_THINKING_EXPECT, "signatures": []},
        expect_protocol=RS,
        message="signatures differ",
        event=None,
    ),
    P("semantic.clean-finish", "openai", OA_TEXT, OA, expect=OA_TEXT_EXPECT),
    P("semantic.clean-finish", "anthropic", AN_TEXT, AN, expect=AN_TEXT_EXPECT),
    F(
        "semantic.clean-finish",
        "openai-no-done",
        OA_TEXT[: -len(b"data: [DONE]\n\n")],
        OA,
        expect=OA_TEXT_EXPECT,
        message="never terminates cleanly",
        event=None,
    ),
    F(
        "semantic.clean-finish",
        "anthropic-no-message-stop",
        anthropic(
            message_start(25),
            text_start(0),
            text_delta(0, "Hello there!"),
            block_stop(0),
            message_delta("end_turn", 12),
        ),
        AN,
        expect=AN_TEXT_EXPECT,
        message="never terminates cleanly",
        event=None,
    ),
    F(
        "semantic.clean-finish",
        "error-on-completed-stream",
        OA_ERROR,
        OA,
        expect=OA_TEXT_EXPECT,
        message="reports an error",
        event=None,
    ),
    F(
        "semantic.clean-finish",
        "http-500-for-a-completed-stream",
        ANTHROPIC_ERROR_BODY,
        AN,
        expect=AN_TEXT_EXPECT,
        status=500,
        message="reports an error",
        event=None,
    ),
    P("semantic.error-surfaced", "openai-error-frame", OA_ERROR, OA, expect=OA_ERROR_EXPECT, negative=NEG_CUT),
    # A proxy that answers a broken upstream with an error status and a JSON body surfaces it too.
    P(
        "semantic.error-surfaced",
        "http-500-error-response",
        b'{"error": {"message": "upstream cut off", "type": "server_error"}}',
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_CUT,
        status=500,
    ),
    P(
        "semantic.error-surfaced",
        "openrouter-error-chunk-finish-error",
        OA_OPENROUTER_ERROR,
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_ERROR,
    ),
    P("semantic.error-surfaced", "anthropic-error-event", AN_ERROR, AN, expect=AN_ERROR_EXPECT, negative=NEG_ERROR),
    # #28: a cut-off upstream reported as a clean finish.
    F(
        "semantic.error-surfaced",
        "cut-off-reported-as-clean-finish",
        OA_CUT_AS_CLEAN,
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_CUT,
        message="upstream cut-off did not reach the client as an error",
        event=None,
    ),
    F(
        "semantic.error-surfaced",
        "cut-off-passed-on-silently",
        OA_CUT_SILENT,
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_CUT,
        message="did not reach the client as an error",
        event=None,
    ),
    F(
        "semantic.error-surfaced",
        "anthropic-error-then-message-stop",
        AN_ERROR + anthropic(block_stop(0), message_delta("end_turn"), MESSAGE_STOP),
        AN,
        expect=AN_ERROR_EXPECT,
        negative=NEG_ERROR,
        message="reported as a clean finish",
        event=None,
    ),
]

# ----------------------------------------------------------------- oracle.* (§7.3, §7.4, X1)

# A thinking delta sent into a text block (#6): anthropic-sdk-python ignores it, so no thinking reaches its users.
AN_THINKING_INTO_TEXT = anthropic(
    message_start(46),
    text_start(0),
    thinking_delta(0, "17 × 20 = 340, plus 51 is 391."),
    text_delta(0, "17 × 23 = 391."),
    block_stop(0),
    message_delta("end_turn", 71),
    MESSAGE_STOP,
)
# Every event as a bare `data:` line (#27): the SDK dispatches by event name and drops them all, so no message_start.
AN_BARE_DATA = "".join(
    named(None, event)
    for event in (
        message_start(25),
        text_start(0),
        text_delta(0, "Hello there!"),
        block_stop(0),
        message_delta("end_turn", 12),
        MESSAGE_STOP,
    )
).encode()
# Tool index 1 before index 0: the openai-python accumulator places entries by list position (§7.3).
OA_TOOL_INDEX_1_FIRST = openai(
    oa_role(None, tool_calls=[head(1, CALL_B, "get_time", '{"tz": "Europe/Paris"}')]),
    oa_calls(head(0, CALL_A, "get_weather", '{"city": "Paris"}')),
    oa_finish("tool_calls"),
    oa_usage(80, 41),
)
AN_CUT_AS_CLEAN = anthropic(
    message_start(18),
    text_start(0),
    text_delta(0, "The lighthouse keeper"),
    block_stop(0),
    message_delta("end_turn", 5),
    MESSAGE_STOP,
)

ORACLE_CASES = [
    P("oracle.openai-python", "text", OA_TEXT, OA, expect=OA_TEXT_EXPECT),
    P("oracle.openai-python", "parallel-tool-calls", OA_PARALLEL, OA, expect=OA_PARALLEL_EXPECT),
    P("oracle.openai-python", "forced-tool-choice-stop", OA_FORCED, OA, expect=OA_TOOL_EXPECT),
    P("oracle.openai-python", "tool-whole-in-one-delta", OA_WHOLE, OA, expect=OA_TOOL_EXPECT),
    P("oracle.openai-python", "deepseek-reasoning-content", OA_DEEPSEEK, OA, expect=OA_DEEPSEEK_EXPECT),
    # OpenRouter repeats role: the client holds role "assistantassistant", which the oracle does not compare.
    P(
        "oracle.openai-python",
        "openrouter-reasoning-role-repeated",
        OA_OPENROUTER_REASONING,
        OA,
        expect={"text": "4", "reasoning": "We need 4.", "finish": "stop"},
    ),
    P(
        "oracle.openai-python",
        "length-is-not-a-client-error",
        openai(oa_role(), oa_text("The planets are"), oa_finish("length")),
        OA,
        expect={"text": "The planets are", "finish": "length"},
    ),
    P("oracle.openai-python", "negative-error-frame-raises", OA_ERROR, OA, expect=OA_ERROR_EXPECT, negative=NEG_ERROR),
    F(
        "oracle.openai-python",
        "negative-cut-without-finish",
        OA_CUT_SILENT,
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_CUT,
        message="it must raise",
        event=None,
    ),
    F(
        "oracle.openai-python",
        "tool-index-1-before-0",
        OA_TOOL_INDEX_1_FIRST,
        OA,
        expect=OA_PARALLEL_EXPECT,
        message="openai-python",
        event=None,
    ),
    F(
        "oracle.openai-python",
        "parallel-merged-at-index-0",
        OA_PARALLEL_ALL_INDEX_0,
        OA,
        expect=OA_PARALLEL_EXPECT,
        message="assembled tool calls",
        event=None,
    ),
    F(
        "oracle.openai-python",
        "error-frame-on-completed-stream",
        OA_ERROR,
        OA,
        expect=OA_TEXT_EXPECT,
        message="raised APIError",
        event=None,
    ),
    F(
        "oracle.openai-python",
        "cut-off-reported-as-clean-finish",
        OA_CUT_AS_CLEAN,
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_CUT,
        message="returned a completion (finish_reason 'stop')",
        event=None,
    ),
    P("oracle.anthropic-python", "text", AN_TEXT, AN, expect=AN_TEXT_EXPECT),
    P("oracle.anthropic-python", "tool-use", AN_TOOL, AN, expect=AN_TOOL_EXPECT),
    P("oracle.anthropic-python", "tool-no-arguments", AN_TOOL_NO_ARGS, AN, expect=AN_TOOL_NO_ARGS_EXPECT),
    P("oracle.anthropic-python", "thinking-signature", AN_THINKING, AN, expect=AN_THINKING_EXPECT),
    P("oracle.anthropic-python", "web-search-citations-padding", AN_WEB_SEARCH, AN, expect=AN_WEB_SEARCH_EXPECT),
    P(
        "oracle.anthropic-python",
        "negative-error-event-raises",
        AN_ERROR,
        AN,
        expect=AN_ERROR_EXPECT,
        negative=NEG_ERROR,
    ),
    F(
        "oracle.anthropic-python",
        "thinking-into-text-block",
        AN_THINKING_INTO_TEXT,
        AN,
        expect=AN_THINKING_EXPECT,
        message="assembled thinking ''",
        event=None,
    ),
    F(
        "oracle.anthropic-python",
        "bare-data-events",
        AN_BARE_DATA,
        AN,
        expect=AN_TEXT_EXPECT,
        message="raised AssertionError",
        event=None,
    ),
    F(
        "oracle.anthropic-python",
        "signature-dropped",
        AN_THINKING_SIGNATURE_DROPPED,
        AN,
        expect=AN_THINKING_EXPECT,
        message="assembled signatures []",
        event=None,
    ),
    F(
        "oracle.anthropic-python",
        "error-event-on-completed-stream",
        AN_ERROR,
        AN,
        expect=AN_TEXT_EXPECT,
        message="raised APIStatusError",
        event=None,
    ),
    F(
        "oracle.anthropic-python",
        "cut-off-reported-as-clean-finish",
        AN_CUT_AS_CLEAN,
        AN,
        expect=AN_ERROR_EXPECT,
        negative=NEG_CUT,
        message="without raising",
        event=None,
    ),
]

HTTP_CASES = [
    P("http.error-body", "openai-429", OPENAI_ERROR_BODY, OA, status=429),
    P(
        "http.error-body",
        "openrouter-400-numeric-code",
        b'{"error":{"code":400,"message":"Provider returned error"}}',
        OA,
        status=400,
    ),
    P("http.error-body", "anthropic-529", ANTHROPIC_ERROR_BODY, AN, status=529),
    F(
        "http.error-body",
        "html-502",
        b"<html><body>502 Bad Gateway</body></html>",
        OA,
        status=502,
        message="body is not JSON",
        event=None,
    ),
    F("http.error-body", "no-message", b'{"error":"boom"}', OA, status=500, message="has no error.message", event=None),
    F(
        "http.error-body",
        "openai-shape-to-anthropic-client",
        OPENAI_ERROR_BODY,
        AN,
        status=500,
        message="not an Anthropic error object",
        event=None,
    ),
]

# ------------------------------------------------------- fields the official clients read (breaks)


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    """A deep copy of `data` without the key at `path`."""
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copy


CLIENT_FIELD_CASES = [
    P("openai.error.message", "openai-frame-with-spaces", OA_ERROR, OA),
    P("openai.error.message", "openrouter-error-chunk", OA_OPENROUTER_ERROR, OA),
    # Hugging Face TGI: {"error": "<text>"}; openai-python raises with a generic message instead.
    F(
        "openai.error.message",
        "error-as-string",
        openai(oa_role(), oa_text("Here"), {"error": "Model overloaded", "error_type": "generation"}, done=False),
        OA,
        message="without error.message",
        event=2,
    ),
    F(
        "openai.error.message",
        "error-without-message",
        openai(oa_role(), oa_text("Here"), {"error": {"type": "server_error", "code": 500}}, done=False),
        OA,
        message="without error.message",
        event=2,
    ),
    P("openai.usage.last", "usage-chunk-last", OA_TEXT, OA, request=USAGE_REQUEST),
    P(
        "openai.usage.last",
        "usage-on-finish-chunk",
        openai(oa_role(), oa_text("Hi"), oa_finish("stop", usage=usage_of(9, 1))),
        OA,
    ),
    P("openai.usage.last", "no-usage", OA_TEXT_NO_USAGE, OA),
    # openai-python sets usage from every chunk: the finish chunk's null erases the usage sent before it.
    F(
        "openai.usage.last",
        "usage-chunk-before-finish-chunk",
        openai(oa_role(), oa_text("Hi"), oa_usage(9, 1), oa_finish("stop")),
        OA,
        request=USAGE_REQUEST,
        message="follows the last one with usage",
        event=3,
    ),
    # openai-python dispatches a blank line after a retry: field, or after any id: line, as data "".
    F(
        "openai.sse.no-dataless-event",
        "retry-before-the-stream",
        b"retry: 3000\n\n" + OA_TEXT,
        OA,
        message="retry without data",
        event=None,
    ),
    F(
        "openai.sse.no-dataless-event",
        "id-then-an-extra-blank-line",
        openai(oa_role(), "id: 1\ndata: " + compact(oa_text("Hi")) + "\n\n\n", oa_finish("stop")),
        OA,
        message="id without data",
        event=None,
    ),
    # The same id lines without an extra blank line: every blank line ends an event with data.
    P(
        "openai.sse.no-dataless-event",
        "id-lines-alone",
        openai(oa_role(), "id: 1\ndata: " + compact(oa_text("Hi")) + "\n\n", oa_finish("stop")),
        OA,
    ),
    P("openai.chunk.client-fields", "text", OA_TEXT, OA),
    # Azure's placeholder first chunk has object "" but no choice and no usage: skipping it loses nothing.
    P(
        "openai.chunk.client-fields",
        "azure-placeholder-chunk",
        openai(
            chunk(id="", object="", model="", created=0, prompt_filter_results=[]),
            oa_role(),
            oa_text("Hi"),
            oa_finish("stop"),
        ),
        OA,
    ),
    # openai-python skips a chunk whose object is not chat.completion.chunk: its text is lost.
    F(
        "openai.chunk.client-fields",
        "copilot-no-object",
        openai(oa_role(), oa({"content": "Hi"}, drop=("object",)), oa_finish("stop")),
        OA,
        message="openai-python skips it",
        event=1,
    ),
    # openai-python raises TypeError on a choice without index, AttributeError on one without delta.
    F(
        "openai.chunk.client-fields",
        "choice-without-index",
        openai(oa_role(), chunk(_without(choice({"content": "Hi"}), "index")), oa_finish("stop")),
        OA,
        message="raises on its index",
        event=1,
    ),
    F(
        "openai.chunk.client-fields",
        "choice-without-delta",
        openai(oa_role(), chunk({"index": 0, "finish_reason": None}), oa_finish("stop")),
        OA,
        message="raises on its delta",
        event=1,
    ),
    P("anthropic.event.client-fields", "text", AN_TEXT, AN),
    P("anthropic.event.client-fields", "tool-use", AN_TOOL, AN),
    # LiteLLM omits stop_sequence: the accumulator does not read it.
    P(
        "anthropic.event.client-fields",
        "no-stop-sequence",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            _without(message_delta("end_turn", 3), "delta", "stop_sequence"),
            MESSAGE_STOP,
        ),
        AN,
    ),
    F(
        "anthropic.event.client-fields",
        "delta-without-index",
        anthropic(message_start(), text_start(0), _without(text_delta(0, "Hi"), "index"), block_stop(0)),
        AN,
        message="content_block_delta without index",
        event=2,
    ),
    F(
        "anthropic.event.client-fields",
        "message-delta-without-usage",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            _without(message_delta(), "usage"),
            MESSAGE_STOP,
        ),
        AN,
        message="message_delta without usage",
        event=4,
    ),
    F(
        "openai.chunk.client-fields",
        "tool-type-null-in-a-later-delta",
        openai(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls({"index": 0, "type": None, "function": {"arguments": "{}"}}),
            oa_finish("tool_calls"),
        ),
        OA,
        message="type other than function",
        event=1,
    ),
    F(
        "anthropic.event.client-fields",
        "message-start-without-content",
        anthropic(_without(message_start(), "message", "content"), text_start(0), text_delta(0, "Hi"), block_stop(0)),
        AN,
        message="without message.content",
        event=0,
    ),
    F(
        "anthropic.event.client-fields",
        "text-block-without-text",
        anthropic(message_start(), block_start(0, {"type": "text"}), text_delta(0, "Hi"), block_stop(0)),
        AN,
        message="without content_block.text",
        event=1,
    ),
    F(
        "anthropic.event.client-fields",
        "message-delta-usage-without-output-tokens",
        anthropic(
            message_start(),
            text_start(0),
            text_delta(0, "Hi"),
            block_stop(0),
            {**message_delta(), "usage": {}},
            MESSAGE_STOP,
        ),
        AN,
        message="without usage.output_tokens",
        event=4,
    ),
    F(
        "anthropic.event.client-fields",
        "message-start-without-usage",
        anthropic(_without(message_start(), "message", "usage"), text_start(0), text_delta(0, "Hi"), block_stop(0)),
        AN,
        message="without message.usage",
        event=0,
    ),
]

# ------------------------------------------------------------- responses cut off by the target

ABORTED_CASES = [
    # An aborted response is an error to every client: it surfaces the upstream's failure.
    P(
        "semantic.error-surfaced",
        "openai-aborted-before-done",
        OA_CUT_SILENT,
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_CUT,
        ending="aborted",
    ),
    P(
        "semantic.error-surfaced",
        "anthropic-aborted",
        anthropic(message_start(18), text_start(0), text_delta(0, "The lighthouse keeper")),
        AN,
        expect=AN_ERROR_EXPECT,
        negative=NEG_CUT,
        ending="aborted",
    ),
    # openai-python stops reading at [DONE]: a response aborted after it is a clean finish to it.
    F(
        "semantic.error-surfaced",
        "openai-aborted-after-done",
        OA_CUT_AS_CLEAN,
        OA,
        expect=OA_ERROR_EXPECT,
        negative=NEG_CUT,
        ending="aborted",
        message="reported as a clean finish",
        event=None,
    ),
    P("openai.stream.terminated", "aborted", OA_CUT_SILENT, OA, ending="aborted"),
    F(
        "semantic.clean-finish",
        "anthropic-aborted-after-message-stop",
        AN_TEXT,
        AN,
        expect=AN_TEXT_EXPECT,
        ending="aborted",
        message="cut off after message_stop",
        event=None,
    ),
    P("semantic.clean-finish", "openai-aborted-after-done", OA_TEXT, OA, expect=OA_TEXT_EXPECT, ending="aborted"),
    F(
        "semantic.clean-finish",
        "openai-aborted-before-done",
        OA_CUT_SILENT,
        OA,
        expect=OA_TEXT_EXPECT,
        ending="aborted",
        message="never terminates cleanly",
        event=None,
    ),
    # The upstream failed before the message began: an error may open the stream.
    P(
        "anthropic.message-start.first",
        "error-before-the-message",
        anthropic(error_event("overloaded_error", "Overloaded")),
        AN,
    ),
]


# ------------------------------------------------- semantic.* for the fields expect grew

OA_REFUSAL = openai(
    oa({"role": "assistant", "content": None, "refusal": ""}),
    oa({"refusal": "I can't help with that."}),
    oa_finish("stop"),
    oa_usage(20, 7),
)
OA_REFUSAL_AS_TEXT = openai(oa_role(), oa_text("I can't help with that."), oa_finish("stop"), oa_usage(20, 7))
OA_REFUSAL_EXPECT = {
    **OA_TEXT_EXPECT,
    "text": "",
    "refusal": "I can't help with that.",
    "usage": {"input_tokens": 20, "output_tokens": 7},
}
AN_STOP_SEQUENCE = anthropic(
    message_start(25), text_start(0), text_delta(0, "Hello there!"), block_stop(0),
    message_delta("stop_sequence", 12), MESSAGE_STOP,
)  # fmt: skip
N3_CHOICES = [{"index": 1, "text": "Green", "finish": "stop"}, {"index": 2, "text": "Blue", "finish": "stop"}]
N3_FULL_EXPECT = {
    **OA_TEXT_EXPECT,
    "text": "Red",
    "usage": {"input_tokens": 12, "output_tokens": 3},
    "choices": N3_CHOICES,
}
AN_WEB_SEARCH_NO_SERVER_TOOLS = anthropic(
    message_start(2310),
    text_start(0), text_delta(0, "I'll search for that."), block_stop(0),
    text_start(1, citations=True), block_delta(1, {"type": "citations_delta", "citation": CITATION}), text_delta(1, "About 14.2 million people."), block_stop(1),
    message_delta("end_turn", 142, input_tokens=8745, server_tool_use={"web_search_requests": 1}),
    MESSAGE_STOP,
)  # fmt: skip
AN_WEB_SEARCH_NO_CITATIONS = AN_WEB_SEARCH.replace(
    ("data: " + compact(block_delta(3, {"type": "citations_delta", "citation": CITATION})) + "\n").encode(), b""
).replace(b"event: content_block_delta\n\nevent", b"event")
OA_ERROR_FULL_EXPECT = {
    **OA_ERROR_EXPECT,
    "error": {
        "type": "server_error",
        "message": "The server had an error while processing your request. Sorry about that!",
    },
}

GROWN_EXPECT_CASES = [
    P("semantic.refusal", "kept-apart", OA_REFUSAL, OA, expect=OA_REFUSAL_EXPECT),
    F(
        "semantic.refusal",
        "moved-into-content",
        OA_REFUSAL_AS_TEXT,
        OA,
        expect=OA_REFUSAL_EXPECT,
        message="refusal differs",
        event=None,
    ),
    P(
        "semantic.native-finish",
        "stop-sequence-kept",
        AN_STOP_SEQUENCE,
        AN,
        expect={**AN_TEXT_EXPECT, "native_finish": "stop_sequence"},
    ),
    P("semantic.native-finish", "usual-finish", AN_TEXT, AN, expect=AN_TEXT_EXPECT),
    F(
        "semantic.native-finish",
        "stop-sequence-lost",
        AN_TEXT,
        AN,
        expect={**AN_TEXT_EXPECT, "native_finish": "stop_sequence"},
        message="finish value was not kept",
        event=None,
    ),
    F(
        "semantic.native-finish",
        "stop-sequence-invented",
        AN_STOP_SEQUENCE,
        AN,
        expect=AN_TEXT_EXPECT,
        message="finish value was not kept",
        event=None,
    ),
    P("semantic.choices", "n3", OA_N3, OA, request={**USAGE_REQUEST, "n": 3}, expect=N3_FULL_EXPECT),
    F(
        "semantic.choices",
        "only-first-kept",
        OA_TEXT,
        OA,
        expect={**OA_TEXT_EXPECT, "choices": N3_CHOICES},
        message="choice 1 was lost",
        event=None,
    ),
    F(
        "semantic.choices",
        "choices-swapped",
        openai(
            oa_role(index=0),
            oa_text("Red", index=0),
            oa_role(index=1),
            oa_text("Blue", index=1),
            oa_role(index=2),
            oa_text("Green", index=2),
            oa_finish("stop", index=0),
            oa_finish("stop", index=1),
            oa_finish("stop", index=2),
        ),
        OA,
        expect=N3_FULL_EXPECT,
        message="choice 1's text differs",
        event=None,
    ),  # fmt: skip
    P("semantic.server-tools", "web-search", AN_WEB_SEARCH, AN, expect=AN_WEB_SEARCH_EXPECT),
    F(
        "semantic.server-tools",
        "dropped",
        AN_WEB_SEARCH_NO_SERVER_TOOLS,
        AN,
        expect=AN_WEB_SEARCH_EXPECT,
        message="server-tool blocks differ",
        event=None,
    ),
    F(
        "semantic.server-tools",
        "invented",
        AN_WEB_SEARCH,
        AN,
        expect={**AN_WEB_SEARCH_EXPECT, "server_tools": []},
        message="server-tool blocks differ",
        event=None,
    ),
    P("semantic.citations", "web-search", AN_WEB_SEARCH, AN, expect=AN_WEB_SEARCH_EXPECT),
    F(
        "semantic.citations",
        "dropped",
        AN_WEB_SEARCH_NO_CITATIONS,
        AN,
        expect=AN_WEB_SEARCH_EXPECT,
        message="citations differ",
        event=None,
    ),
    P("semantic.error", "kept", OA_ERROR, OA, expect=OA_ERROR_FULL_EXPECT, negative=NEG_ERROR),
    P(
        "semantic.error",
        "message-kept-across-protocols",
        AN_ERROR,
        AN,
        expect={**AN_ERROR_EXPECT, "error": {"type": "server_error", "message": "Overloaded"}},
        negative=NEG_ERROR,
        expect_protocol=OA,
    ),
    F(
        "semantic.error",
        "message-replaced",
        AN_ERROR,
        AN,
        expect={**AN_ERROR_EXPECT, "error": {"type": "overloaded_error", "message": "Overloaded, retry later"}},
        negative=NEG_ERROR,
        message="the error's message was lost",
        event=None,
    ),
    P(
        "semantic.error",
        "message-wrapped",
        anthropic(
            message_start(18),
            text_start(0),
            PING,
            text_delta(0, "The lighthouse keeper"),
            error_event(message="upstream: Overloaded"),
        ),
        AN,
        expect={**AN_ERROR_EXPECT, "error": {"type": "overloaded_error", "message": "Overloaded"}},
        negative=NEG_ERROR,
    ),
    F(
        "semantic.error",
        "type-changed",
        AN_ERROR,
        AN,
        expect={**AN_ERROR_EXPECT, "error": {"type": "api_error", "message": "Overloaded"}},
        negative=NEG_ERROR,
        message="the error's type differs",
        event=None,
    ),
]


CASES: list[Case] = [
    *SSE_CASES,
    *HTTP_CASES,
    *OPENAI_FRAMING_CASES,
    *CHUNK_CASES,
    *DELTA_CASES,
    *FINISH_CASES,
    *USAGE_CASES,
    *REASONING_CASES,
    *ANTHROPIC_FRAMING_CASES,
    *SCHEMA_CASES,
    *ORDER_CASES,
    *BLOCK_CASES,
    *SEMANTIC_CASES,
    *ORACLE_CASES,
    *CLIENT_FIELD_CASES,
    *ABORTED_CASES,
    *GROWN_EXPECT_CASES,
]


def _param(case: Case) -> Any:
    return pytest.param(case, id=case.id, marks=list(case.marks))


def _context(case: Case) -> Any:
    return build_context(
        case.stream,
        case.protocol,
        chunks=case.chunks,
        request=case.request,
        expect=case.expect,
        negative=case.negative,
        usage_requested=case.usage_requested,
        status=case.status,
        ending=case.ending,
        expect_protocol=case.expect_protocol,
    )


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_invariant(case: Case) -> None:
    inv = registry()[case.invariant]
    assert inv.protocol in (None, case.protocol), f"{case.id}: {inv.id} does not check {case.protocol} streams"
    if case.chunks is not None:
        assert b"".join(case.chunks) == case.stream
    verdict = evaluate(inv, _context(case))
    if case.should == "pass":
        details = [v.to_json() for v in verdict.violations]
        assert verdict.outcome == "pass", f"{case.id}: expected pass, got {verdict.outcome}: {verdict.reason} {details}"
        return
    assert verdict.outcome == "fail", f"{case.id}: expected fail, got {verdict.outcome} ({verdict.reason})"
    first = verdict.violations[0]
    assert first.message.strip(), "a violation must say what is wrong"
    assert verdict.reason == first.message
    assert case.message in first.message, f"message {first.message!r} lacks {case.message!r}"
    assert first.expected is not None or first.actual is not None, "a violation must say what was expected or found"
    assert first.event == case.event, (
        f"first violation points at event {first.event}, expected {case.event}: {first.message}"
    )
    if first.event is not None:
        assert 0 <= first.event < len(_context(case).events)


def test_every_invariant_has_a_passing_and_a_failing_case() -> None:
    # transport.* judge timings and concurrent runs, not one stream: tests/test_transport.py has
    # their passing and failing cases; tests/test_openai_responses.py has those of the invariants
    # only a Responses stream meets (openai-responses.*, semantic.encrypted-reasoning, the oracle).
    ids = {name for name, inv in registry().items() if not name.startswith("transport.") and inv.protocol != RS}
    passing = {case.invariant for case in CASES if case.should == "pass"}
    failing = {case.invariant for case in CASES if case.should == "fail"}
    assert {case.invariant for case in CASES} == ids, (
        f"unknown ids in the table: {sorted({c.invariant for c in CASES} - ids)}"
    )
    assert ids - passing == set(), f"invariants without a passing case: {sorted(ids - passing)}"
    assert ids - failing == set(), f"invariants without a failing case: {sorted(ids - failing)}"


def test_case_ids_are_unique() -> None:
    seen: dict[str, int] = {}
    for case in CASES:
        seen[case.id] = seen.get(case.id, 0) + 1
    assert [case_id for case_id, count in seen.items() if count > 1] == []


def test_failing_cases_name_their_event() -> None:
    """Every failing case says where its first violation points (an index, or None on purpose)."""
    assert [case.id for case in CASES if case.should == "fail" and case.event is _UNSET] == []


def test_pass_streams_are_well_formed_json_events() -> None:
    """The constructors write what they claim: every event's data parses (or is [DONE]) in pass streams."""
    for case in CASES:
        if case.should != "pass" or case.invariant.startswith(
            ("sse.", "openai.data", "anthropic.data", "openai.error", "anthropic.stream")
        ):
            continue
        ctx = _context(case)
        broken = [p.index for p in ctx.payloads if p.json_error and not p.is_done]
        assert broken == [], f"{case.id}: events {broken} are not JSON"


@pytest.mark.parametrize("invariant", ["anthropic.message-stop.last", "anthropic.message-delta.once"])
def test_a_stream_the_target_aborted_owes_no_terminator(invariant: str) -> None:
    """The abort is the stream's error: what a clean end must have is not asked of it."""
    cut = anthropic(message_start(18), text_start(0), text_delta(0, "The lighthouse keeper"))
    assert evaluate(registry()[invariant], build_context(cut, AN)).outcome == "fail"
    assert evaluate(registry()[invariant], build_context(cut, AN, ending="aborted")).outcome == "skipped"


def test_the_native_finish_is_judged_only_for_a_client_of_the_upstreams_protocol() -> None:
    # An OpenAI client's finish_reason cannot say stop_sequence: an adapter maps it to stop.
    expect = {**OA_TEXT_EXPECT, "native_finish": "stop_sequence"}
    ctx = build_context(OA_TEXT, OA, expect=expect, expect_protocol=AN)
    assert evaluate(registry()["semantic.native-finish"], ctx).outcome == "skipped"
    ctx = build_context(OA_TEXT, OA, expect=expect, expect_protocol=OA)
    assert evaluate(registry()["semantic.native-finish"], ctx).outcome == "fail"


def test_a_repeated_id_without_a_name_continues_its_call_and_a_named_one_at_a_used_index_starts_one() -> None:
    repeated = openai(
        oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
        oa_calls({"index": 0, "id": CALL_B, "function": {"arguments": '{"city":'}}),
        oa_calls(args(0, ' "Paris"}')),
        oa_finish("tool_calls"),
    )
    [call] = build_context(repeated, OA).message.tool_calls
    assert (call.id, call.name, call.arguments) == (CALL_A, "get_weather", {"city": "Paris"})
    calls = build_context(OA_PARALLEL_ALL_INDEX_0, OA).message.tool_calls
    assert [(c.id, c.name) for c in calls] == [(CALL_A, "get_weather"), (CALL_B, "get_time")]


def test_a_changed_citation_is_shown_with_its_place() -> None:
    other = {**CITATION, "cited_text": "Tokyo has about 37 million people in its metropolitan area."}
    ctx = build_context(AN_WEB_SEARCH, AN, expect={**AN_WEB_SEARCH_EXPECT, "citations": [other]})
    verdict = evaluate(registry()["semantic.citations"], ctx)
    [violation] = verdict.violations
    assert "from citation 0 on" in violation.message and violation.path == "citations[0]"
    assert (violation.expected, violation.actual) == (other, CITATION)


def test_expect_keeps_the_error_fields_the_capture_schema_types() -> None:
    from conformance.neutral import Message

    error = {"type": None, "code": 400, "message": "Provider returned error", "status": 400, "param": None}
    assert Message(error=error).expect()["error"] == {"code": 400, "message": "Provider returned error"}
    assert "error" not in Message(error={"type": None, "message": None}).expect()
