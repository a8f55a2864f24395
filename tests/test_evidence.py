"""Every invariant cites sources a user can open, and says how to meet it.

The design notes the suite was written from are not shipped, so neither the evidence nor the
documentation may point into them: no `§n` sections, no bare `#n` issue numbers, no internal
labels such as O4 or A7, and no mention of the notes' file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.invariants import Invariant, registry

ROOT = Path(__file__).resolve().parent.parent
URL = re.compile(r"https://[^\s)\]>\"']+")
BARE_ISSUE = re.compile(r"(?:^|[\s(,;])#\d+")
INTERNAL_LABEL = re.compile(r"\b[OAXRS][0-9]+\b")

INVARIANTS = registry()


@pytest.mark.parametrize("inv", INVARIANTS.values(), ids=list(INVARIANTS))
def test_evidence_is_a_list_of_sources_with_urls(inv: Invariant) -> None:
    assert isinstance(inv.evidence, tuple) and inv.evidence, "evidence must be a non-empty list"
    for source in inv.evidence:
        assert isinstance(source, str) and URL.search(source), f"no https:// URL in {source!r}"
        assert "§" not in source, source
        assert "WIRE-FACTS" not in source, source
        assert not BARE_ISSUE.search(source), f"bare issue number in {source!r}; cite the issue's URL"
        assert not INTERNAL_LABEL.search(source), f"internal label in {source!r}"


@pytest.mark.parametrize("inv", INVARIANTS.values(), ids=list(INVARIANTS))
def test_hint_is_a_sentence(inv: Invariant) -> None:
    hint = inv.hint.strip()
    assert hint, "the hint must say what a proxy does to meet the requirement"
    assert hint[0].isupper() and hint.endswith("."), f"not a sentence: {hint!r}"


def _shipped_texts() -> list[Path]:
    files = sorted(
        path for path in (ROOT / "conformance").rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )
    return files + [ROOT / "README.md", ROOT / "INTERPRETING.md", ROOT / "corpus" / "README.md"]


@pytest.mark.parametrize("path", _shipped_texts(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_file_points_into_the_design_notes(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    assert "WIRE-FACTS" not in text
    assert "../shared" not in text


def test_the_checks_above_catch_what_they_are_for() -> None:
    assert BARE_ISSUE.search("BerriAI/litellm #7942") and BARE_ISSUE.search("(#28)")
    assert not BARE_ISSUE.search("https://github.com/BerriAI/litellm/issues/7942")
    assert not BARE_ISSUE.search("https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage")
    assert INTERNAL_LABEL.search("O4; #11") and INTERNAL_LABEL.search("X1 (oracles)")
    assert not INTERNAL_LABEL.search("gpt-4o-2024-08-06, U+FFFD, RFC 8259, http2")
