"""conformance.corpus and conformance.lint: loading captures, and keeping the corpus honest."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from conformance.corpus import CaptureError, Problem, default_corpus, feature_registry, load_corpus, read_features
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
    """For the shipped corpus only: a private corpus uses the shipped registry, and need not use all of it."""
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
    """A private corpus with one good capture, to break in each test. It has no features.txt of its
    own: the shipped registry applies."""
    source = next(c for c in CAPTURES if c.id == "openai-chat/openai/text-lf")
    folder = tmp_path / "openai-chat" / "openai"
    folder.mkdir(parents=True)
    shutil.copy(source.path, folder / "good.yaml")
    shutil.copy(source.path.with_suffix(".sse"), folder / "good.sse")
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
            lambda m: m["expect"]["tool_calls"].append({"id": "x", "name": "f", "arguments": ["{}"]}),
            "expect.tool_calls[0].arguments",
            "is not of type 'object', 'string'",
        ),
    ],
    ids=[
        "missing-field",
        "bad-protocol",
        "unknown-key",
        "missing-expect-finish",
        "provenance-without-basis",
        "not-streaming",
        "arguments-neither-object-nor-string",
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


def test_a_private_corpus_without_a_registry_uses_the_shipped_one(corpus: Path) -> None:
    assert not (corpus / "features.txt").exists()
    loaded = load_corpus(corpus)
    assert loaded.errors == ()
    assert dict(loaded.features) == feature_registry(CORPUS)
    assert read_features(corpus) == read_features(CORPUS)


def test_a_private_registry_extends_the_shipped_one(corpus: Path) -> None:
    (corpus / "features.txt").write_text("# ours\nacme.telemetry-frames  # our gateway adds telemetry frames\n\n")
    _edit(corpus / "openai-chat" / "openai" / "good.yaml", lambda m: m["features"].append("acme.telemetry-frames"))
    loaded = load_corpus(corpus)
    assert loaded.errors == ()
    (capture,) = loaded.captures
    assert "acme.telemetry-frames" in capture.features and "utf8.multibyte" in capture.features
    assert loaded.features["acme.telemetry-frames"] == "our gateway adds telemetry frames"
    assert read_features(corpus) == read_features(CORPUS) | {"acme.telemetry-frames"}


def test_a_private_registry_cannot_redefine_a_shipped_meaning(corpus: Path) -> None:
    (corpus / "features.txt").write_text("sse.crlf  # something else\n")
    assert feature_registry(corpus)["sse.crlf"] == feature_registry(CORPUS)["sse.crlf"]


def test_an_unknown_feature_in_a_private_corpus_names_both_registries(corpus: Path) -> None:
    _edit(corpus / "openai-chat" / "openai" / "good.yaml", lambda m: m["features"].append("sse.telepathy"))
    message = str(_only_error(corpus))
    assert str(CORPUS / "features.txt") in message and str(corpus / "features.txt") in message


# ------------------------------------------------------------------------- layout


def _move(corpus: Path, to: str) -> Path:
    """Move the good capture to `to` (a path below the corpus, without the extension)."""
    source = corpus / "openai-chat" / "openai" / "good"
    target = corpus / to
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".yaml", ".sse"):
        source.with_suffix(suffix).rename(target.with_suffix(suffix))
    return target.with_suffix(".yaml")


def test_a_capture_flat_at_the_root_is_refused_with_where_it_belongs(corpus: Path) -> None:
    moved = _move(corpus, "good")
    error = _only_error(corpus)
    assert error.path == moved and error.field == ""
    assert str(moved) in str(error)
    assert "<protocol>/<provider>/<name>.yaml" in str(error) and "move it to openai-chat/openai/good.yaml" in str(error)


def test_a_capture_nested_too_deep_is_refused(corpus: Path) -> None:
    _move(corpus, "openai-chat/openai/extra/good")
    assert "lies at openai-chat/openai/extra/good.yaml" in str(_only_error(corpus))


@pytest.mark.parametrize(
    ("folder", "field", "words"),
    [
        (
            "anthropic-messages/openai",
            "protocol",
            "is 'openai-chat' but the capture lies in the protocol folder 'anthropic-messages'",
        ),
        ("openai-chat/acme", "provider", "is 'openai' but the capture lies in the provider folder 'acme'"),
    ],
    ids=["wrong-protocol-folder", "wrong-provider-folder"],
)
def test_a_capture_in_the_wrong_folder_is_refused(corpus: Path, folder: str, field: str, words: str) -> None:
    moved = _move(corpus, f"{folder}/good")
    error = _only_error(corpus)
    assert (error.path, error.field) == (moved, field)
    assert words in str(error) and "move it to openai-chat/openai/good.yaml" in str(error)


def test_the_shipped_corpus_follows_the_layout() -> None:
    for capture in CAPTURES:
        assert capture.id.split("/") == [capture.protocol, capture.provider, capture.path.stem]


# ------------------------------------------------------------------------- every problem at once


def test_every_schema_problem_is_shown_with_its_field(corpus: Path) -> None:
    yaml_path = corpus / "openai-chat" / "openai" / "good.yaml"

    def break_three(meta: dict) -> None:  # type: ignore[type-arg]
        meta.pop("model")
        meta["request"]["stream"] = False
        meta["expect"].pop("finish")
        meta["features"].append("sse.telepathy")

    _edit(yaml_path, break_three)
    error = _only_error(corpus)
    fields = [problem.field for problem in error.problems]
    assert sorted(fields) == sorted(["(top level)", "request.stream", "expect", "features[2]"])
    lines = str(error).splitlines()
    assert len(lines) == 4 and all(line.startswith(f"{yaml_path}: ") for line in lines)
    for words in (
        "'model' is a required property",
        "True was expected",
        "'finish' is a required property",
        "sse.telepathy",
    ):
        assert sum(words in line for line in lines) == 1, words
    assert "more)" not in str(error)
    assert error.field == fields[0]


def test_a_capture_error_with_one_problem_reads_as_before(tmp_path: Path) -> None:
    error = CaptureError(tmp_path / "x.yaml", "is broken", "expect.finish")
    assert str(error) == f"{tmp_path / 'x.yaml'}: expect.finish: is broken"
    assert error.problems == (Problem("expect.finish", "is broken"),)


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


def test_validate_prints_every_problem_of_a_capture_on_its_own_line(corpus: Path) -> None:
    import io

    from conformance.cli import main

    yaml_path = corpus / "openai-chat" / "openai" / "good.yaml"
    _edit(yaml_path, lambda m: (m.pop("model"), m["features"].append("sse.telepathy")))
    out = io.StringIO()
    assert main(["validate", str(corpus)], out) == 1
    lines = out.getvalue().splitlines()
    assert lines[:2] == [
        f"error: {yaml_path}: (top level): 'model' is a required property",
        f"error: {yaml_path}: features[2]: unknown feature 'sse.telepathy'; use one registered in "
        f"{CORPUS / 'features.txt'}, or add it to this corpus's own {corpus / 'features.txt'}",
    ]
    assert lines[2] == f"2 problem(s) in 1 capture(s) under {corpus}"


def test_a_placeholder_left_in_a_field_to_write_is_refused_and_content_that_starts_with_todo_is_not(
    corpus: Path,
) -> None:
    from conformance.lint import REQUEST_PLACEHOLDER, lint_capture

    path = corpus / "openai-chat" / "openai" / "good.yaml"
    _edit(path, lambda m: m["request"]["messages"][0].update(content="TODO: write a sort function"))
    (capture,) = load_corpus(corpus).captures
    assert [f for f in lint_capture(capture) if "placeholder" in f.message] == []
    _edit(path, lambda m: m["request"]["messages"][0].update(content=REQUEST_PLACEHOLDER))
    _edit(path, lambda m: m.update(description="TODO: say in one line what the stream shows"))
    (capture,) = load_corpus(corpus).captures
    fields = [f.invariant for f in lint_capture(capture) if "placeholder" in f.message]
    assert fields == ["description", "request.messages[0].content"]


def test_recorded_reads_must_add_up_to_the_stream(corpus: Path) -> None:
    from conformance.lint import lint_capture

    path = corpus / "openai-chat" / "openai" / "good.yaml"
    size = len(path.with_suffix(".sse").read_bytes())
    _edit(path, lambda m: m.update(timing={"reads": [[0.0, size - 10], [12.5, 10]]}))
    (capture,) = load_corpus(corpus).captures
    assert [f for f in lint_capture(capture) if f.invariant == "timing.reads"] == []
    _edit(path, lambda m: m.update(timing={"reads": [[0.0, size - 10]]}))
    (capture,) = load_corpus(corpus).captures
    [finding] = [f for f in lint_capture(capture) if f.invariant == "timing.reads"]
    assert f"{size - 10} bytes" in finding.message and str(size) in finding.message
