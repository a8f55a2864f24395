"""`conformance import` on the sample transcripts in tests/samples/, `Message.expect` and `negative_from`.

The samples are written for these tests in the formats the tools produce: `curl -N -D headers.txt`
(a 100 Continue block before the final one), a HAR 1.2 file as mitmproxy exports it (four entries,
one body base64-encoded), JSON lines of events in both shapes (Anthropic's both named and bare),
and a CRLF-framed .sse file.
"""

from __future__ import annotations

import base64
import inspect
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import drafts, secret_scan, transcripts
from conformance.cli import main
from conformance.corpus import default_corpus
from conformance.drafts import infer_protocol
from conformance.lint import PLACEHOLDER
from conformance.neutral import Message, ToolCall
from conformance.transcripts import ImportProblem, read_curl, read_har, read_sse

SAMPLES = Path(__file__).parent / "samples"
CURL = SAMPLES / "curl-anthropic"
HAR = SAMPLES / "har" / "api-session.har"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(default_corpus() / "features.txt", root)
    return root


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def imported(corpus: Path, *args: str) -> str:
    code, out = cli("import", *args, "--corpus", str(corpus))
    assert code == 0, out
    return out


def written(corpus: Path, capture: str) -> tuple[bytes, dict]:
    meta = yaml.safe_load((corpus / f"{capture}.yaml").read_text(encoding="utf-8"))
    return (corpus / f"{capture}.sse").read_bytes(), meta


def assert_valid(corpus: Path) -> None:
    """The skeleton is refused only for its placeholders, and validates once they are written."""
    code, out = cli("validate", str(corpus))
    problems = [line for line in out.splitlines() if line.startswith("error:")]
    assert all("still holds a placeholder" in line for line in problems), out
    filled = filled_in(corpus)
    assert len(problems) == len(filled), (out, filled)
    code, out = cli("validate", str(corpus))
    assert code == 0, out


def filled_in(corpus: Path) -> list[str]:
    """Write what a contributor writes in place of each `TODO:` placeholder; the fields filled."""
    filled: list[str] = []

    def fill(value: Any, path: str) -> Any:
        if isinstance(value, str) and value.startswith(PLACEHOLDER):
            filled.append(path)
            return "written by the contributor"
        if isinstance(value, dict):
            return {key: fill(item, f"{path}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return value

    for path in corpus.rglob("*.yaml"):
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        path.write_text(yaml.safe_dump(fill(meta, ""), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return filled


def test_a_curl_transcript_keeps_bytes_status_headers_and_request(corpus: Path) -> None:
    out = imported(
        corpus,
        *(str(CURL / "body.sse"), "--headers", str(CURL / "headers.txt"), "--request", str(CURL / "request.json")),
        *("--provider", "anthropic", "--name", "curl", "--endpoint", "https://api.anthropic.com/v1/messages"),
    )
    sse, meta = written(corpus, "anthropic-messages/anthropic/curl")
    assert sse == (CURL / "body.sse").read_bytes()
    assert meta["response"] == {
        "status": 200,  # the final block, not the 100 Continue before it
        "headers": {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "request-id": "req_011CSample0curl0transcript01",
            "anthropic-organization-id": "[REDACTED:account-id]",
        },
    }
    assert meta["request"] == json.loads((CURL / "request.json").read_text())
    assert meta["endpoint"] == "POST /v1/messages"
    assert meta["model"] == "claude-haiku-4-5-20251001"
    assert meta["provenance"]["kind"] == "recorded"
    assert meta["provenance"]["tool"].startswith("conformance import ")
    assert meta["expect"]["text"] == "The Danube runs through Vienna."
    assert meta["expect"]["finish"] == "stop"
    assert "negative" not in meta
    assert "redacted: response header anthropic-organization-id -> [REDACTED:account-id]" in out
    assert b"0f4e7c1a-58b2" not in (corpus / "anthropic-messages/anthropic/curl.yaml").read_bytes()
    assert_valid(corpus)


def test_curl_takes_the_last_header_block_and_reads_curl_i_output(tmp_path: Path) -> None:
    dump = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /v1/messages\r\n\r\nHTTP/2 529 \r\ncontent-type: application/json\r\n\r\n"
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    (tmp_path / "h.txt").write_bytes(dump)
    (tmp_path / "b.json").write_bytes(body)
    source = read_curl(tmp_path / "b.json", tmp_path / "h.txt")
    assert (source.status, source.headers, source.body) == (529, {"content-type": "application/json"}, body)
    # curl -i: the header blocks and the body in one file
    (tmp_path / "i.sse").write_bytes((CURL / "headers.txt").read_bytes() + (CURL / "body.sse").read_bytes())
    inline = read_sse(tmp_path / "i.sse")
    assert inline.status == 200 and inline.body == (CURL / "body.sse").read_bytes()
    with pytest.raises(ImportProblem, match="no HTTP status line"):
        read_curl(tmp_path / "b.json", tmp_path / "b.json")


def test_an_ambiguous_har_is_refused_with_the_candidates(corpus: Path) -> None:
    code, out = cli("import", str(HAR), "--provider", "openai", "--name", "x", "--corpus", str(corpus))
    assert code == 2
    assert "2 entries match; pick one with --entry INDEX or a narrower --url" in out
    assert "--entry 1: POST https://api.openai.com/v1/chat/completions -> 200 text/event-stream" in out
    assert "--entry 2: POST https://api.anthropic.com/v1/messages -> 200 text/event-stream" in out
    assert "--entry 0" not in out and "--entry 3" not in out
    assert not list(corpus.rglob("*.sse"))


def test_a_har_entry_by_url_prefers_the_streamed_one(corpus: Path) -> None:
    # Entries 1 and 3 both post to chat/completions; only 1 streamed.
    out = imported(corpus, str(HAR), "--url", "chat/completions", "--provider", "openai", "--name", "har")
    sse, meta = written(corpus, "openai-chat/openai/har")
    entry = json.loads(HAR.read_text())["log"]["entries"][1]
    assert sse == entry["response"]["content"]["text"].encode()
    assert meta["request"] == json.loads(entry["request"]["postData"]["text"])
    assert meta["endpoint"] == "POST /v1/chat/completions"
    assert meta["model"] == "gpt-4o-mini-2024-07-18"  # the snapshot the stream names, not the request's alias
    assert meta["response"]["headers"]["openai-organization"] == "[REDACTED:account-id]"
    assert "set-cookie" not in meta["response"]["headers"]
    assert "redacted: response header set-cookie left out" in out
    assert meta["expect"]["usage"] == {
        "input_tokens": 16,
        "output_tokens": 6,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
    }
    files = b"".join(p.read_bytes() for p in corpus.rglob("*.*"))
    assert b"sample-token-not-a-secret" not in files and b"__cf_bm" not in files
    assert_valid(corpus)


def test_a_har_entry_by_index_decodes_base64(corpus: Path) -> None:
    imported(corpus, str(HAR), "--entry", "2", "--provider", "anthropic", "--name", "b64")
    sse, meta = written(corpus, "anthropic-messages/anthropic/b64")
    entry = json.loads(HAR.read_text())["log"]["entries"][2]
    assert entry["response"]["content"]["encoding"] == "base64"
    assert sse == base64.b64decode(entry["response"]["content"]["text"])
    assert meta["expect"]["text"] == "Bonjour à tous ! 👋"
    assert_valid(corpus)


def test_a_har_entry_without_a_body_says_why(tmp_path: Path) -> None:
    data = json.loads(HAR.read_text())
    del data["log"]["entries"][1]["response"]["content"]["text"]
    (tmp_path / "empty.har").write_text(json.dumps(data))
    with pytest.raises(ImportProblem, match="entry 1 has no response body"):
        read_har(tmp_path / "empty.har", url="chat/completions")
    with pytest.raises(ImportProblem, match="out of range"):
        read_har(tmp_path / "empty.har", entry=9)


def test_json_lines_without_done_are_a_cut_off_stub(corpus: Path) -> None:
    out = imported(corpus, str(SAMPLES / "jsonl" / "openai-chunks.jsonl"), "--provider", "openai", "--name", "j")
    sse, meta = written(corpus, "openai-chat/openai/j")
    assert sse.startswith(b'data: {"id":"chatcmpl-JsonLinesSample0001abcd"') and b"[DONE]" not in sse
    assert meta["negative"]["kind"] == "cut-off"
    assert meta["negative"]["reason"].startswith("TODO: ")
    assert "import it again with --done" in meta["negative"]["reason"]
    assert meta["provenance"]["kind"] == "synthesized"
    assert meta["provenance"]["basis"].startswith("TODO: where the events come from.")
    assert "provenance.basis" in out
    # The placeholder request asks for usage, since the stream has a choice-less usage chunk.
    assert meta["request"]["stream_options"] == {"include_usage": True}
    assert_valid(corpus)


def test_json_lines_with_done_end_cleanly(corpus: Path) -> None:
    imported(
        corpus,
        *(str(SAMPLES / "jsonl" / "openai-chunks.jsonl"), "--done", "--synthesized", "Chunks my app logged"),
        *("--provider", "openai", "--name", "j"),
    )
    sse, meta = written(corpus, "openai-chat/openai/j")
    assert sse.endswith(b"}\n\ndata: [DONE]\n\n")
    assert "negative" not in meta
    assert meta["provenance"]["basis"].startswith("Chunks my app logged Event payloads from JSON lines")
    assert_valid(corpus)


def test_json_lines_of_named_events(corpus: Path) -> None:
    imported(corpus, str(SAMPLES / "jsonl" / "anthropic-events.jsonl"), "--provider", "anthropic", "--name", "j")
    sse, meta = written(corpus, "anthropic-messages/anthropic/j")
    assert sse.startswith(b'event: message_start\ndata: {"type":"message_start",')
    assert b'event: ping\ndata: {"type":"ping"}\n\n' in sse
    assert meta["expect"]["text"] == "Hallo Welt!"
    assert_valid(corpus)
    code, out = cli(
        "import", str(SAMPLES / "jsonl" / "anthropic-events.jsonl"), "--done", "--provider", "a", "--name", "k"
    )
    assert code == 2 and "--done is for openai-chat" in out


def test_bare_anthropic_payloads_are_named_by_their_type(corpus: Path) -> None:
    # Anthropic's clients dispatch on the event name: an unnamed event is dropped.
    imported(corpus, str(SAMPLES / "jsonl" / "anthropic-bare.jsonl"), "--provider", "anthropic", "--name", "bare")
    imported(corpus, str(SAMPLES / "jsonl" / "anthropic-events.jsonl"), "--provider", "anthropic", "--name", "named")
    sse, meta = written(corpus, "anthropic-messages/anthropic/bare")
    assert sse.startswith(b'event: message_start\ndata: {"type":"message_start",')
    assert sse == written(corpus, "anthropic-messages/anthropic/named")[0]
    assert meta["expect"]["text"] == "Hallo Welt!"
    assert_valid(corpus)
    # OpenAI chunks have no `type`, and openai-chat never gets a name from one.
    imported(corpus, str(SAMPLES / "jsonl" / "openai-chunks.jsonl"), "--provider", "openai", "--name", "o")
    assert b"event:" not in written(corpus, "openai-chat/openai/o")[0]


def test_done_for_an_anthropic_stream_is_refused_whether_the_protocol_is_given_or_inferred(corpus: Path) -> None:
    for given in ((), ("--protocol", "anthropic-messages")):
        code, out = cli(
            *("import", str(SAMPLES / "jsonl" / "anthropic-events.jsonl"), "--done", *given),
            *("--provider", "a", "--name", "k", "--corpus", str(corpus)),
        )
        assert (code, out.strip()) == (
            2,
            "error: --done is for openai-chat: an Anthropic stream ends with its message_stop event [cannot-import]",
        )
    assert not list(corpus.rglob("*.sse"))


def test_each_rule_is_kept_in_one_place() -> None:
    # `expect` is `Message.expect`, the endpoint fallback is `compose`'s, the auth scheme is the scan's.
    assert not hasattr(drafts, "expect_from")
    assert "endpoint" not in inspect.signature(drafts.compose).parameters
    assert transcripts.AUTH_SCHEME is secret_scan.AUTH_SCHEME
    assert transcripts.credentials({"Authorization": "Bearer abc.def", "Cookie": "a=b"}) == (
        ("api-key", "abc.def"),
        ("cookie", "a=b"),
    )


def test_endpoint_overrides_the_hars_own(corpus: Path) -> None:
    url = "https://gw.example/openai/v1/chat/completions"
    imported(corpus, str(HAR), "--entry", "1", "--endpoint", url, "--provider", "openai", "--name", "gw")
    assert written(corpus, "openai-chat/openai/gw")[1]["endpoint"] == "POST /openai/v1/chat/completions"


def _har_with(tmp_path: Path, change: Callable[[list[dict[str, Any]]], None]) -> Path:
    data = json.loads(HAR.read_text())
    change(data["log"]["entries"])
    path = tmp_path / "odd.har"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda entries: entries[1]["response"].update(status="abc"), "response.status"),
        (lambda entries: entries[1]["response"].update(status=0), "response.status"),
        (lambda entries: entries[1]["response"].update(status=True), "response.status"),
        (lambda entries: entries[1]["response"].pop("status"), "response.status"),
        (lambda entries: entries[1].update(response=None), "response.content.text"),
        (lambda entries: entries[1]["response"].update(content=[]), "response.content.text"),
    ],
    ids=["status-text", "status-0", "status-bool", "status-missing", "response-null", "content-list"],
)
def test_a_har_entry_of_odd_types_is_refused_naming_file_entry_and_field(
    tmp_path: Path, corpus: Path, change: Callable[[list[dict[str, Any]]], None], field: str
) -> None:
    path = _har_with(tmp_path, change)
    code, out = cli("import", str(path), "--entry", "1", "--provider", "openai", "--name", "x", "--corpus", str(corpus))
    assert code == 2
    (line,) = out.splitlines()
    assert line.startswith(f"error: {path}: entry 1") and field in line and line.endswith("[cannot-import]")
    assert not list(corpus.rglob("*.sse"))


def test_a_har_status_of_0_says_the_request_was_aborted(tmp_path: Path) -> None:
    path = _har_with(tmp_path, lambda entries: entries[1]["response"].update(status=0))
    with pytest.raises(ImportProblem, match="not 0 .the browser wrote 0: the request was aborted"):
        read_har(path, entry=1)


def test_a_har_with_null_post_data_odd_headers_and_a_null_response_elsewhere_still_reads(
    tmp_path: Path, corpus: Path
) -> None:
    def change(entries: list[dict[str, Any]]) -> None:
        entries[0]["response"] = None  # not streamed: listed, never read
        entries[1]["request"]["postData"] = None
        entries[1]["request"]["headers"].insert(0, "authorization")
        entries[1]["response"]["headers"][:0] = [None, ["x", "y"]]
        entries[3]["request"] = None

    path = _har_with(tmp_path, change)
    code, out = cli("import", str(path), "--provider", "openai", "--name", "x", "--corpus", str(corpus))
    assert code == 2 and "2 entries match" in out
    imported(corpus, str(path), "--url", "chat/completions", "--provider", "openai", "--name", "nulls")
    sse, meta = written(corpus, "openai-chat/openai/nulls")
    entry = json.loads(HAR.read_text())["log"]["entries"][1]
    assert sse == entry["response"]["content"]["text"].encode()
    assert meta["request"]["messages"][0]["content"].startswith("TODO")  # no postData: a placeholder
    assert meta["response"]["headers"]["content-type"] == "text/event-stream; charset=utf-8"
    assert_valid(corpus)


def test_an_sse_file_is_recorded_unless_said_otherwise(corpus: Path) -> None:
    source = SAMPLES / "sse" / "anthropic-crlf.sse"
    imported(corpus, str(source), "--provider", "anthropic", "--name", "crlf")
    imported(corpus, str(source), "--provider", "anthropic", "--name", "crlf-s", "--synthesized", "Hand-written.")
    sse, meta = written(corpus, "anthropic-messages/anthropic/crlf")
    assert sse == source.read_bytes() and b"\r\n\r\n" in sse
    assert meta["provenance"]["kind"] == "recorded"
    assert meta["request"]["messages"][0]["content"].startswith("TODO")
    _, meta = written(corpus, "anthropic-messages/anthropic/crlf-s")
    assert meta["provenance"] == {"kind": "synthesized", "date": meta["provenance"]["date"], "basis": "Hand-written."}
    assert_valid(corpus)


def test_secrets_in_a_transcript_are_redacted_and_reported(tmp_path: Path, corpus: Path) -> None:
    key = "sk-" + "ant-" + "api03-" + "Imp0rt" * 8  # built here: no key-shaped string in the repository
    body = (CURL / "body.sse").read_bytes().replace(b" runs through", f" {key}".encode())
    (tmp_path / "leak.sse").write_bytes(body)
    out = imported(corpus, str(tmp_path / "leak.sse"), "--provider", "anthropic", "--name", "leak")
    assert "redacted: leak.sse line 14: an Anthropic API key (sk-ant-…) -> [REDACTED:anthropic-key]" in out
    sse, meta = written(corpus, "anthropic-messages/anthropic/leak")
    assert key.encode() not in sse + (corpus / "anthropic-messages/anthropic/leak.yaml").read_bytes()
    assert meta["expect"]["text"] == "The Danube [REDACTED:anthropic-key] Vienna."
    assert_valid(corpus)


def test_refusals_exit_2_and_write_nothing(tmp_path: Path, corpus: Path) -> None:
    imported(corpus, str(SAMPLES / "sse" / "anthropic-crlf.sse"), "--provider", "anthropic", "--name", "once")
    code, out = cli(
        "import",
        *(str(SAMPLES / "sse" / "anthropic-crlf.sse"), "--provider", "anthropic", "--name", "once"),
        *("--corpus", str(corpus)),
    )
    assert code == 2 and "already exists; choose another --name, or pass --force" in out
    (tmp_path / "odd.sse").write_bytes(b"data: hello\n\n")
    code, out = cli("import", str(tmp_path / "odd.sse"), "--provider", "p", "--name", "n", "--corpus", str(corpus))
    assert code == 2 and "cannot tell the wire protocol" in out and "pass --protocol" in out
    code, out = cli("import", str(tmp_path / "odd.sse"), "--provider", "../up", "--name", "n", "--corpus", str(corpus))
    assert code == 2 and "--provider '../up' must be a file name" in out


def test_expect_gives_a_broken_call_by_its_prefix() -> None:
    message = Message(
        text="a",
        reasoning="r",
        tool_calls=[
            ToolCall("call_1", "get_weather", {"city": "Paris"}),
            ToolCall("call_2", "get_time", '{"tz": "Eur', arguments_valid=False, raw_arguments='{"tz": "Eur'),
        ],
        signatures=["c2ln"],
        finish=None,
        usage={"input_tokens": 3, "output_tokens": 4},
        error={"type": "server_error", "message": "boom", "param": None},
    )
    assert message.expect(broken=True) == {
        "text": "a",
        "reasoning": "r",
        "refusal": "",
        "tool_calls": [
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_2", "name": "get_time", "arguments_prefix": '{"tz": "Eur'},
        ],
        "signatures": ["c2ln"],
        "finish": None,
        "usage": {"input_tokens": 3, "output_tokens": 4},
        "error": {"type": "server_error", "message": "boom"},
    }


# Shipped captures of every shape Message.expect and negative_from meet: tool calls, reasoning,
# signatures, usage, native finish, n > 1, server tools, citations, and each kind of broken stream.
ROUND_TRIPS = [
    "openai-chat/openai/parallel-tool-calls",
    "openai-chat/openai/refusal",
    "openai-chat/openai/cut-off",
    "openai-chat/openai/invalid-json-chunk",
    "openai-chat/openai/mid-stream-error",
    "openai-chat/openrouter/mid-stream-error",
    "openai-chat/deepseek/reasoner-reasoning-content",
    "anthropic-messages/anthropic/thinking-signature",
    "anthropic-messages/anthropic/tool-use",
    "anthropic-messages/anthropic/error-mid-stream",
    "anthropic-messages/anthropic/cut-off-in-tool-input",
    "anthropic-messages/anthropic/stop-sequence",
    "anthropic-messages/anthropic/web-search-citations",
    "anthropic-messages/anthropic/pause-turn",
    "openai-chat/openai/cut-off-in-tool-arguments",
    "openai-chat/openai/n-3-choices",
]


@pytest.mark.parametrize("capture", ROUND_TRIPS)
def test_importing_a_shipped_stream_gives_back_its_expect(tmp_path: Path, corpus: Path, capture: str) -> None:
    meta = yaml.safe_load((default_corpus() / f"{capture}.yaml").read_text(encoding="utf-8"))
    request = tmp_path / "request.json"
    request.write_text(json.dumps(meta["request"]))
    protocol, provider, _ = capture.split("/")
    imported(
        corpus,
        *(str(default_corpus() / f"{capture}.sse"), "--request", str(request), "--endpoint", meta["endpoint"]),
        *("--protocol", protocol, "--provider", provider, "--name", "copy"),
    )
    _, copy = written(corpus, f"{protocol}/{provider}/copy")
    assert copy["expect"] == meta["expect"]
    assert copy.get("negative", {}).get("kind") == meta.get("negative", {}).get("kind")
    assert_valid(corpus)


@pytest.mark.parametrize(
    ("body", "endpoint", "protocol"),
    [
        (b'data: {"choices":[]}\n\n', None, "openai-chat"),
        (b'event: message_start\ndata: {"type":"message_start"}\n\n', None, "anthropic-messages"),
        (b"data: hello\n\n", "POST /v1/chat/completions", "openai-chat"),
        (b"data: hello\n\n", "POST /v1/messages", "anthropic-messages"),
        (b"data: hello\n\n", None, None),
        (b'data: {"choices":[]}\n\n', "POST /v1/messages", None),
    ],
)
def test_infer_protocol_needs_agreement(body: bytes, endpoint: str | None, protocol: str | None) -> None:
    assert infer_protocol(body, endpoint) == protocol
