"""Each mutant target really exhibits its seeded bug on a stream that triggers it, and only there.

These tests check the bug, not the invariant that catches it: that is the corpus run's job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from _target_streams import (
    ADAPTER,
    ANTHROPIC_REQUEST,
    MESSAGE_STOP,
    NORMALIZER,
    OPENAI_REQUEST,
    PASSTHROUGH,
    TO_OPENAI,
    anthropic_events,
    anthropic_stream,
    anthropic_text,
    block_delta,
    block_start,
    block_stop,
    chunk,
    drive,
    finishes,
    joined,
    message_delta,
    message_start,
    openai_payloads,
    openai_stream,
    text_events,
    tool_calls,
)

from conformance.corpus import load_corpus
from conformance.protocols import OPENAI_RESPONSES
from conformance.replay import ReplayServer
from conformance.targets.base import Target
from conformance.targets.mutants import MUTANTS, Mutant
from conformance.targets.reference import Reference

REQUIRED = {
    "reasoning-dropped-when-streaming": "semantic.reasoning",
    "empty-text-block-before-tool": "anthropic.block.no-empty-text",
    "tool-fragments-merged": "openai.tool.index-per-id",
    "finish-chunk-twice": "openai.finish.once",
    "done-in-anthropic-stream": "anthropic.stream.no-done",
    "sse-split-on-lf-lf": "semantic.text",
    "utf8-split-corrupted": "semantic.text",
    "cutoff-as-clean-finish": "semantic.error-surfaced",
    "signature-dropped": "semantic.signatures",
}


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as running:
        yield running


def mutant(name: str) -> Target:
    return MUTANTS[name].factory()


def test_registry_holds_the_required_mutants() -> None:
    assert {name: MUTANTS[name].caught_by for name in REQUIRED} == REQUIRED


@pytest.mark.parametrize("entry", list(MUTANTS.values()), ids=list(MUTANTS))
def test_each_mutant_is_a_target_named_after_it(entry: Mutant) -> None:
    target = entry.factory()
    assert isinstance(target, Target)
    assert target.name == f"mutant:{entry.name}"
    assert target.routes == Reference().routes
    assert entry.bug.endswith(".") and "https://" in entry.evidence


REASONING_STREAM = openai_stream(
    chunk({"role": "assistant", "content": None, "reasoning_content": "Think."}),
    chunk({"reasoning": "More."}),
    chunk({"content": "Answer."}),
    chunk({}, "stop"),
)

TOOL_FIRST_STREAM = openai_stream(
    chunk(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}
            ],
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}),
    chunk(
        {
            "tool_calls": [
                {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": '{"b":2}'}}
            ]
        }
    ),
    chunk({}, "tool_calls"),
)


async def test_reasoning_dropped(server: ReplayServer) -> None:
    target = mutant("reasoning-dropped-when-streaming")
    payloads = openai_payloads((await drive(server, target, NORMALIZER, OPENAI_REQUEST, REASONING_STREAM))[0])
    assert joined(payloads, "reasoning_content") == "" and joined(payloads, "content") == "Answer."
    events = anthropic_events((await drive(server, target, ADAPTER, ANTHROPIC_REQUEST, REASONING_STREAM))[0])
    assert all(d["content_block"]["type"] != "thinking" for n, d in events if n == "content_block_start")
    assert anthropic_text(events) == "Answer."


async def test_empty_text_block_before_tool(server: ReplayServer) -> None:
    events = anthropic_events(
        (await drive(server, mutant("empty-text-block-before-tool"), ADAPTER, ANTHROPIC_REQUEST, TOOL_FIRST_STREAM))[0]
    )
    names = [(n, d.get("index")) for n, d in events]
    assert names[1:3] == [("content_block_start", 0), ("content_block_stop", 0)]
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    # A text-first stream uses that block for its text: no empty block then.
    text_first = openai_stream(chunk({"role": "assistant", "content": "hi"}), chunk({}, "stop"))
    events = anthropic_events(
        (await drive(server, mutant("empty-text-block-before-tool"), ADAPTER, ANTHROPIC_REQUEST, text_first))[0]
    )
    assert [n for n, _ in events].count("content_block_start") == 1 and anthropic_text(events) == "hi"


async def test_tool_fragments_merged(server: ReplayServer) -> None:
    payloads = openai_payloads(
        (await drive(server, mutant("tool-fragments-merged"), NORMALIZER, OPENAI_REQUEST, TOOL_FIRST_STREAM))[0]
    )
    calls = tool_calls(payloads)
    assert list(calls) == [0]
    assert calls[0]["id"] == "call_acall_b" and calls[0]["arguments"] == '{"a":1}{"b":2}'


async def test_finish_chunk_twice(server: ReplayServer) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "hi"}), chunk({}, "stop"))
    payloads = openai_payloads((await drive(server, mutant("finish-chunk-twice"), NORMALIZER, OPENAI_REQUEST, body))[0])
    assert finishes(payloads) == ["stop", "stop"]


async def test_done_in_anthropic_stream(server: ReplayServer) -> None:
    target = mutant("done-in-anthropic-stream")
    body = openai_stream(chunk({"role": "assistant", "content": "hi"}), chunk({}, "stop"))
    output, _ = await drive(server, target, ADAPTER, ANTHROPIC_REQUEST, body)
    assert b"".join(output).endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\ndata: [DONE]\n\n')
    output, _ = await drive(server, target, PASSTHROUGH, ANTHROPIC_REQUEST, anthropic_stream(*text_events()))
    assert anthropic_events(output)[-2:] == [("message_stop", MESSAGE_STOP), ("message", "[DONE]")]


@pytest.mark.parametrize("route", [NORMALIZER, ADAPTER, TO_OPENAI, PASSTHROUGH])
async def test_sse_split_on_lf_lf_loses_crlf_streams(server: ReplayServer, route: tuple[str, str]) -> None:
    target = mutant("sse-split-on-lf-lf")

    def stream(newline: str) -> bytes:
        if route[0] == "openai-chat":
            return openai_stream(chunk({"role": "assistant", "content": "héllo"}), chunk({}, "stop"), newline=newline)
        return anthropic_stream(*text_events("héllo"), newline=newline)

    request = OPENAI_REQUEST if route[1] == "openai-chat" else ANTHROPIC_REQUEST
    lf = b"".join((await drive(server, target, route, request, stream("\n")))[0])
    crlf = b"".join((await drive(server, target, route, request, stream("\r\n")))[0])
    assert "héllo".encode() in lf
    assert "héllo".encode() not in crlf


@pytest.mark.parametrize("route", [NORMALIZER, ADAPTER, TO_OPENAI, PASSTHROUGH])
async def test_utf8_split_corrupts_characters_split_across_reads(server: ReplayServer, route: tuple[str, str]) -> None:
    target = mutant("utf8-split-corrupted")
    if route[0] == "openai-chat":
        body = openai_stream(chunk({"role": "assistant", "content": "héllo 😀"}), chunk({}, "stop"))
    else:
        body = anthropic_stream(*text_events("héllo 😀"))
    request = OPENAI_REQUEST if route[1] == "openai-chat" else ANTHROPIC_REQUEST
    whole = b"".join((await drive(server, target, route, request, body))[0])
    split = b"".join((await drive(server, target, route, request, body, schedule="byte"))[0])
    assert "héllo 😀".encode() in whole
    assert "héllo".encode() not in split and "\ufffd".encode() in split


@pytest.mark.parametrize("register", [{}, {"reset_at_end": True}], ids=["eof", "connection-reset"])
async def test_cutoff_as_clean_finish(server: ReplayServer, register: dict[str, Any]) -> None:
    target = mutant("cutoff-as-clean-finish")
    cut_openai = openai_stream(chunk({"role": "assistant", "content": "partial"}), done=False)
    cut_anthropic = anthropic_stream(*text_events("partial")[:3])

    payloads = openai_payloads((await drive(server, target, NORMALIZER, OPENAI_REQUEST, cut_openai, **register))[0])
    assert finishes(payloads) == ["stop"] and payloads[-1] == "[DONE]"
    assert not any(isinstance(p, dict) and "error" in p for p in payloads)

    payloads = openai_payloads((await drive(server, target, TO_OPENAI, OPENAI_REQUEST, cut_anthropic, **register))[0])
    assert finishes(payloads) == ["stop"] and payloads[-1] == "[DONE]"

    for route, body in ((ADAPTER, cut_openai), (PASSTHROUGH, cut_anthropic)):
        events = anthropic_events((await drive(server, target, route, ANTHROPIC_REQUEST, body, **register))[0])
        names = [n for n, _ in events]
        assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"] and "error" not in names
        assert events[-2][1]["delta"]["stop_reason"] == "end_turn"


async def test_signature_dropped(server: ReplayServer) -> None:
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "Hmm."}),
        block_delta(0, {"type": "signature_delta", "signature": "EqQBCkgIAhABGAIiQ=="}),
        block_stop(0),
        *text_events()[1:],
    ]
    relayed = anthropic_events(
        (await drive(server, mutant("signature-dropped"), PASSTHROUGH, ANTHROPIC_REQUEST, anthropic_stream(*events)))[0]
    )
    assert relayed == [(e["type"], e) for e in events if e is not events[3]]


async def test_responses_encrypted_reasoning_dropped(server: ReplayServer) -> None:
    capture = next(c for c in load_corpus().captures if c.id.endswith("/reasoning-encrypted-no-summary"))
    route = (OPENAI_RESPONSES, OPENAI_RESPONSES)
    target = mutant("responses-encrypted-reasoning-dropped")
    faithful = anthropic_events((await drive(server, Reference(), route, capture.request, capture.body))[0])
    relayed = anthropic_events((await drive(server, target, route, capture.request, capture.body))[0])

    def without_encrypted(payload: dict[str, Any]) -> dict[str, Any]:
        item = payload.get("item")
        if not isinstance(item, dict):
            return payload
        return {**payload, "item": {key: value for key, value in item.items() if key != "encrypted_content"}}

    assert relayed == [(name, without_encrypted(payload)) for name, payload in faithful] != faithful
    # The response objects of the lifecycle events pass unchanged, encrypted reasoning and all.
    assert relayed[-1] == faithful[-1] and "encrypted_content" in relayed[-1][1]["response"]["output"][0]


async def test_tool_args_replaced_by_start_input(server: ReplayServer) -> None:
    events = [
        message_start(),
        block_start(0, {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}}),
        block_delta(0, {"type": "input_json_delta", "partial_json": ""}),
        block_delta(0, {"type": "input_json_delta", "partial_json": '{"a":1}'}),
        block_stop(0),
        message_delta("tool_use"),
        MESSAGE_STOP,
    ]
    payloads = openai_payloads(
        (
            await drive(
                server,
                mutant("tool-args-replaced-by-start-input"),
                TO_OPENAI,
                OPENAI_REQUEST,
                anthropic_stream(*events),
            )
        )[0]
    )
    assert tool_calls(payloads) == {0: {"id": "toolu_a", "name": "f", "arguments": "{}"}}


@pytest.mark.parametrize("name", sorted(MUTANTS))
async def test_mutants_behave_like_the_reference_on_a_plain_text_stream(server: ReplayServer, name: str) -> None:
    # The bug is seeded in one seam: a stream that does not reach it comes out as the reference's.
    if name == "done-in-anthropic-stream":
        route, request, body = (
            NORMALIZER,
            OPENAI_REQUEST,
            openai_stream(chunk({"role": "assistant", "content": "hi"}), chunk({}, "stop")),
        )
    else:
        route, request, body = PASSTHROUGH, ANTHROPIC_REQUEST, anthropic_stream(*text_events())
    expected, _ = await drive(server, Reference(), route, request, body)
    actual, _ = await drive(server, mutant(name), route, request, body)
    assert actual == expected
