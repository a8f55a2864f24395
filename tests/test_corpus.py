"""conformance.corpus and conformance.lint: loading captures, and keeping the corpus honest."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from conformance.corpus import CaptureError, default_corpus, load_corpus, read_features
from conformance.lint import VENDORS, lint_capture

CORPUS = default_corpus()
CAPTURES = load_corpus(CORPUS).captures


def test_the_shipped_corpus_loads_without_errors() -> None:
    corpus = load_corpus(CORPUS)
    assert corpus.errors == ()
    assert len(corpus.captures) >= 30


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.id)
def test_every_capture_lints_clean(capture) -> None:  # type: ignore[no-untyped-def]
    """expect matches the raw stream, and the stream passes what real streams of its protocol pass."""
    assert [str(f) for f in lint_capture(capture)] == []


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.id)
def test_provenance_is_truthful(capture) -> None:  # type: ignore[no-untyped-def]
    provenance = capture.meta["provenance"]
    assert provenance["kind"] == "synthesized", "nothing in this corpus was recorded live"
    # A basis names its primary sources: addresses, or `owner/repo path` of a recorded stream or spec.
    assert re.search(r"https://|\b[\w.-]+/[\w.-]+ ", provenance["basis"]), provenance["basis"]
    assert "WIRE-FACTS" not in provenance["basis"] and "§" not in provenance["basis"]


def test_every_registered_feature_is_used_and_every_used_feature_registered() -> None:
    registered = read_features(CORPUS)
    used = {feature for capture in CAPTURES for feature in capture.features}
    assert used == registered


def test_required_dialects_and_shapes_are_covered() -> None:
    features = {feature for capture in CAPTURES for feature in capture.features}
    for needed in (
        "reasoning.openrouter",
        "reasoning.deepseek",
        "reasoning.thinking-field",
        "reasoning.vllm",
        "tool.first-chunk",
        "tool.parallel",
        "text.then-tool",
        "tool.whole-in-one-delta",
        "usage.empty-choices-chunk",
        "usage.on-finish-chunk",
        "tool.forced-choice-stop",
        "refusal",
        "error.mid-stream",
        "stream.cut-off",
        "tool.no-arguments",
        "anthropic.thinking-signature",
        "anthropic.ping",
        "sse.padding",
        "anthropic.server-tool-result",
        "sse.crlf",
        "sse.cr-only",
    ):
        assert needed in features, needed
    assert {c.protocol for c in CAPTURES} == set(VENDORS)
    assert any(c.negative for c in CAPTURES if c.protocol == "openai-chat")
    assert any(c.negative for c in CAPTURES if c.protocol == "anthropic-messages")


def test_crlf_and_cr_only_framings_carry_the_same_content() -> None:
    by_id = {c.id: c for c in CAPTURES}
    lf, crlf, cr = (by_id[f"openai-chat/openai/text-{n}"] for n in ("lf", "crlf", "cr-only"))
    assert lf.expect == crlf.expect == cr.expect
    assert b"\r\n" in crlf.body and b"\r" in cr.body and b"\n" not in cr.body


# ------------------------------------------------------------------------- malformed captures


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private corpus with one good capture, to break in each test."""
    source = next(c for c in CAPTURES if c.id == "openai-chat/openai/text-lf")
    folder = tmp_path / "openai-chat" / "openai"
    folder.mkdir(parents=True)
    shutil.copy(source.path, folder / "good.yaml")
    shutil.copy(source.path.with_suffix(".sse"), folder / "good.sse")
    shutil.copy(CORPUS / "features.txt", tmp_path / "features.txt")
    return tmp_path


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    meta = yaml.safe_load(path.read_text())
    meta["provenance"]["date"] = str(meta["provenance"]["date"])
    change(meta)
    path.write_text(yaml.safe_dump(meta, allow_unicode=True))


def _only_error(root: Path) -> CaptureError:
    loaded = load_corpus(root)
    assert len(loaded.errors) == 1, loaded.errors
    return loaded.errors[0]


def test_good_private_corpus_loads(corpus: Path) -> None:
    loaded = load_corpus(corpus)
    assert [c.id for c in loaded.captures] == ["openai-chat/openai/good"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda m: m.pop("model"), "(top level)", "'model' is a required property"),
        (lambda m: m.update(protocol="grpc"), "protocol", "'grpc' is not one of"),
        (lambda m: m.update(colour="red"), "(top level)", "colour"),
        (lambda m: m["expect"].pop("finish"), "expect", "'finish' is a required property"),
        (lambda m: m["provenance"].pop("basis"), "provenance", "basis"),
        (lambda m: m["request"].update(stream=False), "request.stream", "True was expected"),
        (
            lambda m: m["expect"]["tool_calls"].append({"id": "x", "name": "f", "arguments": "{}"}),
            "expect.tool_calls[0].arguments",
            "is not of type 'object'",
        ),
    ],
    ids=[
        "missing-field",
        "bad-protocol",
        "unknown-key",
        "missing-expect-finish",
        "provenance-without-basis",
        "not-streaming",
        "arguments-not-object",
    ],
)
def test_schema_errors_name_file_and_field(corpus: Path, change, field: str, words: str) -> None:  # type: ignore[no-untyped-def]
    yaml_path = corpus / "openai-chat" / "openai" / "good.yaml"
    _edit(yaml_path, change)
    error = _only_error(corpus)
    assert error.path == yaml_path
    assert error.field == field
    assert words in str(error)
    assert str(yaml_path) in str(error)


def test_unknown_feature_names_the_feature_and_registry(corpus: Path) -> None:
    _edit(corpus / "openai-chat" / "openai" / "good.yaml", lambda m: m["features"].append("sse.telepathy"))
    error = _only_error(corpus)
    assert error.field.startswith("features[")
    assert "sse.telepathy" in str(error) and "features.txt" in str(error)


def test_invalid_yaml_is_reported_not_raised(corpus: Path) -> None:
    (corpus / "openai-chat" / "openai" / "good.yaml").write_text("description: [unclosed\n")
    assert "is not valid YAML" in str(_only_error(corpus))


def test_missing_sse_file(corpus: Path) -> None:
    (corpus / "openai-chat" / "openai" / "good.sse").unlink()
    error = _only_error(corpus)
    assert error.path.suffix == ".sse" and "is missing" in str(error)


def test_sse_without_metadata(corpus: Path) -> None:
    (corpus / "openai-chat" / "openai" / "orphan.sse").write_bytes(b"data: [DONE]\n\n")
    error = _only_error(corpus)
    assert error.path.name == "orphan.sse" and "no NAME.yaml" in str(error)


def test_one_broken_capture_does_not_hide_the_others(corpus: Path) -> None:
    shutil.copy(corpus / "openai-chat/openai/good.yaml", corpus / "openai-chat/openai/bad.yaml")
    (corpus / "openai-chat/openai/bad.yaml").write_text(": : :\n")
    loaded = load_corpus(corpus)
    assert [c.id for c in loaded.captures] == ["openai-chat/openai/good"]
    assert [e.path.name for e in loaded.errors] == ["bad.yaml"]


def test_missing_feature_registry_is_fatal_with_a_hint(corpus: Path) -> None:
    (corpus / "features.txt").unlink()
    with pytest.raises(CaptureError, match="feature registry is missing"):
        load_corpus(corpus)


def test_lint_catches_expect_that_disagrees_with_the_stream(corpus: Path) -> None:
    _edit(corpus / "openai-chat" / "openai" / "good.yaml", lambda m: m["expect"].update(text="something else"))
    (capture,) = load_corpus(corpus).captures
    findings = lint_capture(capture)
    assert [f.invariant for f in findings] == ["oracle.openai-python", "semantic.text"]
    oracle, semantic = findings
    assert "expect disagrees with the raw stream" in semantic.message
    assert "good.yaml" in str(semantic)
    assert "expect disagrees with what the official client assembles from the raw stream" in oracle.message
    assert "openai-python" in oracle.message and "something else" in oracle.message


def test_lint_catches_a_stream_real_providers_would_never_send(corpus: Path) -> None:
    sse = corpus / "openai-chat" / "openai" / "good.sse"
    sse.write_bytes(sse.read_bytes().replace(b"data: [DONE]\n\n", b"data: [DONE]\n\ndata: [DONE]\n\n"))
    (capture,) = load_corpus(corpus).captures
    assert "openai.done.last" in [f.invariant for f in lint_capture(capture)]
