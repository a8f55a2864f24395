"""Helpers for driving built-in targets over a real loopback upstream: upstream stream builders and
parsers for what a target wrote. Shared by test_reference_unit.py and test_mutants_unit.py."""

from __future__ import annotations

import json
from typing import Any

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT
from conformance.replay import ReplayServer, Slot
from conformance.sse import parse
from conformance.targets.base import Exchange, Route, Target

NORMALIZER: Route = (OPENAI_CHAT, OPENAI_CHAT)
ADAPTER: Route = (OPENAI_CHAT, ANTHROPIC_MESSAGES)
TO_OPENAI: Route = (ANTHROPIC_MESSAGES, OPENAI_CHAT)
PASSTHROUGH: Route = (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES)

OPENAI_REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}
ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    *,
    index: int = 0,
    choices: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An OpenAI chat chunk as a provider would send it."""
    body: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m"}
    if choices is None:
        choices = [{"index": index, "delta": delta or {}, "finish_reason": finish}]
    body["choices"] = choices
    body.update(extra)
    return body


def openai_stream(*chunks: dict[str, Any] | str, done: bool = True, newline: str = "\n") -> bytes:
    """`data:` events for `chunks` (a str is sent verbatim as the data), then `[DONE]`."""
    events = [c if isinstance(c, str) else json.dumps(c, ensure_ascii=False) for c in chunks] + (
        ["[DONE]"] if done else []
    )
    return "".join(f"data: {data}{newline}{newline}" for data in events).encode("utf-8")


def anthropic_stream(*events: dict[str, Any], newline: str = "\n") -> bytes:
    return "".join(
        f"event: {e['type']}{newline}data: {json.dumps(e, ensure_ascii=False)}{newline}{newline}" for e in events
    ).encode("utf-8")


def message_start(input_tokens: int = 10) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-sonnet-4-5",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    return {"type": "message_start", "message": message}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": usage or {"output_tokens": 5},
    }


MESSAGE_STOP: dict[str, Any] = {"type": "message_stop"}


def text_events(text: str = "Hello") -> list[dict[str, Any]]:
    """A complete Anthropic text answer."""
    return [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        block_delta(0, {"type": "text_delta", "text": text}),
        block_stop(0),
        message_delta("end_turn", output_tokens=5),
        MESSAGE_STOP,
    ]


async def drive(
    server: ReplayServer,
    target: Target,
    route: Route,
    request: dict[str, Any],
    body: bytes,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    upstream_url: str | None = None,
    **register: Any,
) -> tuple[list[bytes], Slot]:
    """Serve `body` upstream, stream `request` through `target`; return its writes and the slot."""
    slot = server.register(body, **register)
    exchange = Exchange(route, request, upstream_url or slot.url, token=slot.token, headers=headers)
    return [bytes(piece) async for piece in target.stream(exchange)], slot


def openai_payloads(output: list[bytes]) -> list[Any]:
    """Each `data:` payload parsed as JSON, `[DONE]` kept as the string."""
    events, _ = parse(b"".join(output))
    assert all(event.type == "message" for event in events), "an OpenAI stream has no event names"
    return [event.data if event.data == "[DONE]" else json.loads(event.data) for event in events]


def anthropic_events(output: list[bytes]) -> list[tuple[str, Any]]:
    """(event name, parsed data) per event; data that is not JSON is kept as a string."""
    events, _ = parse(b"".join(output))
    out: list[tuple[str, Any]] = []
    for event in events:
        try:
            out.append((event.type, json.loads(event.data)))
        except ValueError:
            out.append((event.type, event.data))
    return out


def deltas(payloads: list[Any]) -> list[dict[str, Any]]:
    """Every choice delta of an OpenAI stream, in order."""
    return [choice["delta"] for p in payloads if isinstance(p, dict) for choice in p.get("choices") or ()]


def joined(payloads: list[Any], key: str) -> str:
    return "".join(d.get(key) or "" for d in deltas(payloads))


def finishes(payloads: list[Any]) -> list[str]:
    return [
        c["finish_reason"]
        for p in payloads
        if isinstance(p, dict)
        for c in p.get("choices") or ()
        if c.get("finish_reason")
    ]


def tool_calls(payloads: list[Any]) -> dict[int, dict[str, str]]:
    """OpenAI tool-call deltas accumulated per index, as openai-python would (id, name, args)."""
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas(payloads):
        for call in delta.get("tool_calls") or ():
            slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] += call.get("id") or ""
            function = call.get("function") or {}
            slot["name"] += function.get("name") or ""
            slot["arguments"] += function.get("arguments") or ""
    return calls


def anthropic_text(events: list[tuple[str, Any]], delta_type: str = "text_delta", key: str = "text") -> str:
    return "".join(
        data["delta"].get(key, "")
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == delta_type
    )
