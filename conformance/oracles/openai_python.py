"""Oracle: what the official openai-python client assembles from an OpenAI Chat stream.

The stream's bytes are served over loopback HTTP and read by the real synchronous client, through
its own transport, SSE decoder, stream loop (`openai/_streaming.py`) and chat accumulator
(`client.chat.completions.stream()`, i.e. `ChatCompletionStreamState` in
`openai/lib/streaming/chat/_completions.py` with `accumulate_delta` from
`openai/lib/streaming/_deltas.py`). No private function is called.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from types import SimpleNamespace
from typing import Any

from conformance.invariants import Violation, invariant
from conformance.neutral import client_finish, neutral_finish, parse_arguments
from conformance.oracles._common import (
    TIMEOUT,
    Reads,
    client_name,
    compared,
    describe_error,
    differences,
    http_client,
    response_key,
    unreadable,
)
from conformance.oracles._server import serving
from conformance.protocols import OPENAI_CHAT
from conformance.protocols.openai_chat import REASONING_FIELDS
from conformance.semantics import expected_reasoning
from conformance.stream import Context

__all__ = ["run", "Assembled", "verdicts"]

CLIENT = "openai-python"
_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_DEFAULT_MESSAGES = [{"role": "user", "content": "conformance oracle"}]
_READS = Reads()


class Assembled:
    """Choice 0 of the client's final completion, in the terms a capture's `expect` uses."""

    def __init__(self, completion: Any) -> None:
        choices = list(getattr(completion, "choices", None) or [])
        choice = choices[0] if choices else None
        message = getattr(choice, "message", None)
        self.choices = len(choices)
        self.content = _text(getattr(message, "content", None))
        self.refusal = _text(getattr(message, "refusal", None))
        self.tool_calls = [_tool_call(call) for call in (getattr(message, "tool_calls", None) or [])]
        legacy = getattr(message, "function_call", None)
        if legacy is not None:  # the deprecated function_call: one call, as the suite reads it
            self.tool_calls.append(_tool_call(SimpleNamespace(function=legacy)))
        self.reasoning = _reasoning(message)
        raw_finish = getattr(choice, "finish_reason", None)
        self.raw_finish = raw_finish
        finish = _FINISH.get(raw_finish, raw_finish) if isinstance(raw_finish, str) else raw_finish
        self.finish = neutral_finish(finish, bool(self.tool_calls))


def _text(value: Any) -> Any:
    return "" if value is None else value


def _tool_call(call: Any) -> dict[str, Any]:
    function = getattr(call, "function", None)
    raw = getattr(function, "arguments", None)
    # As everywhere in the suite (neutral.parse_arguments), "" means no arguments, i.e. {}; a string
    # that does not parse is compared as itself, so the violation shows what the client holds.
    arguments = parse_arguments(raw)[0] if isinstance(raw, str) else raw
    return {"name": getattr(function, "name", None), "arguments": arguments}


def _reasoning(message: Any) -> str:
    """The first reasoning dialect field the client kept: unknown delta keys ride along as extras."""
    for name in REASONING_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _request(ctx: Context) -> tuple[str, list[Any]]:
    model = ctx.request.get("model")
    messages = ctx.request.get("messages")
    return (model if isinstance(model, str) and model else "conformance-oracle"), (
        messages if isinstance(messages, list) and messages else _DEFAULT_MESSAGES
    )


def run(
    raw: bytes,
    model: str = "conformance-oracle",
    messages: list[Any] | None = None,
    status: int = 200,
    aborted: bool = False,
) -> Any:
    """Serve `raw` and read it with `client.chat.completions.stream()`; returns the final completion, or raises what the client raised.

    `get_final_completion()` refuses finish reasons `length` and `content_filter` by raising
    `LengthFinishReasonError` / `ContentFilterFinishReasonError`: for those, the stream's public
    `current_completion_snapshot` is returned, since the refusal is the helper's policy, not a
    failure to read the stream. With a `status` of 300 or more, `raw` is served as an error response.
    """
    import openai

    with serving(raw, status, aborted) as url:
        client = openai.OpenAI(
            base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=TIMEOUT, http_client=http_client(openai)
        )
        with client.chat.completions.stream(model=model, messages=messages or _DEFAULT_MESSAGES) as stream:
            stream.until_done()
            try:
                return stream.get_final_completion()
            except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError):
                return stream.current_completion_snapshot


@invariant(
    "oracle.openai-python",
    impact="breaks",
    hint="Emit streams that client.chat.completions.stream() assembles unchanged: role once, dense tool indices with each call's id and name once, one finish per choice, and an error frame rather than a clean finish when the upstream broke.",
    protocol=OPENAI_CHAT,
    level="proxy",
    applies=compared,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the SSE decoder and stream loop: [DONE] ends the stream, non-JSON data raises, an error object raises APIError",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/chat/_completions.py — client.chat.completions.stream() places choices and tool calls by index and raises on a length or content_filter finish when tools are parseable",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/_deltas.py — strings are concatenated and tool calls inserted by index, so a tool call without an index raises and a first index of 1 (as GitHub Copilot sends) corrupts the snapshot",
        "https://github.com/vercel/ai/blob/c22d50fb4f2fcd3036b6f32c652a5ff4e1d61000/packages/mistral/src/__fixtures__/mistral-tool-call.chunks.txt — Mistral sends tool calls with no index, so its own streams break this client",
    ],
)
def openai_python(ctx: Context) -> Iterator[Violation]:
    """The official openai-python client, reading the stream over HTTP with `client.chat.completions.stream()`, raises nothing and assembles choice 0 with the capture's content, refusal, tool calls (names and parsed arguments, an empty string counting as {}, in order), reasoning (the first of `reasoning_content`, `reasoning`, `thinking` it kept as an extra field) and neutral finish reason; when the upstream broke, it raises."""
    model, messages = _request(ctx)
    yield from verdicts(
        ctx,
        lambda openai: response_key(openai, ctx.raw, ctx.status, model, messages, ctx.aborted),
        lambda: run(ctx.raw, model, messages, ctx.status, ctx.aborted),
        "a final completion",
        lambda result: _judged(Assembled(result)),
    )


def _judged(got: Assembled) -> tuple[str, str, list[tuple[str, str, Any]]]:
    return (
        "a completion",
        f"finish_reason {got.raw_finish!r}",
        [
            ("content", "text", got.content),
            ("refusal", "refusal", got.refusal),
            ("reasoning", "reasoning", got.reasoning),
            ("tool calls", "tool_calls", got.tool_calls),
            ("finish reason", "finish", got.finish),
        ],
    )


def verdicts(
    ctx: Context,
    key: Callable[[Any], Hashable],
    read: Callable[[], Any],
    wanted: str,
    judged: Callable[[Any], tuple[str, str, list[tuple[str, str, Any]]]],
) -> Iterator[Violation]:
    """An openai-python read of `ctx`'s stream, judged: `key(openai)` names the read, `read()` makes
    it, and `judged(result)` says what the client returned and how it ended (for a broken upstream,
    where it must raise instead), and each (what, expect field, assembled value) to compare with
    the capture's."""
    client = client_name("openai", CLIENT)
    try:
        import openai
    except ImportError as error:
        yield Violation(
            f"{client} cannot be imported ({error}); install it: pip install 'openai>=1.92'",
            "openai-python installed",
            None,
        )
        return
    # Reading a response the target aborted, the client is meant to fail to read it to the end: that
    # is its verdict, not the loopback server's trouble.
    unreachable = () if ctx.aborted else openai.APIConnectionError
    done = _READS.get(key(openai), read, transient=unreachable)
    error = done.error
    if not ctx.aborted and isinstance(error, openai.APIConnectionError):
        yield unreadable(client, error, "openai")
        return
    if error is not None:
        if ctx.negative is None:
            yield Violation(f"{client} raised {describe_error(error, 'openai')}", wanted, type(error).__name__)
        return
    returned, ending, assembled = judged(done.result)
    if ctx.negative is not None:
        # A client that returns normally shows its user a truncated answer as if it were whole.
        kind = ctx.negative.get("kind", "broken")
        yield Violation(
            f"{client} returned {returned} ({ending}) from a stream whose upstream broke ({kind}); it must raise",
            "an exception",
            ending,
        )
        return
    yield from differences(
        client,
        [
            (what, expected_reasoning(ctx, got) if field == "reasoning" else _expected(ctx.expect or {}, field), got)
            for what, field, got in assembled
        ],
    )


def _expected(expect: dict[str, Any], field: str) -> Any:
    """A capture's `expect` field as an OpenAI client receives it."""
    if field == "tool_calls":
        return [{"name": c["name"], "arguments": c.get("arguments")} for c in expect.get("tool_calls", [])]
    if field == "finish":
        return client_finish(expect.get("finish"), openai=True)
    if field == "signatures":
        return list(expect.get("signatures", []))
    return str(expect.get(field, ""))
