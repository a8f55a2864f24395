"""Transcripts of a stream, each read into a `Source`: what `conformance import` takes in.

Four sources:

- a curl transcript, `curl -N -D headers.txt ... > body.sse` (`read_curl`): the header dump gives
  the status and headers (the last block, after any `100 Continue` or redirect), the body file the
  bytes exactly as received; `curl -i` output, headers and body in one file, works too;
- a HAR 1.2 file (`read_har`), as browsers and mitmproxy export it: one entry, picked by URL or
  index, with its request, status, headers and `response.content.text` (base64 when so encoded);
- JSON lines of events (`read_jsonl`): each line a bare payload (`data: <json>`, with `event:
  <type>` for an Anthropic payload) or `{"event": name, "data": payload-or-string}`;
- an `.sse` file of raw bytes (`read_sse`).

A `Source` is `recorded` when its bytes are a byte-for-byte transcript of live traffic; events read
from JSON lines are not, since the SSE framing is written here. `credentials` picks the secret
values out of credential headers so that they can be redacted wherever they appear, and
`load_request` reads a request body from a JSON or YAML file (for `conformance import` and
`conformance record`), dates kept as written (`load_yaml`). What cannot be read is an
`ImportProblem`, whose message names the file.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from conformance.protocols import OPENAI_CHAT
from conformance.secret_scan import AUTH_SCHEME
from conformance.sse import format_event

__all__ = [
    "CREDENTIAL_HEADERS",
    "ImportProblem",
    "Source",
    "credentials",
    "load_request",
    "load_yaml",
    "read_curl",
    "read_har",
    "read_jsonl",
    "read_sse",
]

# Headers whose value is a credential: redacted wherever it appears, never kept in a capture.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie"}
)


class ImportProblem(Exception):
    """A source that cannot be read or a choice the user must make; the message names the file."""

    code = "cannot-import"

    def error_line(self) -> str:
        """As `conformance import` and `conformance record` print it, like the rest of the CLI:
        `error: MESSAGE [code]`, the code ending the first line when a listing follows."""
        first, newline, rest = str(self).partition("\n")
        return f"error: {first} [{self.code}]{newline}{rest}"


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


def _dict(value: Any) -> dict[str, Any]:
    """A HAR object, or {} for a field that is missing, null or of another type."""
    return value if isinstance(value, dict) else {}


def _har_headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for header in headers if isinstance(headers, list) else []:
        header = _dict(header)
        name, value = str(header.get("name", "")).lower(), str(header.get("value", ""))
        # HTTP/2 pseudo-headers (":status") are not headers.
        if name and not name.startswith(":"):
            out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _har_streamed(entry: dict[str, Any]) -> bool:
    response = _dict(entry.get("response"))
    mime = str(_dict(response.get("content")).get("mimeType", "")) + _har_headers(response.get("headers")).get(
        "content-type", ""
    )
    if "text/event-stream" in mime:
        return True
    text = _dict(_dict(entry.get("request")).get("postData")).get("text", "")
    return bool(re.search(r'"stream"\s*:\s*true', str(text)))


def _har_line(index: int, entry: dict[str, Any]) -> str:
    request, response = _dict(entry.get("request")), _dict(entry.get("response"))
    mime = _dict(response.get("content")).get("mimeType", "")
    return f"  --entry {index}: {request.get('method', '?')} {request.get('url', '?')} -> {response.get('status', '?')} {mime}"


def _har_status(path: Path, index: int, response: dict[str, Any]) -> int:
    """`response.status`: an HTTP status, an integer of at least 100. Browsers write 0 for a request
    that was aborted or never answered (Chrome does for a stream cut short)."""
    status = response.get("status")
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        why = " (the browser wrote 0: the request was aborted or never answered)" if status == 0 else ""
        raise ImportProblem(
            f"{path}: entry {index}: response.status must be an HTTP status, an integer from 100 to 999, "
            f"not {status!r}{why}"
        )
    return status


def _har_pick(path: Path, entries: list[dict[str, Any]], url: str | None, entry: int | None) -> int:
    if entry is not None:
        if not 0 <= entry < len(entries):
            raise ImportProblem(f"{path}: --entry {entry} is out of range; it has entries 0 to {len(entries) - 1}")
        return entry
    indices = list(range(len(entries)))
    if url is not None:
        indices = [i for i in indices if url in str(_dict(entries[i].get("request")).get("url", ""))]
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
        if name.lower() in CREDENTIAL_HEADERS:
            value = AUTH_SCHEME.sub("", value).strip()
            found.append(("api-key" if name.lower() != "cookie" else "cookie", value))
    return tuple(found)


def read_har(path: Path, url: str | None = None, entry: int | None = None) -> Source:
    """One entry of a HAR 1.2 file (http://www.softwareishard.com/blog/har-12-spec/)."""
    entries = _har_entries(path)
    index = _har_pick(path, entries, url, entry)
    chosen = entries[index]
    request, response = _dict(chosen.get("request")), _dict(chosen.get("response"))
    content = _dict(response.get("content"))
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
    status = _har_status(path, index, response)
    body_request = None
    post = _dict(request.get("postData")).get("text")
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
        status,
        _har_headers(response.get("headers")),
        body_request,
        endpoint,
        credentials(_har_headers(request.get("headers"))),
    )


def _event_name(item: Any, protocol: str | None) -> str | None:
    """The `event:` name of a bare payload: its `type`, for an Anthropic payload (a `type` and no
    `choices`), since Anthropic's clients dispatch on the event name and drop unnamed events."""
    if protocol == OPENAI_CHAT or not isinstance(item, dict) or "choices" in item:
        return None
    kind = item.get("type")
    return kind if isinstance(kind, str) and kind else None


def read_jsonl(path: Path, protocol: str | None = None, done: bool = False) -> Source:
    """JSON lines of events, framed as `data: <json>\\n\\n`, with `event: <name>` when the line
    names it or the payload is Anthropic's (see `_event_name`; not for `protocol` openai-chat).
    `done` ends the stream with `data: [DONE]` unless it ends so already (an OpenAI terminator:
    `conformance import` refuses it for an Anthropic stream)."""
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
        name = name or _event_name(item, protocol)
        data = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        pieces.append(format_event(data, str(name) if name else None))
        ends_done = data.strip() == "[DONE]"
    if not pieces:
        raise ImportProblem(f"{path}: holds no events")
    if done and not ends_done:
        pieces.append(format_event("[DONE]"))
    return Source(b"".join(pieces), f"JSON lines {path.name}", False)


class _DateFreeLoader(yaml.SafeLoader):
    """Safe YAML without the timestamp resolver."""


_DateFreeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str | bytes) -> Any:
    """Safe YAML that keeps dates as written (`2024-01-01` stays a string), as
    `conformance.corpus` loads a capture: a request body is sent as JSON, which has no dates."""
    return yaml.load(text, Loader=_DateFreeLoader)


def load_request(path: Path) -> dict[str, Any]:
    """A request body from a JSON or YAML file (JSON is YAML), dates kept as written."""
    try:
        data = load_yaml(_read(path))
    except yaml.YAMLError as error:
        raise ImportProblem(f"{path}: is neither JSON nor YAML: {error}") from None
    if not isinstance(data, dict):
        raise ImportProblem(f"{path}: must hold the request body, a mapping such as {{model: ..., messages: ...}}")
    return data
