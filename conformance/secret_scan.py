"""Secrets in captures: find what looks like a credential or a personal address, and redact it.

`conformance validate` refuses a capture whose `.sse` or `.yaml` holds one (`scan_corpus`), and
`conformance record` and `conformance import` replace each with a marker, `[REDACTED:<kind>]`,
before they write anything (`redact_text`, `redact_bytes`). A marker is never a finding.

The patterns are anchored on what providers document as their key formats, and each key pattern
refuses to start or end inside a longer run of base64 or id characters, so thinking signatures,
`toolu_…`/`call_…` tool ids and `chatcmpl-…`/`msg_…` ids do not match. What they cannot see: a
secret split across several stream events (a model echoing a key token by token), one written with
JSON escapes (`\\u0040`), or an account id without a recognisable prefix (Anthropic's organization
ids are plain UUIDs): for the response headers that carry those, `conformance.drafts.kept_headers`
(for both `conformance record` and `conformance import`) keeps a marker or leaves the header out.

A value known to be secret (the key that was sent) is redacted as a whole word wherever it
appears, but only when it is long enough to be one (`redactable`): a local server's dummy key
`ollama` is also a provider's name, and redacting it would mangle the capture.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AUTH_SCHEME",
    "MARKER",
    "MIN_LITERAL_LENGTH",
    "PATTERNS",
    "Finding",
    "Redaction",
    "SecretPattern",
    "marker",
    "redact_bytes",
    "redactable",
    "redact_text",
    "scan_corpus",
    "scan_file",
    "scan_text",
]

MARKER = "[REDACTED"
"""Every redaction marker starts with this; `[REDACTED]` and `[REDACTED:<kind>]` both pass the scan."""


def marker(kind: str) -> str:
    return f"{MARKER}:{kind}]"


@dataclass(frozen=True, slots=True)
class SecretPattern:
    kind: str
    """Stable name, used in the marker: `[REDACTED:<kind>]`."""
    description: str
    regex: re.Pattern[str]
    """Matches the secret; when it has a `secret` group, only that group is the secret (the
    header name or the `Bearer` scheme before it is kept)."""
    min_length: int = 0
    """A `secret` group whose first word (markers and an auth scheme left out) is shorter than this
    is not a finding, nor is one with no digit shorter than 24: `x-api-key: the key` and
    `Authorization: header` in prose are not credentials."""


# Characters that continue a key, an id or a base64 run: a key pattern must not start or end next
# to one, or it would match inside a thinking signature.
_EDGE = r"A-Za-z0-9_+/-"


def _key(body: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![{_EDGE}]){body}(?![{_EDGE}])", re.ASCII)


# In priority order: where two patterns match overlapping text, the earlier one names it.
PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "anthropic-key",
        "an Anthropic API key (sk-ant-…)",
        # https://docs.claude.com/en/api/overview (keys look like sk-ant-api03-…)
        _key(r"sk-ant-[A-Za-z0-9_-]{20,}"),
    ),
    SecretPattern(
        "openrouter-key",
        "an OpenRouter API key (sk-or-v1-…)",
        _key(r"sk-or-v1-[A-Za-z0-9_-]{20,}"),
    ),
    SecretPattern(
        "openai-key",
        "an OpenAI API key (sk-…, sk-proj-…, sk-svcacct-…)",
        # https://platform.openai.com/docs/api-reference/authentication; project and service-account
        # keys carry a prefix, legacy keys are sk- and 48 characters.
        _key(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ),
    SecretPattern(
        "google-key",
        "a Google API key (AIza…, 39 characters)",
        _key(r"AIza[0-9A-Za-z_-]{35}"),
    ),
    SecretPattern(
        "groq-key",
        "a Groq API key (gsk_…)",
        # https://console.groq.com/docs/quickstart: gsk_ and 52 letters and digits.
        _key(r"gsk_[A-Za-z0-9]{48,}"),
    ),
    SecretPattern(
        "xai-key",
        "an xAI API key (xai-…)",
        # https://docs.x.ai/docs/overview: xai- and 80 letters and digits.
        _key(r"xai-[A-Za-z0-9]{70,}"),
    ),
    SecretPattern(
        "perplexity-key",
        "a Perplexity API key (pplx-…)",
        # https://docs.perplexity.ai/guides/getting-started: pplx- and 48 letters and digits.
        _key(r"pplx-[A-Za-z0-9]{40,}"),
    ),
    SecretPattern(
        "huggingface-token",
        "a Hugging Face access token (hf_…)",
        # https://huggingface.co/docs/hub/security-tokens: hf_ and 34 letters.
        _key(r"hf_[A-Za-z0-9]{30,}"),
    ),
    SecretPattern(
        "aws-access-key",
        "an AWS access key id (AKIA…/ASIA…)",
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
        _key(r"(?:AKIA|ASIA)[A-Z0-9]{16}"),
    ),
    SecretPattern(
        "organization-id",
        "an OpenAI organization id (org-…)",
        _key(r"org-[A-Za-z0-9]{24}"),
    ),
    SecretPattern(
        "bearer-token",
        "a bearer token (Bearer …)",
        # A token has a digit: "bearer authentication" in prose is not one.
        re.compile(
            r"(?<![A-Za-z0-9])(?:Bearer|bearer|BEARER)[ \t]+(?P<secret>(?=[^ \t\r\n\"',]*[0-9])[A-Za-z0-9._~+/=-]{8,})",
            re.ASCII,
        ),
    ),
    SecretPattern(
        "credential-header",
        "an Authorization, x-api-key, api-key or cookie header value",
        re.compile(
            r"(?<![A-Za-z0-9_-])(?:proxy-authorization|authorization|x-api-key|api-key|api_key|x-goog-api-key|cookie|set-cookie)"
            r"[\"']?[ \t]*[:=][ \t]*[\"']?(?P<secret>[^\r\n\"'}]+)",
            re.ASCII | re.IGNORECASE,
        ),
        min_length=8,
    ),
    SecretPattern(
        "email",
        "an email address",
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![A-Za-z0-9-])",
            re.ASCII,
        ),
    ),
)

# RFC 2606 and RFC 6761 reserve these for examples: an address there belongs to nobody.
_RESERVED_DOMAINS = re.compile(r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost)$", re.IGNORECASE)
# An address whose "top-level domain" is a file extension is a file name (`image@2x.png`,
# `font@v1.woff`). The extensions that are also country codes (.py is Paraguay's, .sh Saint
# Helena's, .rs Serbia's, .md Moldova's) are left out only after a single label (`mod@v2.py`), since
# those countries' addresses have two (`ana@empresa.com.py`).
_FILE_EXTENSIONS = frozenset(
    "png jpg jpeg gif svg webp avif bmp ico tif tiff heic woff woff2 ttf otf eot js mjs cjs jsx ts tsx "
    "css scss less map json yaml yml toml xml html htm txt csv pdf zip gz tgz tar wasm lock ini cfg".split()
)
_COUNTRY_EXTENSIONS = frozenset({"py", "sh", "rs", "md"})
_MARKERS = re.compile(r"\[REDACTED[^\]]*\]")
AUTH_SCHEME = re.compile(r"^\s*(?:Bearer|Basic|Token)\b", re.IGNORECASE)
"""The auth scheme before a credential (`Bearer …`): not part of the secret."""
MIN_LITERAL_LENGTH = 16
"""A value known to be secret this long or longer is redacted wherever it stands as a word."""


@dataclass(frozen=True, slots=True)
class Redaction:
    """One secret in a text: `start`/`end` are offsets into the original (characters, or bytes for
    `redact_bytes`)."""

    kind: str
    description: str
    start: int
    end: int
    line: int
    """1-based line of `start`; CRLF, LF and a lone CR each end a line, as in an event stream."""

    @property
    def replacement(self) -> str:
        return marker(self.kind)


@dataclass(frozen=True, slots=True)
class Finding:
    path: Path
    line: int
    kind: str
    description: str
    excerpt: str
    """The first characters of the match, enough to find it, never the whole secret."""

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: looks like {self.description} ({self.excerpt}); remove it or replace it "
            f"with {marker(self.kind)} (conformance record and conformance import redact for you)"
        )


def _not_an_address(match: re.Match[str]) -> bool:
    """A reserved example domain, a file name (`image@2x.png`) or a git remote (`git@github.com:`)."""
    domain = match.group("domain")
    labels = domain.lower().split(".")
    if _RESERVED_DOMAINS.search(domain) or labels[-1] in _FILE_EXTENSIONS:
        return True
    if labels[-1] in _COUNTRY_EXTENSIONS and len(labels) == 2:
        return True
    return match.group().split("@", 1)[0] == "git"


def _span(pattern: SecretPattern, match: re.Match[str]) -> tuple[int, int] | None:
    """Where the secret of `match` is, or None when the match is not one."""
    if pattern.kind == "email" and _not_an_address(match):
        return None
    if "secret" not in pattern.regex.groupindex:
        return match.span()
    value = match.group("secret")
    if value.startswith(MARKER):
        return None
    rest = AUTH_SCHEME.sub("", _MARKERS.sub("", value)).strip()
    word = re.split(r"[\s;,]", rest, maxsplit=1)[0]
    if len(word) < max(pattern.min_length, 1):
        return None
    if pattern.min_length and len(word) < 24 and not any(c.isdigit() for c in word):
        return None
    # A trailing space or comma belongs to the text around the value.
    start, end = match.span("secret")
    return start, start + len(value.rstrip(" \t,;"))


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


def _find(text: str) -> list[Redaction]:
    accepted: list[Redaction] = []
    starts = _line_starts(text)
    for pattern in PATTERNS:
        for match in pattern.regex.finditer(text):
            span = _span(pattern, match)
            if span is None or any(span[0] < r.end and r.start < span[1] for r in accepted):
                continue
            line = _bisect(starts, span[0])
            accepted.append(Redaction(pattern.kind, pattern.description, span[0], span[1], line))
    return sorted(accepted, key=lambda r: r.start)


def _bisect(starts: list[int], offset: int) -> int:
    low, high = 0, len(starts)
    while low + 1 < high:
        middle = (low + high) // 2
        if starts[middle] <= offset:
            low = middle
        else:
            high = middle
    return low + 1


def redactable(value: str) -> bool:
    """Whether a value known to be secret is redacted where it appears: when it is long enough to be
    a real secret (`MIN_LITERAL_LENGTH`) or has a key's shape. A shorter one (a local server's
    dummy key such as `ollama`) is also an ordinary word, and redacting it would mangle the text."""
    return len(value.strip()) >= MIN_LITERAL_LENGTH or any(
        p.regex.fullmatch(value) for p in PATTERNS if "secret" not in p.regex.groupindex and p.kind != "email"
    )


# A literal is redacted only as a whole word: never the end of `fp_ollama` or a part of a longer id.
_WORD = "A-Za-z0-9_"


def _literal_redactions(text: str, literals: Iterable[tuple[str, str]]) -> list[Redaction]:
    """Exact values known to be secret (the key that was sent), wherever they stand as a word."""
    starts = _line_starts(text)
    found = []
    for kind, value in literals:
        if not redactable(value):
            continue
        for match in re.finditer(rf"(?<![{_WORD}]){re.escape(value)}(?![{_WORD}])", text):
            found.append(
                Redaction(kind, f"the {kind} that was sent", match.start(), match.end(), _bisect(starts, match.start()))
            )
    return found


def _without_overlaps(found: list[Redaction]) -> list[Redaction]:
    """One redaction per run of overlapping ones, covering all of them: a sweep over the list sorted
    by start, keeping the running end of the last kept one; the longest names the run."""
    kept: list[Redaction] = []
    for r in sorted(found, key=lambda r: (r.start, r.start - r.end)):
        last = kept[-1] if kept else None
        if last is None or r.start >= last.end:
            kept.append(r)
            continue
        longer = r if r.end - r.start > last.end - last.start else last
        kept[-1] = Redaction(longer.kind, longer.description, last.start, max(last.end, r.end), last.line)
    return kept


def _apply(text: str, found: list[Redaction]) -> str:
    pieces, position = [], 0
    for redaction in found:
        pieces += [text[position : redaction.start], redaction.replacement]
        position = redaction.end
    return "".join(pieces) + text[position:]


def redact_text(text: str, literals: Iterable[tuple[str, str]] = ()) -> tuple[str, list[Redaction]]:
    """`text` with every secret replaced by its marker, and what was replaced. `literals` are
    `(kind, value)` pairs redacted wherever they stand as a word, before the patterns run, when they
    are `redactable`; overlapping redactions become one marker over all of them."""
    found = _literal_redactions(text, literals)
    # Listed first, a literal names a span a pattern also matches: the key that was sent.
    merged = _without_overlaps([*found, *_find(text)])
    return _apply(text, merged), merged


def redact_bytes(data: bytes, literals: Iterable[tuple[str, str]] = ()) -> tuple[bytes, list[Redaction]]:
    """`redact_text` on raw bytes, offsets in bytes: every pattern is ASCII, and Latin-1 maps each
    byte to one character and back, so bytes that are not UTF-8 survive untouched."""
    text, found = redact_text(data.decode("latin-1"), literals)
    return text.encode("latin-1"), found


def scan_text(text: str, path: Path) -> list[Finding]:
    return [Finding(path, r.line, r.kind, r.description, _excerpt(text[r.start : r.end])) for r in _find(text)]


def _excerpt(secret: str) -> str:
    # A quarter at most, and no more than a key's prefix: enough to find it, too little to use.
    return secret[: min(8, len(secret) // 4)] + "…"


def scan_file(path: Path) -> list[Finding]:
    """Latin-1 keeps the line numbers and the ASCII patterns right whatever the encoding."""
    return scan_text(path.read_bytes().decode("latin-1"), path)


def _capture_files(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.rglob("*") if p.suffix in (".sse", ".yaml") and p.is_file())


def scan_corpus(root: Path) -> list[Finding]:
    """Every finding in every `.sse` and `.yaml` below `root`, in path order."""
    return [finding for path in _capture_files(root) for finding in scan_file(path)]
