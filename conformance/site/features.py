"""The coverage page's data: which features each capture of the corpus exercises, on which routes.

It reads the corpus itself rather than the reports' `capture_features`: only the corpus has every
registered feature with its meaning (an unused one included) and the routes each capture runs
through (`conformance.coverage.capture_routes`, which leaves out a client that cannot ask for the
stream). A report that ran another revision of the corpus is named, so the page never passes off
one corpus's coverage as another's.
"""

from __future__ import annotations

from typing import Any

from conformance.corpus import LoadedCorpus
from conformance.coverage import capture_routes
from conformance.report import corpus_revision
from conformance.routes import route_id
from conformance.site.matrix import label
from conformance.site.reports import LoadedReport

__all__ = ["coverage"]


def coverage(corpus: LoadedCorpus, reports: list[LoadedReport]) -> dict[str, Any]:
    """Features × routes × captures of `corpus`, and how each report's corpus compares with it."""
    captures = sorted(corpus.captures, key=lambda capture: capture.id)
    routes_of = {capture.id: [route_id(route) for route in capture_routes(capture)] for capture in captures}
    routes = sorted({route for names in routes_of.values() for route in names})
    names = sorted(set(corpus.features) | {name for capture in captures for name in capture.features})
    features = []
    for name in names:
        users = [capture.id for capture in captures if name in capture.features]
        features.append(
            {
                "name": name,
                "meaning": corpus.features.get(name, ""),
                "registered": name in corpus.features,
                "captures": users,
                "by_route": {route: [c for c in users if route in routes_of[c]] for route in routes},
            }
        )
    revision = corpus_revision(corpus.root)
    return {
        "corpus_revision": revision,
        "routes": routes,
        "providers": sorted({capture.provider for capture in captures}),
        "protocols": sorted({capture.protocol for capture in captures}),
        "not_loaded": len(corpus.errors),
        "features": features,
        "captures": [
            {
                "id": capture.id,
                "protocol": capture.protocol,
                "provider": capture.provider,
                "description": str(capture.meta.get("description", "")),
                "routes": routes_of[capture.id],
                "features": sorted(capture.features),
            }
            for capture in captures
        ],
        "reports": [
            {
                "slug": report.slug,
                "label": label(report.header),
                "corpus_revision": report.header["corpus_revision"],
                "same_corpus": report.header["corpus_revision"] == revision,
            }
            for report in sorted(reports, key=lambda report: report.slug)
        ],
    }
