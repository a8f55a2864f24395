"""Check throughput, in events per second on one core, for every capture of the corpus:

- `schema`: every event's payload through `conformance.schemas.problems` (valid: the fast path;
  it explains only on failure), against the plain `jsonschema` validator (`is_valid`) and, where
  installed, `fastjsonschema` and `jsonschema-rs` compiled from the same schemas;
- `checks`: the whole pipeline, `build_context` (SSE parse, JSON decode, protocol view, assembly)
  and `check` with every invariant except the client oracles (`oracle.*`, which replay each stream
  through the official SDKs over loopback HTTP and are timed separately);
- `checks + oracles`: the same with the oracles.

    python bench/check_throughput.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json

from _common import best_of, machine, table

from conformance import schemas
from conformance.checks import build_context, check
from conformance.corpus import default_corpus, load_corpus
from conformance.invariants import select
from conformance.sse import parse
from conformance.stream import decode


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
        rows.append(["schema", f"{label} is_valid", len(pairs), f"{len(pairs) / seconds / 1e3:.1f} k", f"{len(pairs) / seconds / base:.2f}x"])
    seconds, _ = best_of(repeat, lambda: [schemas.problems(name, data) for name, data in pairs])
    rows.append(["schema", "conformance.schemas.problems (ours)", len(pairs), f"{len(pairs) / seconds / 1e3:.1f} k", f"{len(pairs) / seconds / base:.2f}x"])

    streams = [c for c in captures]
    events = sum(len(parse(c.body)[0]) for c in streams)
    invariants = {protocol: select(protocol) for protocol in {c.protocol for c in streams}}
    without_oracles = {p: [inv for inv in invs if not inv.id.startswith("oracle.")] for p, invs in invariants.items()}

    def pipeline(chosen):
        for c in streams:
            ctx = build_context(c.body, c.protocol, request=c.request, expect=c.expect, negative=c.negative, status=c.status)
            check(ctx, chosen[c.protocol])

    check(build_context(streams[0].body, streams[0].protocol), invariants[streams[0].protocol])  # warm up the oracles
    for label, chosen, times in (("checks (schema + every invariant but oracle.*)", without_oracles, repeat), ("checks + client oracles", invariants, 1)):
        seconds, _ = best_of(times, lambda chosen=chosen: pipeline(chosen))
        rows.append(["pipeline", label, events, f"{events / seconds / 1e3:.1f} k", f"{events / seconds / base:.2f}x"])

    print(f"Check throughput: {len(streams)} captures, {len(pairs)} schema instances, {events} events ({machine()}); CPU time of this process, best of {repeat}")
    print(table(["stage", "what", "events", "events/s", "vs jsonschema"], rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    run(parser.parse_args().repeat)


if __name__ == "__main__":
    main()
