"""Captures: loading `NAME.sse` + `NAME.yaml` pairs, with errors that name the file and field.

Loading checks, for each capture:
- its metadata against `schemas/capture.schema.json`, showing every problem with its field path;
- its place: `<protocol>/<provider>/<name>.yaml` below the corpus root, with the folders naming the
  metadata's `protocol` and `provider`;
- its features against the feature registry: the shipped `corpus/features.txt`, extended by the
  corpus's own `features.txt` when it has one (a private corpus needs none).
Whether `expect` agrees with the raw stream needs the protocol assemblers, so that lint lives in
`conformance.lint`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance import schemas
from conformance._resources import data_path

__all__ = [
    "Capture",
    "CaptureError",
    "LoadedCorpus",
    "Problem",
    "default_corpus",
    "feature_registry",
    "load_capture",
    "load_corpus",
    "read_features",
]

FEATURES_FILE = "features.txt"


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates as written: the capture schema (and JSON) wants strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a capture file: `field` is the metadata path (`expect.finish`,
    `(top level)`), or "" when the problem is the file as a whole."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class CaptureError(Exception):
    """A capture that cannot be used. `path` is the file at fault; `problems` is every problem found
    in it, each with its metadata path (`field` is the first one's). The text has one line per
    problem, each naming the file: `PATH: FIELD: MESSAGE`."""

    code = "bad-capture"

    def __init__(self, path: Path, message: str = "", field: str = "", *, problems: Sequence[Problem] = ()) -> None:
        self.path = path
        self.problems: tuple[Problem, ...] = tuple(problems) or (Problem(field, message),)
        self.field = self.problems[0].field
        super().__init__("\n".join(f"{path}: {problem}" for problem in self.problems))


@dataclass(frozen=True, slots=True)
class Capture:
    id: str
    path: Path
    body: bytes
    meta: dict[str, Any] = field(repr=False)

    @property
    def protocol(self) -> str:
        return str(self.meta["protocol"])

    @property
    def provider(self) -> str:
        return str(self.meta["provider"])

    @property
    def request(self) -> dict[str, Any]:
        return dict(self.meta["request"])

    @property
    def client_body(self) -> dict[str, Any]:
        """The request a client of a proxy sends for this stream: the upstream request, naming the
        model where the upstream's did not (Azure names the deployment in the URL instead)."""
        return {"model": self.meta["model"], **self.meta["request"]}

    @property
    def expect(self) -> dict[str, Any]:
        return dict(self.meta["expect"])

    @property
    def negative(self) -> dict[str, Any] | None:
        negative = self.meta.get("negative")
        return dict(negative) if negative else None

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.meta["features"])

    @property
    def ending(self) -> str:
        """How the upstream's response ends: a cut-off capture is reset mid-body (an abort, to its
        client); every other one, broken or not, ends complete."""
        negative = self.negative
        return "aborted" if negative is not None and negative["kind"] == "cut-off" else "complete"

    @property
    def unseen_framing(self) -> str:
        """Why this capture's framing, though legal, is not what any provider is documented to send
        (e.g. CR-only line ends); "" for every other capture. A failure only it triggers is strict."""
        return str(self.meta.get("unseen_framing", ""))

    @property
    def status(self) -> int:
        return int(self.meta["response"]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.meta["response"].get("headers", {}).items()}


@dataclass(frozen=True, slots=True)
class LoadedCorpus:
    root: Path
    captures: tuple[Capture, ...]
    errors: tuple[CaptureError, ...]
    features: Mapping[str, str] = field(default_factory=dict)
    """The feature registry that applies to this corpus: name → meaning (see `feature_registry`)."""


def default_corpus() -> Path:
    return data_path("corpus")


def _read_registry(path: Path) -> dict[str, str]:
    """`name  # meaning` per line; blank lines and lines holding only a comment are skipped."""
    registry: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, meaning = line.partition("#")
        if name.strip():
            registry[name.strip()] = meaning.strip()
    return registry


def feature_registry(root: Path) -> dict[str, str]:
    """The features a capture below `root` may name, each with its meaning: the shipped registry
    (`features.txt` of `default_corpus()`), plus the names `root/features.txt` adds when the corpus
    has a registry of its own. A name in both keeps the shipped meaning."""
    shipped = default_corpus() / FEATURES_FILE
    if not shipped.is_file():
        raise CaptureError(
            shipped,
            "the shipped feature registry is missing; reinstall the package: pip install --force-reinstall llm-stream-conformance",
        )
    registry = _read_registry(shipped)
    own = root / FEATURES_FILE
    if own.is_file() and own.resolve() != shipped.resolve():
        registry = {**_read_registry(own), **registry}
    return dict(sorted(registry.items()))


def read_features(root: Path) -> frozenset[str]:
    """The names of `feature_registry(root)`."""
    return frozenset(feature_registry(root))


def _layout_problems(rel: Path, meta: dict[str, Any], root: Path) -> list[Problem]:
    """Where a capture must lie: `<protocol>/<provider>/<name>.yaml` below the corpus root, the
    folders naming the metadata's `protocol` and `provider`."""
    protocol, provider = meta.get("protocol"), meta.get("provider")
    known = isinstance(protocol, str) and isinstance(provider, str) and protocol and provider
    expected = f"{protocol}/{provider}/{rel.name}" if known else f"<protocol>/<provider>/{rel.name}"
    if len(rel.parts) != 3:
        return [
            Problem(
                "",
                f"lies at {rel.as_posix()} below the corpus root {root}; a capture lives at "
                f"<protocol>/<provider>/<name>.yaml: move it to {expected}",
            )
        ]
    problems = []
    for index, name in ((0, "protocol"), (1, "provider")):
        value = meta.get(name)
        if isinstance(value, str) and value and value != rel.parts[index]:
            problems.append(
                Problem(
                    name,
                    f"is {value!r} but the capture lies in the {name} folder {rel.parts[index]!r}; a capture "
                    f"lives at <protocol>/<provider>/<name>.yaml: move it to {expected}, or correct `{name}`",
                )
            )
    return problems


def _registries(root: Path) -> str:
    """Where a feature name comes from, for a capture below `root`."""
    shipped = default_corpus() / FEATURES_FILE
    if root / FEATURES_FILE == shipped or (root / FEATURES_FILE).resolve() == shipped.resolve():
        return f"add it to {shipped} or use a registered one"
    return f"use one registered in {shipped}, or add it to this corpus's own {root / FEATURES_FILE}"


def load_capture(yaml_path: Path, root: Path, features: frozenset[str] | Mapping[str, str]) -> Capture:
    """The capture whose metadata is `yaml_path`, below the corpus `root`; every problem in its
    metadata (schema, place, features) is raised at once, in one `CaptureError`."""
    sse_path = yaml_path.with_suffix(".sse")
    try:
        meta = yaml.load(yaml_path.read_text(encoding="utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CaptureError(yaml_path, f"is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise CaptureError(yaml_path, f"must hold a mapping of metadata fields, not {type(meta).__name__}")
    problems = [
        Problem(problem.path or "(top level)", problem.message) for problem in schemas.problems("capture", meta)
    ]
    problems += _layout_problems(yaml_path.relative_to(root), meta, root)
    named = meta.get("features")
    for index, name in enumerate(named if isinstance(named, list) else []):
        if isinstance(name, str) and name not in features:
            problems.append(Problem(f"features[{index}]", f"unknown feature {name!r}; {_registries(root)}"))
    if problems:
        raise CaptureError(yaml_path, problems=problems)
    if not sse_path.is_file():
        raise CaptureError(sse_path, "is missing: every NAME.yaml needs its NAME.sse with the raw stream bytes")
    body = sse_path.read_bytes()
    if not body and meta["response"]["status"] < 300:
        raise CaptureError(sse_path, "is empty; a successful capture holds the bytes the provider streamed")
    capture_id = yaml_path.relative_to(root).with_suffix("").as_posix()
    return Capture(capture_id, yaml_path, body, meta)


def _pairs(root: Path) -> Iterator[Path]:
    yield from sorted(root.rglob("*.yaml"))
    for sse in sorted(root.rglob("*.sse")):
        if not sse.with_suffix(".yaml").is_file():
            yield sse


def load_corpus(root: Path | None = None) -> LoadedCorpus:
    """Every capture below `root`; a broken one is reported in `errors`, never fatal to the rest."""
    root = (root or default_corpus()).resolve()
    if not root.is_dir():
        raise CaptureError(root, "is not a folder of captures")
    features = feature_registry(root)
    captures: list[Capture] = []
    errors: list[CaptureError] = []
    for path in _pairs(root):
        if path.suffix == ".sse":
            errors.append(CaptureError(path, "has no NAME.yaml metadata beside it"))
            continue
        try:
            captures.append(load_capture(path, root, features))
        except CaptureError as error:
            errors.append(error)
    return LoadedCorpus(root, tuple(captures), tuple(errors), features)
