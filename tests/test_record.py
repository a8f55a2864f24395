"""`conformance record`, end to end against the replay server on 127.0.0.1 (never the network).

Keys are built at run time from pieces, so that no file of this repository holds a key-shaped string.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from test_import import filled_in

from conformance.cli import main
from conformance.corpus import default_corpus
from conformance.drafts import compose
from conformance.record import ANTHROPIC_VERSION, endpoint_url
from conformance.replay import ReplayServer
from conformance.secret_scan import marker
from conformance.transcripts import Source

OPENAI_KEY = "sk-" + "proj-" + "R3c0rd" * 8
ANTHROPIC_KEY = "sk-" + "ant-" + "api03-" + "R3c0rd" * 8
TEXT = "openai-chat/openai/text-usage-chunk"
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as running:
        yield running


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    shutil.copy(default_corpus() / "features.txt", root)
    return root


async def cli(*args: str) -> tuple[int, str]:
    # The replay server runs on this event loop; the command blocks, so it runs beside it.
    out = io.StringIO()
    code = await asyncio.to_thread(main, list(args), out)
    return code, out.getvalue()


def validate(corpus: Path) -> tuple[int, str]:
    """`conformance validate` once the contributor has written what the recording left as `TODO:`."""
    out = io.StringIO()
    main(["validate", str(corpus)], out)
    problems = [line for line in out.getvalue().splitlines() if line.startswith("error:")]
    assert all("still holds a placeholder" in line for line in problems), out.getvalue()
    filled_in(corpus)
    out = io.StringIO()
    return main(["validate", str(corpus)], out), out.getvalue()


def shipped(capture: str) -> tuple[bytes, Path]:
    return (default_corpus() / f"{capture}.sse").read_bytes(), default_corpus() / f"{capture}.yaml"


def written(corpus: Path, capture: str) -> tuple[bytes, dict]:
    meta = yaml.safe_load((corpus / f"{capture}.yaml").read_text(encoding="utf-8"))
    return (corpus / f"{capture}.sse").read_bytes(), meta


def everything_written(corpus: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(corpus.rglob("*")) if path.suffix in (".sse", ".yaml"))


async def test_records_the_served_bytes_exactly(
    server: ReplayServer, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, meta_path = shipped(TEXT)
    org = "org-" + "Q1w2E3r4T5y6U7i8O9p0A1s2"
    slot = server.register(body, schedule="event", headers={**SSE_HEADERS, "openai-organization": org})
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    code, out = await cli(
        "record",
        *("--url", slot.url + "/v1", "--protocol", "openai-chat", "--provider", "openai", "--name", "text"),
        *("--request", str(meta_path), "--corpus", str(corpus)),
    )
    assert code == 0, out
    sse, meta = written(corpus, "openai-chat/openai/text")
    assert sse == body
    (sent,) = slot.requests
    assert sent.path == f"/r/{slot.token}/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.headers["accept-encoding"] == "identity"
    assert sent.json() == yaml.safe_load(meta_path.read_text())["request"] == meta["request"]
    assert meta["endpoint"] == f"POST /r/{slot.token}/v1/chat/completions"
    assert meta["response"] == {
        "status": 200,
        "headers": {
            "content-type": SSE_HEADERS["content-type"],
            "cache-control": "no-cache",
            "openai-organization": "[REDACTED:account-id]",
        },
    }
    assert meta["provenance"]["kind"] == "recorded"
    assert meta["provenance"]["tool"].startswith("conformance record ")
    assert meta["expect"] == yaml.safe_load(meta_path.read_text())["expect"]
    reads = meta["timing"]["reads"]
    assert sum(size for _, size in reads) == len(body)
    assert [at for at, _ in reads] == sorted(at for at, _ in reads)
    assert "redacted: response header openai-organization -> [REDACTED:account-id]" in out
    assert OPENAI_KEY.encode() not in everything_written(corpus)
    assert org.encode() not in everything_written(corpus)
    code, out = validate(corpus)
    assert code == 0, out


async def test_a_key_echoed_in_the_stream_is_redacted_and_reported(
    server: ReplayServer, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, meta_path = shipped(TEXT)
    address = "ada@" + "analytical-engines.co.uk"
    served = body.replace(b'"content":" capital"', f'"content":" {OPENAI_KEY} {address}"'.encode())
    assert served != body
    slot = server.register(served, schedule="line", headers=SSE_HEADERS)
    monkeypatch.setenv("OPENROUTER_KEY", OPENAI_KEY)
    code, out = await cli(
        "record",
        *("--url", slot.url + "/api/v1/chat/completions", "--provider", "openrouter", "--name", "echo"),
        *("--key-env", "OPENROUTER_KEY", "--request", str(meta_path), "--corpus", str(corpus)),
    )
    assert code == 0, out
    sse, meta = written(corpus, "openai-chat/openrouter/echo")
    assert sse == served.replace(OPENAI_KEY.encode(), b"[REDACTED:api-key]").replace(
        address.encode(), b"[REDACTED:email]"
    )
    assert "echo.sse line 5: the api-key that was sent -> [REDACTED:api-key]" in out
    assert "echo.sse line 5: an email address -> [REDACTED:email]" in out
    assert OPENAI_KEY.encode() not in everything_written(corpus)
    assert address.encode() not in everything_written(corpus)
    # Redaction changed the body's length: the reads still add up to the file written.
    assert sum(size for _, size in meta["timing"]["reads"]) == len(sse)
    assert "[REDACTED:api-key]" in meta["expect"]["text"]
    code, out = validate(corpus)
    assert code == 0, out


async def test_records_an_anthropic_stream_from_flags(
    server: ReplayServer, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, _ = shipped("anthropic-messages/anthropic/thinking-signature")
    slot = server.register(body, schedule="adversarial", headers=SSE_HEADERS, protocol="anthropic-messages")
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    code, out = await cli(
        "record",
        *("--url", slot.url, "--protocol", "anthropic-messages", "--provider", "anthropic", "--name", "thinking"),
        *("--model", "claude-sonnet-4-5-20250929", "--message", "What is 17 × 23?", "--corpus", str(corpus)),
        *("--header", "anthropic-beta: interleaved-thinking-2025-05-14"),
    )
    assert code == 0, out
    sse, meta = written(corpus, "anthropic-messages/anthropic/thinking")
    assert sse == body
    (sent,) = slot.requests
    assert sent.path == f"/r/{slot.token}/v1/messages"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert sent.json() == {
        "messages": [{"role": "user", "content": "What is 17 × 23?"}],
        "model": "claude-sonnet-4-5-20250929",
        "stream": True,
        "max_tokens": 1024,
    }
    assert meta["expect"]["signatures"] and meta["expect"]["finish"] == "stop"
    assert ANTHROPIC_KEY.encode() not in everything_written(corpus)
    code, out = validate(corpus)
    assert code == 0, out


async def test_an_error_status_is_recorded_and_said(
    server: ReplayServer, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'
    slot = server.register(error, status=401, headers={"content-type": "application/json"})
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    code, out = await cli(
        "record",
        *("--url", slot.url, "--protocol", "anthropic-messages", "--provider", "anthropic", "--name", "bad-key"),
        *("--model", "claude-haiku-4-5", "--message", "hi", "--corpus", str(corpus)),
    )
    assert code == 1
    assert "warning: HTTP 401: recorded as an error capture" in out
    sse, meta = written(corpus, "anthropic-messages/anthropic/bad-key")
    assert sse == error
    assert meta["response"]["status"] == 401
    assert meta["negative"]["kind"] == "upstream-error"
    code, out = validate(corpus)
    assert code == 0, out


async def test_a_connection_cut_mid_body_is_recorded_as_received(
    server: ReplayServer, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, meta_path = shipped("openai-chat/openai/cut-off")
    slot = server.register(body, schedule="event", headers=SSE_HEADERS, reset_at_end=True)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out = await cli(
        "record",
        *("--url", slot.url + "/v1", "--provider", "openai", "--name", "cut"),
        *("--request", str(meta_path), "--corpus", str(corpus)),
    )
    assert code == 0, out
    assert "note: $OPENAI_API_KEY is not set: sending no key" in out
    assert "warning: the connection broke after" in out
    sse, meta = written(corpus, "openai-chat/openai/cut")
    assert sse == body
    assert meta["negative"]["kind"] == "cut-off"
    assert meta["expect"] == yaml.safe_load(meta_path.read_text())["expect"]
    code, out = validate(corpus)
    assert code == 0, out


async def test_refuses_to_overwrite_before_sending_anything(server: ReplayServer, corpus: Path) -> None:
    body, meta_path = shipped(TEXT)
    slot = server.register(body, headers=SSE_HEADERS)
    args = ("record", "--url", slot.url + "/v1", "--provider", "openai", "--name", "twice")
    args += ("--request", str(meta_path), "--corpus", str(corpus), "--key-env", "PATH")
    assert (await cli(*args))[0] == 0
    code, out = await cli(*args)
    assert code == 2
    assert out.strip().endswith(
        "already exists; choose another --name, or pass --force to overwrite it [cannot-record]"
    )
    assert len(slot.requests) == 1
    assert (await cli(*args, "--force"))[0] == 0


async def test_a_refused_connection_is_one_line_and_exit_2(corpus: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out = await cli(
        "record",
        *("--url", f"http://127.0.0.1:{port}/v1", "--protocol", "openai-chat", "--provider", "openai", "--name", "x"),
        *("--model", "m", "--message", "hi", "--corpus", str(corpus), "--key-env", "PATH"),
    )
    assert code == 2
    (line,) = [line for line in out.splitlines() if line.startswith("error:")]
    assert "cannot connect" in line and "nothing written" in line
    assert not list(corpus.rglob("*.sse"))


async def test_a_stalled_stream_times_out(server: ReplayServer, corpus: Path) -> None:
    body, meta_path = shipped(TEXT)
    slot = server.register(body, schedule="event", headers=SSE_HEADERS, stall=(2, 5.0))
    code, out = await cli(
        "record",
        *("--url", slot.url + "/v1", "--provider", "openai", "--name", "stall", "--timeout", "0.3"),
        *("--request", str(meta_path), "--corpus", str(corpus), "--key-env", "PATH"),
    )
    assert code == 2
    assert "no data for 0.3 s after" in out and "raise --timeout" in out
    assert not list(corpus.rglob("*.sse"))


def test_an_unset_key_env_is_a_usage_error(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    out = io.StringIO()
    code = main(
        ["record", "--provider", "p", "--name", "n", "--model", "m", "--message", "hi", "--key-env", "NO_SUCH_KEY"]
        + ["--protocol", "openai-chat", "--url", "http://127.0.0.1:9/v1", "--corpus", str(corpus)],
        out,
    )
    assert code == 2 and "--key-env NO_SUCH_KEY: that environment variable is not set" in out.getvalue()


@pytest.mark.parametrize(
    ("url", "protocol", "endpoint"),
    [
        ("https://api.openai.com/v1", "openai-chat", "https://api.openai.com/v1/chat/completions"),
        ("https://api.openai.com", "openai-chat", "https://api.openai.com/v1/chat/completions"),
        ("https://openrouter.ai/api/v1/", "openai-chat", "https://openrouter.ai/api/v1/chat/completions"),
        ("http://127.0.0.1:8000/v1/chat/completions", "openai-chat", "http://127.0.0.1:8000/v1/chat/completions"),
        ("https://api.anthropic.com", "anthropic-messages", "https://api.anthropic.com/v1/messages"),
        ("https://gw.example/anthropic/v1", "anthropic-messages", "https://gw.example/anthropic/v1/messages"),
        ("https://api.anthropic.com/v1/messages", "anthropic-messages", "https://api.anthropic.com/v1/messages"),
        # An endpoint without /v1 is given whole: a bare host gets /v1.
        ("https://api.perplexity.ai/chat/completions", "openai-chat", "https://api.perplexity.ai/chat/completions"),
        ("https://api.perplexity.ai", "openai-chat", "https://api.perplexity.ai/v1/chat/completions"),
    ],
)
def test_endpoint_url_follows_each_sdks_base_url(url: str, protocol: str, endpoint: str) -> None:
    assert endpoint_url(url, protocol) == endpoint


def test_a_request_file_may_be_json(tmp_path: Path, corpus: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": "m", "stream": False, "messages": []}))
    out = io.StringIO()
    code = main(
        ["record", "--request", str(request), "--protocol", "openai-chat", "--provider", "p", "--name", "n"]
        + ["--corpus", str(corpus), "--url", "http://127.0.0.1:9/v1"],
        out,
    )
    assert code == 2 and "the request says stream: false" in out.getvalue()


def test_the_url_help_states_how_the_endpoint_is_built(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["record", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "openai-chat appends /chat/completions to its path (/v1/chat/completions when it has no path" in shown
    assert "anthropic-messages appends /messages to a path ending in /v1, else /v1/messages" in shown
    assert "as each SDK builds it" not in (endpoint_url.__doc__ or "")


async def test_a_short_dummy_key_is_not_redacted_and_the_provider_stays(
    server: ReplayServer, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ollama takes any key; `ollama` is the usual one, and the provider's name, and the end of
    # every system_fingerprint it sends.
    body, meta_path = shipped("openai-chat/ollama/reasoning-gpt-oss")
    assert b'"system_fingerprint":"fp_ollama"' in body
    slot = server.register(body, schedule="event", headers=SSE_HEADERS)
    monkeypatch.setenv("OLLAMA_KEY", "ollama")
    code, out = await cli(
        "record",
        *("--url", slot.url + "/v1", "--provider", "ollama", "--name", "dummy-key", "--key-env", "OLLAMA_KEY"),
        *("--request", str(meta_path), "--corpus", str(corpus)),
    )
    assert code == 0, out
    sse, meta = written(corpus, "openai-chat/ollama/dummy-key")
    assert sse == body
    assert (meta["protocol"], meta["provider"], meta["model"]) == ("openai-chat", "ollama", "gpt-oss:20b")
    assert "[REDACTED" not in (corpus / "openai-chat/ollama/dummy-key.yaml").read_text()
    assert "note: the api-key that was sent is 6 characters, too short to tell from ordinary text" in out
    code, out = validate(corpus)
    assert code == 0, out


def test_protocol_provider_and_model_are_never_redacted() -> None:
    body, _ = shipped(TEXT)
    name = "gateway-on-my-desk"  # as long as a key: redacted wherever else it stands
    source = Source(body, "test", True, request={"model": name, "stream": True, "messages": []})
    draft = compose(
        source,
        **{"protocol": "openai-chat", "provider": name, "name": "n", "model": name},
        provenance={"kind": "recorded", "date": "2026-01-01", "tool": "test"},
        literals=[("api-key", name)],
    )
    assert (draft.meta["protocol"], draft.meta["provider"], draft.meta["model"]) == ("openai-chat", name, name)
    assert draft.meta["request"]["model"] == marker("api-key")


def test_overlapping_secrets_become_one_marker_and_the_reads_still_add_up() -> None:
    body, _ = shipped(TEXT)
    first, second, third = "a" * 16 + "." + "b" * 16 + "." + "c" * 16, "b" * 16, "c" * 16 + "." + "d" * 16
    served = body.replace(b'"content":" capital"', f'"content":" {first}.{"d" * 16} "'.encode())
    assert served != body
    reads = [[float(at), len(served[at : at + 7])] for at in range(0, len(served), 7)]
    draft = compose(
        Source(served, "test", True, request={"model": "m", "stream": True, "messages": []}),
        **{"protocol": "openai-chat", "provider": "p", "name": "n"},
        provenance={"kind": "recorded", "date": "2026-01-01", "tool": "test"},
        literals=[("api-key", first), ("cookie", second), ("api-key", third)],
        timing=reads,
    )
    assert draft.body == served.replace(f"{first}.{'d' * 16}".encode(), marker("api-key").encode())
    assert sum(size for _, size in draft.meta["timing"]["reads"]) == len(draft.body)


async def test_a_dotted_name_is_checked_before_sending(server: ReplayServer, corpus: Path) -> None:
    body, meta_path = shipped(TEXT)
    slot = server.register(body, headers=SSE_HEADERS)
    args = ("record", "--url", slot.url + "/v1", "--provider", "openai", "--name", "gpt-4.1-text")
    args += ("--request", str(meta_path), "--corpus", str(corpus), "--key-env", "PATH")
    assert (await cli(*args))[0] == 0
    assert (corpus / "openai-chat/openai/gpt-4.1-text.sse").is_file()
    code, out = await cli(*args)
    assert code == 2 and "gpt-4.1-text.sse: already exists" in out
    assert len(slot.requests) == 1


async def test_re_recording_a_capture_sends_its_top_level_model(server: ReplayServer, corpus: Path) -> None:
    # Azure names the deployment in the URL: the capture's request has no model, its metadata has.
    body, meta_path = shipped("openai-chat/azure/content-filter")
    meta = yaml.safe_load(meta_path.read_text())
    assert "model" not in meta["request"]
    slot = server.register(body, headers=SSE_HEADERS)
    code, out = await cli(
        "record",
        *("--url", slot.url + "/v1", "--provider", "azure", "--name", "again", "--request", str(meta_path)),
        *("--corpus", str(corpus), "--key-env", "PATH"),
    )
    assert code == 0, out
    (sent,) = slot.requests
    assert sent.json() == {"model": meta["model"], **meta["request"]}


async def test_a_request_file_keeps_dates_as_written(server: ReplayServer, corpus: Path, tmp_path: Path) -> None:
    body, meta_path = shipped(TEXT)
    request = tmp_path / "request.yaml"
    sent_before = yaml.safe_dump(yaml.safe_load(meta_path.read_text())["request"])
    request.write_text(sent_before + "metadata: {day: 2024-01-01}\n")
    slot = server.register(body, headers=SSE_HEADERS)
    args = ("record", "--url", slot.url + "/v1", "--protocol", "openai-chat", "--provider", "openai")
    args += ("--corpus", str(corpus), "--key-env", "PATH")
    code, out = await cli(*args, "--name", "dated", "--request", str(request))
    assert code == 0, out
    (sent,) = slot.requests
    assert sent.json()["metadata"] == {"day": "2024-01-01"}
    assert written(corpus, "openai-chat/openai/dated")[1]["request"]["metadata"] == {"day": "2024-01-01"}
    # What JSON cannot carry is the command's error, not a traceback.
    for extra in ("blob: !!binary aGVsbG8=", "temperature: .nan"):
        request.write_text(sent_before + extra + "\n")
        code, out = await cli(*args, "--name", "odd", "--request", str(request))
        assert code == 2, out
        (line,) = out.splitlines()
        assert line.startswith(f"error: {request}: the request cannot be sent as JSON: ")
        assert line.endswith("[cannot-record]")
    assert len(slot.requests) == 1


class PingingServer:
    """An upstream on 127.0.0.1 that sends the first events of a stream, then `: ping` comments
    every 20 ms for as long as the client listens: it never ends the body."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(10)
        connection, _ = self.listener.accept()
        with connection:
            connection.settimeout(10)
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            head, _, rest = received.partition(b"\r\n\r\n")
            declared = re.search(rb"(?i)content-length: *(\d+)", head)
            length = int(declared.group(1)) if declared else 0
            while len(rest) < length:
                rest += connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            for piece in itertools.chain([self.first], itertools.repeat(b": ping\n\n")):
                if self.stop.is_set():
                    return
                try:
                    connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                except OSError:  # the client hung up
                    return
                time.sleep(0.02)


@pytest.fixture
def pinging() -> Iterator[PingingServer]:
    body, _ = shipped(TEXT)
    server = PingingServer(b"\n\n".join(body.split(b"\n\n")[:3]) + b"\n\n")
    yield server
    server.stop.set()
    server.thread.join(timeout=5)
    server.listener.close()


def test_a_body_that_never_ends_is_cut_at_max_time_and_recorded(pinging: PingingServer, corpus: Path) -> None:
    _, meta_path = shipped(TEXT)
    out = io.StringIO()
    began = time.monotonic()
    code = main(
        ["record", "--url", pinging.url, "--provider", "openai", "--name", "pings", "--max-time", "0.5"]
        + ["--request", str(meta_path), "--corpus", str(corpus), "--key-env", "PATH"],
        out,
    )
    assert time.monotonic() - began < 5
    assert code == 0, out.getvalue()
    assert "warning: the body was cut after" in out.getvalue()
    assert "--max-time 0.5 s ran out before the body ended); recorded as received" in out.getvalue()
    sse, meta = written(corpus, "openai-chat/openai/pings")
    assert sse.startswith(pinging.first) and sse[len(pinging.first) :].startswith(b": ping\n\n")
    assert meta["negative"]["kind"] == "cut-off"
    assert sum(size for _, size in meta["timing"]["reads"]) == len(sse)
    code, text = validate(corpus)
    assert code == 0, text
