"""`conformance record`: send one streamed request to a provider and keep what came back as a capture.

The response body is written byte for byte as it came off the connection (after the chunked
transfer coding, before any decoding: the request asks for `Accept-Encoding: identity`), with the
time and size of every read under `timing`, so that the capture's real pacing is known (nothing
replays it yet). The key is read from an environment variable and sent, never written:
`conformance.drafts.compose` redacts it wherever it stands as a word (when it is long enough to be
told from ordinary text), with every other secret it finds, and the redactions are printed.

A non-2xx answer is recorded too (error captures are worth having) and exits 1; a connection
that breaks mid-body, or a body still coming when `--max-time` runs out, is recorded as received,
a cut-off capture. Nothing is written when the request cannot be sent or no byte arrives within
`--timeout`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx

from conformance.drafts import capture_paths, check_names, compose, package_version, report_written, write_capture
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT
from conformance.secret_scan import redact_text
from conformance.transcripts import ImportProblem, Source, credentials, load_request

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_KEY_ENVS",
    "DEFAULT_MAX_TIME",
    "DEFAULT_URLS",
    "RecordProblem",
    "Recording",
    "add_parser",
    "endpoint_url",
    "request_headers",
    "run",
    "send",
]

DEFAULT_URLS = {OPENAI_CHAT: "https://api.openai.com/v1", ANTHROPIC_MESSAGES: "https://api.anthropic.com"}
RECORDABLE = tuple(DEFAULT_URLS)
"""The protocols `record` knows the endpoint, key and request of (not yet Responses)."""
DEFAULT_MAX_TIME = 300.0
"""Seconds the whole exchange may take: a server that keeps sending (`: ping` comments) is cut."""
DEFAULT_KEY_ENVS = {OPENAI_CHAT: "OPENAI_API_KEY", ANTHROPIC_MESSAGES: "ANTHROPIC_API_KEY"}
# https://docs.claude.com/en/api/versioning: the header is required, and this is the current version.
ANTHROPIC_VERSION = "2023-06-01"


class RecordProblem(ImportProblem):
    """The request could not be made or answered; nothing was written."""

    code = "cannot-record"


def endpoint_url(url: str, protocol: str) -> str:
    """The endpoint for `--url`. A URL whose path ends in the protocol's path (`/chat/completions`,
    `/messages`) is used as it is. Otherwise, for openai-chat, `/chat/completions` is appended to
    the path, as the OpenAI SDK appends it to its base URL, except that a URL with no path at all
    gets `/v1/chat/completions` (`https://api.openai.com`); for anthropic-messages, a path ending
    in `/v1` gets `/messages` and any other path `/v1/messages` (the Anthropic SDK's base URL,
    `https://api.anthropic.com`, has no /v1). So a provider whose endpoint has no /v1
    (`https://api.perplexity.ai/chat/completions`) is given by its full endpoint."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RecordProblem(f"--url {url!r} must be an http:// or https:// URL")
    path = parts.path.rstrip("/")
    if protocol == OPENAI_CHAT and not path.endswith("/chat/completions"):
        path = f"{path or '/v1'}/chat/completions"
    elif protocol == ANTHROPIC_MESSAGES and not path.endswith("/messages"):
        path = f"{path}/messages" if path.endswith("/v1") else f"{path}/v1/messages"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def request_headers(protocol: str, key: str | None, extra: dict[str, str]) -> dict[str, str]:
    """What each protocol authenticates with: OpenAI `Authorization: Bearer`, Anthropic `x-api-key`
    plus `anthropic-version`. `extra` (from --header) wins over every default."""
    headers = {"content-type": "application/json", "accept": "text/event-stream", "accept-encoding": "identity"}
    if protocol == ANTHROPIC_MESSAGES:
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if key:
            headers["x-api-key"] = key
    elif key:
        headers["authorization"] = f"Bearer {key}"
    headers.update({name.lower(): value for name, value in extra.items()})
    return headers


@dataclass(frozen=True, slots=True)
class Recording:
    status: int
    headers: dict[str, str]
    body: bytes
    reads: list[list[float]]
    """[milliseconds since the request was sent, bytes] per read."""
    broken: str = ""
    """Why the body ended early (the connection broke, or `max_time` ran out), or "" when it ended
    normally."""
    decoded: str = ""
    """The content coding that was undone, when the server ignored `Accept-Encoding: identity`."""


def send(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    timeout: float,
    label: str = "",
    max_time: float = DEFAULT_MAX_TIME,
) -> Recording:
    """POST `body` and read the whole streamed answer, timing each read. `timeout` bounds connecting
    and each wait for data (nothing is recorded when it runs out); `max_time` bounds the whole
    exchange, checked as each read arrives: when it runs out mid-body, what arrived is the answer,
    cut off. Errors name the endpoint as `label` (the URL with any secret in its query redacted)."""
    label = label or url
    reads: list[list[float]] = []
    chunks: list[bytes] = []
    content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    wait = min(timeout, max_time)
    start = time.perf_counter()
    try:
        with httpx.Client(timeout=httpx.Timeout(wait), follow_redirects=False) as client:
            with client.stream("POST", url, content=content, headers=headers) as response:
                coding = response.headers.get("content-encoding", "identity").strip().lower()
                # iter_raw is the bytes as they left the socket; a server that compressed anyway
                # gets decoded, since a capture holds what a client reads.
                pieces = response.iter_raw() if coding in ("", "identity") else response.iter_bytes()
                broken = ""
                out_of_time = f"--max-time {max_time:g} s ran out before the body ended"
                try:
                    for piece in pieces:
                        if piece:
                            chunks.append(piece)
                            reads.append([round((time.perf_counter() - start) * 1000, 1), len(piece)])
                        if time.perf_counter() - start >= max_time:
                            broken = out_of_time
                            break
                except (httpx.ReadError, httpx.RemoteProtocolError) as error:
                    broken = str(error) or type(error).__name__
                except httpx.ReadTimeout:
                    if not chunks or time.perf_counter() - start < max_time:
                        raise
                    broken = out_of_time
                return Recording(
                    response.status_code,
                    dict(response.headers.items()),
                    b"".join(chunks),
                    reads,
                    broken,
                    "" if coding in ("", "identity") else coding,
                )
    except httpx.TimeoutException as error:
        got = f" after {sum(len(c) for c in chunks)} bytes" if chunks else ""
        raise RecordProblem(
            f"{label}: no data for {wait:g} s{got} ({type(error).__name__}); nothing written "
            f"(raise {'--timeout' if wait == timeout else '--max-time'})"
        ) from None
    except httpx.HTTPError as error:
        what = "cannot connect" if isinstance(error, httpx.ConnectError) else "the request failed"
        raise RecordProblem(f"{label}: {what}: {error or type(error).__name__}; nothing written") from None


def _request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The protocol and the request body, from --request FILE (a body, or a capture's .yaml whose
    request is sent again, with its top-level model where the request names none, as
    `Capture.client_body` does) or from the flags."""
    protocol = args.protocol
    if args.request:
        data = load_request(Path(args.request))
        if isinstance(data.get("request"), dict) and data.get("protocol") in RECORDABLE:
            protocol = protocol or data["protocol"]
            data = {"model": data["model"], **data["request"]} if "model" in data else dict(data["request"])
        body = dict(data)
    elif args.message is not None:
        body = {"messages": [{"role": "user", "content": args.message}]}
    else:
        raise RecordProblem("give the request: --request FILE (JSON or YAML body), or --message TEXT")
    if protocol is None and args.url:
        path = urlsplit(args.url).path.rstrip("/")
        protocol = (
            OPENAI_CHAT
            if path.endswith("/chat/completions")
            else ANTHROPIC_MESSAGES
            if path.endswith("/messages")
            else None
        )
    if protocol is None:
        raise RecordProblem(f"pass --protocol ({' or '.join(RECORDABLE)}): the URL and the request do not say")
    if args.model:
        body["model"] = args.model
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise RecordProblem("the request names no model: pass --model")
    if body.get("stream") is False:
        raise RecordProblem("the request says stream: false; a capture is a streamed response")
    body["stream"] = True
    try:  # YAML has values JSON has not: binary, sets, NaN
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise RecordProblem(f"{args.request}: the request cannot be sent as JSON: {error}") from None
    if args.message is not None and not args.request:
        if protocol == ANTHROPIC_MESSAGES:
            body.setdefault("max_tokens", 1024)  # required by the Messages API
        else:
            body.setdefault("stream_options", {"include_usage": True})  # so the stream reports usage
    return protocol, body


def _extra_headers(values: list[str]) -> dict[str, str]:
    extra = {}
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            raise RecordProblem(f"--header {value!r} must look like 'Name: value'")
        extra[name.strip()] = rest.strip()
    return extra


def _key(args: argparse.Namespace, protocol: str, out: TextIO) -> tuple[str | None, str]:
    env = args.key_env or DEFAULT_KEY_ENVS[protocol]
    key = os.environ.get(env)
    if key:
        return key, env
    if args.key_env:
        raise RecordProblem(f"--key-env {env}: that environment variable is not set")
    print(f"note: ${env} is not set: sending no key (fine for a local server)", file=out)
    return None, env


def _run(args: argparse.Namespace, out: TextIO) -> int:
    protocol, body = _request(args)
    url = endpoint_url(args.url or DEFAULT_URLS[protocol], protocol)
    corpus = Path(args.corpus)
    check_names(args.provider, args.name)
    # Checked before sending: a refusal afterwards would waste the user's tokens.
    existing = [p for p in capture_paths(corpus, protocol, args.provider, args.name) if p.exists()]
    if existing and not args.force:
        raise RecordProblem(f"{existing[0]}: already exists; choose another --name, or pass --force to overwrite it")
    if args.timeout <= 0:
        raise RecordProblem(f"--timeout must be > 0 seconds, got {args.timeout:g}")
    if args.max_time <= 0:
        raise RecordProblem(f"--max-time must be > 0 seconds, got {args.max_time:g}")
    key, env = _key(args, protocol, out)
    extra = _extra_headers(args.header)
    headers = request_headers(protocol, key, extra)
    literals = [("api-key", key), *credentials(extra)] if key else list(credentials(extra))
    shown, _ = redact_text(url, literals)
    print(f"POST {shown} (model {body['model']}, key from ${env})" if key else f"POST {shown}", file=out, flush=True)
    recording = send(url, body, headers, args.timeout, shown, args.max_time)
    size = len(recording.body)
    took = recording.reads[-1][0] if recording.reads else 0
    kind = recording.headers.get("content-type", "no content-type")
    print(f"HTTP {recording.status} {kind}: {size} bytes in {len(recording.reads)} reads over {took:g} ms", file=out)
    if not recording.body and 200 <= recording.status < 300:
        raise RecordProblem(f"{shown}: HTTP {recording.status} but no byte of the body arrived; nothing written")
    if recording.decoded:
        print(f"note: the server sent {recording.decoded} despite Accept-Encoding: identity; written decoded", file=out)
    source = Source(
        recording.body,
        f"response of {shown}",
        True,
        recording.status,
        recording.headers,
        body,
        f"POST {urlsplit(url).path}",
    )
    draft = compose(
        source,
        protocol=protocol,
        provider=args.provider,
        name=args.name,
        provenance={
            "kind": "recorded",
            "date": datetime.date.today().isoformat(),
            "tool": f"conformance record {package_version()}",
        },
        literals=literals,
        timing=recording.reads,
    )
    paths = write_capture(draft, corpus, force=args.force)
    code = report_written(draft, paths, corpus, out)
    if recording.broken:
        print(
            f"warning: the body was cut after {size} bytes ({recording.broken}); recorded as received"
            if recording.broken.startswith("--max-time")
            else f"warning: the connection broke after {size} bytes ({recording.broken}); recorded as received",
            file=out,
        )
    if not 200 <= recording.status < 300:
        print(
            f"warning: HTTP {recording.status}: recorded as an error capture (negative: upstream-error); "
            "if that was not the point (a wrong key or model?), delete it and record again",
            file=out,
        )
        return 1
    return code


def run(args: argparse.Namespace, out: TextIO) -> int:
    """`conformance record`: 0 recorded, 1 recorded a non-2xx answer (or a secret survived), 2 nothing written."""
    try:
        return _run(args, out)
    except ImportProblem as error:
        print(error.error_line(), file=out)
        return 2


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `record` on the `conformance` subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "record",
        help="send one streamed request to a provider and write the answer as a capture",
        description="POST a streamed request and write <corpus>/<protocol>/<provider>/<name>.sse (the bytes as "
        "received) and .yaml (metadata, expect filled in, secrets redacted).",
    )
    parser.add_argument("--request", metavar="FILE", help="the request body, JSON or YAML (or a capture's .yaml)")
    parser.add_argument("--message", help="instead of --request: one user message")
    parser.add_argument("--model", help="the model to ask for (overrides the request's)")
    parser.add_argument("--protocol", choices=RECORDABLE, help="the wire protocol (default: from the URL or file)")
    parser.add_argument(
        "--url",
        help="the full endpoint, or a base URL: openai-chat appends /chat/completions to its path "
        "(/v1/chat/completions when it has no path: https://api.openai.com), anthropic-messages appends "
        "/messages to a path ending in /v1, else /v1/messages; a URL already ending in the protocol's path "
        "is used as it is (default: https://api.openai.com/v1 or https://api.anthropic.com)",
    )
    parser.add_argument("--provider", required=True, help="who answers: the folder below the protocol")
    parser.add_argument("--name", required=True, help="the capture's file name, saying what is inside")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an extra request header, repeatable; overrides the defaults (never written)",
    )
    parser.add_argument(
        "--key-env",
        metavar="VAR",
        help=f"the environment variable holding the key (default: {DEFAULT_KEY_ENVS[OPENAI_CHAT]} or "
        f"{DEFAULT_KEY_ENVS[ANTHROPIC_MESSAGES]}, by protocol)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait to connect and for each read; when it runs out, nothing is written (default: 60)",
    )
    parser.add_argument(
        "--max-time",
        type=float,
        default=DEFAULT_MAX_TIME,
        help="seconds the whole exchange may take; a body still coming then is recorded as received, "
        f"a cut-off capture (default: {DEFAULT_MAX_TIME:g})",
    )
    parser.add_argument("--corpus", default="corpus", help="the corpus folder (default: corpus)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing capture")
    parser.set_defaults(run=run)
    return parser
