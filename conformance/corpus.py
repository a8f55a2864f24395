"""Captures: loading `NAME.sse` + `NAME.yaml` pairs, with errors that name the file and field.

Loading checks the metadata against `schemas/capture.schema.json` and the feature registry
(`features.txt` beside the captures). Whether `expect` agrees with the raw stream needs the
protocol assemblers, so that lint lives in `conformance.lint`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance import schemas
from conformance._resources import data_path

__all__ = ["Capture", "CaptureError", "LoadedCorpus", "default_corpus", "load_capture", "load_corpus", "read_features"]

FEATURES_FILE = "features.txt"


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates as written: the capture schema (and JSON) wants strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class CaptureError(Exception):
    """A capture that cannot be used. `path` is the file at fault, `field` the metadata path."""

    code = "bad-capture"

    def __init__(self, path: Path, message: str, field: str = "") -> None:
        self.path = path
        self.field = field
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + message)


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


def default_corpus() -> Path:
    return data_path("corpus")


def read_features(root: Path) -> frozenset[str]:
    path = root / FEATURES_FILE
    if not path.is_file():
        raise CaptureError(path, f"the feature registry is missing; create {FEATURES_FILE} with one feature per line")
    names = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(name for name in names if name)


def load_capture(yaml_path: Path, root: Path, features: frozenset[str]) -> Capture:
    sse_path = yaml_path.with_suffix(".sse")
    try:
        meta = yaml.load(yaml_path.read_text(encoding="utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CaptureError(yaml_path, f"is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise CaptureError(yaml_path, f"must hold a mapping of metadata fields, not {type(meta).__name__}")
    problems = schemas.problems("capture", meta)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CaptureError(yaml_path, first.message + more, first.path or "(top level)")
    for index, name in enumerate(meta["features"]):
        if name not in features:
            raise CaptureError(
                yaml_path,
                f"unknown feature {name!r}; add it to {root / FEATURES_FILE} or use a registered one",
                f"features[{index}]",
            )
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
    features = read_features(root)
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
    return LoadedCorpus(root, tuple(captures), tuple(errors))
