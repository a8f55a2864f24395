"""The pages, rendered from the site's data (what build.py also writes to data/*.json).

- `index_page`: the matrix, one row per report with its counts, gate and a stacked bar, then every
  capture × route × implementation as one grid whose failing cells open the failing item;
- `implementation_page`: one report's facts, its grid, and each failing item with its output split into
  SSE events, the offending ones highlighted, expected against actual, the invariant's requirement,
  impact and evidence, and the known-failure reason;
- `coverage_page`: features × routes × captures of the corpus.
"""

from __future__ import annotations

from typing import Any

from conformance.site.failures import CR
from conformance.site.markup import MEANINGS, bar, esc, gate_badge, json_text, legend, page, prose, short_link
from conformance.site.matrix import DISPLAY_ORDER

__all__ = ["coverage_page", "implementation_page", "index_page"]

_GLYPHS = {"fail": "✕", "errored": "!"}
_VALUE_LIMIT = 4000
_VIOLATION_LIMIT = 12
_GATES = {
    "default": "under the default gate, which fails on new fail and errored items",
    "strict": "under the strict gate, which also fails on new non-strict and inherited items",
}
_COUNT_HEADS = [*DISPLAY_ORDER, "known failures", "total"]


def _route(route: str, *, stacked: bool = False) -> str:
    """`openai-chat-to-anthropic-messages` as `openai-chat → anthropic-messages` (upstream → client),
    `stacked` on two lines so that narrow columns stay as wide as one another."""
    upstream, sep, client = route.partition("-to-")
    if not sep:
        return esc(route)
    return f'<span class="proto">{esc(upstream)}</span> →{"<br>" if stacked else " "}<span class="proto">{esc(client)}</span>'


def _route_text(route: str) -> str:
    return route.replace("-to-", " → ", 1)


def _name(row: dict[str, Any], *, link: str | None = None) -> str:
    inner = f'<span class="target">{esc(row["target"])}</span> <span class="version">{esc(row["version"])}</span>'
    if link is not None:
        inner = f'<a class="impl-link" href="{esc(link)}">{inner}</a>'
    if row["configuration"]:
        inner += f' <span class="config" title="configuration">{esc(row["configuration"])}</span>'
    return inner


def _count_cells(row: dict[str, Any]) -> str:
    cells = [(name, row["counts"][name]) for name in DISPLAY_ORDER]
    cells += [("known_failures", row["known_failures"]), ("total", row["total"])]
    return "".join(
        f'<td class="num{"" if value else " zero"}" data-class="{name}">{value}</td>' for name, value in cells
    )


def _count_heads() -> str:
    heads = []
    for name in _COUNT_HEADS:
        swatch = f'<span class="swatch c-{name}" aria-hidden="true"></span>' if name in MEANINGS else ""
        heads.append(f'<th scope="col" class="num">{swatch}{name}</th>')
    return "".join(heads)


def _matrix_table(rows: list[dict[str, Any]]) -> str:
    body = []
    for number, row in enumerate(rows, 1):
        body.append(
            f'<tr id="row-{esc(row["slug"])}" data-slug="{esc(row["slug"])}">'
            f'<td class="num rank">{number}</td>'
            f'<th scope="row" class="impl">{_name(row, link=row["page"])}</th>'
            f"<td>{gate_badge(row['gate'], row['mode'])}</td>"
            f'<td class="bar-cell">{bar(row["counts"], row["total"])}</td>'
            f"{_count_cells(row)}</tr>"
        )
    return (
        '<div class="table-wrap"><table class="matrix">'
        "<caption>Items per verdict class, one row per implementation, version and configuration; fewest "
        "<b>fail</b> first</caption>"
        '<thead><tr><th scope="col" class="num">#</th><th scope="col">implementation</th><th scope="col">gate</th>'
        f'<th scope="col">verdicts</th>{_count_heads()}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _cell(cell: dict[str, Any] | None, who: str, route: str, href_prefix: str) -> str:
    if cell is None:
        return f'<td class="cell c-none" title="{esc(who)}{esc(_route_text(route))}: not run"></td>'
    grade = cell["class"]
    schedules = ", ".join(f"{name} {outcome}" for name, outcome in cell["schedules"].items())
    notes = (" · known failure" if cell["known"] else "") + (" · against the gate" if cell["against_gate"] else "")
    title = f"{who}{_route_text(route)}: {grade} ({schedules}){notes}"
    classes = (
        f"cell c-{grade}" + (" known" if cell["known"] else "") + (" against-gate" if cell["against_gate"] else "")
    )
    glyph = _GLYPHS.get(grade, "")
    label = f'<span class="sr">{esc(grade)}</span>'
    if "anchor" in cell:
        inner = (
            f'<a href="{esc(href_prefix)}#{esc(cell["anchor"])}" data-item="{esc(cell["item"])}" '
            f'title="{esc(title)}"><span aria-hidden="true">{glyph}</span>{label}</a>'
        )
        return f'<td class="{classes}">{inner}</td>'
    return f'<td class="{classes}" title="{esc(title)}"><span aria-hidden="true">{glyph}</span>{label}</td>'


def _groups(captures: list[str]) -> list[tuple[str, list[str]]]:
    """Captures by their first path segment (the upstream protocol, or `transport`), in order."""
    groups: dict[str, list[str]] = {}
    for capture in captures:
        groups.setdefault(capture.partition("/")[0], []).append(capture)
    return list(groups.items())


def _capture_head(capture: str) -> str:
    group, _, rest = capture.partition("/")
    return f'<th scope="row" class="capture" title="{esc(capture)}"><code>{esc(rest or group)}</code></th>'


def _grid(
    rows: list[dict[str, Any]], routes: list[str], captures: list[str], *, href: dict[str, str], single: bool
) -> str:
    """The capture × route grid of `rows`: one column per route, or with several implementations one
    narrow column per implementation under each route, numbered as the matrix numbers them."""
    if not captures:
        return "<p>No item ran.</p>"
    width = len(routes) * len(rows)
    if single:
        head = '<tr><th scope="col">capture</th>' + "".join(
            f'<th scope="col" class="route">{_route(route, stacked=True)}</th>' for route in routes
        )
        head += "</tr>"
    else:
        head = '<tr><th scope="col" rowspan="2">capture</th>' + "".join(
            f'<th scope="colgroup" colspan="{len(rows)}" class="route">{_route(route)}</th>' for route in routes
        )
        head += "</tr><tr>" + "".join(
            f'<th scope="col" class="impl-no" title="{esc(row["label"])}">{number}</th>'
            for _ in routes
            for number, row in enumerate(rows, 1)
        )
        head += "</tr>"
    body = []
    for group, members in _groups(captures):
        body.append(f'<tr class="group"><th colspan="{width + 1}" scope="rowgroup">{esc(group)}</th></tr>')
        for capture in members:
            cells = "".join(
                _cell(
                    row["grid"].get(capture, {}).get(route),
                    "" if single else f"{row['label']} · ",
                    route,
                    href[row["slug"]],
                )
                for route in routes
                for row in rows
            )
            body.append(f"<tr>{_capture_head(capture)}{cells}</tr>")
    kind = "grid-single" if single else "grid-multi"
    return (
        f'<div class="table-wrap"><table class="grid {kind}"><thead>{head}</thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _grid_legend() -> str:
    return (
        '<p class="grid-key">Each cell is the worst class over the schedules. '
        '<span class="cell-key c-fail">✕</span> fail and <span class="cell-key c-errored">!</span> errored '
        'open the failing item; <span class="cell-key c-fail known"></span> stripes mark a known failure, '
        '<span class="cell-key c-fail against-gate"></span> a thick outline an item against the gate (a new '
        "failure, or a known one that now passes); an empty cell did not run.</p>"
    )


def index_page(data: dict[str, Any]) -> str:
    rows = data["rows"]
    failing = sum(1 for row in rows if row["gate"] == "FAIL")
    lede = (
        f"{len(rows)} implementation{'' if len(rows) == 1 else 's'}, each run through a corpus of real provider "
        "streams replayed over HTTP, its output judged event by event. "
        + (
            f"<b>{failing}</b> fail{'s its' if failing == 1 else ' their'} gate."
            if failing
            else "Every one passes its gate."
        )
    )
    keys = "".join(
        f'<li><span class="impl-no">{number}</span> <a href="{esc(row["page"])}">{esc(row["label"])}</a></li>'
        for number, row in enumerate(rows, 1)
    )
    body = (
        "<h1>Streaming conformance matrix</h1>"
        f'<p class="lede">{lede} The gate fails on <b>fail</b> and <b>errored</b> items that are not known '
        "failures; a row opens its implementation's failing items.</p>"
        f"{legend()}{_matrix_table(rows)}"
        '<h2 id="grid">Captures × routes</h2>'
        "<p>Every capture on every route (upstream → client), one column per implementation, numbered as in "
        "the matrix:</p>"
        f'<ol class="impl-key">{keys}</ol>{_grid_legend()}'
        + _grid(rows, data["routes"], data["captures"], href={row["slug"]: row["page"] for row in rows}, single=False)
    )
    return page("Streaming conformance matrix", body, root="", current="matrix")


def _facts(row: dict[str, Any], impl: dict[str, Any]) -> str:
    facts = impl["facts"]
    routes = "".join(f"<li>{_route(route)}</li>" for route in facts.get("routes", []))
    notes = "".join(f"<li>{prose(note)}</li>" for note in facts.get("notes", []))
    exact = impl["exact_bytes"]
    entries = [
        ("target", f"<code>{esc(facts['target'])}</code>"),
        ("version", esc(facts["target_version"])),
        ("configuration", esc(facts["configuration"]) if facts.get("configuration") else "default"),
        ("suite version", esc(facts["suite_version"])),
        ("corpus", f"<code>{esc(facts['corpus'])}</code>, revision <code>{esc(facts['corpus_revision'])}</code>"),
        ("schedules", esc(", ".join(facts.get("schedules", [])))),
        ("gate", f"{gate_badge(row['gate'], row['mode'])} {_GATES.get(facts['mode'], esc(facts['mode']))}"),
        ("routes served", f'<ul class="plain">{routes}</ul>' if routes else "none"),
    ]
    if notes:
        entries.append(("notes", f'<ul class="plain">{notes}</ul>'))
    entries.append(
        (
            "output bytes",
            f"exact, from raw.json, for {exact} item{'' if exact == 1 else 's'}"
            if exact
            else "rebuilt from report.json's parsed events (raw.json, with the exact bytes, is not committed)",
        )
    )
    entries.append(("badge", f'<a href="../{esc(row["badge"])}"><code>{esc(row["badge"])}</code></a>'))
    return '<dl class="facts">' + "".join(f"<dt>{key}</dt><dd>{value}</dd>" for key, value in entries) + "</dl>"


def _value(value: Any) -> str:
    text = json_text(value)
    if len(text) > _VALUE_LIMIT:
        text = text[:_VALUE_LIMIT] + f"… ({len(text)} characters)"
    return f'<pre class="value">{esc(text)}</pre>'


def _event_link(anchor: str, event: int | None) -> str:
    if event is None:
        return '<span class="muted" title="the verdict is about the stream as a whole">stream</span>'
    return f'<a class="evlink" href="#{esc(anchor)}-ev-{event}">event {event}</a>'


def _invariant_id(name: str) -> str:
    return "inv-" + "".join(c if c.isalnum() else "-" for c in name)


def _sources(invariant: dict[str, Any]) -> str:
    """The invariant's evidence as short links (`BerriAI/litellm#30765`, `platform.openai.com/docs/…`);
    the sentences that go with them are in the invariants table at the end of the page."""
    links = [short_link(source) for source in invariant.get("evidence", [])]
    return f'<p class="sources-inline"><b>Evidence:</b> {" · ".join(links)}</p>' if links else ""


def _verdict(verdict: dict[str, Any], anchor: str, invariants: dict[str, Any]) -> str:
    """A failing verdict in full: requirement, impact, what each violation expected and found, where."""
    name = verdict["invariant"]
    grade = verdict["outcome"]
    invariant = invariants.get(name)
    violations = verdict.get("violations", [])
    rows = []
    for violation in violations[:_VIOLATION_LIMIT]:
        rows.append(
            f"<tr><td>{_event_link(anchor, violation['event'])}</td>"
            f"<td>{esc(violation['message'])}"
            + (f'<br><code class="path">{esc(violation["path"])}</code>' if violation["path"] else "")
            + f"</td><td>{_value(violation['expected'])}</td><td>{_value(violation['actual'])}</td></tr>"
        )
    more = len(violations) - _VIOLATION_LIMIT
    if more > 0:
        rows.append(f'<tr><td colspan="4" class="muted">and {more} more violation{"" if more == 1 else "s"}</td></tr>')
    table = (
        '<table class="violations"><thead><tr><th scope="col">where</th><th scope="col">what</th>'
        f'<th scope="col">expected</th><th scope="col">actual</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        if rows
        else ""
    )
    requirement = f'<p class="requirement">{prose(invariant["requirement"])}</p>' if invariant else ""
    # The reason is the first violation's message, unless it names an upstream quirk (inherited).
    said = {violation["message"] for violation in violations}
    reason = verdict.get("reason", "")
    reason = f'<p class="reason">{prose(reason)}</p>' if reason and reason not in said else ""
    return (
        f'<div class="verdict c-{esc(grade)}" data-invariant="{esc(name)}">'
        f'<h4><a href="#{_invariant_id(name)}"><code>{esc(name)}</code></a> '
        f'<span class="pill c-{esc(grade)}">{esc(grade)}</span> '
        f'<span class="impact">impact: {esc(verdict.get("impact", ""))}</span></h4>'
        f"{requirement}{reason}{table}{_sources(invariant) if invariant else ''}</div>"
    )


def _deviation(verdict: dict[str, Any], anchor: str) -> str:
    """A non-strict or inherited verdict on a failing item, in one line: it does not fail the item."""
    name = verdict["invariant"]
    grade = verdict["outcome"]
    events = sorted({v["event"] for v in verdict.get("violations", []) if v["event"] is not None})
    where = " ".join(_event_link(anchor, event) for event in events[:_VIOLATION_LIMIT])
    if len(events) > _VIOLATION_LIMIT:
        where += f" … ({len(events)} events)"
    if where:
        where = f' <span class="where-events">{where}</span>'
    return (
        f'<li><a href="#{_invariant_id(name)}"><code>{esc(name)}</code></a> '
        f'<span class="pill c-{esc(grade)}">{esc(grade)}</span> {prose(verdict.get("reason", ""))}{where}</li>'
    )


_KNOWN_HEADINGS = {
    "new": "Known failure, for part of what fails here: the rest is new",
    "fixed": "Listed as a known failure: it passes now",
}


def _known(entries: list[dict[str, Any]], gate: str) -> str:
    """The expectations entries that cover an item: reason, issue, what they list."""
    if not entries:
        return ""
    parts = []
    for entry in entries:
        facts = [f"invariants: {', '.join(f'<code>{esc(name)}</code>' for name in entry.get('invariants', []))}"]
        if entry.get("schedules"):
            facts.append(f"schedules: {esc(', '.join(entry['schedules']))}")
        if entry.get("versions"):
            facts.append(f"versions: {esc(', '.join(entry['versions']))}")
        if entry.get("flaky"):
            facts.append("flaky: may or may not fail, depending on timing")
        issue = f'<p class="issue">Issue: {prose(entry["issue"])}</p>' if entry.get("issue") else ""
        parts.append(
            f'<div class="known-entry"><p class="known-reason">{prose(str(entry.get("reason", "")))}</p>'
            f'{issue}<p class="muted">{"; ".join(facts)}</p></div>'
        )
    heading = _KNOWN_HEADINGS.get(gate, "Known failure")
    return f'<aside class="known-box"><h4>{heading}</h4>{"".join(parts)}</aside>'


def _stream(item: dict[str, Any]) -> str:
    stream = item["stream"]
    if stream is None:
        return '<p class="muted">No output was recorded for this item.</p>'
    anchor = item["anchor"]
    events = sum(1 for segment in stream["segments"] if segment["event"] is not None)
    source = (
        "exact bytes from raw.json, decoded as UTF-8 (bytes that are not UTF-8 shown as U+FFFD)"
        if stream["exact"]
        else "rebuilt from report.json's parsed events, ids and clocks masked"
    )
    if any(CR in segment["text"] for segment in stream["segments"]):
        source += f"; {CR} marks a carriage return"
    entries = []
    for segment in stream["segments"]:
        index = segment["event"]
        mark = segment.get("mark")
        if index is None:
            entries.append(
                f'<li class="ev ev-none"><span class="evno" title="not an event">–</span>'
                f'<pre>{esc(segment["text"])}</pre><span class="flag">not an event</span></li>'
            )
            continue
        flag = f'<span class="flag">{esc(mark)}</span>' if mark else ""
        entries.append(
            f'<li class="ev{f" ev-{mark}" if mark else ""}" id="{esc(anchor)}-ev-{index}" data-event="{index}">'
            f'<span class="evno">{index}</span><pre>{esc(segment["text"])}</pre>{flag}</li>'
        )
    return (
        '<div class="stream">'
        f'<p class="stream-head">Output: {events} event{"" if events == 1 else "s"}, {stream["bytes"]} bytes, '
        f"HTTP {stream['status']}, ended {esc(item['ending'])} · {source}</p>"
        f'<ol class="events">{"".join(entries)}</ol></div>'
    )


def _item(item: dict[str, Any], invariants: dict[str, Any]) -> str:
    anchor = item["anchor"]
    grade = item["outcome"]
    pills = [f'<span class="pill c-{esc(grade)}">{esc(grade)}</span>']
    if item["gate"] == "known":
        pills.append('<span class="pill known-pill">known failure</span>')
    elif item["gate"] == "new":
        pills.append('<span class="pill gate-pill">new: fails the gate</span>')
    elif item["gate"] == "fixed":
        pills.append('<span class="pill gate-pill">fixed: a known failure passes, fails the gate</span>')
    where = (
        "refused: the capture did not load, so none of its items ran"
        if item["refused"]
        else f"{_route(item['route'])} · {esc(item['schedule'])} schedule"
    )
    facts = [f"<code>{esc(item['id'])}</code>"]
    if item["upstream_identical"]:
        facts.append("byte for byte what the upstream sent")
    error = f'<pre class="error">{esc(item["error"])}</pre>' if item["error"] else ""
    failing = [verdict for verdict in item["verdicts"] if verdict["outcome"] == "fail"]
    others = [verdict for verdict in item["verdicts"] if verdict["outcome"] != "fail"]
    also = ""
    if others:
        counts = ", ".join(
            f"{sum(1 for v in others if v['outcome'] == grade)} {grade}"
            for grade in ("non-strict", "inherited")
            if any(v["outcome"] == grade for v in others)
        )
        also = (
            f'<details class="also"><summary>Also on this item: {counts}</summary><ul class="deviations">'
            + "".join(_deviation(verdict, anchor) for verdict in others)
            + "</ul></details>"
        )
    return (
        f'<section class="item c-{esc(grade)}" id="{esc(anchor)}" data-item="{esc(item["id"])}">'
        f'<h3><a class="self" href="#{esc(anchor)}">{esc(item["capture"])}</a> {" ".join(pills)}</h3>'
        f'<p class="where">{where}</p><p class="muted item-id">{" · ".join(facts)}</p>'
        f"{_known(item['known_failures'], item['gate'])}{error}"
        + "".join(_verdict(verdict, anchor, invariants) for verdict in failing)
        + also
        + _stream(item)
        + "</section>"
    )


def _invariants(invariants: dict[str, Any]) -> str:
    """Every invariant the page names: its requirement, impact, counts in this run, evidence in full
    and how to fix it. The verdicts above link here."""
    if not invariants:
        return "<p>No invariant caught anything.</p>"
    rows = []
    for name, row in invariants.items():
        counts = "".join(
            f'<td class="num{"" if row.get(grade) else " zero"}">{row.get(grade, 0)}</td>'
            for grade in ("fail", "non-strict", "inherited")
        )
        sources = "".join(f"<li>{prose(source)}</li>" for source in row.get("evidence", []))
        hint = f'<p class="hint"><b>To fix:</b> {prose(row["hint"])}</p>' if row.get("hint") else ""
        rows.append(
            f'<tr id="{_invariant_id(name)}"><th scope="row"><code>{esc(name)}</code></th>'
            f"<td>{esc(row.get('impact', ''))}</td>{counts}"
            f'<td><p class="requirement">{prose(row.get("requirement", ""))}</p>'
            f'<ul class="sources">{sources}</ul>{hint}</td></tr>'
        )
    return (
        '<div class="table-wrap"><table class="caught"><thead><tr><th scope="col">invariant</th>'
        '<th scope="col">impact</th><th scope="col" class="num">fail</th><th scope="col" class="num">non-strict</th>'
        '<th scope="col" class="num">inherited</th><th scope="col">requirement, evidence and fix</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def implementation_page(row: dict[str, Any], impl: dict[str, Any], routes: list[str]) -> str:
    items = impl["items"]
    known = sum(1 for item in items if item["gate"] == "known")
    captures = sorted(row["grid"])
    heading = f"Failing items: {len(items)}" + (f" ({known} known)" if known else "")
    explanation = (
        "Each item that fails or errs, or stands against the gate: its known-failure reason, what the verdicts "
        "expected against what the output had, and the output split into the SSE events its client parsed, "
        "numbered as the verdicts number them, the offending ones highlighted."
        if items
        else "Nothing fails: no item failed or errored, and none stands against the gate."
    )
    body = (
        f'<nav class="crumbs"><a href="../index.html">Matrix</a> › {esc(row["label"])}</nav>'
        f"<h1>{_name(row)}</h1>"
        f'<div class="headline">{gate_badge(row["gate"], row["mode"])} {bar(row["counts"], row["total"])}</div>'
        f"{_facts(row, impl)}"
        '<div class="table-wrap"><table class="matrix counts"><thead><tr>'
        f"{_count_heads()}</tr></thead><tbody><tr>{_count_cells(row)}</tr></tbody></table></div>"
        f"{legend()}"
        '<h2 id="grid">Captures × routes</h2>'
        f"{_grid_legend()}{_grid([row], routes, captures, href={row['slug']: ''}, single=True)}"
        f'<h2 id="failures">{heading}</h2><p>{explanation}</p>'
        + "".join(_item(item, impl["invariants"]) for item in items)
        + '<h2 id="invariants">Invariants</h2><p>Those the failing items break and those that caught '
        "anything in this run, with the number of items each graded fail, non-strict and inherited.</p>"
        + _invariants(impl["invariants"])
    )
    return page(f"{row['label']}: streaming conformance", body, root="../", current="")


def _feature_id(name: str) -> str:
    return "feature-" + "".join(c if c.isalnum() else "-" for c in name)


def _capture_id(capture: str) -> str:
    return "capture-" + "".join(c if c.isalnum() else "-" for c in capture)


def coverage_page(data: dict[str, Any]) -> str:
    routes = data["routes"]
    features = data["features"]
    captures = data["captures"]
    used = sum(1 for feature in features if feature["captures"])
    registered = sum(1 for feature in features if feature["registered"])
    others = [report for report in data["reports"] if not report["same_corpus"]]
    mismatch = (
        '<p class="warning">These reports ran another revision of the corpus, so their items may not match '
        "this page: "
        + ", ".join(
            f'<a href="impl/{esc(r["slug"])}.html">{esc(r["label"])}</a> (<code>{esc(r["corpus_revision"])}</code>)'
            for r in others
        )
        + ".</p>"
        if others
        else ""
    )
    not_loaded = (
        f'<p class="warning">{data["not_loaded"]} capture(s) did not load and are left out; '
        "<code>conformance validate</code> names them.</p>"
        if data["not_loaded"]
        else ""
    )
    route_cols = '<col class="col-route">' * len(routes)
    route_heads = "".join(f'<th scope="col" class="route">{_route(route, stacked=True)}</th>' for route in routes)
    feature_rows = []
    for feature in features:
        counts = "".join(
            f'<td class="num{" has" if feature["by_route"][route] else " zero"}">{len(feature["by_route"][route])}</td>'
            for route in routes
        )
        # The chip names the capture without its protocol folder, which the row it opens shows.
        chips = " ".join(
            f'<a class="chip" href="#{_capture_id(capture)}" title="{esc(capture)}">'
            f"{esc(capture.partition('/')[2] or capture)}</a>"
            for capture in feature["captures"]
        )
        meaning = esc(feature["meaning"]) if feature["registered"] else '<span class="warning">not registered</span>'
        chips = chips or '<span class="warning">no capture yet</span>'
        unused = "" if feature["captures"] else ' class="unused"'
        feature_rows.append(
            f'<tr id="{_feature_id(feature["name"])}"{unused}>'
            f'<th scope="row"><code>{esc(feature["name"])}</code></th><td>{meaning}</td>{counts}<td>{chips}</td></tr>'
        )
    capture_rows = []
    for capture in captures:
        marks = "".join(
            f'<td class="mark">{"✓" if route in capture["routes"] else ""}'
            f'<span class="sr">{"runs" if route in capture["routes"] else "does not run"}</span></td>'
            for route in routes
        )
        chips = " ".join(f'<a class="chip" href="#{_feature_id(name)}">{esc(name)}</a>' for name in capture["features"])
        capture_rows.append(
            f'<tr id="{_capture_id(capture["id"])}"><th scope="row"><code>{esc(capture["id"])}</code>'
            f'<div class="muted desc">{esc(capture["description"])}</div></th>'
            f"<td>{esc(capture['provider'])}</td>{marks}<td>{chips}</td></tr>"
        )
    body = (
        "<h1>Corpus coverage</h1>"
        f'<p class="lede">{len(captures)} captures from {len(data["providers"])} providers in '
        f"{len(data['protocols'])} protocols; {used} of {registered} registered features used. Corpus revision "
        f"<code>{esc(data['corpus_revision'])}</code>. Each capture runs through every route from its protocol to a "
        "client that can ask for its stream, once per schedule.</p>"
        f"{mismatch}{not_loaded}"
        '<h2 id="features">Features × routes</h2>'
        "<p>How many captures exercise each feature on each route (upstream → client), and which.</p>"
        '<div class="table-wrap"><table class="coverage features">'
        f'<colgroup><col class="col-feature"><col class="col-meaning">{route_cols}<col></colgroup>'
        '<thead><tr><th scope="col">feature</th>'
        f'<th scope="col">meaning</th>{route_heads}<th scope="col">captures</th></tr></thead>'
        f"<tbody>{''.join(feature_rows)}</tbody></table></div>"
        '<h2 id="captures">Captures</h2>'
        "<p>The routes each capture runs through, and the features it exercises.</p>"
        '<div class="table-wrap"><table class="coverage captures">'
        f'<colgroup><col class="col-capture"><col class="col-provider">{route_cols}<col></colgroup>'
        '<thead><tr><th scope="col">capture</th>'
        f'<th scope="col">provider</th>{route_heads}<th scope="col">features</th></tr></thead>'
        f"<tbody>{''.join(capture_rows)}</tbody></table></div>"
    )
    return page("Corpus coverage: streaming conformance", body, root="", current="coverage")
