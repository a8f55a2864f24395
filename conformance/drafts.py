"""From a stream's bytes to a capture on disk: what `conformance import` and `conformance record` share.

Inference: `infer_protocol` tells the wire protocol from the endpoint and the events, and
`negative_from` guesses the `negative` block of a stream that did not end cleanly; `expect` is the
assembled message's own `Message.expect`, which the lint compares against, so a capture written
here always agrees with it.

Composition: `compose` redacts secrets (`conformance.secret_scan`), keeps the headers that matter
(`kept_headers`), assembles the stream with the protocol's own assembler and builds the metadata
into a `Draft`. Fields it cannot know are written as `TODO: …` placeholders that pass the schema;
the contributor replaces each (CONTRIBUTING.md).

Writing: `write_capture` writes `<corpus>/<protocol>/<provider>/<name>.sse` and `.yaml` (the paths
`capture_paths` gives), and `report_written` says what was written and redacted and what is left to do.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from conformance.checks import build_context
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT
from conformance.secret_scan import Redaction, marker, redact_bytes, redact_text, redactable, scan_file
from conformance.sse import parse
from conformance.stream import Context
from conformance.transcripts import CREDENTIAL_HEADERS, ImportProblem, Source

__all__ = [
    "DEFAULT_ENDPOINTS",
    "TODO",
    "Draft",
    "capture_paths",
    "check_names",
    "compose",
    "infer_protocol",
    "kept_headers",
    "negative_from",
    "package_version",
    "report_written",
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
# Metadata that names the capture's place and model: never redacted (a local server's dummy key may
# be `ollama`, the provider's name too), and checked by `conformance validate` like every field.
_NEVER_REDACTED = ("protocol", "provider", "model")


def package_version() -> str:
    try:
        return importlib.metadata.version("llm-stream-conformance")
    except importlib.metadata.PackageNotFoundError:  # a checkout that was never installed
        return "0+unknown"


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
        elif name in CREDENTIAL_HEADERS:
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
    notes: tuple[str, ...] = ()
    """What the user should know, such as a sent key too short to redact."""


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
    provenance: dict[str, str],
    literals: Sequence[tuple[str, str]] = (),
    timing: Sequence[Sequence[float]] | None = None,
) -> Draft:
    """Redact `source`, assemble it and build its metadata. `literals` are (kind, value) pairs
    redacted wherever they stand as a word (the key that was sent), besides every secret pattern,
    when they are long enough to be told from ordinary text (`secret_scan.redactable`). The model
    is `model` when given, else the one the stream names, else the request's; the endpoint is the
    source's, else the protocol's usual path."""
    check_names(provider, name)
    literals = [*literals, *source.secrets]
    notes = [
        f"the {kind} that was sent is {len(value)} characters, too short to tell from ordinary text: "
        "not redacted; check the files for it"
        for kind, value in dict.fromkeys(literals)
        if value and not redactable(value)
    ]
    body, body_hits = redact_bytes(source.body, literals)
    redacted = [f"{name}.sse line {hit.line}: {hit.description} -> {hit.replacement}" for hit in body_hits]
    headers, header_notes = kept_headers(source.headers)
    redacted += header_notes
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
    meta["expect"] = ctx.message.expect(broken=negative is not None)
    if negative is not None:
        if negative["kind"] == "cut-off" and protocol == OPENAI_CHAT and not source.recorded:
            # Rebuilt events end where the log ends: only the user knows whether [DONE] came next.
            negative["reason"] += " If the original stream had [DONE], import it again with --done."
        meta["negative"] = negative
        todo.append(f"negative: check the guess ({negative['kind']}) and rewrite its reason")
    meta_hits: list[Redaction] = []
    meta = {
        key: value if key in _NEVER_REDACTED else _redact_value(value, literals, meta_hits)
        for key, value in meta.items()
    }
    redacted += [f"{name}.yaml: {hit.description} -> {hit.replacement}" for hit in meta_hits]
    return Draft(protocol, provider, name, body, meta, tuple(redacted), tuple(todo), tuple(notes))


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


def capture_paths(corpus: Path, protocol: str, provider: str, name: str) -> tuple[Path, Path]:
    """`<corpus>/<protocol>/<provider>/<name>.sse` and `.yaml`: the name is kept whole, dots and all
    (`gpt-4.1-text`), where `Path.with_suffix` would cut it at its last dot."""
    folder = corpus / protocol / provider
    return folder / f"{name}.sse", folder / f"{name}.yaml"


def write_capture(draft: Draft, corpus: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write `capture_paths`; never over an existing capture unless `force`."""
    sse, meta = capture_paths(corpus, draft.protocol, draft.provider, draft.name)
    folder = sse.parent
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
    for note in draft.notes:
        print(f"note: {note}", file=out)
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
