"""The request a client of a route would send, derived from a capture's recorded upstream request.

The harness hands this to a target as `Exchange.request`; a faithful target then sends upstream a
request equivalent to the recorded one. Translation uses the same small request mapping as the
built-in targets (`conformance.targets._requests`), which is about requests only and knows nothing
of streams or checks.
"""

from __future__ import annotations

import copy
from typing import Any

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, PROTOCOL_NAMES
from conformance.targets._requests import (
    anthropic_to_openai_request,
    anthropic_to_responses_request,
    openai_to_anthropic_request,
    responses_to_anthropic_request,
)
from conformance.targets._responses_requests import openai_to_responses_request, responses_to_openai_request

__all__ = ["client_request", "unaskable"]

_NO_CHOICES = {ANTHROPIC_MESSAGES: "an Anthropic client", OPENAI_RESPONSES: "a Responses client"}
# Anthropic requires max_tokens; a recorded OpenAI request may have none.
_DEFAULT_MAX_TOKENS = 1024


def unaskable(upstream_request: dict[str, Any], upstream_protocol: str, client_protocol: str) -> str:
    """Why no client of `client_protocol` can ask for the stream `upstream_request` got, or "": an
    Anthropic or Responses client has no `n`, so an adapter never asks an upstream for several choices."""
    n = upstream_request.get("n")
    if client_protocol in _NO_CHOICES and upstream_protocol != client_protocol and isinstance(n, int) and n > 1:
        return f"{_NO_CHOICES[client_protocol]} cannot ask for n = {n} choices, so no adapter receives this stream"
    return ""


def client_request(upstream_request: dict[str, Any], upstream_protocol: str, client_protocol: str) -> dict[str, Any]:
    """The client's request for route (`upstream_protocol`, `client_protocol`), streaming."""
    if upstream_protocol == client_protocol:
        request = copy.deepcopy(upstream_request)
        request["stream"] = True
        return request
    if (upstream_protocol, client_protocol) == (OPENAI_CHAT, ANTHROPIC_MESSAGES):
        return openai_to_anthropic_request(upstream_request, default_max_tokens=_DEFAULT_MAX_TOKENS)
    if (upstream_protocol, client_protocol) == (ANTHROPIC_MESSAGES, OPENAI_CHAT):
        request = anthropic_to_openai_request(upstream_request)
        # Usage must survive the translation for the usage checks to have something to compare.
        request["stream_options"] = {"include_usage": True}
        return request
    if (upstream_protocol, client_protocol) == (OPENAI_CHAT, OPENAI_RESPONSES):
        return openai_to_responses_request(upstream_request)
    if (upstream_protocol, client_protocol) == (OPENAI_RESPONSES, OPENAI_CHAT):
        # Asks for usage, as an OpenAI client of another protocol's upstream does (above).
        return responses_to_openai_request(upstream_request)
    if (upstream_protocol, client_protocol) == (OPENAI_RESPONSES, ANTHROPIC_MESSAGES):
        return responses_to_anthropic_request(upstream_request, default_max_tokens=_DEFAULT_MAX_TOKENS)
    if (upstream_protocol, client_protocol) == (ANTHROPIC_MESSAGES, OPENAI_RESPONSES):
        return anthropic_to_responses_request(upstream_request)
    raise ValueError(
        f"no client request for route {upstream_protocol!r} -> {client_protocol!r}; known protocols: {', '.join(PROTOCOL_NAMES)}"
    )
