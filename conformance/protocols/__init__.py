"""Wire protocols: one module each, holding its schemas' names, its invariants and its assembler."""

from __future__ import annotations

OPENAI_CHAT = "openai-chat"
ANTHROPIC_MESSAGES = "anthropic-messages"
PROTOCOL_NAMES = (OPENAI_CHAT, ANTHROPIC_MESSAGES)
