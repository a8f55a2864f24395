"""`conformance import`: turn a transcript of a stream into a capture skeleton in the corpus.

Four sources, each read into a `Source`:

- a curl transcript, `curl -N -D headers.txt ... > body.sse` (`read_curl`): the header dump gives
  the status and headers (the last block, after any `100 Continue` or redirect), the body file the
  bytes exactly as received; `curl -i` output, headers and body in one file, works too;
- a HAR 1.2 file (`read_har`), as browsers and mitmproxy export it: one entry, picked by URL or
  index, with its request, status, headers and `response.content.text` (base64 when so encoded);
- JSON lines of events (`read_jsonl`): each line a bare payload (`data: <json>`) or
  `{"event": name, "data": payload-or-string}`;
- an `.sse` file of raw bytes (`read_sse`).

`compose` then does what `conformance record` does too: it redacts secrets (`conformance.secret_scan`),
keeps the headers that matter, assembles the stream with the protocol's own assembler and fills in
`expect` (`expect_from`) and, for a stream that did not end cleanly, a `negative` guess
(`negative_from`). `write_capture` writes the pair. Fields it cannot know are written as `TODO: …`
placeholders that pass the schema; the contributor replaces each (CONTRIBUTING.md).

Provenance is `recorded` for a byte transcript of live traffic (curl, HAR, `.sse`) unless the user
says `--synthesized BASIS`. JSON lines are always `synthesized`: the payloads may be live, but the
SSE framing (line ends, spacing, comments) is this tool's, and framing is part of what the corpus
tests.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import datetime
import importlib.metadata
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import yaml

from conformance.checks import build_context
from conformance.neutral import Message
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, PROTOCOL_NAMES
from conformance.secret_scan import Redaction, marker, redact_bytes, redact_text, scan_file
from conformance.sse import format_event, parse
from conformance.stream import Context

__all__ = [
    "DEFAULT_ENDPOINTS",
    "TODO",
    "Draft",
    "ImportProblem",
    "Source",
    "add_parser",
    "check_names",
    "compose",
    "credentials",
    "expect_from",
    "infer_protocol",
    "kept_headers",
    "load_request",
    "negative_from",
    "package_version",
    "read_curl",
    "read_har",
    "read_jsonl",
    "read_sse",
    "report_written",
    "run",
    "write_capture",
]

TODO = "TODO"
"""Every placeholder starts with this, so `grep -n TODO NAME.yaml` lists what is left to write."""
DEFAULT_ENDPOINTS = {OPENAI_CHAT: "POST /v1/chat/completions", ANTHROPIC_MESSAGES: "POST /v1/messages"}
_TERMINATORS = {OPENAI_CHAT: "data: [DONE]", ANTHROPIC_MESSAGES: "a message_stop event"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Response headers worth keeping: what a proxy may pass on or act on. Everything else (cookies,
# rate-limit counters, CDN noise) is left out; credentials never reach a file.
_KEPT_HEADERS = frozenset(
    {
        "content-type",
        "cache-control",
        "retry-after",
        "x-should-retry",
        "x-request-id",
        "request-id",
        "openai-model",
        "openai-version",
        "openai-processing-ms",
    }
)
# Account ids: kept as a marker, since a proxy may forward or strip them, but never their value.
_ACCOUNT_HEADERS = frozenset(
    {"openai-organization", "openai-project", "anthropic-organization-id", "x-organization-id", "x-account-id"}
)
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie"}
)


class ImportProblem(Exception):
    """A source that cannot be read or a choice the user must make; the message names the file."""

    code = "cannot-import"


def package_version() -> str:
    try:
        return importlib.metadata.version("llm-stream-conformance")
    except importlib.metadata.PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


@dataclass(frozen=True, slots=True)
class Source:
    """A stream and what its transcript says about it; None where the transcript does not say."""

    body: bytes
    origin: str
    """What it was read from, for messages and provenance: `curl transcript body.sse`."""
    recorded: bool
    """A byte-for-byte transcript of live traffic; False when the bytes were rebuilt (JSON lines)."""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    """Response headers, lower-case names, credentials included: `kept_headers` filters them."""
    request: dict[str, Any] | None = None
    endpoint: str | None = None
    secrets: tuple[tuple[str, str], ...] = ()
    """(kind, value) pairs known to be secret, such as the transcript's own Authorization value."""


# ------------------------------------------------------------------------------------ sources


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ImportProblem(f"{path}: cannot read: {error.strerror or error}") from error


def _header_blocks(text: str, path: Path) -> tuple[int, dict[str, str]]:
    """The status and headers of the last response in a header dump (after 1xx and redirects)."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip().startswith("HTTP/")]
    if not blocks:
        raise ImportProblem(f"{path}: no HTTP status line (like 'HTTP/1.1 200 OK'); pass the file `curl -D` wrote")
    lines = blocks[-1].strip().splitlines()
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise ImportProblem(f"{path}: cannot read the status from {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    return status, headers


def _split_inline_head(body: bytes) -> tuple[bytes, bytes]:
    """`curl -i` and `curl -D -` write the header blocks before the body: split them off."""
    head = b""
    while body.startswith(b"HTTP/"):
        match = re.search(rb"\r?\n\r?\n", body)
        if match is None:
            break
        head, body = head + body[: match.end()], body[match.end() :]
    return head, body


def read_curl(body_path: Path, headers_path: Path | None = None) -> Source:
    """A `curl -N -D headers.txt ... > body.sse` transcript (or `curl -i` output in one file)."""
    body = _read(body_path)
    head, body = _split_inline_head(body)
    if headers_path is not None:
        head = _read(headers_path) + b"\r\n\r\n" + head
        where = headers_path
    else:
        where = body_path
    if not head:
        raise ImportProblem(f"{body_path}: holds no headers; pass the file `curl -D FILE` wrote with --headers FILE")
    status, headers = _header_blocks(head.decode("latin-1"), where)
    return Source(body, f"curl transcript {body_path.name}", True, status, headers)


def read_sse(path: Path) -> Source:
    body = _read(path)
    head, body = _split_inline_head(body)
    if head:
        status, headers = _header_blocks(head.decode("latin-1"), path)
        return Source(body, f"curl transcript {path.name}", True, status, headers)
    return Source(body, f"event-stream file {path.name}", True)


def _har_entries(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(_read(path))
        entries = data["log"]["entries"]
    except (ValueError, KeyError, TypeError) as error:
        raise ImportProblem(f"{path}: is not a HAR file (JSON with log.entries): {error}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ImportProblem(f"{path}: log.entries must be a list of entries")
    return entries


def _har_headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for header in headers if isinstance(headers, list) else []:
        name, value = str(header.get("name", "")).lower(), str(header.get("value", ""))
        # HTTP/2 pseudo-headers (":status") are not headers.
        if name and not name.startswith(":"):
            out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _har_streamed(entry: dict[str, Any]) -> bool:
    response = entry.get("response", {})
    mime = str(response.get("content", {}).get("mimeType", "")) + _har_headers(response.get("headers")).get(
        "content-type", ""
    )
    if "text/event-stream" in mime:
        return True
    text = entry.get("request", {}).get("postData", {}).get("text", "")
    return bool(re.search(r'"stream"\s*:\s*true', str(text)))


def _har_line(index: int, entry: dict[str, Any]) -> str:
    request, response = entry.get("request", {}), entry.get("response", {})
    mime = response.get("content", {}).get("mimeType", "")
    return f"  --entry {index}: {request.get('method', '?')} {request.get('url', '?')} -> {response.get('status', '?')} {mime}"


def _har_pick(path: Path, entries: list[dict[str, Any]], url: str | None, entry: int | None) -> int:
    if entry is not None:
        if not 0 <= entry < len(entries):
            raise ImportProblem(f"{path}: --entry {entry} is out of range; it has entries 0 to {len(entries) - 1}")
        return entry
    indices = list(range(len(entries)))
    if url is not None:
        indices = [i for i in indices if url in str(entries[i].get("request", {}).get("url", ""))]
        if not indices:
            listing = "\n".join(_har_line(i, e) for i, e in enumerate(entries))
            raise ImportProblem(f"{path}: no entry's URL contains {url!r}; its entries:\n{listing}")
    streamed = [i for i in indices if _har_streamed(entries[i])]
    pool = streamed or (indices if url is not None else [])
    if len(pool) == 1:
        return pool[0]
    if not pool:
        listing = "\n".join(_har_line(i, e) for i, e in enumerate(entries))
        raise ImportProblem(
            f"{path}: no entry looks like a streamed response (text/event-stream); pick one with --entry:\n{listing}"
        )
    listing = "\n".join(_har_line(i, entries[i]) for i in pool)
    raise ImportProblem(
        f"{path}: {len(pool)} entries match; pick one with --entry INDEX or a narrower --url:\n{listing}"
    )


def credentials(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The secret values of the credential headers among `headers`, without their auth scheme, as
    (kind, value) pairs to redact wherever they appear."""
    found = []
    for name, value in headers.items():
        if name.lower() in _CREDENTIAL_HEADERS:
            value = re.sub(r"^\s*(?:Bearer|Basic|Token)\s+", "", value, flags=re.IGNORECASE).strip()
            found.append(("api-key" if name.lower() != "cookie" else "cookie", value))
    return tuple(found)


def read_har(path: Path, url: str | None = None, entry: int | None = None) -> Source:
    """One entry of a HAR 1.2 file (http://www.softwareishard.com/blog/har-12-spec/)."""
    entries = _har_entries(path)
    index = _har_pick(path, entries, url, entry)
    chosen = entries[index]
    request, response = chosen.get("request", {}), chosen.get("response", {})
    content = response.get("content", {})
    text = content.get("text")
    if not isinstance(text, str) or not text:
        raise ImportProblem(
            f"{path}: entry {index} has no response body (response.content.text); some browsers leave streamed "
            "bodies out of HAR files: export from mitmproxy, or record with curl or `conformance record`"
        )
    if content.get("encoding") == "base64":
        try:
            body = base64.b64decode(text, validate=True)
        except binascii.Error as error:
            raise ImportProblem(f"{path}: entry {index}: response.content.text is not valid base64: {error}") from None
    else:
        body = text.encode("utf-8")
    body_request = None
    post = request.get("postData", {}).get("text")
    if isinstance(post, str):
        try:
            parsed = json.loads(post)
        except ValueError:
            parsed = None
        body_request = parsed if isinstance(parsed, dict) else None
    method, target = str(request.get("method", "POST")), urlsplit(str(request.get("url", "")))
    endpoint = f"{method} {target.path}" if target.path else None
    return Source(
        body,
        f"HAR entry {index} of {path.name}",
        True,
        int(response.get("status") or 200),
        _har_headers(response.get("headers")),
        body_request,
        endpoint,
        credentials(_har_headers(request.get("headers"))),
    )


def read_jsonl(path: Path, protocol: str | None = None, done: bool = False) -> Source:
    """JSON lines of events, framed as `data: <json>\\n\\n` (with `event:` when named)."""
    pieces: list[bytes] = []
    ends_done = False
    for number, line in enumerate(_read(path).decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        if line.strip() == "[DONE]":
            item: Any = "[DONE]"
        else:
            try:
                item = json.loads(line)
            except ValueError as error:
                raise ImportProblem(f"{path}:{number}: is not JSON: {error}") from None
        name = None
        if isinstance(item, dict) and "data" in item and set(item) <= {"event", "data"}:
            name, item = item.get("event"), item["data"]
        data = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        pieces.append(format_event(data, str(name) if name else None))
        ends_done = data.strip() == "[DONE]"
    if not pieces:
        raise ImportProblem(f"{path}: holds no events")
    if done:
        if protocol == ANTHROPIC_MESSAGES:
            raise ImportProblem("--done is for openai-chat: an Anthropic stream ends with its message_stop event")
        if not ends_done:
            pieces.append(format_event("[DONE]"))
    return Source(b"".join(pieces), f"JSON lines {path.name}", False)


# ---------------------------------------------------------------------------------- inference


def _payloads(body: bytes) -> Iterable[tuple[str, Any]]:
    events, _ = parse(body)
    for event in events:
        try:
            yield event.type, json.loads(event.data)
        except ValueError:
            yield event.type, None


def infer_protocol(body: bytes, endpoint: str | None = None) -> str | None:
    """The protocol the endpoint's path and the stream's events agree on; None when unclear."""
    hints = set()
    path = (endpoint or "").split(" ")[-1].split("?")[0].rstrip("/")
    if path.endswith("/chat/completions"):
        hints.add(OPENAI_CHAT)
    elif path.endswith("/messages"):
        hints.add(ANTHROPIC_MESSAGES)
    for name, payload in _payloads(body):
        if name == "message_start" or (isinstance(payload, dict) and payload.get("type") == "message_start"):
            hints.add(ANTHROPIC_MESSAGES)
        if isinstance(payload, dict) and ("choices" in payload or payload.get("object") == "chat.completion.chunk"):
            hints.add(OPENAI_CHAT)
    return hints.pop() if len(hints) == 1 else None


def _stream_model(ctx: Context) -> str | None:
    for payload in ctx.payloads:
        data = payload.json
        if not isinstance(data, dict):
            continue
        model = data.get("model")
        if ctx.protocol == ANTHROPIC_MESSAGES and isinstance(data.get("message"), dict):
            model = data["message"].get("model")
        if isinstance(model, str) and model:
            return model
    return None


def expect_from(message: Message, *, broken: bool = False) -> dict[str, Any]:
    """The `expect` block of a capture whose stream assembles to `message` (corpus/README.md,
    Metadata): what `conformance validate` holds the capture to. `broken`: the capture is negative,
    so a tool call the fault cut off is given by its `arguments_prefix`. The mapping itself is
    `Message.expect`, which the lint compares against, so an imported capture always agrees."""
    return message.expect(broken=broken)


def negative_from(ctx: Context, status: int = 200) -> dict[str, str] | None:
    """A guess at the `negative` block of a stream that did not end cleanly, None for one that did.
    The reason starts with TODO: the contributor checks it against the bytes and rewrites it."""
    message = ctx.message
    if status >= 300:
        return {
            "kind": "upstream-error",
            "reason": f"{TODO}: check. The upstream answered HTTP {status}, not a stream.",
        }
    if message.error:
        said = message.error.get("message") or message.error.get("type") or message.error
        return {
            "kind": "upstream-error",
            "reason": f"{TODO}: check. After {len(ctx.events)} events the stream reports an error ({said}).",
        }
    broken = next((p for p in ctx.payloads if p.json_error), None)
    if broken is not None:
        return {
            "kind": "invalid-json",
            "reason": f"{TODO}: check. Event {broken.index} is not valid JSON ({broken.json_error}).",
        }
    if not message.done:
        return {
            "kind": "cut-off",
            "reason": f"{TODO}: check. The stream ends after {len(ctx.events)} events without {_TERMINATORS[ctx.protocol]}.",
        }
    return None


# -------------------------------------------------------------------------------- composition


def kept_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The response headers a capture keeps, account ids as markers, and a note per header redacted
    or left out for holding a credential."""
    kept: dict[str, str] = {}
    notes = []
    for name, value in headers.items():
        name = name.lower()
        if name in _KEPT_HEADERS:
            kept[name] = value
        elif name in _ACCOUNT_HEADERS:
            kept[name] = marker("account-id")
            notes.append(f"response header {name} -> {kept[name]}")
        elif name in _CREDENTIAL_HEADERS:
            notes.append(f"response header {name} left out")
    kept.setdefault("content-type", "text/event-stream")
    return kept, notes


def _redact_value(value: Any, literals: Sequence[tuple[str, str]], found: list[Redaction]) -> Any:
    if isinstance(value, str):
        text, hits = redact_text(value, literals)
        found.extend(hits)
        return text
    if isinstance(value, list):
        return [_redact_value(item, literals, found) for item in value]
    if isinstance(value, dict):
        return {key: _redact_value(item, literals, found) for key, item in value.items()}
    return value


def _remap_reads(reads: Sequence[Sequence[float]], redactions: Sequence[Redaction]) -> list[list[float]]:
    """The reads' byte counts after redaction changed the body's length: a marker arrives with the
    read that completed the secret it replaces."""

    def moved(offset: int) -> int:
        shift = 0
        for r in redactions:
            if r.end <= offset:
                shift += len(r.replacement) - (r.end - r.start)
            elif r.start < offset:  # inside a secret: its marker comes with the secret's end
                return r.end + shift + len(r.replacement) - (r.end - r.start)
        return offset + shift

    out: list[list[float]] = []
    before = 0
    for at, count in reads:
        end = before + int(count)
        size = moved(end) - moved(before)
        if size > 0:
            out.append([at, size])
        before = end
    return out


@dataclass(frozen=True, slots=True)
class Draft:
    """A capture ready to write: bytes, metadata, and what to tell the user."""

    protocol: str
    provider: str
    name: str
    body: bytes
    meta: dict[str, Any]
    redacted: tuple[str, ...]
    """One line per redaction, naming the file and line or the header."""
    todo: tuple[str, ...]
    """What the contributor still has to write or check, one field each."""


def _placeholder_request(protocol: str, model: str, ctx: Context) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "stream": True}
    if protocol == ANTHROPIC_MESSAGES:
        request["max_tokens"] = 1024
    # A choice-less usage chunk is only sent when the request asked for usage.
    if protocol == OPENAI_CHAT and any(isinstance(p.json, dict) and p.json.get("choices") == [] for p in ctx.payloads):
        request["stream_options"] = {"include_usage": True}
    request["messages"] = [{"role": "user", "content": f"{TODO}: the request that produced this stream"}]
    return request


def check_names(provider: str, name: str) -> None:
    """Both become path components of the capture: plain file names only."""
    for label, value in (("--provider", provider), ("--name", name)):
        if not _NAME.match(value):
            raise ImportProblem(f"{label} {value!r} must be a file name: letters, digits, '.', '_' and '-'")


def compose(
    source: Source,
    *,
    protocol: str,
    provider: str,
    name: str,
    model: str | None = None,
    endpoint: str | None = None,
    provenance: dict[str, str],
    literals: Sequence[tuple[str, str]] = (),
    timing: Sequence[Sequence[float]] | None = None,
) -> Draft:
    """Redact `source`, assemble it and build its metadata. `literals` are (kind, value) pairs
    redacted wherever they occur (the key that was sent), besides every secret pattern."""
    check_names(provider, name)
    literals = [*literals, *source.secrets]
    body, body_hits = redact_bytes(source.body, literals)
    redacted = [f"{name}.sse line {hit.line}: {hit.description} -> {hit.replacement}" for hit in body_hits]
    headers, notes = kept_headers(source.headers)
    redacted += notes
    todo: list[str] = []
    ctx = build_context(body, protocol, request=source.request or {}, status=source.status)
    # The stream names the exact model that answered (a dated snapshot where the request named an alias).
    model = model or _stream_model(ctx) or (source.request or {}).get("model")
    if not isinstance(model, str) or not model:
        raise ImportProblem(f"{source.origin}: names no model (neither a request nor the stream); pass --model")
    request = dict(source.request) if source.request is not None else None
    if request is None:
        request = _placeholder_request(protocol, model, ctx)
        todo.append("request: write the request that produced the stream (a guess stands there)")
    elif request.get("stream") is not True:
        raise ImportProblem(
            f"{source.origin}: the request does not ask for a stream (stream: true); is it the right one?"
        )
    if endpoint is None:
        endpoint = source.endpoint
    if endpoint is None:
        endpoint = DEFAULT_ENDPOINTS[protocol]
        todo.append(f"endpoint: check it ({endpoint} is the usual path; --endpoint sets it)")
    meta: dict[str, Any] = {
        "description": f"{TODO}: one line saying what this stream shows",
        "protocol": protocol,
        "provider": provider,
        "model": model,
        "endpoint": endpoint,
        "request": request,
        "response": {"status": source.status, "headers": headers},
        "features": [],
        "provenance": provenance,
    }
    todo += ["description: say in one line what the stream shows", "features: list them from features.txt"]
    if timing is not None:
        meta["timing"] = {"reads": _remap_reads(timing, body_hits) if body_hits else [list(r) for r in timing]}
    negative = negative_from(ctx, source.status)
    meta["expect"] = expect_from(ctx.message, broken=negative is not None)
    if negative is not None:
        if negative["kind"] == "cut-off" and protocol == OPENAI_CHAT and not source.recorded:
            # Rebuilt events end where the log ends: only the user knows whether [DONE] came next.
            negative["reason"] += " If the original stream had [DONE], import it again with --done."
        meta["negative"] = negative
        todo.append(f"negative: check the guess ({negative['kind']}) and rewrite its reason")
    meta_hits: list[Redaction] = []
    meta = _redact_value(meta, literals, meta_hits)
    redacted += [f"{name}.yaml: {hit.description} -> {hit.replacement}" for hit in meta_hits]
    return Draft(protocol, provider, name, body, meta, tuple(redacted), tuple(todo))


# ------------------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    """Block style, with each timing read on one line: `- [12.5, 311]`."""


class _Pair(list[float]):
    pass


_Dumper.add_representer(
    _Pair, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _dump(meta: dict[str, Any]) -> str:
    meta = dict(meta)
    if "timing" in meta:
        meta["timing"] = {"reads": [_Pair(read) for read in meta["timing"]["reads"]]}
    return yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def write_capture(draft: Draft, corpus: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write `<corpus>/<protocol>/<provider>/<name>.sse` and `.yaml`; never over an existing
    capture unless `force`."""
    folder = corpus / draft.protocol / draft.provider
    sse, meta = folder / f"{draft.name}.sse", folder / f"{draft.name}.yaml"
    existing = [p for p in (sse, meta) if p.exists()]
    if existing and not force:
        raise ImportProblem(f"{existing[0]}: already exists; choose another --name, or pass --force to overwrite it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        sse.write_bytes(draft.body)
        meta.write_text(_dump(draft.meta), encoding="utf-8")
    except OSError as error:
        raise ImportProblem(f"{folder}: cannot write the capture: {error.strerror or error}") from error
    return sse, meta


def report_written(draft: Draft, paths: tuple[Path, Path], corpus: Path, out: TextIO) -> int:
    """Say what was written and redacted and what is left to do; 1 when a secret survived."""
    for path in paths:
        print(f"wrote {path}", file=out)
    for line in draft.redacted:
        print(f"redacted: {line}", file=out)
    if not draft.redacted:
        print("redacted: nothing (no key, account id, credential header or email address found)", file=out)
    left = [finding for path in paths for finding in scan_file(path)]
    for finding in left:
        print(f"error: {finding}", file=out)
    print(f"to do in {paths[1]} (`grep -n TODO` finds the placeholders):", file=out)
    for item in draft.todo:
        print(f"  - {item}", file=out)
    if draft.meta["provenance"].get("basis", "").startswith(TODO):
        print("  - provenance.basis: say where the events come from", file=out)
    print(
        f"next: check expect against the stream, then run `conformance validate {corpus}` (CONTRIBUTING.md)", file=out
    )
    return 1 if left else 0


# ----------------------------------------------------------------------------------------- CLI

_FORMATS = ("curl", "har", "jsonl", "sse")


def _format(args: argparse.Namespace, path: Path) -> str:
    if args.format:
        return str(args.format)
    suffix = path.suffix.lower()
    if suffix == ".har":
        return "har"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "curl" if args.headers else "sse"


def _endpoint(value: str | None) -> str | None:
    if value is None:
        return None
    if re.match(r"^[A-Z]+ \S+$", value):
        return value
    target = urlsplit(value)
    path = target.path if target.scheme else value
    if not path.startswith("/"):
        raise ImportProblem(f"--endpoint {value!r}: give 'POST /v1/chat/completions', a path or a URL")
    return f"POST {path}"


def load_request(path: Path) -> dict[str, Any]:
    """A request body from a JSON or YAML file (JSON is YAML)."""
    try:
        data = yaml.safe_load(_read(path))
    except yaml.YAMLError as error:
        raise ImportProblem(f"{path}: is neither JSON nor YAML: {error}") from None
    if not isinstance(data, dict):
        raise ImportProblem(f"{path}: must hold the request body, a mapping such as {{model: ..., messages: ...}}")
    return data


def _provenance(args: argparse.Namespace, source: Source) -> dict[str, str]:
    today = datetime.date.today().isoformat()
    if args.synthesized is not None and not args.synthesized.strip():
        raise ImportProblem("--synthesized needs the basis: the documented format the bytes follow, with sources")
    if source.recorded and args.synthesized is None:
        return {"kind": "recorded", "date": today, "tool": f"conformance import {package_version()}"}
    basis = args.synthesized.strip() if args.synthesized else ""
    if not source.recorded:
        rebuilt = (
            f"Event payloads from {source.origin}; the SSE framing (data: lines, LF line ends, one blank line "
            f"per event) was written by conformance import {package_version()}, not received."
        )
        basis = f"{basis} {rebuilt}".strip() if basis else f"{TODO}: where the events come from. {rebuilt}"
    return {"kind": "synthesized", "date": today, "basis": basis}


def _run(args: argparse.Namespace, out: TextIO) -> int:
    check_names(args.provider, args.name)
    path = Path(args.source)
    kind = _format(args, path)
    if args.headers and kind != "curl":
        raise ImportProblem(f"--headers is for a curl transcript, not a {kind} source")
    if (args.url is not None or args.entry is not None) and kind != "har":
        raise ImportProblem("--url and --entry pick an entry of a HAR file")
    if args.done and kind != "jsonl":
        raise ImportProblem("--done adds data: [DONE] to events read from JSON lines; other sources keep their bytes")
    if kind == "har":
        source = read_har(path, args.url, args.entry)
    elif kind == "jsonl":
        source = read_jsonl(path, args.protocol, args.done)
    elif kind == "curl":
        source = read_curl(path, Path(args.headers) if args.headers else None)
    else:
        source = read_sse(path)
    if args.request:
        source = dataclasses.replace(source, request=load_request(Path(args.request)))
    endpoint = _endpoint(args.endpoint) or source.endpoint
    protocol = args.protocol or infer_protocol(source.body, endpoint)
    if protocol is None:
        raise ImportProblem(
            f"{path}: cannot tell the wire protocol from the stream{' and ' + endpoint if endpoint else ''}; "
            f"pass --protocol ({' or '.join(PROTOCOL_NAMES)})"
        )
    if kind == "jsonl" and args.done and protocol == ANTHROPIC_MESSAGES:
        raise ImportProblem("--done is for openai-chat: an Anthropic stream ends with its message_stop event")
    draft = compose(
        source,
        protocol=protocol,
        provider=args.provider,
        name=args.name,
        model=args.model,
        endpoint=endpoint,
        provenance=_provenance(args, source),
    )
    corpus = Path(args.corpus)
    paths = write_capture(draft, corpus, force=args.force)
    print(f"imported {source.origin} as {protocol}, HTTP {source.status}, {len(draft.body)} bytes", file=out)
    if draft.meta["provenance"]["kind"] == "synthesized":
        print("provenance: synthesized (see its basis)", file=out)
    return report_written(draft, paths, corpus, out)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """`conformance import`: 0 written, 1 written but a secret survived, 2 nothing written."""
    try:
        return _run(args, out)
    except ImportProblem as error:
        print(f"error: {error}", file=out)
        return 2


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `import` on the `conformance` subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "import",
        help="make a capture from a curl transcript, a HAR file, JSON lines of events or an .sse file",
        description="Write <corpus>/<protocol>/<provider>/<name>.sse and .yaml from a transcript, secrets "
        "redacted and expect filled in; then fill in the TODO fields and run `conformance validate`.",
    )
    parser.add_argument("source", help="the body file (curl -N ... > body.sse, or curl -i output), a .har, a .jsonl")
    parser.add_argument("--format", choices=_FORMATS, help="the source's kind (default: from its extension)")
    parser.add_argument("--headers", metavar="FILE", help="curl: the header dump of `curl -D FILE`")
    parser.add_argument("--request", metavar="FILE", help="the request body that was sent, JSON or YAML")
    parser.add_argument("--url", metavar="SUBSTRING", help="HAR: the entry whose URL contains this")
    parser.add_argument("--entry", type=int, metavar="INDEX", help="HAR: the entry at this index (0-based)")
    parser.add_argument("--protocol", choices=PROTOCOL_NAMES, help="the stream's wire protocol (default: inferred)")
    parser.add_argument("--provider", required=True, help="who sent the bytes: the folder below the protocol")
    parser.add_argument("--name", required=True, help="the capture's file name, saying what is inside")
    parser.add_argument("--model", help="the model (default: from the request or the stream)")
    parser.add_argument("--endpoint", help="'POST /path' or a URL (default: from the HAR, else the usual path)")
    parser.add_argument("--corpus", default="corpus", help="the corpus folder (default: corpus)")
    parser.add_argument(
        "--synthesized",
        metavar="BASIS",
        help="the bytes were not received from a live provider: say what documented format they follow",
    )
    parser.add_argument(
        "--done",
        action="store_true",
        help="JSON lines, openai-chat: end with data: [DONE]; only if the original stream had it",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing capture")
    parser.set_defaults(run=run)
    return parser
