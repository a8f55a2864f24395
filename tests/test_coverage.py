"""conformance.catalogue and conformance.coverage: the quirks and bug classes the corpus covers, and
the `conformance coverage` command that writes corpus/COVERAGE.md."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from conformance import coverage
from conformance.catalogue import BUG_CLASSES, QUIRKS, BugClass, Quirk
from conformance.cli import main
from conformance.client_request import unaskable
from conformance.corpus import default_corpus, load_corpus, read_features
from conformance.invariants import registry
from conformance.routes import route_id
from conformance.runner import routes_for
from conformance.targets.reference import Reference

CORPUS = default_corpus()


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def _private(root: Path, *ids: str) -> Path:
    """A private corpus holding the named captures of the shipped one, and no features.txt."""
    for capture_id in ids:
        for suffix in (".yaml", ".sse"):
            target = root / f"{capture_id}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(CORPUS / f"{capture_id}{suffix}", target)
    return root


# ------------------------------------------------------------------------- the catalogue


def test_catalogue_ids_are_unique() -> None:
    quirks = [quirk.id for quirk in QUIRKS]
    bugs = [bug.id for bug in BUG_CLASSES]
    assert len(set(quirks)) == len(quirks) and len(set(bugs)) == len(bugs)


def test_every_invariant_the_catalogue_names_exists() -> None:
    known = registry()
    assert [(bug.id, name) for bug in BUG_CLASSES for name in bug.invariants if name not in known] == []


def test_every_feature_the_catalogue_names_is_registered() -> None:
    """The catalogue and corpus/features.txt agree on the names: a rename in one is made in the other."""
    registered = read_features(CORPUS)
    named = {name for quirk in QUIRKS for name in quirk.features} | {
        name for bug in BUG_CLASSES for name in bug.triggers
    }
    assert sorted(named - registered) == []


def test_every_bug_class_cites_real_issues_and_is_triggered_or_says_why_not() -> None:
    for bug in BUG_CLASSES:
        assert bug.sources and all(source.startswith("https://github.com/") for source in bug.sources), bug.id
        if bug.triggerable:
            assert bug.invariants and (bug.triggers or bug.needs == "every-capture"), bug.id
        else:
            assert bug.reason and not bug.triggers, bug.id
    reasons = " ".join(bug.reason for bug in BUG_CLASSES if not bug.triggerable)
    assert "concurrency" in reasons and "request-side" in reasons


def test_every_quirk_names_its_providers() -> None:
    assert all(quirk.providers and quirk.description for quirk in QUIRKS)
    # The quirks seen in OpenAI-format streams, each with the provider that sends it.
    by_id = {quirk.id: quirk for quirk in QUIRKS}
    assert "Azure" in by_id["chunk-placeholder-first"].providers
    assert by_id["tool-no-index"].features == ("tool.no-index",)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"sources": ("github.com/x/y/issues/1",)}, "is not an https URL"),
        ({"sources": ()}, "symptom and sources must not be empty"),
        ({"invariants": ()}, "invariants: name those that catch it"),
        ({"triggers": ()}, "give trigger features"),
        ({"needs": "every-capture"}, "give trigger features, or none with needs='every-capture'"),
        ({"needs": "most"}, "needs: 'most' is not one of"),
        ({"reason": "why"}, "only a class with triggerable=False gives one"),
        ({"triggerable": False}, "gives a reason and no triggers"),
        ({"id": "two words"}, "must be a non-empty name without spaces"),
    ],
    ids=[
        "not-https",
        "no-sources",
        "no-invariants",
        "no-triggers",
        "every-capture-with-triggers",
        "unknown-needs",
        "reason-on-triggerable",
        "untriggerable-without-reason",
        "bad-id",
    ],
)
def test_a_malformed_bug_class_is_refused_naming_it(fields: dict, words: str) -> None:  # type: ignore[type-arg]
    values = {
        "id": "example",
        "symptom": "something breaks",
        "sources": ("https://github.com/o/r/issues/1",),
        "triggers": ("sse.crlf",),
        "invariants": ("semantic.text",),
        **fields,
    }
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        BugClass(**values)


def test_a_bug_class_is_triggered_by_any_all_or_every_capture() -> None:
    base = {"symptom": "s", "sources": ("https://github.com/o/r/issues/1",), "invariants": ("semantic.text",)}
    any_of = BugClass("a", triggers=("sse.crlf", "sse.cr-only"), **base)  # type: ignore[arg-type]
    all_of = BugClass("b", triggers=("sse.crlf", "sse.cr-only"), needs="all", **base)  # type: ignore[arg-type]
    every = BugClass("c", needs="every-capture", **base)  # type: ignore[arg-type]
    assert any_of.triggered_by(["sse.crlf"]) and not any_of.triggered_by(["sse.comments"])
    assert not all_of.triggered_by(["sse.crlf"]) and all_of.triggered_by(["sse.cr-only", "sse.crlf", "x"])
    assert every.triggered_by([])
    never = BugClass(
        "d", symptom="s", sources=("https://github.com/o/r/issues/1",), triggerable=False, reason="concurrency"
    )
    assert not never.triggered_by(["sse.crlf"])
    quirk = Quirk("q", "d", ("P",), ("sse.crlf", "sse.cr-only"))
    assert quirk.expressed_by(["sse.cr-only"]) and not quirk.expressed_by(["sse.comments"])


# ------------------------------------------------------------------------- rendering


def test_routes_are_those_the_plugin_runs_items_on() -> None:
    """Every route the plugin makes items for, less those whose client cannot ask for the stream
    (an Anthropic client and an n > 1 capture), where its items are skipped."""
    every_route = Reference()
    for capture in load_corpus(CORPUS).captures:
        served, lacking = routes_for(capture, every_route)
        run = [route for route in served + lacking if not unaskable(capture.request, *route)]
        assert coverage.capture_routes(capture) == sorted(run)
    n3 = next(c for c in load_corpus(CORPUS).captures if c.id == "openai-chat/openai/n-3-choices")
    assert coverage.capture_routes(n3) == [("openai-chat", "openai-chat")]


def test_render_lists_features_captures_routes_quirks_and_bug_classes(tmp_path: Path) -> None:
    corpus = load_corpus(_private(tmp_path, "openai-chat/openai/text-crlf", "anthropic-messages/anthropic/tool-use"))
    text = coverage.render(corpus)
    lines = text.splitlines()
    assert lines[0] == "# Corpus coverage"
    # Every registered feature has a row; an unused one says so.
    for name in corpus.features:
        assert any(line.startswith(f"| `{name}` | ") for line in lines), name
    crlf = next(line for line in lines if line.startswith("| `sse.crlf` | "))
    assert "`openai-chat/openai/text-crlf`" in crlf
    assert "`openai-chat-to-anthropic-messages`, `openai-chat-to-openai-chat`" in crlf
    comments = next(line for line in lines if line.startswith("| `sse.comments` | "))
    assert "**none**" in comments
    capture = next(line for line in lines if line.startswith("| `anthropic-messages/anthropic/tool-use` | "))
    assert "`anthropic-messages-to-anthropic-messages`, `anthropic-messages-to-openai-chat`" in capture
    assert "`anthropic.tool-use`" in capture
    crlf_class = next(line for line in lines if line.startswith("| `crlf-framing` | "))
    assert "`openai-chat/openai/text-crlf`" in crlf_class and "`semantic.text`" in crlf_class
    assert "https://github.com/hey-api/hey-api/issues/3054" in crlf_class
    done = next(line for line in lines if line.startswith("| `done-in-anthropic-stream` | "))
    assert "| every capture | every capture |" in done
    shared = next(line for line in lines if line.startswith("| `shared-stream-state` | "))
    assert "concurrency" in shared and "`transport.concurrent-isolation`" in shared
    index = lines.index("## Bug classes no upstream stream triggers")
    assert lines.index(shared) > index > lines.index(crlf_class)
    assert "- 2 captures from 2 providers in 2 protocols;" in text


def test_render_marks_a_catalogue_feature_that_is_not_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coverage, "QUIRKS", (Quirk("q", "does x", ("P",), ("sse.crlf", "sse.telepathy")),))
    text = coverage.render(load_corpus(_private(tmp_path, "openai-chat/openai/text-crlf")))
    row = next(line for line in text.splitlines() if line.startswith("| `q` | "))
    assert "`sse.crlf`, `sse.telepathy` (not registered)" in row and "`openai-chat/openai/text-crlf`" in row


def test_render_is_deterministic_and_independent_of_where_the_corpus_lies(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "elsewhere")
    shipped = coverage.render(load_corpus(CORPUS))
    assert shipped == coverage.render(load_corpus(CORPUS))
    assert coverage.render(load_corpus(tmp_path / "elsewhere")) == shipped
    assert str(CORPUS) not in shipped and str(tmp_path) not in shipped


def test_a_private_registry_s_features_are_covered_too(tmp_path: Path) -> None:
    root = _private(tmp_path, "openai-chat/openai/text-lf")
    (root / "features.txt").write_text("acme.frames  # our gateway's telemetry frames\n")
    text = coverage.render(load_corpus(root))
    assert "| `acme.frames` | our gateway's telemetry frames | **none** | **none** |" in text


def test_the_shipped_coverage_is_up_to_date() -> None:
    """corpus/COVERAGE.md is what `conformance coverage` renders; regenerate it with
    `conformance coverage --output corpus/COVERAGE.md`."""
    assert coverage.stale(load_corpus(CORPUS)) is None


# ------------------------------------------------------------------------- the command


def test_coverage_prints_writes_and_checks(tmp_path: Path) -> None:
    root = _private(tmp_path / "corpus", "openai-chat/openai/text-lf")
    code, out = cli("coverage", str(root))
    assert code == 0 and out == coverage.render(load_corpus(root))
    code, out = cli("coverage", str(root), "--check")
    assert code == 1 and f"{root.resolve() / 'COVERAGE.md'}: is missing" in out
    code, out = cli("coverage", str(root), "--output", str(root / "COVERAGE.md"))
    assert code == 0 and (root / "COVERAGE.md").read_text() == coverage.render(load_corpus(root))
    assert cli("coverage", str(root), "--check") == (0, f"ok: {root.resolve() / 'COVERAGE.md'} is up to date\n")
    elsewhere = tmp_path / "docs" / "COVERAGE.md"
    assert cli("coverage", str(root), "--output", str(elsewhere))[0] == 0
    assert cli("coverage", str(root), "--check", "--output", str(elsewhere))[0] == 0


def test_a_stale_coverage_fails_check_and_validate_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    root = _private(tmp_path / "corpus", "openai-chat/openai/text-lf", "openai-chat/openai/text-crlf")
    assert cli("coverage", str(root), "--output", str(root / "COVERAGE.md"))[0] == 0
    assert cli("validate", str(root))[0] == 0
    for suffix in (".yaml", ".sse"):
        (root / f"openai-chat/openai/text-crlf{suffix}").unlink()
    path = root.resolve() / "COVERAGE.md"
    expected = (
        f"error: {path}: is stale: it no longer matches the corpus and the catalogue; regenerate it with: "
        f"conformance coverage {root.resolve()} --output {path}"
    )
    code, out = cli("coverage", str(root), "--check")
    assert (code, out.strip()) == (1, expected)
    code, out = cli("validate", str(root))
    assert code == 1 and expected in out.splitlines()


def test_validate_does_not_ask_a_private_corpus_for_a_coverage_file(tmp_path: Path) -> None:
    root = _private(tmp_path / "corpus", "openai-chat/openai/text-lf")
    code, out = cli("validate", str(root))
    assert code == 0 and out.startswith("ok: 1 capture(s)")


def test_coverage_of_a_missing_folder_exits_2(tmp_path: Path) -> None:
    code, out = cli("coverage", str(tmp_path / "nothing"))
    assert code == 2 and "is not a folder of captures" in out


def test_route_ids_in_the_coverage_are_the_report_s() -> None:
    capture = load_corpus(CORPUS).captures[0]
    ids = [route_id(route) for route in coverage.capture_routes(capture)]
    assert all(f"`{name}`" in coverage.render(load_corpus(CORPUS)) for name in ids)
