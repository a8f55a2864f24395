"""conformance.secret_scan, and the secret scan of `conformance validate`.

Key-shaped strings are built at run time from pieces, so that no file of this repository holds one
for a secret scanner (GitHub's push protection, say) to flag.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.corpus import default_corpus
from conformance.secret_scan import marker, redact_bytes, redact_text, redactable, scan_corpus, scan_text

ANTHROPIC_KEY = "sk-ant-" + "api03-" + "Zx9" * 30 + "-AA"
PROJECT_KEY = "sk-" + "proj-" + "Ab1_" * 12
POSITIVES = {
    "anthropic-key": ANTHROPIC_KEY,
    "openrouter-key": "sk-" + "or-v1-" + "0f" * 32,
    "openai-key": PROJECT_KEY,
    "google-key": "AI" + "za" + "Sy" + "D" * 33,
    "aws-access-key": "AK" + "IA" + "Q3EGXMPL7RZ2NB4W",
    "organization-id": "org-" + "a1B2c3D4e5F6g7H8i9J0k1L2",
    "bearer-token": "Authorization header was Bearer " + "tok_" + "9a8b7c6d5e4f",
    "groq-key": "GROQ_API_KEY=" + "gsk_" + "Gr0q" * 13,
    "xai-key": "api key xai-" + "Q7x" * 27,
    "perplexity-key": "pplx-" + "P3px" * 12,
    "huggingface-token": "token hf_" + "Hf" * 17,
    "credential-header": "x-api-key: " + "hunter2-" + "hunter2",
    "api_key": '{"api_key": "' + "hunter2-" + 'hunter2"}',
    "cookie": "Cookie: session=" + "abc123def456; theme=dark",
    "email": "write to ada.lovelace@" + "analytical-engines.co.uk today",
}
# Ids and text from real streams that look a little like secrets, and must not be flagged.
NEGATIVES = [
    "toolu_01A09q90qw90lq917835lq9",
    "call_Jk8ZrYw1nA0eQ3vL5pT2sXu",
    "chatcmpl-gNSWPH8prVqsUeQCtDR3zzX6hqo35",
    "msg_011X8qSAk398bFnq9Ap3j49F",
    "req_011CSample0curl0transcript01",
    "a risk-free task-oriented disk-based plan",
    "bearer authentication, as RFC 6750 describes it",
    "Send the key in the Authorization: header",
    "Anthropic authenticates with x-api-key: the key from the console",
    "cookie: consent accepted",
    "mail alice@example.com or bob@mail.example.org",
    # File names and git remotes look like addresses.
    "git clone git@github.com:org/repo.git",
    "push to git@gitlab.com",
    "src: url(fonts/inter@v1.woff) and url(fonts/inter@v1.woff2)",
    "![logo](img/logo@2x.png) ![icon](icon@3x.webp) chunk@1.2.js styles@main.css",
    "data@v2.json and module@v2.py",
    # Ids that start like the newer keys: a key pattern wants a key's length and alphabet.
    "xai-streams-tool-call",
    "gsk_short and hf_hub_download and pplx-api",
    marker("anthropic-key"),
    "x-api-key: " + marker("api-key"),
    "Authorization: Bearer " + marker("openai-key"),
]


@pytest.mark.parametrize(("kind", "text"), POSITIVES.items(), ids=list(POSITIVES))
def test_each_pattern_finds_its_secret(kind: str, text: str) -> None:
    kind = {"cookie": "credential-header", "api_key": "credential-header"}.get(kind, kind)
    findings = scan_text(text, Path("x.sse"))
    assert [f.kind for f in findings] == [kind]
    assert str(findings[0]).startswith("x.sse:1: looks like ")
    redacted, found = redact_text(text)
    assert marker(kind) in redacted and [r.kind for r in found] == [kind]
    assert scan_text(redacted, Path("x.sse")) == []


@pytest.mark.parametrize("text", NEGATIVES)
def test_ids_prose_reserved_addresses_and_markers_pass(text: str) -> None:
    assert scan_text(text, Path("x.sse")) == []


def test_a_thinking_signature_is_not_a_key() -> None:
    # A real base64 run of the shipped corpus, with key prefixes spliced into its middle: a key
    # pattern may not start or end inside a base64 run.
    yaml_text = (default_corpus() / "anthropic-messages" / "anthropic" / "thinking-signature.yaml").read_text()
    signature = next(line.strip()[2:] for line in yaml_text.splitlines() if line.strip().startswith("- EkS"))
    spliced = signature[:40] + "sk-ant-" + signature[40:80] + "AKIA" + signature[80:]
    assert scan_text(signature, Path("s")) == scan_text(spliced, Path("s")) == []


def test_the_finding_names_the_line_and_hides_the_secret() -> None:
    text = 'data: {"a":1}\r\n\r\ndata: {"text":"' + PROJECT_KEY + '"}\r\n\r\n'
    (finding,) = scan_text(text, Path("c.sse"))
    assert finding.line == 3
    assert PROJECT_KEY not in str(finding)
    assert "c.sse:3: looks like an OpenAI API key" in str(finding)


def test_the_most_specific_pattern_names_an_overlap() -> None:
    text = "Authorization: Bearer " + ANTHROPIC_KEY
    assert [f.kind for f in scan_text(text, Path("x"))] == ["anthropic-key"]
    assert redact_text(text)[0] == "Authorization: Bearer " + marker("anthropic-key")


def test_literals_are_redacted_wherever_they_are() -> None:
    text, found = redact_text("echo: plainsecretvalue!", [("api-key", "plainsecretvalue")])
    assert text == "echo: " + marker("api-key") + "!"
    assert [r.kind for r in found] == ["api-key"]


@pytest.mark.parametrize(
    "text",
    [
        "ana.perez@empresa.com.py",  # .py is Paraguay's, and its addresses have two labels
        "ops@analytical-engines.io",
        "digit@mail.org",  # not a git remote: the local part is not `git`
        "git.user@company.co.uk",
        "images@cdn-team.net",
    ],
)
def test_real_addresses_are_still_caught(text: str) -> None:
    assert [f.kind for f in scan_text(text, Path("x"))] == ["email"]


def test_a_short_sent_key_is_left_alone_and_a_long_one_is_redacted_only_as_a_word() -> None:
    # Ollama's dummy key is also the provider's name and the end of its system_fingerprint.
    text = "provider: ollama\nsystem_fingerprint: fp_ollama\nmodel: ollama/llama3\n"
    assert not redactable("ollama")
    assert redact_text(text, [("api-key", "ollama")]) == (text, [])
    key = "plainsecretvalue"
    assert redactable(key) and redactable(PROJECT_KEY[:20])
    inside = f"noplainsecretvalues, x{key}, {key}_2"
    assert redact_text(inside, [("api-key", key)]) == (inside, [])
    assert redact_text(f"({key}) {key}-2", [("api-key", key)])[0] == f"({marker('api-key')}) {marker('api-key')}-2"


def test_overlapping_redactions_become_one_marker_over_all_of_them() -> None:
    # Three values known to be secret, as a key and the header values that carry it might be: the
    # second inside the first, the third starting inside the first and ending after it.
    first, second, third = "a" * 16 + "." + "b" * 16 + "." + "c" * 16, "b" * 16, "c" * 16 + "." + "d" * 16
    text = f"P {first}.{'d' * 16} Q"
    literals = [("api-key", first), ("cookie", second), ("api-key", third)]
    redacted, found = redact_text(text, literals)
    assert redacted == f"P {marker('api-key')} Q"
    assert [(r.start, r.end) for r in found] == [(2, len(text) - 2)]


def test_redact_bytes_keeps_bytes_that_are_not_utf8_and_counts_in_bytes() -> None:
    data = b"\xff\xfe caf\xc3\xa9 " + PROJECT_KEY.encode() + b" \x80"
    redacted, (hit,) = redact_bytes(data)
    assert redacted == b"\xff\xfe caf\xc3\xa9 " + marker("openai-key").encode() + b" \x80"
    assert data[hit.start : hit.end] == PROJECT_KEY.encode()


def test_the_shipped_corpus_has_no_secret() -> None:
    assert scan_corpus(default_corpus()) == []


def _copy(tmp_path: Path, capture: str) -> tuple[Path, Path]:
    """A corpus of one shipped capture (and the feature registry)."""
    corpus = tmp_path / "corpus"
    (corpus / Path(capture).parent).mkdir(parents=True)
    shutil.copy(default_corpus() / "features.txt", corpus)
    for suffix in (".sse", ".yaml"):
        shutil.copy(default_corpus() / (capture + suffix), corpus / (capture + suffix))
    return corpus, corpus / capture


def _validate(corpus: Path) -> tuple[int, str]:
    out = io.StringIO()
    return main(["validate", str(corpus)], out), out.getvalue()


def test_validate_refuses_a_key_in_the_stream_naming_file_and_line(tmp_path: Path) -> None:
    corpus, stem = _copy(tmp_path, "anthropic-messages/anthropic/text")
    sse = stem.with_suffix(".sse")
    lines = sse.read_bytes().split(b"\n")
    lines.insert(3, b": " + ANTHROPIC_KEY.encode())  # an SSE comment: ignored by parsers, but published
    sse.write_bytes(b"\n".join(lines))
    code, out = _validate(corpus)
    assert code == 1
    assert f"error: {sse.resolve()}:4: looks like an Anthropic API key" in out
    assert ANTHROPIC_KEY not in out


def test_validate_refuses_a_key_in_the_metadata_naming_file_and_line(tmp_path: Path) -> None:
    corpus, stem = _copy(tmp_path, "openai-chat/openai/text-lf")
    meta = stem.with_suffix(".yaml")
    text = meta.read_text()
    meta.write_text(text + f"references: [{PROJECT_KEY}]\n")
    code, out = _validate(corpus)
    assert code == 1
    assert f"error: {meta.resolve()}:{len(text.splitlines()) + 1}: looks like an OpenAI API key" in out


def test_validate_passes_redaction_markers(tmp_path: Path) -> None:
    corpus, stem = _copy(tmp_path, "openai-chat/openai/text-lf")
    meta = stem.with_suffix(".yaml")
    meta.write_text(meta.read_text() + f"references: ['{marker('openai-key')}', '[REDACTED]']\n")
    code, out = _validate(corpus)
    assert (code, out.splitlines()[-1]) == (0, f"ok: 1 capture(s) under {corpus.resolve()} are valid")
