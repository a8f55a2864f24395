"""The report site: `conformance site REPORTS -o SITE` turns committed reports into static pages.

Every `REPORTS/<folder>/report.json` (format `conformance-report/2`; a partial run's
`report.partial.json` is left out) is one implementation, version and configuration. The build runs
one way, so that the pages can only show what the data holds:

    reports.py   REPORTS/*/report.json (+ raw.json)  →  LoadedReport, or SiteError naming file and field
    matrix.py    LoadedReports  →  the matrix rows, each with its capture × route grid; badges; summary.md
    failures.py  one LoadedReport  →  its failing items, output split into SSE events, offending ones marked
    features.py  the corpus  →  features × routes × captures
    pages.py     that data  →  index.html, impl/<slug>.html, coverage.html (markup.py: escaping, links)
    build.py     writes data/*.json, the pages, badges/, assets/ and summary.md into SITE

The site is plain HTML and CSS with no script and no request outside itself, so it reads the same
from file:// and over HTTP, and the same inputs give the same bytes.
"""

from __future__ import annotations

from conformance.site.build import build, command
from conformance.site.reports import SiteError

__all__ = ["SiteError", "build", "command"]
