"""Request translation between OpenAI chat and Anthropic Messages, both ways.

Only what a streaming chat turn needs: system prompt, text messages, client tool calls and their
results, tools, tool choice, token limit, sampling and stop sequences. Anything else (images,
server tools, thinking budgets) is left out rather than guessed at.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["anthropic_to_openai_request", "openai_to_anthropic_request"]

_SAMPLING = ("temperature", "top_p")


def anthropic_to_openai_request(request: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request as an OpenAI chat request (stream on, usage requested)."""
    messages: list[dict[str, Any]] = []
    system = _text_of(request.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in request.get("messages") or ():
        messages.extend(_anthropic_message_to_openai(message))
    out: dict[str, Any] = {"model": request.get("model"), "messages": messages}
    if "max_tokens" in request:
        out["max_tokens"] = request["max_tokens"]
    for key in _SAMPLING:
        if key in request:
            out[key] = request[key]
    if request.get("stop_sequences"):
        out["stop"] = list(request["stop_sequences"])
    tools = [_anthropic_tool_to_openai(tool) for tool in request.get("tools") or () if "input_schema" in tool]
    if tools:
        out["tools"] = tools
    choice = _anthropic_tool_choice_to_openai(request.get("tool_choice"))
    if choice is not None:
        out["tool_choice"] = choice
    out["stream"] = True
    # Always asked for: the Anthropic client gets usage in message_delta whatever it requested.
    out["stream_options"] = {"include_usage": True}
    return out


def openai_to_anthropic_request(request: dict[str, Any], default_max_tokens: int = 4096) -> dict[str, Any]:
    """An OpenAI chat request as an Anthropic Messages request (stream on).

    Anthropic requires `max_tokens`; OpenAI does not, hence the default.
    """
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in request.get("messages") or ():
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        converted = _openai_message_to_anthropic(message)
        if converted is None:
            continue
        # Anthropic wants alternating roles: tool results after several calls become one turn.
        if messages and messages[-1]["role"] == converted["role"]:
            messages[-1]["content"] = _blocks(messages[-1]["content"]) + _blocks(converted["content"])
        else:
            messages.append(converted)
    out: dict[str, Any] = {"model": request.get("model")}
    out["max_tokens"] = request.get("max_tokens") or request.get("max_completion_tokens") or default_max_tokens
    if system:
        out["system"] = "\n\n".join(system)
    out["messages"] = messages
    for key in _SAMPLING:
        if key in request:
            out[key] = request[key]
    stop = request.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = [
        _openai_tool_to_anthropic(tool)
        for tool in request.get("tools") or ()
        if tool.get("type", "function") == "function"
    ]
    if tools:
        out["tools"] = tools
    choice = _openai_tool_choice_to_anthropic(request.get("tool_choice"))
    if choice is not None:
        out["tool_choice"] = choice
    out["stream"] = True
    return out


def _text_of(content: Any) -> str:
    """The text of a string or of a list of text blocks/parts (both APIs use `{"type":"text"}`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content)


def _anthropic_message_to_openai(message: dict[str, Any]) -> list[dict[str, Any]]:
    role = message.get("role")
    content = message.get("content")
    if not isinstance(content, list):
        return [{"role": role, "content": _text_of(content)}]
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False)
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
        elif kind == "tool_result":
            results.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": _text_of(block.get("content"))}
            )
    if role == "assistant":
        assistant: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            assistant["tool_calls"] = calls
        return [assistant]
    # Tool results answer the previous assistant turn, so they go before the user's own text.
    return results + ([{"role": role, "content": "".join(texts)}] if texts or not results else [])


def _openai_message_to_anthropic(message: dict[str, Any]) -> dict[str, Any] | None:
    role = message.get("role")
    if role == "tool":
        result = {
            "type": "tool_result",
            "tool_use_id": message.get("tool_call_id"),
            "content": _text_of(message.get("content")),
        }
        return {"role": "user", "content": [result]}
    if role not in ("user", "assistant"):
        return None
    text = _text_of(message.get("content"))
    calls = message.get("tool_calls") or []
    if not calls:
        return {"role": role, "content": text}
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in calls:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": arguments})
    return {"role": role, "content": blocks}


def _anthropic_tool_to_openai(tool: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.get("name")}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _openai_tool_to_anthropic(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    out: dict[str, Any] = {"name": function.get("name")}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    return out


def _anthropic_tool_choice_to_openai(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return None
    kind = str(choice.get("type"))
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(kind)


def _openai_tool_choice_to_anthropic(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str):
        kind = {"auto": "auto", "required": "any", "none": "none"}.get(choice)
        return {"type": kind} if kind else None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name")}
    return None
