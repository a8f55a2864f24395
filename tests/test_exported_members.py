"""The public API is `conformance.__all__`, and nothing else is exported by accident."""

from __future__ import annotations

import conformance


def test_all_matches_the_public_names() -> None:
    public = {name for name in vars(conformance) if not name.startswith("_") and name != "annotations"}
    modules = {name for name in public if type(getattr(conformance, name)).__name__ == "module"}
    assert set(conformance.__all__) == public - modules
