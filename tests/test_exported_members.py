"""The public API is `conformance.__all__`, and nothing else is exported by accident."""

from __future__ import annotations

import conformance


def test_all_matches_the_public_names() -> None:
    public = {name for name in dir(conformance) if not name.startswith("_") and name != "annotations"}
    modules = {name for name in public if type(getattr(conformance, name)).__name__ == "module"}
    assert set(conformance.__all__) == public - modules


def test_every_public_name_resolves_to_its_home_module() -> None:
    """The names are imported on first use; each must be the object its module defines."""
    import importlib

    for name in conformance.__all__:
        assert getattr(conformance, name) is getattr(importlib.import_module(conformance._HOMES[name]), name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        conformance.nothing  # noqa: B018
