"""Request translation between OpenAI chat and OpenAI Responses, both ways.

Only what a streaming turn needs, where both APIs have the same thing under another name: the
system prompt (`instructions`), text messages, client tool calls and their results, function and
custom tools, tool choice, the output token limit, sampling, parallel tool calls, reasoning effort
and the structured output format. Anything else (images, stop sequences, server tools such as
`web_search`, reasoning items, `n`) is left out rather than guessed at.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openai_to_responses_request", "responses_to_openai_request"]

_SHARED = ("temperature", "top_p", "parallel_tool_calls")


def openai_to_responses_request(request: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as a Responses request (stream on)."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in request.get("messages") or ():
        if not isinstance(message, dict):
            continue
        if message.get("role") in ("system", "developer"):
            # `instructions` is "a system (or developer) message inserted into the model's context".
            text = _text(message.get("content"))
            if text:
                instructions.append(text)
            continue
        items.extend(_chat_message_to_items(message))
    out: dict[str, Any] = {"model": request.get("model")}
    if instructions:
        out["instructions"] = "\n\n".join(instructions)
    out["input"] = items
    tools = [_chat_tool_to_responses(tool) for tool in request.get("tools") or () if isinstance(tool, dict)]
    # The deprecated `functions` are function tools without the wrapper.
    tools += [_function_tool({"function": f}) for f in request.get("functions") or () if isinstance(f, dict)]
    tools = [tool for tool in tools if tool is not None]
    if tools:
        out["tools"] = tools
    choice = _chat_tool_choice_to_responses(request.get("tool_choice", _legacy_choice(request.get("function_call"))))
    if choice is not None:
        out["tool_choice"] = choice
    limit = request.get("max_completion_tokens", request.get("max_tokens"))
    if isinstance(limit, int):
        out["max_output_tokens"] = limit
    for key in _SHARED:
        if key in request:
            out[key] = request[key]
    if isinstance(request.get("reasoning_effort"), str):
        out["reasoning"] = {"effort": request["reasoning_effort"]}
    text_format = _chat_format_to_responses(request.get("response_format"))
    if text_format is not None:
        out["text"] = {"format": text_format}
    out["stream"] = True
    return out


def responses_to_openai_request(request: dict[str, Any]) -> dict[str, Any]:
    """A Responses request as an OpenAI chat request (stream on, usage requested: a Responses
    stream always ends with its usage, and a chat stream only reports it when asked)."""
    messages: list[dict[str, Any]] = []
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    given = request.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    for item in given if isinstance(given, list) else ():
        if isinstance(item, dict):
            _add_item(messages, item)
    out: dict[str, Any] = {"model": request.get("model"), "messages": messages}
    tools = [_responses_tool_to_chat(tool) for tool in request.get("tools") or () if isinstance(tool, dict)]
    tools = [tool for tool in tools if tool is not None]
    if tools:
        out["tools"] = tools
    choice = _responses_tool_choice_to_chat(request.get("tool_choice"))
    if choice is not None:
        out["tool_choice"] = choice
    if isinstance(request.get("max_output_tokens"), int):
        out["max_tokens"] = request["max_output_tokens"]
    for key in _SHARED:
        if key in request:
            out[key] = request[key]
    reasoning = request.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        out["reasoning_effort"] = reasoning["effort"]
    text = request.get("text")
    response_format = _responses_format_to_chat(text.get("format") if isinstance(text, dict) else None)
    if response_format is not None:
        out["response_format"] = response_format
    out["stream"] = True
    out["stream_options"] = {"include_usage": True}
    return out


# -- messages and items ---------------------------------------------------------------------------


def _text(content: Any) -> str:
    """The text of a string, or of a list of text parts (chat `text`; Responses `input_text`,
    `output_text`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") in ("text", "input_text", "output_text")
            and isinstance(part.get("text"), str)
        )
    return ""


def _chat_message_to_items(message: dict[str, Any]) -> list[dict[str, Any]]:
    role = message.get("role")
    if role == "tool":
        output = _text(message.get("content"))
        return [{"type": "function_call_output", "call_id": message.get("tool_call_id"), "output": output}]
    if role not in ("user", "assistant"):
        return []
    items: list[dict[str, Any]] = []
    text = _text(message.get("content"))
    if text:
        items.append({"role": role, "content": text})
    calls = list(message.get("tool_calls") or ())
    if isinstance(message.get("function_call"), dict):
        calls.append({"type": "function", "function": message["function_call"]})
    for call in calls:
        if not isinstance(call, dict):
            continue
        if call.get("type") == "custom":
            custom = call.get("custom") or {}
            items.append(
                {
                    "type": "custom_tool_call",
                    "call_id": call.get("id"),
                    "name": custom.get("name"),
                    "input": custom.get("input") or "",
                }
            )
            continue
        function = call.get("function") or {}
        items.append(
            {
                "type": "function_call",
                "call_id": call.get("id"),
                "name": function.get("name"),
                "arguments": function.get("arguments") or "{}",
            }
        )
    return items


def _add_item(messages: list[dict[str, Any]], item: dict[str, Any]) -> None:
    """Append one Responses input item to chat `messages`: consecutive calls become one assistant
    message, as a chat assistant turn holds all its tool calls."""
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        if role in ("user", "assistant", "system", "developer"):
            messages.append({"role": role, "content": _text(item.get("content"))})
    elif kind in ("function_call", "custom_tool_call"):
        if kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"},
            }
        else:
            call = {
                "id": item.get("call_id"),
                "type": "custom",
                "custom": {"name": item.get("name"), "input": item.get("input") or ""},
            }
        last = messages[-1] if messages else None
        if last is not None and last.get("role") == "assistant":
            last.setdefault("tool_calls", []).append(call)
            if not last.get("content"):
                last["content"] = None
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind in ("function_call_output", "custom_tool_call_output"):
        messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": _text(item.get("output"))})
    # reasoning, web_search_call and the other server-side items have no chat message.


# -- tools ----------------------------------------------------------------------------------------


def _function_tool(tool: dict[str, Any]) -> dict[str, Any] | None:
    function = tool.get("function")
    if not isinstance(function, dict) or not function.get("name"):
        return None
    out: dict[str, Any] = {"type": "function", "name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
    # Responses makes function tools strict unless told otherwise; chat makes them strict only when
    # asked, so the chat default is kept by saying it.
    out["strict"] = function.get("strict") is True
    return out


def _chat_tool_to_responses(tool: dict[str, Any]) -> dict[str, Any] | None:
    if tool.get("type", "function") == "function":
        return _function_tool(tool)
    custom = tool.get("custom")
    if tool.get("type") != "custom" or not isinstance(custom, dict):
        return None
    out: dict[str, Any] = {"type": "custom", "name": custom.get("name")}
    if custom.get("description"):
        out["description"] = custom["description"]
    # chat nests a grammar under `grammar`; Responses puts its definition and syntax beside `type`.
    form = custom.get("format")
    if isinstance(form, dict) and form.get("type") == "grammar" and isinstance(form.get("grammar"), dict):
        out["format"] = {"type": "grammar", **form["grammar"]}
    elif isinstance(form, dict):
        out["format"] = form
    return out


def _responses_tool_to_chat(tool: dict[str, Any]) -> dict[str, Any] | None:
    kind = tool.get("type")
    if kind == "function" and tool.get("name"):
        function: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        return {"type": "function", "function": function}
    if kind == "custom" and tool.get("name"):
        custom: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description"):
            custom["description"] = tool["description"]
        form = tool.get("format")
        if isinstance(form, dict) and form.get("type") == "grammar":
            grammar = {key: form[key] for key in ("definition", "syntax") if key in form}
            custom["format"] = {"type": "grammar", "grammar": grammar}
        elif isinstance(form, dict):
            custom["format"] = form
        return {"type": "custom", "custom": custom}
    return None  # web_search, file_search and the other server tools: chat has none of them


def _legacy_choice(function_call: Any) -> Any:
    """The deprecated `function_call` choice as a `tool_choice`."""
    if isinstance(function_call, dict) and function_call.get("name"):
        return {"type": "function", "function": {"name": function_call["name"]}}
    return function_call


def _chat_tool_choice_to_responses(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if not isinstance(choice, dict):
        return None
    for kind in ("function", "custom"):
        named = choice.get(kind)
        if choice.get("type") == kind and isinstance(named, dict) and named.get("name"):
            return {"type": kind, "name": named["name"]}
    return None


def _responses_tool_choice_to_chat(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom") and choice.get("name"):
        return {"type": choice["type"], choice["type"]: {"name": choice["name"]}}
    return None  # allowed_tools and the server tools' choices have no chat form


# -- structured output ----------------------------------------------------------------------------


def _chat_format_to_responses(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    schema = response_format.get("json_schema")
    if kind == "json_schema" and isinstance(schema, dict):
        return {"type": "json_schema", **schema}  # name, schema, strict, description: flattened
    return None


def _responses_format_to_chat(text_format: Any) -> dict[str, Any] | None:
    if not isinstance(text_format, dict):
        return None
    kind = text_format.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        schema = {key: value for key, value in text_format.items() if key != "type"}
        return {"type": "json_schema", "json_schema": schema}
    return None
