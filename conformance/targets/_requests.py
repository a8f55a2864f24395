"""Request translation between OpenAI chat and Anthropic Messages, and between OpenAI Responses and
Anthropic Messages, both ways (chat and Responses: `conformance.targets._responses_requests`).

Only what a streaming chat turn needs: system prompt, text messages, client tool calls and their
results, tools, tool choice, token limit, sampling and stop sequences (and, between Responses and
Anthropic, web search). Anything else (images, other server tools, thinking budgets, reasoning
settings) is left out rather than guessed at.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "anthropic_to_openai_request",
    "anthropic_to_responses_request",
    "openai_to_anthropic_request",
    "responses_to_anthropic_request",
]

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
        _append_turn(messages, converted)  # tool results after several calls become one turn
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


def _append_turn(messages: list[dict[str, Any]], turn: dict[str, Any]) -> None:
    """Add an Anthropic turn, merged into the last one when the role repeats: Anthropic wants
    alternating roles."""
    if messages and messages[-1]["role"] == turn["role"]:
        messages[-1]["content"] = _blocks(messages[-1]["content"]) + _blocks(turn["content"])
    else:
        messages.append(turn)


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


# -- OpenAI Responses <-> Anthropic Messages ------------------------------------------------------

# An Anthropic tool's input is a JSON object described by an object schema, so a Responses custom
# (free-form) tool takes its text as the one string property `input`; the responses -> anthropic
# route wraps a custom tool call's input the same way.
_FREE_FORM_INPUT = "input"
_ANTHROPIC_WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}
_RESPONSES_WEB_SEARCH = frozenset({"web_search", "web_search_preview"})
_RESPONSES_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})


def responses_to_anthropic_request(request: dict[str, Any], default_max_tokens: int = 4096) -> dict[str, Any]:
    """An OpenAI Responses request as an Anthropic Messages request (stream on).

    `instructions` and system or developer messages become `system`; `input` (a string, or message,
    function and custom tool call and output items) becomes `messages`; function tools become tools
    with an `input_schema`, a custom tool one whose input is `{"input": <text>}`, and web search
    Anthropic's web search tool; `max_output_tokens` becomes `max_tokens`, which Anthropic requires,
    hence the default. Reasoning items (OpenAI's encrypted reasoning has no Anthropic form),
    reasoning settings, text formats and other tools are left out.
    """
    system: list[str] = []
    if isinstance(request.get("instructions"), str) and request["instructions"]:
        system.append(request["instructions"])
    items = request.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    messages: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type", "message") == "message" and item.get("role") in ("system", "developer"):
            text = _responses_text(item.get("content"))
            if text:
                system.append(text)
            continue
        converted = _responses_item_to_anthropic(item)
        if converted is None:
            continue
        _append_turn(messages, converted)  # a call's output and the user's text are one turn
    out: dict[str, Any] = {"model": request.get("model")}
    out["max_tokens"] = request.get("max_output_tokens") or default_max_tokens
    if system:
        out["system"] = "\n\n".join(system)
    out["messages"] = messages
    for key in _SAMPLING:
        if key in request:
            out[key] = request[key]
    tools = [
        converted
        for converted in (_responses_tool_to_anthropic(tool) for tool in request.get("tools") or ())
        if converted is not None
    ]
    if tools:
        out["tools"] = tools
        choice = _responses_tool_choice_to_anthropic(request.get("tool_choice"))
        if request.get("parallel_tool_calls") is False and (choice or {}).get("type") != "none":
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice is not None:
            out["tool_choice"] = choice
    out["stream"] = True
    return out


def anthropic_to_responses_request(request: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request as an OpenAI Responses request (stream on).

    `system` becomes `instructions`; messages become input items (text as messages, `tool_use` as
    `function_call`, `tool_result` as `function_call_output`); tools with an `input_schema` become
    function tools and Anthropic's web search Responses' `web_search`; `max_tokens` becomes
    `max_output_tokens`. Thinking blocks (their signatures are Anthropic's), stop sequences (which
    Responses lacks) and other server tools are left out.
    """
    out: dict[str, Any] = {"model": request.get("model")}
    system = _text_of(request.get("system"))
    if system:
        out["instructions"] = system
    items: list[dict[str, Any]] = []
    for message in request.get("messages") or ():
        if isinstance(message, dict):
            items.extend(_anthropic_message_to_responses(message))
    out["input"] = items
    if "max_tokens" in request:
        out["max_output_tokens"] = request["max_tokens"]
    for key in _SAMPLING:
        if key in request:
            out[key] = request[key]
    tools: list[dict[str, Any]] = []
    for tool in request.get("tools") or ():
        if "input_schema" in tool:
            function = {"type": "function", "name": tool.get("name")}
            if tool.get("description"):
                function["description"] = tool["description"]
            tools.append({**function, "parameters": tool["input_schema"]})
        elif str(tool.get("type", "")).startswith("web_search_"):
            tools.append({"type": "web_search"})
    if tools:
        out["tools"] = tools
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "tool":
            out["tool_choice"] = {"type": "function", "name": choice.get("name")}
        elif kind in ("auto", "any", "none"):
            out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[str(kind)]
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    out["stream"] = True
    return out


def _responses_text(content: Any) -> str:
    """The text of a Responses message's content: a string, or input_text, output_text and refusal parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in _RESPONSES_TEXT_PARTS:
            texts.append(str(part.get("text") or ""))
        elif isinstance(part, dict) and part.get("type") == "refusal":
            texts.append(str(part.get("refusal") or ""))
    return "".join(texts)


def _responses_item_to_anthropic(item: dict[str, Any]) -> dict[str, Any] | None:
    kind = item.get("type", "message")
    if kind == "message":
        role, text = item.get("role"), _responses_text(item.get("content"))
        # Anthropic refuses an empty text block, so an empty message is left out.
        return {"role": role, "content": text} if role in ("user", "assistant") and text else None
    if kind in ("function_call", "custom_tool_call"):
        if kind == "custom_tool_call":
            arguments: Any = {_FREE_FORM_INPUT: str(item.get("input") or "")}
        else:
            try:
                arguments = json.loads(item.get("arguments") or "{}")
            except ValueError:
                arguments = {}
        block = {"type": "tool_use", "id": item.get("call_id"), "name": item.get("name"), "input": arguments}
        return {"role": "assistant", "content": [block]}
    if kind in ("function_call_output", "custom_tool_call_output"):
        result = {
            "type": "tool_result",
            "tool_use_id": item.get("call_id"),
            "content": _responses_text(item.get("output")),
        }
        return {"role": "user", "content": [result]}
    return None  # reasoning and server tools' items have no Anthropic form a client could send


def _responses_tool_to_anthropic(tool: Any) -> dict[str, Any] | None:
    if not isinstance(tool, dict):
        return None
    kind = tool.get("type")
    if kind in _RESPONSES_WEB_SEARCH:
        return dict(_ANTHROPIC_WEB_SEARCH)
    if kind not in ("function", "custom"):
        return None
    out: dict[str, Any] = {"name": tool.get("name")}
    if tool.get("description"):
        out["description"] = tool["description"]
    if kind == "function":
        out["input_schema"] = tool.get("parameters") or {"type": "object", "properties": {}}
        return out
    text: dict[str, Any] = {"type": "string", "description": "The tool's free-form input."}
    form = tool.get("format")
    if isinstance(form, dict) and form.get("type") == "grammar" and form.get("definition"):
        text["description"] += f" It follows this {form.get('syntax', '')} grammar:\n{form['definition']}"
    out["input_schema"] = {
        "type": "object",
        "properties": {_FREE_FORM_INPUT: text},
        "required": [_FREE_FORM_INPUT],
        "additionalProperties": False,
    }
    return out


def _responses_tool_choice_to_anthropic(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str):
        kind = {"auto": "auto", "required": "any", "none": "none"}.get(choice)
        return {"type": kind} if kind else None
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom") and choice.get("name"):
        return {"type": "tool", "name": choice["name"]}
    return None


def _anthropic_message_to_responses(message: dict[str, Any]) -> list[dict[str, Any]]:
    role = message.get("role")
    content = message.get("content")
    if not isinstance(content, list):
        text = _text_of(content)
        return [{"type": "message", "role": role, "content": text}] if text else []
    items: list[dict[str, Any]] = []
    texts: list[str] = []

    def flush() -> None:
        if texts:
            items.append({"type": "message", "role": role, "content": "".join(texts)})
            texts.clear()

    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            flush()
            arguments = json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False)
            items.append(
                {"type": "function_call", "call_id": block.get("id"), "name": block.get("name"), "arguments": arguments}
            )
        elif kind == "tool_result":
            flush()
            output = _text_of(block.get("content"))
            items.append({"type": "function_call_output", "call_id": block.get("tool_use_id"), "output": output})
    flush()
    return items
