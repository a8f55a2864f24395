"""Wire protocols: one module each, holding its schemas' names, its invariants and its assembler."""

from __future__ import annotations

OPENAI_CHAT = "openai-chat"
ANTHROPIC_MESSAGES = "anthropic-messages"
OPENAI_RESPONSES = "openai-responses"
PROTOCOL_NAMES = (OPENAI_CHAT, ANTHROPIC_MESSAGES, OPENAI_RESPONSES)

# How a Responses stream ends: OpenAI's own streams end with their terminal event, the Open Responses
# specification's with `data: [DONE]` after it (https://www.openresponses.org/specification). A
# target declares which one its clients expect; checks read it from `Context.responses_profile`.
OPENAI_PROFILE = "openai"
OPEN_RESPONSES_PROFILE = "open-responses"
RESPONSES_PROFILES = (OPENAI_PROFILE, OPEN_RESPONSES_PROFILE)
