"""The `conformance` command: lint the corpus, list targets and invariants, serve a capture, render a report."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import yaml

from conformance import capture_import, coverage, model_names, record, report, schedules, secret_scan, site, transport
from conformance.checks import PROTOCOLS
from conformance.corpus import CaptureError, default_corpus, load_corpus
from conformance.invariants import Invariant, registry
from conformance.lint import lint_capture
from conformance.replay import ReplayServer
from conformance.routes import route_id
from conformance.targets import available

__all__ = ["main"]


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    root = Path(args.corpus) if args.corpus else default_corpus()
    try:
        corpus = load_corpus(root)
    except CaptureError as error:
        print(f"error: {error}", file=out)
        return 2
    # One line per problem: a capture whose metadata has several shows each, naming the file.
    problems = [line for error in corpus.errors for line in str(error).splitlines()]
    for capture in corpus.captures:
        problems.extend(str(finding) for finding in lint_capture(capture))
    # The corpus is published: a key or an address in a capture must never pass.
    problems.extend(str(finding) for finding in secret_scan.scan_corpus(corpus.root))
    stale = coverage.stale(corpus)
    if stale:
        problems.append(stale)
    for problem in problems:
        print(f"error: {problem}", file=out)
    checked = len(corpus.captures) + len(corpus.errors)
    if problems:
        print(f"{len(problems)} problem(s) in {checked} capture(s) under {corpus.root}", file=out)
        return 1
    print(f"ok: {checked} capture(s) under {corpus.root} are valid", file=out)
    return 0


def _coverage(args: argparse.Namespace, out: TextIO) -> int:
    root = Path(args.corpus) if args.corpus else default_corpus()
    return coverage.command(root, Path(args.output) if args.output else None, args.check, out)


def _targets(args: argparse.Namespace, out: TextIO) -> int:
    for info in available():
        print(f"{info.spec}  [{info.kind}]", file=out)
        print(f"    {info.description}", file=out)
        for route in info.routes:
            print(f"    route {route_id(route)}", file=out)
    return 0


IMPACT_MEANINGS = {
    "breaks": "a client loses content, misses an error or raises",
    "strict": "a deviation from the documented format that the clients we know tolerate",
}


def _chosen_invariants(wanted: Sequence[str], out: TextIO) -> list[Invariant] | None:
    """The invariants named by exact id or id prefix, in registry order; None (after printing an
    error naming the closest ids) when a name matches none."""
    every = registry()
    chosen: dict[str, Invariant] = {}
    unknown = False
    for name in wanted:
        matches = [every[name]] if name in every else [inv for key, inv in every.items() if key.startswith(name)]
        if not matches:
            unknown = True
            close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
            suggestion = f"; closest: {', '.join(close)}" if close else "; `conformance invariants` lists them all"
            print(f"error: no invariant {name!r}{suggestion}", file=out)
        chosen.update((inv.id, inv) for inv in matches)
    return None if unknown else [every[key] for key in every if key in chosen]


def _describe(inv: Invariant, out: TextIO) -> None:
    print(inv.id, file=out)
    print(f"    requirement: {inv.requirement}", file=out)
    print(f"    impact: {inv.impact} ({IMPACT_MEANINGS[inv.impact]})", file=out)
    print(f"    level: {inv.level}", file=out)
    print(f"    protocol: {inv.protocol or 'any protocol'}", file=out)
    if inv.quirks:
        print(f"    provider quirks that break it: {', '.join(inv.quirks)}", file=out)
    print("    evidence:", file=out)
    for source in inv.evidence:
        print(f"      - {source}", file=out)
    print(f"    to fix: {inv.hint}", file=out)


def _invariants(args: argparse.Namespace, out: TextIO) -> int:
    if args.ids:
        chosen = _chosen_invariants(args.ids, out)
        if chosen is None:
            return 2
    else:
        chosen = list(registry().values())
    if args.json:
        print(json.dumps([inv.to_json() for inv in chosen], indent=1, ensure_ascii=False), file=out)
        return 0
    if args.ids:
        for number, inv in enumerate(chosen):
            if number:
                print(file=out)
            _describe(inv, out)
        return 0
    for inv in chosen:
        print(f"{inv.id}  [{inv.impact}, {inv.level}, {inv.protocol or 'any protocol'}]", file=out)
        print(f"    {inv.requirement}", file=out)
        for number, source in enumerate(inv.evidence):
            print(f"    {'evidence:' if number == 0 else '         '} {source}", file=out)
    return 0


async def _serve(body: bytes, status: int, headers: dict[str, str], schedule: str, delay: float, out: TextIO) -> None:
    async with ReplayServer() as server:
        slot = server.register(body, schedule=schedule, status=status, headers=headers, delay=delay)
        print(f"serving on {slot.url} (any path below it; Ctrl-C to stop)", file=out, flush=True)
        await asyncio.Event().wait()


def _replay(args: argparse.Namespace, out: TextIO) -> int:
    root = Path(args.corpus) if args.corpus else default_corpus()
    corpus = load_corpus(root)
    matches = [
        c
        for c in corpus.captures
        if c.id == args.capture or str(c.path.with_suffix("")) == str(Path(args.capture).with_suffix(""))
    ]
    if not matches:
        print(
            f"error: no capture {args.capture!r} under {corpus.root}; ids look like {corpus.captures[0].id if corpus.captures else 'openai-chat/openai/text-lf'}",
            file=out,
        )
        return 2
    capture = matches[0]
    try:
        schedule = schedules.check_schedule(args.schedule)
        asyncio.run(_serve(capture.body, capture.status, capture.headers, schedule, args.delay, out))
    except ValueError as error:
        print(f"error: {error}", file=out)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


MODEL_FORMATS = ("lines", "json", "yaml")


def _models(args: argparse.Namespace, out: TextIO) -> int:
    root = Path(args.corpus) if args.corpus else default_corpus()
    try:
        corpus = load_corpus(root)
    except CaptureError as error:
        print(f"error: {error}", file=out)
        return 2
    routes = [(upstream, client) for upstream in PROTOCOLS for client in PROTOCOLS]
    checks = [] if args.no_transport else [(check, route) for check in transport.NAMED for route in routes]
    found = model_names.names(corpus.captures, checks)
    if args.provider:
        known = sorted({provider for provider, _ in found})
        if args.provider not in known:
            print(
                f"error: --provider {args.provider!r}: no capture of {root} is from it; known: {', '.join(known)}",
                file=out,
            )
            return 2
        found = [(provider, name) for provider, name in found if provider == args.provider]
    listed = [name for _, name in found]
    if args.format == "json":
        print(json.dumps(listed, indent=2), file=out)
    elif args.format == "yaml":
        print(yaml.safe_dump(listed, default_flow_style=False, sort_keys=False), end="", file=out)
    else:
        for name in listed:
            print(name, file=out)
    return 0


def _report(args: argparse.Namespace, out: TextIO) -> int:
    path = Path(args.report)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"error: cannot read report {path}: {error}", file=out)
        return 2
    if data.get("format") != report.FORMAT:
        print(f"error: {path} is not a {report.FORMAT} report (format: {data.get('format')!r})", file=out)
        return 2
    print(report.markdown(data), file=out, end="")
    return 0


def _site(args: argparse.Namespace, out: TextIO) -> int:
    return site.command(
        Path(args.reports),
        Path(args.output),
        Path(args.corpus) if args.corpus else None,
        Path(args.summary) if args.summary else None,
        out,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conformance", description="Conformance suite for LLM streaming proxies.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser(
        "validate",
        help="lint a corpus: schema, layout, features, expect vs raw stream, false positives, secrets",
        description="Check every capture of a corpus: its metadata against the capture schema, that it lies at "
        "<protocol>/<provider>/<name>, that its features are registered, that no TODO: placeholder is left, that "
        "expect is what its raw stream assembles to, that the stream passes the invariants every real stream of its "
        "protocol meets, that neither file holds a key, token, email address or Authorization value, and that the "
        "corpus's COVERAGE.md is current. Exit 0 when all are valid, 1 naming the file and field of each problem.",
    )
    validate.add_argument("corpus", nargs="?", help="folder of captures (default: the shipped corpus)")
    validate.set_defaults(run=_validate)
    cover = commands.add_parser(
        "coverage",
        help="what a corpus covers: features x captures x routes, provider quirks and bug classes, as Markdown",
        description="Print (or write with --output) the Markdown table of a corpus's features, the captures that "
        "exercise each and the routes they run through, the provider quirks and the bug classes of the catalogue "
        "that a capture triggers. --check exits 1 when the corpus's COVERAGE.md is missing or stale.",
    )
    cover.add_argument("corpus", nargs="?", help="folder of captures (default: the shipped corpus)")
    cover.add_argument(
        "--output", metavar="FILE", help="write it to FILE (e.g. corpus/COVERAGE.md) instead of printing it"
    )
    cover.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the coverage file (--output, or COVERAGE.md in the corpus) is missing or stale",
    )
    cover.set_defaults(run=_coverage)
    targets = commands.add_parser("targets", help="list every available target and its routes")
    targets.set_defaults(run=_targets)
    invariants = commands.add_parser(
        "invariants",
        help="list every invariant, or explain the ones named: requirement, impact, evidence and how to fix it",
    )
    invariants.add_argument(
        "ids", nargs="*", metavar="ID", help="an invariant id, or an id prefix such as openai.tool (default: all)"
    )
    invariants.add_argument("--json", action="store_true", help="print JSON")
    invariants.set_defaults(run=_invariants)
    replay = commands.add_parser("replay", help="serve one capture on 127.0.0.1 for manual testing")
    replay.add_argument("capture", help="capture id (e.g. openai-chat/openai/text-lf) or path")
    replay.add_argument("--corpus", help="folder of captures (default: the shipped corpus)")
    replay.add_argument(
        "--schedule", default="event", help=f"chunk schedule (default: event; known: {', '.join(schedules.SCHEDULES)})"
    )
    replay.add_argument("--delay", type=float, default=0.0, help="seconds between writes")
    replay.set_defaults(run=_replay)
    models = commands.add_parser(
        "models",
        help="list the stable model names the suite sends, to paste into a proxy's configuration",
        description="Print the model name each item sends with the http target's default model template {name}: "
        "<provider>/<capture> for every capture of the corpus, and <openai|anthropic>/conformance-<check>-to-<client "
        "protocol> for the transport checks, which synthesize their own upstreams. A gateway that routes only the names "
        "its configuration lists can be given these; the replay server answers to each while its stream is in flight.",
    )
    models.add_argument("--provider", help="only the names of this capture provider (e.g. openrouter)")
    models.add_argument(
        "--format", choices=MODEL_FORMATS, default="lines", help="one per line (default), or a JSON or YAML list"
    )
    models.add_argument("--corpus", help="folder of captures (default: the shipped corpus)")
    models.add_argument("--no-transport", action="store_true", help="leave out the transport checks' names")
    models.set_defaults(run=_models)
    render = commands.add_parser("report", help="render a JSON report as Markdown")
    render.add_argument("report", help="path to report.json")
    render.set_defaults(run=_report)
    pages = commands.add_parser(
        "site",
        help="build a static report site from report folders: the matrix, a page per implementation, coverage",
        description="Build static HTML pages from every REPORTS/<folder>/report.json (a partial run's report is "
        "left out): index.html, the matrix of implementations with their counts and a capture x route grid; "
        "impl/<folder>.html, each failing item with its output split into SSE events and the offending one "
        "highlighted; coverage.html, the corpus's features x routes x captures; badges/<folder>.json for "
        "shields.io; data/*.json, the data of the pages; and summary.md. The pages need no server and fetch "
        "nothing. Exit 0 when built, 2 naming the file and field of a report that cannot be read.",
    )
    pages.add_argument("reports", nargs="?", default="reports", help="folder of report folders (default: reports)")
    pages.add_argument(
        "-o", "--output", default="site", metavar="DIR", help="folder to build the site in (default: site)"
    )
    pages.add_argument(
        "--corpus", metavar="DIR", help="folder of captures for the coverage page (default: the shipped corpus)"
    )
    pages.add_argument(
        "--summary",
        metavar="FILE",
        help='also append the matrix as Markdown to FILE, e.g. --summary "$GITHUB_STEP_SUMMARY"',
    )
    pages.set_defaults(run=_site)
    record.add_parser(commands)
    capture_import.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args, out or sys.stdout))
    except BrokenPipeError:  # `conformance models | head`: the reader had enough
        # As the Python docs advise: what is left to flush at exit goes nowhere, not to a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
