"""`conformance import`: turn a transcript of a stream into a capture skeleton in the corpus.

`conformance.transcripts` reads the transcript (a curl transcript, a HAR file, JSON lines of events
or an `.sse` file) and `conformance.drafts` turns it into a capture, as it does for `conformance
record`: secrets redacted, `expect` filled in, `TODO: …` placeholders where a field cannot be known.

Provenance is `recorded` for a byte transcript of live traffic (curl, HAR, `.sse`) unless the user
says `--synthesized BASIS`. JSON lines are always `synthesized`: the payloads may be live, but the
SSE framing (line ends, spacing, comments) is this tool's, and framing is part of what the corpus
tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import re
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from conformance.drafts import (
    TODO,
    check_names,
    compose,
    infer_protocol,
    package_version,
    report_written,
    write_capture,
)
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT
from conformance.transcripts import ImportProblem, Source, load_request, read_curl, read_har, read_jsonl, read_sse

__all__ = ["add_parser", "run"]

_FORMATS = ("curl", "har", "jsonl", "sse")
IMPORTABLE = (OPENAI_CHAT, ANTHROPIC_MESSAGES)
"""The protocols whose transcripts `import` reads (not yet Responses)."""


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
    if args.endpoint is not None:
        source = dataclasses.replace(source, endpoint=_endpoint(args.endpoint))
    protocol = args.protocol or infer_protocol(source.body, source.endpoint)
    if protocol is None:
        said = f" and {source.endpoint}" if source.endpoint else ""
        raise ImportProblem(
            f"{path}: cannot tell the wire protocol from the stream{said}; pass --protocol ({' or '.join(IMPORTABLE)})"
        )
    # Checked here, once the protocol is known, whether given or inferred.
    if args.done and protocol == ANTHROPIC_MESSAGES:
        raise ImportProblem("--done is for openai-chat: an Anthropic stream ends with its message_stop event")
    draft = compose(
        source,
        protocol=protocol,
        provider=args.provider,
        name=args.name,
        model=args.model,
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
        print(error.error_line(), file=out)
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
    parser.add_argument("--protocol", choices=IMPORTABLE, help="the stream's wire protocol (default: inferred)")
    parser.add_argument("--provider", required=True, help="who sent the bytes: the folder below the protocol")
    parser.add_argument("--name", required=True, help="the capture's file name, saying what is inside")
    parser.add_argument(
        "--model", help="the model (default: the one the stream names, else the request's; this overrides both)"
    )
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
