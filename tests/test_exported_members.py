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


def test_a_target_author_needs_nothing_private() -> None:
    """What README "Write a target" uses: the exchange, the head and abort a target may yield, and
    the error frames it writes when its upstream fails, in each client protocol."""
    from conformance.sse import parse

    needed = {"Exchange", "Head", "Abort", "openai_error", "anthropic_error", "anthropic_error_type", "Target"}
    assert needed <= set(conformance.__all__)
    [openai], _ = parse(conformance.openai_error("upstream failed", "server_error", 502))
    assert (openai.type, openai.data) == (
        "message",
        '{"error":{"message":"upstream failed","type":"server_error","code":502}}',
    )
    [anthropic], _ = parse(conformance.anthropic_error(conformance.anthropic_error_type(429), "slow down"))
    assert anthropic.type == "error"
    assert anthropic.data == '{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'
    assert conformance.Head(502).headers == ()
    assert conformance.Abort("connection reset").reason == "connection reset"
