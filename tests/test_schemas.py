"""The JSON Schemas in schemas/ accept real wire shapes and reject broken ones.

Every instance below is hand-written after a shape in WIRE-FACTS.md (section in the case id or
comment). Schemas are loaded into one `referencing.Registry` keyed by `$id`, so the relative
`$ref`s between files resolve exactly as any other 2020-12 validator would resolve them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
ID_BASE = "https://llm-stream-conformance.dev/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

SCHEMA_FILES = sorted(SCHEMAS.rglob("*.schema.json"))
SCHEMA_DOCS: dict[Path, dict[str, Any]] = {path: json.loads(path.read_text(encoding="utf-8")) for path in SCHEMA_FILES}
REGISTRY: Registry = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in SCHEMA_DOCS.values()
)

ANTHROPIC_EVENTS = (
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
)

CHUNK = "openai-chat/chat.completion.chunk"
OPENAI_ERROR = "openai-chat/error"
CAPTURE = "capture"


def validator(name: str) -> Draft202012Validator:
    """A validator for `schemas/<name>.schema.json`, resolving refs through the registry."""
    schema = REGISTRY.contents(f"{ID_BASE}{name}.schema.json")
    return Draft202012Validator(schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def all_messages(errors: list[ValidationError]) -> list[str]:
    """Messages of the errors and, recursively, of their anyOf/oneOf/if-then sub-errors."""
    out: list[str] = []
    for error in errors:
        out.append(f"{error.json_path}: {error.message}")
        out.extend(all_messages(list(error.context or ())))
    return out


# --------------------------------------------------------------------------------------------
# The schema files themselves
# --------------------------------------------------------------------------------------------


def test_expected_files_exist() -> None:
    names = {p.relative_to(SCHEMAS).as_posix() for p in SCHEMA_FILES}
    expected = {
        "capture.schema.json",
        "openai-chat/chat.completion.chunk.schema.json",
        "openai-chat/error.schema.json",
        "anthropic-messages/defs.schema.json",
        *(f"anthropic-messages/{event}.schema.json" for event in ANTHROPIC_EVENTS),
    }
    assert expected <= names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.relative_to(SCHEMAS).as_posix())
def test_schema_is_valid_2020_12(path: Path) -> None:
    doc = SCHEMA_DOCS[path]
    assert doc["$schema"] == DIALECT
    Draft202012Validator.check_schema(doc)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.relative_to(SCHEMAS).as_posix())
def test_schema_id_matches_its_path(path: Path) -> None:
    doc = SCHEMA_DOCS[path]
    assert doc["$id"] == ID_BASE + path.relative_to(SCHEMAS).as_posix()
    assert doc.get("title"), "every schema has a title"
    assert doc.get("description"), "every schema has a description"


def _walk(node: Any, pointer: str = ""):
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{i}")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.relative_to(SCHEMAS).as_posix())
def test_every_property_has_a_description(path: Path) -> None:
    undocumented = [
        f"{pointer}/properties/{name}"
        for pointer, node in _walk(SCHEMA_DOCS[path])
        if isinstance(node.get("properties"), dict)
        # an `if` clause only selects a branch; it declares no property
        and not pointer.endswith("/if")
        for name, sub in node["properties"].items()
        if not (isinstance(sub, dict) and sub.get("description"))
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    "path",
    [p for p in SCHEMA_FILES if p.parent != SCHEMAS],
    ids=lambda p: p.relative_to(SCHEMAS).as_posix(),
)
def test_wire_schemas_are_never_closed(path: Path) -> None:
    """Provider extras must pass (WIRE-FACTS §2.4, §5.2)."""
    closed = [
        pointer
        for pointer, node in _walk(SCHEMA_DOCS[path])
        if node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False
    ]
    assert closed == []


@pytest.mark.parametrize("event", ANTHROPIC_EVENTS)
def test_anthropic_event_schema_pins_its_type(event: str) -> None:
    doc = REGISTRY.contents(f"{ID_BASE}anthropic-messages/{event}.schema.json")
    assert doc["properties"]["type"]["const"] == event
    assert "type" in doc["required"]


def test_no_oas_nullable_left() -> None:
    """WIRE-FACTS §2.4: `nullable` is ignored by 2020-12 validators, so it must not appear."""
    leftovers = [
        f"{path.name}{pointer}"
        for path, doc in SCHEMA_DOCS.items()
        for pointer, node in _walk(doc)
        if "nullable" in node and not pointer.endswith("/properties")
    ]
    assert leftovers == []


# --------------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------------


def chunk(choices: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "chatcmpl-abc123",
        "object": "chat.completion.chunk",
        "created": 1779000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": choices if choices is not None else [],
    }
    base.update(extra)
    return base


def choice(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason, **extra}


USAGE_2026 = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}

CAPTURE_SYNTHESIZED: dict[str, Any] = {
    "description": "OpenRouter DeepSeek-R1 stream with reasoning and reasoning_details.",
    "protocol": "openai-chat",
    "provider": "openrouter",
    "model": "deepseek/deepseek-r1",
    "endpoint": "POST /api/v1/chat/completions",
    "request": {
        "model": "deepseek/deepseek-r1",
        "stream": True,
        "messages": [{"role": "user", "content": "What is 2+2?"}],
    },
    "response": {"status": 200, "headers": {"content-type": "text/event-stream"}},
    "features": ["reasoning.openrouter", "sse.comments"],
    "provenance": {
        "kind": "synthesized",
        "date": "2026-11-21",
        "basis": "WIRE-FACTS §3 (OpenRouter reasoning); https://openrouter.ai/docs/use-cases/reasoning-tokens",
    },
    "references": ["BerriAI/litellm#8193"],
    "expect": {
        "text": "The answer is 4.",
        "reasoning": "2 plus 2...",
        "refusal": "",
        "tool_calls": [{"id": "call_abc", "name": "get_weather", "arguments": {"city": "Paris"}}],
        "signatures": [],
        "finish": "stop",
        "usage": {"input_tokens": 12, "output_tokens": 40},
    },
}


def capture(**changes: Any) -> dict[str, Any]:
    """A copy of the synthesized example with top-level keys replaced (None deletes)."""
    doc = json.loads(json.dumps(CAPTURE_SYNTHESIZED))
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def expect_without(key: str) -> dict[str, Any]:
    expect = dict(CAPTURE_SYNTHESIZED["expect"])
    del expect[key]
    return expect


TARGET_FILE = {
    "name": "portkey",
    "version": "1.9.0",
    "base_url": "http://127.0.0.1:8787",
    "routes": ["openai-chat-to-openai-chat"],
}


ACCEPTED: list[tuple[str, str, Any]] = [
    # ---- OpenAI chat chunks (WIRE-FACTS §2) ----
    (
        "openai.spec-example-first-chunk",
        CHUNK,
        chunk(
            [choice({"role": "assistant", "content": ""})],
            model="gpt-4o-mini",
            system_fingerprint="fp_44709d6fcb",
        ),
    ),
    (
        "openai.spec-example-last-chunk",
        CHUNK,
        chunk([choice({}, "stop")], system_fingerprint="fp_44709d6fcb", obfuscation=""),
    ),
    (
        "openai.2026-chunk-usage-null-service-tier-obfuscation",
        CHUNK,
        chunk(
            [choice({"content": "Hello"})],
            service_tier="default",
            system_fingerprint="fp_560af6e559",
            usage=None,
            obfuscation="k3Xq9",
        ),
    ),
    (
        "openai.2024-chunk-without-usage-key",
        CHUNK,
        chunk([choice({"content": " world"})], model="gpt-4o-2024-08-06", system_fingerprint="fp_5050236cbd"),
    ),
    (
        "openai.usage-chunk-empty-choices",
        CHUNK,
        chunk([], service_tier="default", usage=USAGE_2026, obfuscation="Zx"),
    ),
    (
        "openai.refusal-first-chunk",
        CHUNK,
        chunk([choice({"role": "assistant", "content": None, "refusal": ""})]),
    ),
    (
        "openai.refusal-with-logprobs",
        CHUNK,
        chunk(
            [
                {
                    "index": 0,
                    "delta": {"refusal": "I'm"},
                    "finish_reason": None,
                    "logprobs": {
                        "content": None,
                        "refusal": [
                            {
                                "token": "I'm",
                                "logprob": -0.0012,
                                "bytes": [73, 39, 109],
                                "top_logprobs": [{"token": "I'm", "logprob": -0.0012, "bytes": [73, 39, 109]}],
                            }
                        ],
                    },
                }
            ]
        ),
    ),
    (
        "openai.tool-call-first-delta",
        CHUNK,
        chunk(
            [
                choice(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_Bx1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ],
                        "refusal": None,
                    }
                )
            ]
        ),
    ),
    (
        "openai.tool-call-delta-index-and-arguments-only",
        CHUNK,
        chunk([choice({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]})]),
    ),
    (
        "openai.finish-tool-calls",
        CHUNK,
        chunk([choice({}, "tool_calls")], usage=None),
    ),
    (
        "deepseek.first-chunk-reasoning-content",
        CHUNK,
        chunk(
            [choice({"role": "assistant", "content": None, "reasoning_content": ""})],
            model="deepseek-reasoner",
            system_fingerprint="fp_ffc7281d48_prod0820_fp8_kvcache",
            usage=None,
        ),
    ),
    (
        "deepseek.reasoning-chunk-content-null",
        CHUNK,
        chunk(
            [choice({"content": None, "reasoning_content": "Let me"})],
            model="deepseek-reasoner",
            usage=None,
        ),
    ),
    (
        "deepseek.finish-chunk-with-usage",
        CHUNK,
        chunk(
            [choice({"content": "", "reasoning_content": None}, "stop")],
            model="deepseek-reasoner",
            usage={
                "prompt_tokens": 13,
                "completion_tokens": 220,
                "total_tokens": 233,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 198},
                "prompt_cache_hit_tokens": 0,
                "prompt_cache_miss_tokens": 13,
            },
        ),
    ),
    (
        "groq.first-chunk-x-groq",
        CHUNK,
        chunk(
            [choice({"role": "assistant", "content": ""})],
            model="qwen/qwen3-32b",
            system_fingerprint="fp_5cf921caa2",
            x_groq={"id": "req_01jq8x", "seed": 1234567},
        ),
    ),
    (
        "groq.reasoning-delta",
        CHUNK,
        chunk([choice({"reasoning": "Okay"})], model="qwen/qwen3-32b"),
    ),
    (
        "groq.finish-chunk-x-groq-usage",
        CHUNK,
        chunk(
            [choice({}, "stop")],
            model="qwen/qwen3-32b",
            x_groq={"id": "req_01jq8x", "usage": {"queue_time": 0.05, "prompt_tokens": 12}},
            usage={"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17, "queue_time": 0.05},
        ),
    ),
    (
        "vllm.chunk-stop-reason-token-ids",
        CHUNK,
        chunk(
            [choice({"content": "Hi", "reasoning": None}, stop_reason=None, token_ids=[13347])],
            id="chatcmpl-8f1c",
            model="Qwen/Qwen3-8B",
        ),
    ),
    (
        "cloudflare.finish-stop-reason-int-details-null",
        CHUNK,
        chunk(
            [choice({"content": ""}, "stop", stop_reason=200012, token_ids=[])],
            model="@cf/openai/gpt-oss-20b",
            usage={
                "prompt_tokens": 20,
                "completion_tokens": 4,
                "total_tokens": 24,
                "prompt_tokens_details": None,
            },
        ),
    ),
    (
        "openrouter.reasoning-details-service-tier-standard-no-logprobs",
        CHUNK,
        chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "content": "",
                        "reasoning": "We",
                        "reasoning_details": [
                            {"type": "reasoning.text", "text": "We", "format": "unknown", "index": 0}
                        ],
                    },
                    "finish_reason": None,
                    "native_finish_reason": None,
                }
            ],
            id="gen-1779000000-abc",
            provider="DeepInfra",
            model="z-ai/glm-4.5",
            service_tier="standard",
        ),
    ),
    (
        "openrouter.duplicate-finish-with-usage-cost",
        CHUNK,
        chunk(
            [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "finish_reason": "tool_calls",
                    "native_finish_reason": "tool_use",
                }
            ],
            provider="Amazon Bedrock",
            model="anthropic/claude-opus-4.7",
            usage={
                "prompt_tokens": 1200,
                "completion_tokens": 80,
                "total_tokens": 1280,
                "cost": 0.0123,
                "is_byok": False,
                "cost_details": {"upstream_inference_cost": None},
            },
        ),
    ),
    (
        "azure.system-fingerprint-null-content-filter-results",
        CHUNK,
        chunk(
            [
                choice(
                    {"content": "Hi"},
                    content_filter_results={"hate": {"filtered": False, "severity": "safe"}},
                )
            ],
            model="gpt-5-nano-2025-08-07",
            system_fingerprint=None,
        ),
    ),
    (
        "qwen.tool-continuation-empty-id",
        CHUNK,
        chunk(
            [choice({"tool_calls": [{"index": 0, "id": "", "type": "function", "function": {"arguments": "}"}}]})],
            model="qwen-plus",
            system_fingerprint=None,
        ),
    ),
    (
        "gemini.tool-call-extra-content",
        CHUNK,
        chunk(
            [
                choice(
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "function-call-1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                                "extra_content": {"google": {"thought_signature": "CsYB…"}},
                            }
                        ],
                    },
                    "tool_calls",
                )
            ],
            model="gemini-3-pro",
        ),
    ),
    # ---- OpenAI in-stream error frames (WIRE-FACTS §8) ----
    (
        "openai.error-frame-with-spaces",
        OPENAI_ERROR,
        json.loads(
            '{"error": {"message": "The server had an error while processing your request. '
            'Sorry about that!", "type": "server_error"}}'
        ),
    ),
    (
        "openrouter.error-chunk",
        OPENAI_ERROR,
        {
            "id": "cmpl-abc123",
            "object": "chat.completion.chunk",
            "created": 1779000000,
            "model": "gpt-3.5-turbo",
            "provider": "openai",
            "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        },
    ),
    (
        "openrouter.error-numeric-code-metadata",
        OPENAI_ERROR,
        {"error": {"code": 400, "message": "Bad request", "metadata": {"provider_name": "Groq", "raw": "…"}}},
    ),
    # ---- Anthropic events (WIRE-FACTS §5) ----
    (
        "anthropic.message_start.docs",
        "anthropic-messages/message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-opus-4-6",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 25, "output_tokens": 1},
            },
        },
    ),
    (
        "anthropic.message_start.full-usage-and-extras",
        "anthropic-messages/message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5-20250929",
                "stop_reason": None,
                "stop_sequence": None,
                "stop_details": None,
                "container": None,
                "usage": {
                    "input_tokens": 472,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": None,
                    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                    "output_tokens": 16,
                    "server_tool_use": None,
                    "service_tier": "standard",
                    "inference_geo": "us",
                    "output_tokens_details": None,
                },
            },
        },
    ),
    (
        "anthropic.content_block_start.text",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    (
        "anthropic.content_block_start.text-with-citations",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": 2, "content_block": {"citations": [], "type": "text", "text": ""}},
    ),
    (
        "anthropic.content_block_start.thinking-with-signature",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
    ),
    (
        "anthropic.content_block_start.thinking-without-signature",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    ),
    (
        "anthropic.content_block_start.redacted_thinking",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
        },
    ),
    (
        "anthropic.content_block_start.tool_use-with-caller",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "name": "get_weather",
                "input": {},
                "caller": {"type": "direct"},
            },
        },
    ),
    (
        "anthropic.content_block_start.tool_use-prefilled-by-code-execution",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_02",
                "name": "lookup",
                "input": {"q": "x"},
                "caller": {"type": "code_execution_20250825", "tool_id": "srvtoolu_01"},
            },
        },
    ),
    (
        "anthropic.content_block_start.server_tool_use",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "server_tool_use",
                "id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
                "name": "web_search",
                "input": {},
            },
        },
    ),
    (
        "anthropic.content_block_start.server_tool_use-advisor",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "server_tool_use",
                "id": "srvtoolu_02",
                "name": "advisor",
                "input": {"question": "?"},
            },
        },
    ),
    (
        "anthropic.content_block_start.web_search_tool_result",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
                "content": [
                    {
                        "type": "web_search_result",
                        "title": "Weather in New York City",
                        "url": "https://weather.com/weather/today/l/New+York+NY",
                        "encrypted_content": "Ev0DCioIAxgCIiQ3NmU4ZmI4OC1k",
                        "page_age": None,
                    }
                ],
            },
        },
    ),
    (
        "anthropic.content_block_start.code_execution_tool_result-object",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "code_execution_tool_result",
                "tool_use_id": "srvtoolu_03",
                "content": {
                    "type": "code_execution_result",
                    "stdout": "4\n",
                    "stderr": "",
                    "return_code": 0,
                    "content": [],
                },
            },
        },
    ),
    (
        "anthropic.content_block_start.container_upload",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "container_upload", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"},
        },
    ),
    (
        "anthropic.content_block_start.unknown-beta-mcp_tool_use",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "mcp_tool_use",
                "id": "mcptoolu_01",
                "name": "echo",
                "server_name": "srv",
                "input": {},
            },
        },
    ),
    (
        "anthropic.content_block_start.unknown-beta-compaction",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "compaction", "content": None}},
    ),
    (
        "anthropic.content_block_start.unknown-beta-advisor_tool_result",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "advisor_tool_result", "tool_use_id": "srvtoolu_02"},
        },
    ),
    (
        "anthropic.content_block_delta.text_delta",
        "anthropic-messages/content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    ),
    (
        "anthropic.content_block_delta.input_json_delta-empty",
        "anthropic-messages/content_block_delta",
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}},
    ),
    (
        "anthropic.content_block_delta.input_json_delta",
        "anthropic-messages/content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"location": "San Fra'},
        },
    ),
    (
        "anthropic.content_block_delta.citations_delta",
        "anthropic-messages/content_block_delta",
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {
                "type": "citations_delta",
                "citation": {
                    "type": "web_search_result_location",
                    "cited_text": "Sunny, 72°F",
                    "url": "https://weather.com/",
                    "title": "Weather",
                    "encrypted_index": "Eo8BCioIAhgB",
                },
            },
        },
    ),
    (
        "anthropic.content_block_delta.thinking_delta",
        "anthropic-messages/content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Let me solve this step by step"},
        },
    ),
    (
        "anthropic.content_block_delta.signature_delta",
        "anthropic-messages/content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
        },
    ),
    (
        "anthropic.content_block_delta.unknown-compaction_delta",
        "anthropic-messages/content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "compaction_delta", "content": "summary"}},
    ),
    (
        "anthropic.content_block_stop",
        "anthropic-messages/content_block_stop",
        {"type": "content_block_stop", "index": 0},
    ),
    (
        "anthropic.message_delta.docs",
        "anthropic-messages/message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 15},
        },
    ),
    (
        "anthropic.message_delta.cumulative-input-tokens",
        "anthropic-messages/message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None, "stop_details": None, "container": None},
            "usage": {
                "input_tokens": 472,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 89,
                "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0},
            },
            "context_management": {"applied_edits": []},
        },
    ),
    (
        "anthropic.message_delta.stop_sequence",
        "anthropic-messages/message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "stop_sequence", "stop_sequence": "###"},
            "usage": {"output_tokens": 3, "input_tokens": None},
        },
    ),
    (
        "anthropic.message_delta.model_context_window_exceeded",
        "anthropic-messages/message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "model_context_window_exceeded", "stop_sequence": None},
            "usage": {"output_tokens": 64000},
        },
    ),
    ("anthropic.message_stop", "anthropic-messages/message_stop", {"type": "message_stop"}),
    ("anthropic.ping", "anthropic-messages/ping", json.loads('{"type": "ping"}')),
    (
        "anthropic.error.api_error-overloaded",
        "anthropic-messages/error",
        json.loads('{"type": "error", "error": {"type": "api_error", "message": "Overloaded"}}'),
    ),
    (
        "anthropic.error.overloaded_error-request-id",
        "anthropic-messages/error",
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
        },
    ),
    # ---- Capture metadata (corpus/README.md) ----
    ("capture.synthesized-readme-example", CAPTURE, capture()),
    (
        "capture.recorded-without-optional-keys",
        CAPTURE,
        capture(
            provenance={"kind": "recorded", "date": "2026-05-14", "tool": "conformance record 0.1"},
            references=None,
            expect={
                "text": "",
                "reasoning": "",
                "refusal": "",
                "tool_calls": [],
                "signatures": ["EqQBCgIYAhIM"],
                "finish": "tool_calls",
            },
            protocol="anthropic-messages",
            provider="anthropic",
            endpoint="POST /v1/messages",
            features=[],
        ),
    ),
    (
        "capture.negative-cut-off-finish-null",
        CAPTURE,
        capture(
            expect={**CAPTURE_SYNTHESIZED["expect"], "finish": None},
            negative={"kind": "cut-off", "reason": "The connection closes after the second content chunk."},
        ),
    ),
    ("target-file.minimal", "target-file", TARGET_FILE),
    (
        "target-file.started-with-headers",
        "target-file",
        {
            **TARGET_FILE,
            "model": "{token}",
            "headers": {"x-portkey-custom-host": "{upstream}"},
            "read_timeout": 30,
            "start": ["npx", "@portkey-ai/gateway"],
            "ready_url": "http://127.0.0.1:8787/",
            "ready_timeout": 60,
        },
    ),
]


REJECTED: list[tuple[str, str, Any, str]] = [
    # (id, schema, instance, a fragment of one expected error message)
    # ---- OpenAI chat chunks ----
    (
        "openai.chunk-missing-choices",
        CHUNK,
        {k: v for k, v in chunk([]).items() if k != "choices"},
        "'choices' is a required property",
    ),
    (
        "openai.object-chat.completion",
        CHUNK,
        chunk([choice({"content": "x"})], object="chat.completion"),
        "'chat.completion.chunk' was expected",
    ),
    (
        "azure.placeholder-chunk-empty-object",
        CHUNK,
        chunk([], id="", model="", object="", created=0, prompt_filter_results=[]),
        "'chat.completion.chunk' was expected",
    ),
    (
        "xai.choice-missing-finish-reason-key",
        CHUNK,
        chunk([{"index": 0, "delta": {"content": "x", "reasoning_content": None}}], model="grok-3-mini"),
        "'finish_reason' is a required property",
    ),
    (
        "openrouter.finish-reason-error-not-in-enum",
        CHUNK,
        chunk([{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}], provider="openai"),
        "'error' is not one of",
    ),
    (
        "mistral.tool-call-without-index",
        CHUNK,
        chunk(
            [choice({"tool_calls": [{"id": "D681PevKs", "function": {"name": "f", "arguments": "{}"}}]}, "tool_calls")]
        ),
        "'index' is a required property",
    ),
    (
        "openai.usage-missing-total-tokens",
        CHUNK,
        chunk([], usage={"prompt_tokens": 1, "completion_tokens": 2}),
        "'total_tokens' is a required property",
    ),
    (
        "openai.logprobs-missing-refusal-key",
        CHUNK,
        chunk([{"index": 0, "delta": {}, "finish_reason": None, "logprobs": {"content": []}}]),
        "'refusal' is a required property",
    ),
    (
        "openai.role-not-in-enum",
        CHUNK,
        chunk([choice({"role": "model"})]),
        "'model' is not one of",
    ),
    (
        "openai.error-frame-is-not-a-chunk",
        CHUNK,
        {"error": {"message": "boom", "type": "server_error"}},
        "'choices' is a required property",
    ),
    # ---- OpenAI error frame ----
    (
        "openai.error-without-message",
        OPENAI_ERROR,
        {"error": {"type": "server_error"}},
        "'message' is a required property",
    ),
    (
        "openai.error-frame-missing-error",
        OPENAI_ERROR,
        chunk([choice({"content": "x"})]),
        "'error' is a required property",
    ),
    # ---- Anthropic events ----
    (
        "anthropic.message_start.stop-reason-end-turn",
        "anthropic-messages/message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5",
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
        "'end_turn' is not of type 'null'",
    ),
    (
        "anthropic.message_start.usage-missing-input-tokens",
        "anthropic-messages/message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"output_tokens": 1},
            },
        },
        "'input_tokens' is a required property",
    ),
    (
        "anthropic.content_block_start.tool_use-missing-id",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "name": "get_weather", "input": {}},
        },
        "'id' is a required property",
    ),
    (
        "anthropic.content_block_start.tool_use-input-string",
        "anthropic-messages/content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": ""},
        },
        "'' is not of type 'object'",
    ),
    (
        "anthropic.content_block_start.thinking-missing-thinking",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "signature": ""}},
        "'thinking' is a required property",
    ),
    (
        "anthropic.content_block_start.web_search_tool_result-missing-tool-use-id",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": 2, "content_block": {"type": "web_search_tool_result", "content": []}},
        "'tool_use_id' is a required property",
    ),
    (
        "anthropic.content_block_start.block-without-type",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"text": ""}},
        "'type' is a required property",
    ),
    (
        "anthropic.content_block_start.negative-index",
        "anthropic-messages/content_block_start",
        {"type": "content_block_start", "index": -1, "content_block": {"type": "text", "text": ""}},
        "-1 is less than the minimum of 0",
    ),
    (
        "anthropic.content_block_delta.text_delta-without-text",
        "anthropic-messages/content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}},
        "'text' is a required property",
    ),
    (
        "anthropic.content_block_delta.input_json_delta-without-partial-json",
        "anthropic-messages/content_block_delta",
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "text": "{}"}},
        "'partial_json' is a required property",
    ),
    (
        "anthropic.content_block_delta.signature_delta-without-signature",
        "anthropic-messages/content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta"}},
        "'signature' is a required property",
    ),
    (
        "anthropic.message_delta.without-usage",
        "anthropic-messages/message_delta",
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}},
        "'usage' is a required property",
    ),
    (
        "anthropic.message_delta.unknown-stop-reason",
        "anthropic-messages/message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "stop", "stop_sequence": None},
            "usage": {"output_tokens": 1},
        },
        "'stop' is not one of",
    ),
    (
        "anthropic.message_delta.usage-without-output-tokens",
        "anthropic-messages/message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"input_tokens": 5},
        },
        "'output_tokens' is a required property",
    ),
    (
        "anthropic.error.bogus-error-type",
        "anthropic-messages/error",
        {"type": "error", "error": {"type": "bogus", "message": "nope"}},
        "'bogus' is not one of",
    ),
    (
        "anthropic.ping.wrong-type",
        "anthropic-messages/ping",
        {"type": "message_stop"},
        "'ping' was expected",
    ),
    # ---- Capture metadata ----
    (
        "capture.unknown-top-level-key",
        CAPTURE,
        capture(refrences=["BerriAI/litellm#8193"]),
        "'refrences' was unexpected",
    ),
    (
        "capture.synthesized-without-basis",
        CAPTURE,
        capture(provenance={"kind": "synthesized", "date": "2026-11-21"}),
        "'basis' is a required property",
    ),
    (
        "capture.recorded-with-basis-instead-of-tool",
        CAPTURE,
        capture(provenance={"kind": "recorded", "date": "2026-11-21", "basis": "live"}),
        "'tool' is a required property",
    ),
    (
        "capture.provenance-date-not-iso",
        CAPTURE,
        capture(provenance={"kind": "recorded", "date": "21/11/2026", "tool": "curl -N"}),
        "does not match",
    ),
    (
        "capture.expect-missing-finish",
        CAPTURE,
        capture(expect=expect_without("finish")),
        "'finish' is a required property",
    ),
    (
        "capture.expect-unknown-key",
        CAPTURE,
        capture(expect={**CAPTURE_SYNTHESIZED["expect"], "finish_reason": "stop"}),
        "'finish_reason' was unexpected",
    ),
    (
        "capture.expect-finish-provider-value",
        CAPTURE,
        capture(expect={**CAPTURE_SYNTHESIZED["expect"], "finish": "end_turn"}),
        "'end_turn' is not one of",
    ),
    (
        "capture.multi-line-description",
        CAPTURE,
        capture(description="First line.\nSecond line."),
        "should not be valid under",
    ),
    (
        "capture.request-not-streaming",
        CAPTURE,
        capture(request={"model": "m", "stream": False, "messages": []}),
        "True was expected",
    ),
    (
        "capture.feature-upper-case",
        CAPTURE,
        capture(features=["Reasoning.OpenRouter"]),
        "does not match",
    ),
    (
        "capture.duplicate-feature",
        CAPTURE,
        capture(features=["sse.comments", "sse.comments"]),
        "has non-unique elements",
    ),
    (
        "capture.status-out-of-range",
        CAPTURE,
        capture(response={"status": 700, "headers": {"content-type": "text/event-stream"}}),
        "700 is greater than the maximum of 599",
    ),
    (
        "capture.negative-unknown-kind",
        CAPTURE,
        capture(negative={"kind": "timeout", "reason": "slow"}),
        "'timeout' is not one of",
    ),
    (
        "capture.tool-call-arguments-as-list",
        CAPTURE,
        capture(
            expect={**CAPTURE_SYNTHESIZED["expect"], "tool_calls": [{"id": "c", "name": "f", "arguments": ["{}"]}]}
        ),
        "is not of type 'object', 'string'",
    ),
    (
        "target-file.start-without-ready-url",
        "target-file",
        {**TARGET_FILE, "start": ["gateway"]},
        "'ready_url' is a dependency of 'start'",
    ),
    ("target-file.bad-header-name", "target-file", {**TARGET_FILE, "headers": {"x y": "1"}}, "'x y' does not match"),
]


@pytest.mark.parametrize(("schema", "instance"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted(schema: str, instance: Any) -> None:
    errors = list(validator(schema).iter_errors(instance))
    assert errors == [], "\n".join(all_messages(errors))


@pytest.mark.parametrize(("schema", "instance", "fragment"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected(schema: str, instance: Any, fragment: str) -> None:
    errors = list(validator(schema).iter_errors(instance))
    assert errors, f"{schema} accepted an instance it must reject"
    messages = all_messages(errors)
    assert any(fragment in m for m in messages), f"expected an error containing {fragment!r}, got:\n" + "\n".join(
        messages
    )


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in ACCEPTED] + [c[0] for c in REJECTED]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------- the compiled fast path agrees with jsonschema
# conformance.schemas asks jsonschema-rs first for the wire schemas and lets jsonschema decide and
# explain whenever it says "invalid". A compiled validator that accepted what jsonschema rejects
# would hide a failure, so it must agree with jsonschema on every instance we have: the tables
# above, and every payload of the corpus against every wire schema (mostly mismatches, so both
# answers are exercised).

WIRE_SCHEMAS = [path.relative_to(SCHEMAS).as_posix()[: -len(".schema.json")] for path in SCHEMA_FILES]
WIRE_SCHEMAS = [
    name for name in WIRE_SCHEMAS if name.startswith(("openai-chat/", "anthropic-messages/", "openai-responses/"))
]


def fast_validator(name: str) -> Any:
    from conformance import schemas

    fast = schemas._fast(name)
    if fast is None:
        pytest.skip("jsonschema-rs is not installed: jsonschema alone validates")
    return fast


def corpus_payloads() -> list[Any]:
    from conformance.corpus import load_corpus
    from conformance.sse import parse
    from conformance.stream import decode

    payloads = []
    for capture in load_corpus().captures:
        payloads.extend(p.json for p in decode(parse(capture.body)[0]) if p.json is not None)
    return payloads


FAST_SCHEMAS = [*WIRE_SCHEMAS, "report"]
# The only patterns the fast path's schemas may hold: plain ASCII, read alike by Python's `re`
# (jsonschema) and by jsonschema-rs's ECMA-262 dialect.
PORTABLE_PATTERNS = {"^sha256:[0-9a-f]{16}$"}


def test_fast_path_covers_exactly_the_wire_schemas_and_the_report() -> None:
    from conformance import schemas

    assert sorted(
        n for n in schemas.names() if n.startswith(schemas._FAST_PREFIXES) or n in schemas._FAST_NAMES
    ) == sorted(FAST_SCHEMAS)


def _keywords(node: Any, parent: str = "") -> list[tuple[str, Any]]:
    """(keyword, value) of every keyword in a schema document, not counting property names."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if parent not in ("properties", "$defs"):
                found.append((key, value))
            found.extend(_keywords(value, key))
    elif isinstance(node, list):
        for value in node:
            found.extend(_keywords(value, parent))
    return found


@pytest.mark.parametrize("name", FAST_SCHEMAS)
def test_fast_path_schemas_use_no_format_and_only_portable_patterns(name: str) -> None:
    """Regex dialects and format checkers differ between validators; the fast path needs neither."""
    keywords = _keywords(json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")))
    assert not [value for key, value in keywords if key in ("format", "patternProperties")]
    assert {value for key, value in keywords if key == "pattern"} <= PORTABLE_PATTERNS


# The committed reports (reports/mutant-*/ holds local runs, ignored by git).
REPORTS = sorted(
    p for p in (SCHEMAS.parent / "reports").glob("*/report.json") if not p.parent.name.startswith("mutant-")
)


def _broken_reports(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of `report`, each broken in one place the schema constrains."""
    import copy

    def broken(change: Any) -> dict[str, Any]:
        mutated = copy.deepcopy(report)
        change(mutated)
        return mutated

    return [
        broken(lambda r: r.pop("format")),
        broken(lambda r: r.update(format="conformance-report/0")),
        broken(lambda r: r["header"].update(corpus_revision="sha256:NOT-HEX-0123456")),
        broken(lambda r: r["header"].update(corpus_revision="sha256:0123456789abcdef0")),
        broken(lambda r: r["header"].update(mode="lenient")),
        broken(lambda r: r["header"].pop("mode")),
        broken(lambda r: r["items"][0].update(outcome="maybe")),
        broken(lambda r: r["items"][0].update(outcome="passed")),  # the classes of conformance-report/1
        broken(lambda r: r["items"][0].update(gate="unknown")),
        broken(lambda r: r["items"][0].update(ending="closed")),
        broken(lambda r: r["items"][-1].pop("id")),
        broken(lambda r: r["items"][-1].pop("gate")),
        # What varies between runs belongs in raw.json, never in the report.
        broken(lambda r: r["items"][0].update(seconds=0.5)),
        broken(lambda r: r["summary"].update(total_seconds=12.5)),
        broken(lambda r: r["summary"].update({"pass": "many"})),
        broken(lambda r: r["summary"].update(gate="MAYBE")),
        broken(lambda r: r.update(items={})),
    ]


@pytest.mark.parametrize("path", REPORTS, ids=[p.parent.name for p in REPORTS])
def test_fast_path_agrees_on_the_committed_reports(path: Path) -> None:
    """Every report written is checked against its schema, by the fast path first."""
    from conformance.report import FORMAT

    fast, slow = fast_validator("report"), validator("report")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["format"] == FORMAT, (
        f"{path} is a {report['format']} report: rerun its target to rewrite it as {FORMAT}"
    )
    assert fast(report) and slow.is_valid(report)
    for mutated in _broken_reports(report):
        assert fast(mutated) is False and slow.is_valid(mutated) is False


def test_a_report_breaking_its_schema_is_not_written(tmp_path: Path) -> None:
    """The fast path only says "valid": a broken report is still refused, in jsonschema's words."""
    from conformance import report as reports

    good = json.loads((SCHEMAS.parent / "reports" / "reference" / "report.json").read_text(encoding="utf-8"))
    good["header"]["corpus_revision"] = "sha256:NOT-HEX-0123456"
    with pytest.raises(
        reports.InvalidReport, match=r"at header\.corpus_revision: 'sha256:NOT-HEX-0123456' does not match"
    ):
        reports.write(tmp_path / "broken", good, {"format": reports.FORMAT, "items": {}})
    assert not (tmp_path / "broken").exists()


def test_keywords_tell_a_property_named_format_from_the_keyword() -> None:
    assert _keywords({"properties": {"format": {"const": 1}}}) == [
        ("properties", {"format": {"const": 1}}),
        ("const", 1),
    ]
    assert ("format", "uri") in _keywords({"properties": {"a": {"format": "uri"}}})


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [(c[1], c[2], True) for c in ACCEPTED if c[1] in WIRE_SCHEMAS]
    + [(c[1], c[2], False) for c in REJECTED if c[1] in WIRE_SCHEMAS],
    ids=[c[0] for c in ACCEPTED if c[1] in WIRE_SCHEMAS] + [c[0] for c in REJECTED if c[1] in WIRE_SCHEMAS],
)
def test_fast_path_agrees_on_the_tables(schema: str, instance: Any, valid: bool) -> None:
    assert fast_validator(schema)(instance) is valid
    assert validator(schema).is_valid(instance) is valid


@pytest.mark.parametrize("name", WIRE_SCHEMAS)
def test_fast_path_agrees_on_the_corpus(name: str) -> None:
    fast, slow = fast_validator(name), validator(name)
    payloads = corpus_payloads()
    assert len(payloads) > 300
    disagreements = [p for p in payloads if fast(p) != slow.is_valid(p)]
    assert not disagreements, f"{len(disagreements)} corpus payloads judged differently, e.g. {disagreements[0]!r}"


def test_problems_explain_with_jsonschema_when_the_fast_path_rejects() -> None:
    from conformance import schemas

    found = schemas.problems(CHUNK, {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"})
    assert found and found[0].message == "'choices' is a required property"
    assert (
        schemas.problems(
            CHUNK, {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}
        )
        == []
    )


@pytest.mark.parametrize("name", WIRE_SCHEMAS)
def test_fast_path_on_a_list_agrees_with_each_item(name: str) -> None:
    """`all_valid` (one call per stream) says "valid" exactly when every item is valid alone."""
    from conformance import schemas

    fast_validator(name)
    payloads = corpus_payloads()
    valid = [p for p in payloads if validator(name).is_valid(p)]
    lists = [[], valid, payloads] + [valid[:i] + [p] + valid[i:] for i, p in enumerate(payloads[:60])]
    for instances in lists:
        assert schemas.all_valid(name, instances) is all(map(validator(name).is_valid, instances))
