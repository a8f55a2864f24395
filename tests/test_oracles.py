"""The client oracles: the official SDKs read each stream over loopback HTTP and must assemble `expect`.

- The loopback server serves registered bytes, and only on 127.0.0.1.
- For each oracle, correct streams pass and broken ones fail with a message naming the client and
  its installed version (WIRE-FACTS §7.3, §7.4, X1).
- On the shipped corpus, every positive capture's raw stream passes its protocol's oracle, and each
  negative capture gets the verdict its fault deserves.
"""

from __future__ import annotations

import socket
from typing import Any

import anthropic
import httpx
import openai
import pytest
from test_invariants import (
    AN_BARE_DATA,
    AN_CUT_AS_CLEAN,
    AN_ERROR,
    AN_ERROR_EXPECT,
    AN_TEXT,
    AN_TEXT_EXPECT,
    AN_THINKING,
    AN_THINKING_EXPECT,
    AN_THINKING_INTO_TEXT,
    AN_TOOL,
    AN_TOOL_EXPECT,
    CALL_A,
    MESSAGE_STOP,
    NEG_CUT,
    NEG_ERROR,
    OA_CUT_AS_CLEAN,
    OA_DEEPSEEK,
    OA_DEEPSEEK_EXPECT,
    OA_DEEPSEEK_REASONING_DROPPED,
    OA_ERROR,
    OA_ERROR_EXPECT,
    OA_PARALLEL,
    OA_PARALLEL_EXPECT,
    OA_TEXT,
    OA_TEXT_EXPECT,
    OA_TOOL_INDEX_1_FIRST,
    OA_VLLM,
    block_stop,
    error_event,
    message_delta,
    message_start,
    named,
    oa,
    oa_finish,
    oa_role,
    oa_text,
    text_delta,
    text_start,
)
from test_invariants import (
    anthropic as anthropic_stream,
)
from test_invariants import (
    openai as openai_stream,
)

from conformance.checks import build_context, check
from conformance.corpus import load_corpus
from conformance.invariants import Verdict, evaluate, registry
from conformance.oracles import _server
from conformance.oracles import anthropic_python as anthropic_oracle
from conformance.oracles import openai_python as openai_oracle
from conformance.oracles._common import Read, Reads
from conformance.oracles.anthropic_python import Assembled as AnthropicAssembled
from conformance.oracles.anthropic_python import run as run_anthropic
from conformance.oracles.openai_python import Assembled as OpenAIAssembled
from conformance.oracles.openai_python import run as run_openai
from conformance.protocols import ANTHROPIC_MESSAGES as AN
from conformance.protocols import OPENAI_CHAT as OA
from conformance.protocols import OPENAI_RESPONSES

OPENAI_CLIENT = f"openai-python {openai.__version__}"
ANTHROPIC_CLIENT = f"anthropic-sdk-python {anthropic.__version__}"
CAPTURES = load_corpus().captures
ORACLE_FOR = {
    OA: "oracle.openai-python",
    AN: "oracle.anthropic-python",
    OPENAI_RESPONSES: "oracle.openai-python-responses",
}


def verdict(
    invariant: str,
    raw: bytes,
    protocol: str,
    expect: dict[str, Any] | None,
    negative: dict[str, Any] | None = None,
    request: dict[str, Any] | None = None,
    ending: str = "complete",
) -> Verdict:
    return evaluate(
        registry()[invariant],
        build_context(raw, protocol, request=request, expect=expect, negative=negative, ending=ending),
    )


def openai_verdict(raw: bytes, expect: dict[str, Any] | None, negative: dict[str, Any] | None = None) -> Verdict:
    return verdict("oracle.openai-python", raw, OA, expect, negative)


def anthropic_verdict(raw: bytes, expect: dict[str, Any] | None, negative: dict[str, Any] | None = None) -> Verdict:
    return verdict("oracle.anthropic-python", raw, AN, expect, negative)


def messages(v: Verdict) -> list[str]:
    return [violation.message for violation in v.violations]


def assert_fails_naming(v: Verdict, client: str, *fragments: str) -> None:
    assert v.outcome == "fail", v
    # A client that raises or assembles something else is broken by it: never a mere strict deviation.
    assert v.impact == registry()[v.invariant].impact == "breaks"
    assert v.reason.startswith(client + " "), v.reason
    for fragment in fragments:
        assert any(fragment in message for message in messages(v)), (fragment, messages(v))


# ---------------------------------------------------------------------------- the loopback server


def test_the_server_serves_a_registered_body_byte_for_byte_on_loopback_only() -> None:
    body = b'data: {"x": 1}\r\n\r\n: comment\n\ndata: [DONE]\n\n' * 2000  # spans many chunks
    with _server.serving(body) as url:
        assert url.startswith("http://127.0.0.1:") and "/o/" in url
        with httpx.Client(trust_env=False) as client:
            response = client.post(f"{url}/v1/chat/completions", json={"model": "m", "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.content == body
    host, port = _server._running().server_address[:2]
    assert host == "127.0.0.1" and port > 0
    assert _server._running().bodies == {}, "the body is unregistered when the block ends"


def test_an_unknown_token_answers_404_and_the_server_thread_is_a_daemon() -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.get(f"{_server.base_url()}/o/unknown/v1/messages")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    import threading

    assert any(t.name == "conformance-oracle-server" and t.daemon for t in threading.enumerate())


def test_the_server_is_not_reachable_on_other_interfaces() -> None:
    port = _server._running().server_address[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outbound interface
            address = probe.getsockname()[0]
        except OSError:
            pytest.skip("no non-loopback interface")
    if address.startswith("127."):
        pytest.skip("no non-loopback interface")
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=1).close()


# ----------------------------------------------------------------------------- oracle.openai-python


def test_openai_oracle_runs_only_against_a_capture() -> None:
    assert openai_verdict(OA_TEXT, None).outcome == "skipped"
    assert anthropic_verdict(AN_TEXT, None).outcome == "skipped"


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        pytest.param(OA_TEXT, OA_TEXT_EXPECT, id="text"),
        pytest.param(OA_PARALLEL, OA_PARALLEL_EXPECT, id="parallel-tool-calls"),
        pytest.param(OA_DEEPSEEK, OA_DEEPSEEK_EXPECT, id="deepseek-reasoning-content"),
        pytest.param(
            OA_VLLM, {"text": "4", "reasoning": "Two plus two is four.", "finish": "stop"}, id="vllm-reasoning"
        ),
        pytest.param(
            openai_stream(oa_role(), oa({"refusal": "I can't help with that."}), oa_finish("stop")),
            {"text": "", "refusal": "I can't help with that.", "finish": "stop"},
            id="refusal",
        ),
        pytest.param(
            openai_stream(oa_role(), oa_text("Boom"), oa_finish("content_filter")),
            {"text": "Boom", "finish": "content_filter"},
            id="content-filter",
        ),
    ],
)
def test_openai_oracle_passes_correct_streams(raw: bytes, expect: dict[str, Any]) -> None:
    v = openai_verdict(raw, expect)
    assert v.outcome == "pass", messages(v)


def test_openai_oracle_reads_the_stream_through_the_real_stream_helper() -> None:
    completion = run_openai(OA_PARALLEL)
    assert type(completion).__module__.startswith("openai.")
    got = OpenAIAssembled(completion)
    assert [call["name"] for call in got.tool_calls] == ["get_weather", "get_time"]
    assert got.finish == "tool_calls"
    assert completion.choices[0].message.tool_calls[0].id == CALL_A


def test_openai_tool_index_1_before_0_fails_naming_the_client() -> None:
    assert_fails_naming(openai_verdict(OA_TOOL_INDEX_1_FIRST, OA_PARALLEL_EXPECT), OPENAI_CLIENT)


def test_openai_error_frame_on_a_completed_capture_fails_as_a_client_exception() -> None:
    v = openai_verdict(OA_ERROR, OA_TEXT_EXPECT)
    assert_fails_naming(v, OPENAI_CLIENT, "raised APIError: The server had an error", "openai/_streaming.py")


def test_openai_reasoning_dropped_fails() -> None:
    assert_fails_naming(
        openai_verdict(OA_DEEPSEEK_REASONING_DROPPED, OA_DEEPSEEK_EXPECT), OPENAI_CLIENT, "assembled reasoning ''"
    )


def test_openai_chunks_the_helper_skips_leave_content_missing() -> None:
    """The helper drops chunks whose `object` is not chat.completion.chunk (Azure's filter events)."""
    wrong_object = openai_stream(
        oa_role(), oa({"content": "Hello"}, object="chat.completion"), oa_text(" there!"), oa_finish("stop")
    )
    assert_fails_naming(openai_verdict(wrong_object, OA_TEXT_EXPECT), OPENAI_CLIENT, "assembled content ' there!'")


def test_openai_negative_capture_must_make_the_client_raise() -> None:
    assert openai_verdict(OA_ERROR, OA_ERROR_EXPECT, NEG_ERROR).outcome == "pass"  # APIError raised
    silent = openai_verdict(openai_stream(oa_role(), oa_text("Here"), done=False), OA_ERROR_EXPECT, NEG_CUT)
    assert_fails_naming(silent, OPENAI_CLIENT, "returned a completion (finish_reason None)", "it must raise")
    v = openai_verdict(OA_CUT_AS_CLEAN, OA_ERROR_EXPECT, NEG_CUT)
    assert_fails_naming(v, OPENAI_CLIENT, "returned a completion (finish_reason 'stop')", "cut-off")


# -------------------------------------------------------------------------- oracle.anthropic-python


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        pytest.param(AN_TEXT, AN_TEXT_EXPECT, id="text"),
        pytest.param(AN_TOOL, AN_TOOL_EXPECT, id="tool-use"),
        pytest.param(AN_THINKING, AN_THINKING_EXPECT, id="thinking-signature"),
    ],
)
def test_anthropic_oracle_passes_correct_streams(raw: bytes, expect: dict[str, Any]) -> None:
    v = anthropic_verdict(raw, expect)
    assert v.outcome == "pass", messages(v)


def test_anthropic_oracle_reads_the_stream_through_the_real_message_stream() -> None:
    message = run_anthropic(AN_THINKING)
    assert type(message).__module__.startswith("anthropic.")
    got = AnthropicAssembled(message)
    assert got.block_types == ["thinking", "text"]
    assert got.thinking == AN_THINKING_EXPECT["reasoning"] and got.signatures == AN_THINKING_EXPECT["signatures"]
    assert got.raw_finish == "end_turn" and got.finish == "stop"


def test_anthropic_bare_data_events_fail_naming_the_client() -> None:
    """The SDK dispatches by event name: a stream of bare `data:` events gives it nothing at all (§7.4)."""
    assert_fails_naming(
        anthropic_verdict(AN_BARE_DATA, AN_TEXT_EXPECT),
        ANTHROPIC_CLIENT,
        "raised AssertionError",
        "without an event: name",
    )


def test_anthropic_bare_data_deltas_leave_the_text_silently_empty() -> None:
    named_frame_bare_deltas = (
        anthropic_stream(message_start(25), text_start(0))
        + named(None, text_delta(0, "Hello there!")).encode()
        + anthropic_stream(block_stop(0), message_delta("end_turn", 12), MESSAGE_STOP)
    )
    v = anthropic_verdict(named_frame_bare_deltas, AN_TEXT_EXPECT)
    assert_fails_naming(v, ANTHROPIC_CLIENT, "assembled text ''", "silently empty")


def test_anthropic_thinking_delta_into_a_text_block_fails() -> None:
    v = anthropic_verdict(AN_THINKING_INTO_TEXT, AN_THINKING_EXPECT)
    assert_fails_naming(v, ANTHROPIC_CLIENT, "assembled thinking ''", "assembled signatures []")


def test_anthropic_error_event_on_a_completed_capture_fails_as_a_client_exception() -> None:
    assert_fails_naming(
        anthropic_verdict(AN_ERROR, AN_TEXT_EXPECT), ANTHROPIC_CLIENT, "raised APIStatusError", "overloaded_error"
    )


def test_anthropic_negative_capture_must_raise() -> None:
    assert anthropic_verdict(AN_ERROR, AN_ERROR_EXPECT, NEG_ERROR).outcome == "pass"
    assert_fails_naming(
        anthropic_verdict(AN_CUT_AS_CLEAN, AN_ERROR_EXPECT, NEG_CUT),
        ANTHROPIC_CLIENT,
        "stop_reason 'end_turn'",
        "without raising",
    )
    # §8: the SDK raises on `event: error` but drops a bare `data:` error, so the client never hears of it.
    bare_error = (
        anthropic_stream(message_start(18), text_start(0), text_delta(0, "The lighthouse keeper"))
        + named(None, error_event()).encode()
    )
    assert_fails_naming(
        anthropic_verdict(bare_error, AN_ERROR_EXPECT, NEG_ERROR),
        ANTHROPIC_CLIENT,
        "stop_reason None",
        "without raising",
    )


# ------------------------------------------------------------------------------- error responses

OPENAI_ERROR_BODY = b'{"error": {"message": "Upstream provider unavailable", "type": "server_error", "code": 502}}'
ANTHROPIC_ERROR_BODY = b'{"type": "error", "error": {"type": "api_error", "message": "Upstream provider unavailable"}}'


def test_an_error_status_is_served_as_a_json_error_response() -> None:
    with _server.serving(OPENAI_ERROR_BODY, status=502) as url, httpx.Client(trust_env=False) as client:
        response = client.post(f"{url}/v1/chat/completions", json={})
    assert (response.status_code, response.headers["content-type"], response.content) == (
        502,
        "application/json",
        OPENAI_ERROR_BODY,
    )
    with pytest.raises(openai.APIStatusError, match="Upstream provider unavailable"):
        run_openai(OPENAI_ERROR_BODY, status=502)
    with pytest.raises(anthropic.APIStatusError, match="Upstream provider unavailable"):
        run_anthropic(ANTHROPIC_ERROR_BODY, status=502)


@pytest.mark.parametrize(
    ("protocol", "body", "client"),
    [(OA, OPENAI_ERROR_BODY, OPENAI_CLIENT), (AN, ANTHROPIC_ERROR_BODY, ANTHROPIC_CLIENT)],
)
def test_an_error_response_passes_a_negative_capture_and_fails_a_positive_one(
    protocol: str, body: bytes, client: str
) -> None:
    invariant = ORACLE_FOR[protocol]
    negative = evaluate(
        registry()[invariant],
        build_context(body, protocol, expect={"text": "", "finish": None}, negative=NEG_ERROR, status=502),
    )
    assert negative.outcome == "pass", messages(negative)
    positive = evaluate(
        registry()[invariant], build_context(body, protocol, expect={"text": "Hi", "finish": "stop"}, status=502)
    )
    assert_fails_naming(positive, client, "raised", "502")


# ------------------------------------------------------------------------------ aborted responses

OA_CUT = openai_stream(oa_role(), oa_text("Here"), done=False)
AN_CUT = anthropic_stream(message_start(18), text_start(0), text_delta(0, "The lighthouse keeper"))


@pytest.mark.parametrize(
    ("protocol", "raw", "client"), [(OA, OA_CUT, OPENAI_CLIENT), (AN, AN_CUT, ANTHROPIC_CLIENT)], ids=[OA, AN]
)
def test_a_cut_off_the_target_aborts_makes_the_client_raise(protocol: str, raw: bytes, client: str) -> None:
    """Served unterminated (the connection closed mid-body), the cut-off reaches the client as an
    error, which is what a broken upstream calls for; served complete, the same bytes read as a
    finished message without raising."""
    invariant = ORACLE_FOR[protocol]
    expect = OA_ERROR_EXPECT if protocol == OA else AN_ERROR_EXPECT
    aborted = verdict(invariant, raw, protocol, expect, NEG_CUT, ending="aborted")
    assert aborted.outcome == "pass", messages(aborted)
    assert_fails_naming(
        verdict(invariant, raw, protocol, expect, NEG_CUT),
        client,
        "it must raise" if protocol == OA else "without raising",
    )


def test_an_aborted_response_fails_a_complete_capture_unless_the_client_had_read_it_all() -> None:
    """openai-python stops reading at [DONE], so an abort after it goes unseen; anthropic-sdk-python
    reads to the end of the body, so an abort after message_stop makes it raise."""
    assert openai_verdict(OA_TEXT, OA_TEXT_EXPECT).outcome == "pass"
    assert verdict(ORACLE_FOR[OA], OA_TEXT, OA, OA_TEXT_EXPECT, ending="aborted").outcome == "pass"
    assert anthropic_verdict(AN_TEXT, AN_TEXT_EXPECT).outcome == "pass"
    assert_fails_naming(
        verdict(ORACLE_FOR[AN], AN_TEXT, AN, AN_TEXT_EXPECT, ending="aborted"),
        ANTHROPIC_CLIENT,
        "raised RemoteProtocolError",
        "incomplete chunked read",
    )


def test_run_serves_an_aborted_body_unterminated() -> None:
    with pytest.raises(openai.APIConnectionError) as raised:
        run_openai(OA_CUT, aborted=True)
    assert "incomplete chunked read" in str(raised.value.__cause__)
    assert OpenAIAssembled(run_openai(OA_CUT)).finish is None
    # anthropic-sdk-python does not wrap an error met while iterating the body: the HTTP library's reaches the caller.
    with pytest.raises(Exception, match="incomplete chunked read"):
        run_anthropic(AN_CUT, aborted=True)


# ----------------------------------------------------------------- one read per distinct response

ORACLE_MODULE = {OA: openai_oracle, AN: anthropic_oracle}
TEXT_STREAM = {OA: (OA_TEXT, OA_TEXT_EXPECT), AN: (AN_TEXT, AN_TEXT_EXPECT)}
SDK = {OA: openai, AN: anthropic}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies each oracle's SDK client actually reads over HTTP, in order, starting from an
    empty memory of reads."""
    read: list[bytes] = []
    for module in ORACLE_MODULE.values():
        monkeypatch.setattr(module, "_READS", Reads())
        real = module.run

        def counted(raw: bytes, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            read.append(raw)
            return _real(raw, *args, **kwargs)

        monkeypatch.setattr(module, "run", counted)
    return read


def oracle_verdict(
    protocol: str,
    raw: bytes,
    expect: dict[str, Any],
    *,
    status: int = 200,
    request: dict[str, Any] | None = None,
    ending: str = "complete",
) -> Verdict:
    return evaluate(
        registry()[ORACLE_FOR[protocol]],
        build_context(raw, protocol, expect=expect, status=status, request=request, ending=ending),
    )


@pytest.mark.parametrize("protocol", [OA, AN])
def test_the_same_response_is_read_once_and_judged_against_each_expect(protocol: str, reads: list[bytes]) -> None:
    raw, expect = TEXT_STREAM[protocol]
    assert oracle_verdict(protocol, raw, expect).outcome == "pass"
    other = oracle_verdict(protocol, raw, {**expect, "text": "Goodbye"})
    assert other.outcome == "fail" and "expected 'Goodbye'" in other.reason
    assert reads == [raw]


@pytest.mark.parametrize("protocol", [OA, AN])
def test_responses_one_byte_apart_are_each_read(protocol: str, reads: list[bytes]) -> None:
    raw, expect = TEXT_STREAM[protocol]
    changed = raw.replace(b"Hello", b"Jello")
    assert oracle_verdict(protocol, raw, expect).outcome == "pass"
    assert oracle_verdict(protocol, changed, expect).outcome == "fail"
    assert oracle_verdict(protocol, raw, expect).outcome == "pass"
    assert reads == [raw, changed]


@pytest.mark.parametrize(("protocol", "body"), [(OA, OPENAI_ERROR_BODY), (AN, ANTHROPIC_ERROR_BODY)], ids=[OA, AN])
def test_the_same_body_with_another_status_is_read_again(protocol: str, body: bytes, reads: list[bytes]) -> None:
    """Served with 200, an error body is an event stream without events; with 502, an error response."""
    expect = {"text": "", "finish": None}
    as_stream = oracle_verdict(protocol, body, expect)
    as_error = oracle_verdict(protocol, body, expect, status=502)
    assert "502" not in as_stream.reason and "502" in as_error.reason
    assert reads == [body, body]


@pytest.mark.parametrize("protocol", [OA, AN])
def test_the_same_body_aborted_is_read_again(protocol: str, reads: list[bytes]) -> None:
    """Complete, the body reads as a message; aborted, the client meets a broken connection."""
    raw, expect = TEXT_STREAM[protocol]
    complete = oracle_verdict(protocol, raw, expect)
    aborted = oracle_verdict(protocol, raw, expect, ending="aborted")
    assert complete.outcome == "pass"
    assert aborted.outcome == ("pass" if protocol == OA else "fail")  # openai-python stops reading at [DONE]
    assert oracle_verdict(protocol, raw, expect, ending="aborted").outcome == aborted.outcome
    assert reads == [raw, raw]


@pytest.mark.parametrize("protocol", [OA, AN])
def test_the_same_response_to_another_request_is_read_again(protocol: str, reads: list[bytes]) -> None:
    raw, expect = TEXT_STREAM[protocol]
    for text in ("first question", "second question", "first question"):
        request = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
        assert oracle_verdict(protocol, raw, expect, request=request).outcome == "pass"
    assert reads == [raw, raw]


@pytest.mark.parametrize("protocol", [OA, AN])
def test_a_read_that_never_reached_the_loopback_server_is_not_kept(
    protocol: str, reads: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, sdk = ORACLE_MODULE[protocol], SDK[protocol]
    raw, expect = TEXT_STREAM[protocol]
    counted = module.run
    unreachable = sdk.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/"))
    monkeypatch.setattr(module, "run", lambda *args, **kwargs: (_ for _ in ()).throw(unreachable))
    failed = oracle_verdict(protocol, raw, expect)
    assert failed.outcome == "fail" and "could not read the stream from the oracle's loopback server" in failed.reason
    monkeypatch.setattr(module, "run", counted)
    assert oracle_verdict(protocol, raw, expect).outcome == "pass"
    assert reads == [raw]


def test_reads_keep_what_the_client_raised_and_forget_the_least_recently_used() -> None:
    kept = Reads(size=2)
    made: list[str] = []

    def read(key: str) -> Read:
        def client() -> str:
            made.append(key)
            if key == "raises":
                raise ValueError("bad stream")
            return f"result of {key}"

        return kept.get(key, client, transient=ConnectionError)

    assert read("a") == Read(result="result of a")
    error = read("raises").error
    assert isinstance(error, ValueError)
    assert read("raises").error is error  # kept: not made again
    assert read("a").result == "result of a"  # kept, and now the most recently used
    read("b")  # evicts "raises", the least recently used
    read("raises")
    assert made == ["a", "raises", "b", "raises"]


# ------------------------------------------------------------------------------------- the corpus

POSITIVE = [c for c in CAPTURES if c.negative is None]
NEGATIVE = [c for c in CAPTURES if c.negative is not None]


# Provider quirks that openai-python 3.57 cannot read: oracle.openai-python is proxy level for these,
# and a proxy that forwards them unchanged inherits the failure.
CLIENT_INCOMPATIBLE = {
    "openai-chat/azure/content-filter": "Azure's asynchronous filter sends the finish_reason on an annotation chunk with no delta, which the client drops",
    "openai-chat/azure/placeholder-first-chunk": "an annotation chunk with no delta makes the client call to_dict() on None",
    "openai-chat/copilot/claude-tool-call-index-1": "the client reads no chunk without object chat.completion.chunk, and the first tool index is 1",
    "openai-chat/gemini/parallel-tool-calls-no-index": "tool calls with no index cannot be placed",
    "openai-chat/mistral/magistral-thinking-array": "array content: the client's delta merge wants an index in every list entry",
    "openai-chat/mistral/tool-call-no-index": "tool calls with no index cannot be placed",
    "openai-chat/ollama/parallel-tool-calls-index-0": "every parallel call at index 0: the client merges them into one",
    "openai-chat/perplexity/sonar-citations": "the finish arrives on a chunk whose object is chat.completion.done, which the client does not read",
    "openai-chat/zai/glm-tool-call": "the client reads no chunk without object chat.completion.chunk",
}


@pytest.mark.parametrize("capture", POSITIVE, ids=lambda c: c.id)
def test_every_positive_capture_passes_its_protocols_oracle(capture) -> None:  # type: ignore[no-untyped-def]
    """Every provider's raw stream, not only the vendor's that lint checks, except the quirks listed in
    CLIENT_INCOMPATIBLE, which must fail: that is why oracle.openai-python is proxy level. OpenRouter's
    and Ollama's repeated role makes openai-python hold role 'assistantassistant…', which the oracle
    does not compare (openai.role.first-delta-only reports it)."""
    v = verdict(ORACLE_FOR[capture.protocol], capture.body, capture.protocol, capture.expect, request=capture.request)
    if capture.id in CLIENT_INCOMPATIBLE:
        assert v.outcome == "fail", f"{capture.id} is listed as unreadable by the client, but it passes"
    else:
        assert v.outcome == "pass", messages(v)


@pytest.mark.parametrize("capture", NEGATIVE, ids=lambda c: c.id)
def test_negative_captures_get_the_verdict_their_fault_deserves(capture) -> None:  # type: ignore[no-untyped-def]
    """An upstream error frame or invalid JSON makes either client raise: pass. A bare cut-off raises
    in neither, so both oracles fail it: the raw cut-off is exactly what a proxy must turn into an
    error; except openai-python's Responses helper, which raises on a stream that never sent
    response.completed. Lint does not run the oracles on negative captures, as it does not run
    semantic.error-surfaced."""
    v = verdict(
        ORACLE_FOR[capture.protocol], capture.body, capture.protocol, capture.expect, capture.negative, capture.request
    )
    should_fail = capture.negative["kind"] == "cut-off" and capture.protocol != OPENAI_RESPONSES
    assert v.outcome == ("fail" if should_fail else "pass"), messages(v)


def test_oracles_are_registered_by_checks_and_run_by_check() -> None:
    ids = {v.invariant for v in check(build_context(OA_TEXT, OA, expect=OA_TEXT_EXPECT))}
    assert "oracle.openai-python" in ids and "oracle.anthropic-python" not in ids
    inv = registry()["oracle.anthropic-python"]
    assert (inv.protocol, inv.impact, inv.level) == (AN, "breaks", "provider")
    assert any("anthropic/_streaming.py" in source for source in inv.evidence)
    assert any("lib/streaming/_messages.py" in source for source in inv.evidence)
    inv = registry()["oracle.openai-python"]
    # Proxy level: real providers' quirks (Mistral, Copilot) break this client, so lint runs it on OpenAI's own captures.
    assert (inv.protocol, inv.impact, inv.level) == (OA, "breaks", "proxy")
    assert any("lib/streaming/_deltas.py" in source for source in inv.evidence)
    assert any("Mistral" in source for source in inv.evidence)
