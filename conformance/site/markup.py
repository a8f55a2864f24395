"""HTML building blocks shared by the pages: escaping, links, the page shell, the bar and the legend.

Everything a report carries is untrusted (a captured stream can hold `<script>`), so every value
goes through `esc` or `linkify`, and a link is only ever made from an http(s) URL or a GitHub
`owner/repo#n` reference, never from a scheme the text chose.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from conformance.site.matrix import DISPLAY_ORDER

__all__ = ["MEANINGS", "bar", "esc", "gate_badge", "json_text", "legend", "linkify", "page", "prose", "short_link"]

MEANINGS = {
    "pass": "met",
    "non-strict": "off the documented format, but the clients we know read it the same way",
    "inherited": "the upstream's own stream already breaks it, and it was passed on unchanged",
    "fail": "introduced by the implementation, and it breaks a client",
    "errored": "crashed, hung or never reached the upstream",
    "skipped": "not applicable: a route not served, or a check that cannot run",
}
_LINK = re.compile(r"https?://[^\s<>\"'`]+|\b([A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+)#(\d+)\b")
_SHORT_LIMIT = 48
_CURRENT = ' aria-current="page"'
# Punctuation that ends a sentence rather than the URL it follows.
_URL_TAIL = ".,;:!?)]}"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _anchor(href: str, text: str) -> str:
    return f'<a href="{esc(href)}" rel="noopener noreferrer">{esc(text)}</a>'


def linkify(text: str) -> str:
    """`text` escaped, with its http(s) URLs and `owner/repo#n` references as links."""
    parts: list[str] = []
    position = 0
    for match in _LINK.finditer(text):
        found = match.group(0)
        if match.group(1):
            href = f"https://github.com/{match.group(1)}/issues/{match.group(2)}"
        else:
            found = found.rstrip(_URL_TAIL)
            # A closing parenthesis belongs to the URL only when the URL opened one (Wikipedia-style).
            while found.endswith(")") and found.count("(") < found.count(")"):
                found = found[:-1]
            href = found
        parts.append(esc(text[position : match.start()]))
        parts.append(_anchor(href, found))
        position = match.start() + len(found)
    parts.append(esc(text[position:]))
    return "".join(parts)


def prose(text: str) -> str:
    """`text` as `linkify` makes it, with `backticked` spans as code, as the suite writes its messages."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: nothing to pair it with, keep the text as it is
        return linkify(text)
    return "".join(
        linkify(part) if number % 2 == 0 else f"<code>{esc(part)}</code>" for number, part in enumerate(parts)
    )


def _short(url: str) -> str:
    """A URL as short link text: `owner/repo#n` for a GitHub issue or pull request, `owner/repo: file`
    for a file on GitHub, else the host and path."""
    host, _, path = url.split("://", 1)[1].partition("/")
    parts = [part for part in path.split("#", 1)[0].split("/") if part]
    if host == "github.com" and len(parts) >= 2:
        repo = f"{parts[0]}/{parts[1]}"
        if len(parts) >= 4 and parts[2] in ("issues", "pull", "discussions") and parts[3].isdigit():
            return f"{repo}#{parts[3]}"
        return f"{repo}: {parts[-1]}" if len(parts) > 2 else repo
    text = f"{host}/{path}".rstrip("/")
    return text if len(text) <= _SHORT_LIMIT else text[: _SHORT_LIMIT - 1] + "…"


def short_link(source: str) -> str:
    """An evidence entry (`URL — what it shows`) as one short link, the whole entry as its tooltip;
    an entry without a URL stays text."""
    match = _LINK.search(source)
    if match is None:
        return esc(source)
    if match.group(1):
        href = f"https://github.com/{match.group(1)}/issues/{match.group(2)}"
        text = match.group(0)
    else:
        href = match.group(0).rstrip(_URL_TAIL)
        text = _short(href)
    return f'<a href="{esc(href)}" title="{esc(source)}" rel="noopener noreferrer">{esc(text)}</a>'


def json_text(value: Any) -> str:
    """A report value as the page shows it: text as it is, anything else as indented JSON."""
    return value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False)


def gate_badge(gate: str, mode: str = "default") -> str:
    strict = " (strict)" if mode == "strict" else ""
    return f'<span class="gate gate-{esc(gate.lower())}">{esc(gate)}{strict}</span>'


def bar(counts: dict[str, int], total: int) -> str:
    """A stacked bar of the classes, as wide as each one's share, with the counts as its text
    for screen readers and as a tooltip on each part."""
    described = ", ".join(f"{counts[name]} {name}" for name in DISPLAY_ORDER if counts[name]) or "no items"
    parts = []
    for name in DISPLAY_ORDER:
        if counts[name] and total:
            width = f"{100 * counts[name] / total:.2f}".rstrip("0").rstrip(".")
            parts.append(f'<span class="seg c-{name}" style="width:{width}%" title="{counts[name]} {name}"></span>')
    return f'<div class="bar" role="img" aria-label="{esc(described)}">{"".join(parts)}</div>'


def legend() -> str:
    entries = "".join(
        f'<li><span class="swatch c-{name}" aria-hidden="true"></span><b>{name}</b> '
        f'<span class="meaning">{esc(MEANINGS[name])}</span></li>'
        for name in DISPLAY_ORDER
    )
    return f'<ul class="legend" aria-label="Verdict classes">{entries}</ul>'


def page(title: str, body: str, *, root: str, current: str) -> str:
    """A whole page: `root` is the way back to the site's top folder (`` or `../`), `current` the
    navigation entry to mark."""
    nav = "".join(
        f'<a href="{root}{href}"{_CURRENT if key == current else ""}>{text}</a>'
        for key, href, text in (("matrix", "index.html", "Matrix"), ("coverage", "coverage.html", "Coverage"))
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # Defence in depth for the captured text on the pages: no script runs and nothing outside the
        # site loads, even if a value ever escaped unescaped. Style attributes stay allowed: they size
        # the bars.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src 'self'; style-src 'self' 'unsafe-inline'; style-src-elem 'self'; style-src-attr 'unsafe-inline'\">\n"
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{root}assets/style.css">\n'
        f'<link rel="icon" href="{root}assets/favicon.svg" type="image/svg+xml">\n'
        "</head>\n<body>\n"
        f'<header class="top"><a class="brand" href="{root}index.html">LLM stream conformance</a>'
        f"<nav>{nav}</nav></header>\n"
        f"<main>\n{body}\n</main>\n"
        "<footer>Built by <code>conformance site</code> from the committed reports. "
        "Verdicts as defined in the suite's INTERPRETING.md.</footer>\n"
        "</body>\n</html>\n"
    )
