"""The JSON Schemas in `schemas/`, by short name, with messages that say where and what.

A name is a path below `schemas/` without `.schema.json`: `capture`,
`openai-chat/chat.completion.chunk`, `anthropic-messages/message_start`. Validation asks
`is_valid` first and explains only on failure, because the explanation is the slow part.

The wire schemas (`openai-chat/*`, `anthropic-messages/*`, checked on every event) are first asked
of a compiled validator, `jsonschema-rs`, when it is installed: about 100 times faster than
`jsonschema` (bench/RESULTS.md). It may only say "valid": whenever it says "invalid" (or cannot
take the instance), `jsonschema` decides and explains, so it can never add a failure, and
tests/test_schemas.py proves it agrees with `jsonschema` on every accepted instance and on the
corpus. The other schemas (captures, expectations, reports) use `pattern` and `format`, whose
regex dialects differ between the two, and are rarely checked: `jsonschema` alone judges them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from conformance._resources import data_path

__all__ = ["SchemaProblem", "all_valid", "names", "problems", "validator"]

_SUFFIX = ".schema.json"
# Schemas given to the compiled fast path: those checked on every streamed event, and the report's,
# checked on every report written (0.2 s a run with jsonschema alone, under 1 ms compiled). None uses
# `format`, and their only `pattern` is plain ASCII that both regex dialects read alike
# (tests/test_schemas.py asserts both).
_FAST_PREFIXES = ("openai-chat/", "anthropic-messages/", "openai-responses/")
_FAST_NAMES = ("report",)


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    path: str
    """Where in the instance, as a dotted path with [index] for arrays (`choices[0].delta`)."""
    message: str
    schema_path: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "schema_path": self.schema_path}


@cache
def _documents() -> dict[str, dict[str, Any]]:
    root = data_path("schemas")
    return {
        path.relative_to(root).as_posix()[: -len(_SUFFIX)]: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(root.rglob(f"*{_SUFFIX}"))
    }


@cache
def _registry() -> Registry:
    resources = [(doc["$id"], Resource.from_contents(doc)) for doc in _documents().values()]
    return Registry().with_resources(resources)


def names() -> tuple[str, ...]:
    return tuple(_documents())


@cache
def validator(name: str) -> Draft202012Validator:
    try:
        document = _documents()[name]
    except KeyError:
        raise KeyError(f"no schema named {name!r} in {data_path('schemas')}; known: {', '.join(names())}") from None
    return Draft202012Validator(document, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def _fast(name: str, many: bool = False) -> Callable[[Any], bool] | None:
    """`jsonschema-rs`'s `is_valid` for schema `name`, or None (not installed, or not a schema of the
    fast path): a fast way to say "valid", never the judge of "invalid". With `many`, it takes a list
    and says whether every item is valid under `name`."""
    if not (name.startswith(_FAST_PREFIXES) or name in _FAST_NAMES):
        return None
    try:
        import jsonschema_rs
    except ImportError:
        return None
    documents = _documents()
    registry = jsonschema_rs.Registry([(doc["$id"], doc) for doc in documents.values()])
    schema = {"type": "array", "items": {"$ref": documents[name]["$id"]}} if many else documents[name]
    return jsonschema_rs.Draft202012Validator(schema, registry=registry, validate_formats=True).is_valid


def _fast_valid(name: str, instance: Any, many: bool = False) -> bool:
    """True when the compiled validator accepts `instance`; False means "ask jsonschema"."""
    fast = _fast(name, many)
    if fast is None:
        return False
    try:
        return fast(instance)
    except Exception:  # noqa: BLE001  (a value it cannot take, e.g. a non-str key: jsonschema decides)
        return False


def all_valid(name: str, instances: list[Any]) -> bool:
    """True when the compiled validator accepts every instance under schema `name`, in one call for
    a whole stream rather than one per event; False means "ask `problems` of each"."""
    return _fast_valid(name, instances, many=True)


def _dotted(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(error: ValidationError) -> SchemaProblem:
    return SchemaProblem(_dotted(error.absolute_path), error.message, "/".join(map(str, error.absolute_schema_path)))


def problems(name: str, instance: Any) -> list[SchemaProblem]:
    """Every way `instance` breaks schema `name`, the most specific first; [] when valid."""
    checker = validator(name)
    if _fast_valid(name, instance) or checker.is_valid(instance):
        return []
    errors = list(checker.iter_errors(instance))
    # best_match descends into oneOf/anyOf branches, so the first problem names the real cause
    # ("'basis' is a required property") rather than "is not valid under any of the given schemas".
    first = best_match(errors)
    rest = sorted((e for e in errors if e is not first), key=lambda e: (-len(e.absolute_path), e.message))
    return [_problem(error) for error in [first, *rest] if error is not None]
