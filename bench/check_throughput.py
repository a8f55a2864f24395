"""Check throughput, in events per second on one core, for every capture of the corpus:

- `schema`: every event's payload through `conformance.schemas.problems` (valid: the fast path;
  it explains only on failure), against the plain `jsonschema` validator (`is_valid`) and, where
  installed, `fastjsonschema` and `jsonschema-rs` compiled from the same schemas;
- `checks`: the whole pipeline from bytes, `build_context` (SSE parse, JSON decode, protocol view,
  assembly) and `check` with every invariant except the client oracles (`oracle.*`, which replay
  each stream through the official SDKs over loopback HTTP and are timed separately);
- `checks from parsed events`: the same from the SSE events (`parsed_context` and `check`): what
  the issue calls "schema validation plus invariants", with JSON decoding, views and assembly
  counted in, and SSE parsing, benchmarked on its own (sse_throughput.py), left out;
- `checks + oracles`: the same with the oracles;
- `checks, long streams`: `checks` again on every capture with its text and reasoning delta events
  repeated until it carries about `LONG_EVENTS` events (a few hundred tokens, each in its own
  event, as real streams send them), checked against the `expect` of the longer text. The corpus
  captures carry about 13 events each, so their per-stream cost weighs more than it would in
  real use; this row shows the per-event cost.

    python bench/check_throughput.py [--repeat 3]

The schema rows take the best of `--repeat` passes; the pipeline rows, whose corpus pass takes about
3 ms, the best of ten times as many: on this shared machine one pass's CPU time moves by up to 2x.
"""

from __future__ import annotations

import argparse

from _common import best_of, machine, table

from conformance import schemas
from conformance.checks import build_context, check, parsed_context
from conformance.corpus import default_corpus, load_corpus
from conformance.invariants import select
from conformance.protocols.openai_chat import REASONING_FIELDS
from conformance.sse import parse
from conformance.stream import decode

LONG_EVENTS = 500


def _captures() -> list:
    loaded = load_corpus(default_corpus())
    return list(getattr(loaded, "captures", loaded))


def _schema_name(protocol: str, data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    if protocol == "openai-chat":
        return "openai-chat/error" if "error" in data else "openai-chat/chat.completion.chunk"
    name = f"anthropic-messages/{data.get('type')}"
    return name if name in schemas.names() else None


def schema_instances(captures: list) -> list[tuple[str, object]]:
    """(schema name, payload) for every JSON event of every capture with a schema of its own."""
    pairs = []
    for capture in captures:
        if capture.status >= 300:
            continue
        for payload in decode(parse(capture.body)[0]):
            name = _schema_name(capture.protocol, payload.json)
            if name is not None:
                pairs.append((name, payload.json))
    return pairs


def _is_text_delta(protocol: str, data: object) -> bool:
    """Whether an event only adds text or reasoning, so that repeating it keeps the stream well formed."""
    if not isinstance(data, dict):
        return False
    if protocol == "anthropic-messages":
        delta = data.get("delta")
        return (
            data.get("type") == "content_block_delta"
            and isinstance(delta, dict)
            and delta.get("type") in ("text_delta", "thinking_delta")
        )
    choices = data.get("choices")
    if (
        data.get("usage") is not None
        or not isinstance(choices, list)
        or len(choices) != 1
        or not isinstance(choices[0], dict)
    ):
        return False
    delta = choices[0].get("delta")
    return (
        choices[0].get("finish_reason") is None
        and isinstance(delta, dict)
        and not delta.get("tool_calls")
        and any(isinstance(delta.get(name), str) and delta[name] for name in ("content", *REASONING_FIELDS))
    )


def long_streams(captures: list) -> list[tuple[bytes, str, dict]]:
    """(body, protocol, build_context options) for every capture, its text and reasoning delta events
    repeated in place (bytes as sent) up to about `LONG_EVENTS` events; `expect` is what the longer
    stream assembles to, so that the semantic checks compare rather than fail."""
    cases = []
    for c in captures:
        options = {"request": c.request, "expect": c.expect, "negative": c.negative, "status": c.status}
        events = parse(c.body)[0] if c.status < 300 else []
        repeated = {p.index for p in decode(events) if _is_text_delta(c.protocol, p.json)}
        if not repeated:
            cases.append((c.body, c.protocol, options))
            continue
        copies = -(-(LONG_EVENTS - len(events) + len(repeated)) // len(repeated))
        bounds = [event.start for event in events] + [len(c.body)]
        body = c.body[: bounds[0]] + b"".join(
            c.body[bounds[i] : bounds[i + 1]] * (copies if i in repeated else 1) for i in range(len(events))
        )
        options["expect"] = build_context(body, c.protocol, **options).message.to_json()
        cases.append((body, c.protocol, options))
    return cases


def compiled_validators():
    """{label: {schema name: is_valid(instance) -> bool}} for the compiled validators installed."""
    found = {}
    documents = schemas._documents()
    try:
        import jsonschema_rs

        registry = jsonschema_rs.Registry([(doc["$id"], doc) for doc in documents.values()])
        found["jsonschema-rs"] = {
            name: jsonschema_rs.Draft202012Validator(doc, registry=registry).is_valid for name, doc in documents.items()
        }
    except ImportError:
        pass
    try:
        import fastjsonschema

        by_id = {doc["$id"]: doc for doc in documents.values()}

        def compiled(doc):
            validate = fastjsonschema.compile(doc, handlers={"https": by_id.__getitem__, "http": by_id.__getitem__})

            def is_valid(instance):
                try:
                    validate(instance)
                except fastjsonschema.JsonSchemaException:
                    return False
                return True

            return is_valid

        found["fastjsonschema"] = {name: compiled(doc) for name, doc in documents.items()}
    except Exception as error:  # noqa: BLE001  (fastjsonschema does not support every 2020-12 keyword)
        print(f"fastjsonschema: cannot compile the schemas: {type(error).__name__}: {error}")
    return found


def run(repeat: int) -> list[list[object]]:
    captures = _captures()
    pairs = schema_instances(captures)
    rows: list[list[object]] = []

    plain = {name: schemas.validator(name) for name in {name for name, _ in pairs}}
    seconds, _ = best_of(repeat, lambda: [plain[name].is_valid(data) for name, data in pairs])
    base = len(pairs) / seconds
    rows.append(["schema", "jsonschema Draft202012Validator.is_valid", len(pairs), f"{base / 1e3:.1f} k", "1.00x"])
    for label, validators in compiled_validators().items():
        seconds, _ = best_of(repeat, lambda v=validators: [v[name](data) for name, data in pairs])
        rows.append(
            [
                "schema",
                f"{label} is_valid",
                len(pairs),
                f"{len(pairs) / seconds / 1e3:.1f} k",
                f"{len(pairs) / seconds / base:.2f}x",
            ]
        )
    seconds, _ = best_of(repeat, lambda: [schemas.problems(name, data) for name, data in pairs])
    rows.append(
        [
            "schema",
            "conformance.schemas.problems (ours)",
            len(pairs),
            f"{len(pairs) / seconds / 1e3:.1f} k",
            f"{len(pairs) / seconds / base:.2f}x",
        ]
    )

    streams = [
        (c.body, c.protocol, {"request": c.request, "expect": c.expect, "negative": c.negative, "status": c.status})
        for c in captures
    ]
    events = sum(len(parse(body)[0]) for body, _, _ in streams)
    invariants = {protocol: select(protocol) for protocol in {c.protocol for c in captures}}
    without_oracles = {p: [inv for inv in invs if not inv.id.startswith("oracle.")] for p, invs in invariants.items()}

    def pipeline(cases, chosen):
        for body, protocol, options in cases:
            check(build_context(body, protocol, **options), chosen[protocol])

    def from_events(cases, chosen):
        for body, protocol, (events, observations), options in cases:
            check(parsed_context(body, protocol, events, observations, **options), chosen[protocol])

    def parsed(cases):
        return [
            (body, protocol, parse(body) if options["status"] < 300 else ([], ()), options)
            for body, protocol, options in cases
        ]

    check(
        build_context(captures[0].body, captures[0].protocol), invariants[captures[0].protocol]
    )  # warm up the oracles
    passes = 10 * repeat
    for label, chosen, times in (
        ("checks (schema + every invariant but oracle.*)", without_oracles, passes),
        ("checks + client oracles", invariants, 1),
    ):
        seconds, _ = best_of(times, lambda chosen=chosen: pipeline(streams, chosen))
        rows.append(["pipeline", label, events, f"{events / seconds / 1e3:.1f} k", f"{events / seconds / base:.2f}x"])
    parsed_streams = parsed(streams)
    seconds, _ = best_of(passes, lambda cases=parsed_streams: from_events(cases, without_oracles))
    rows.append(
        [
            "pipeline",
            "checks from parsed events (all but SSE parsing)",
            events,
            f"{events / seconds / 1e3:.1f} k",
            f"{events / seconds / base:.2f}x",
        ]
    )
    long = long_streams(captures)
    long_events = sum(len(parse(body)[0]) for body, _, _ in long)
    seconds, _ = best_of(passes, lambda: pipeline(long, without_oracles))
    rows.append(
        [
            "pipeline",
            f"checks, long streams (~{LONG_EVENTS} events each; not the corpus)",
            long_events,
            f"{long_events / seconds / 1e3:.1f} k",
            f"{long_events / seconds / base:.2f}x",
        ]
    )
    parsed_long = parsed(long)
    seconds, _ = best_of(passes, lambda cases=parsed_long: from_events(cases, without_oracles))
    rows.append(
        [
            "pipeline",
            "checks from parsed events, long streams",
            long_events,
            f"{long_events / seconds / 1e3:.1f} k",
            f"{long_events / seconds / base:.2f}x",
        ]
    )

    print(
        f"Check throughput: {len(captures)} captures, {len(pairs)} schema instances, {events} events ({machine()}); CPU time of this process, best of {repeat} (schema) and {passes} (pipeline) passes"
    )
    print(table(["stage", "what", "events", "events/s", "vs jsonschema"], rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    run(parser.parse_args().repeat)


if __name__ == "__main__":
    main()
