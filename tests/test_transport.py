"""Transport checks: each invariant passes and fails, the reference passes every check, each
transport mutant is caught, and the plugin collects the items (skipped with a reason where a
target cannot run one)."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import transport
from conformance.corpus import load_corpus
from conformance.invariants import evaluate, registry
from conformance.protocols import ANTHROPIC_MESSAGES as AM
from conformance.protocols import OPENAI_CHAT as OA
from conformance.protocols.transport import Cancellation, Isolation, Pacing
from conformance.runner import Runner
from conformance.targets import load
from conformance.targets.mutants import MUTANTS
from conformance.targets.reference import Reference

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    runner = Runner(timeout=30)
    yield runner
    runner.close()


def _outcome(invariant: str, context: object) -> str:
    return evaluate(registry()[invariant], context).outcome


def test_incremental_passes_paced_output_and_fails_buffered_output() -> None:
    paced = Pacing(2.9, tuple(0.05 + 0.1 * n for n in range(30)))
    assert _outcome("transport.incremental", paced) == "pass"
    buffered = Pacing(2.9, tuple(2.95 + 0.001 * n for n in range(30)))
    assert _outcome("transport.incremental", buffered) == "fail"
    first_then_held = Pacing(2.9, (0.05, *(2.95 + 0.001 * n for n in range(29))))
    assert _outcome("transport.incremental", first_then_held) == "fail"
    assert _outcome("transport.incremental", Pacing(2.9, ())) == "fail"


def test_cancel_propagates_passes_a_prompt_close_and_fails_a_late_or_missing_one() -> None:
    assert _outcome("transport.cancel-propagates", Cancellation(3, 0.05, 2.0)) == "pass"
    assert _outcome("transport.cancel-propagates", Cancellation(3, None, 2.0)) == "fail"
    assert _outcome("transport.cancel-propagates", Cancellation(3, 2.3, 2.0)) == "fail"


def test_concurrent_isolation_passes_equal_outputs_and_fails_a_difference() -> None:
    assert _outcome("transport.concurrent-isolation", Isolation(32, ())) == "pass"
    mixed = Isolation(32, (("openai-chat/openai/x", {"text": "a"}, {"text": "b"}),))
    assert _outcome("transport.concurrent-isolation", mixed) == "fail"


def test_transport_invariants_never_judge_a_corpus_stream() -> None:
    from conformance.invariants import select

    assert not [inv.id for inv in select("openai-chat") if inv.id.startswith("transport.")]
    assert {inv.id for inv in select("openai-chat", family="transport.")} == {
        "transport.incremental",
        "transport.cancel-propagates",
        "transport.concurrent-isolation",
    }


def test_reference_passes_every_transport_check(runner: Runner) -> None:
    target = Reference()
    failures = {}
    for check in transport.CHECKS:
        assert transport.skip_reason(check, target, "reference", runner.timeout) is None
        for route in sorted(target.routes):
            result = transport.run_check(runner, target, transport.TransportCase(check, route))
            if result.outcome != "pass":
                failures[result.case.id] = result.error or [v.to_json() for v in result.failing]
    assert failures == {}


class _FreshToolIds(Reference):
    """A faithful target that, like some gateways, gives every tool call a fresh id of its own."""

    def stream(self, exchange):  # type: ignore[no-untyped-def]
        return self._renamed(super().stream(exchange))

    async def _renamed(self, chunks):  # type: ignore[no-untyped-def]
        fresh = f"call_{secrets.token_hex(12)}".encode()
        async for chunk in chunks:
            yield re.sub(rb"call_[A-Za-z0-9]{24}", fresh, chunk)


def test_concurrent_isolation_leaves_out_what_varies_between_two_runs_alone(runner: Runner) -> None:
    """A fresh id in every response differs between any two runs, alone or not: that is the target's
    own variation, not interference between streams."""
    result = transport.run_check(runner, _FreshToolIds(), transport.TransportCase("concurrent-isolation", (OA, OA)))
    assert result.outcome == "pass", [v.to_json() for v in result.verdicts]


def test_a_stall_is_skipped_with_a_reason_when_the_timeout_is_unknown_or_too_long() -> None:
    class NoTimeout:
        name, version, routes = "x", "1", frozenset()

    assert "does not declare its upstream read timeout" in (
        transport.skip_reason("fault-stall", NoTimeout(), "x", 30) or ""
    )  # type: ignore[arg-type]
    assert "--conformance-timeout" in (
        transport.skip_reason("fault-stall", Reference(upstream_read_timeout=30), "reference", 30) or ""
    )
    assert transport.skip_reason("fault-stall", Reference(), "reference", 30) is None
    assert transport.skip_reason("incremental", NoTimeout(), "x", 30) is None  # type: ignore[arg-type]


TRANSPORT_MUTANTS = sorted(name for name, mutant in MUTANTS.items() if mutant.transport)


def test_every_transport_bug_has_a_mutant() -> None:
    assert {MUTANTS[name].caught_by for name in TRANSPORT_MUTANTS} >= {
        "transport.incremental",
        "transport.cancel-propagates",
        "transport.concurrent-isolation",
        "semantic.error-surfaced",
    }


@pytest.mark.parametrize("name", TRANSPORT_MUTANTS)
def test_transport_mutant_is_caught_by_its_invariant(runner: Runner, name: str) -> None:
    mutant = MUTANTS[name]
    target = load(f"mutant:{name}")
    route = mutant.seeded[0]
    result = transport.run_check(runner, target, transport.TransportCase(mutant.transport, route))
    assert result.outcome != "errored", result.error
    assert mutant.caught_by in {v.invariant for v in result.failures}, [v.to_json() for v in result.verdicts]


def test_plugin_collects_transport_items_and_skips_what_a_target_cannot_run(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    # A 5 s case bound is too short for a stall past the reference's 2 s read timeout.
    result = pytester.runpytest(
        "--target=reference",
        "--conformance-timeout=5",
        "-p",
        "no:cacheprovider",
        "-k",
        "transport and (fault-stall or fault-http-429)",
        "-rs",
        f"--report-dir={pytester.path / 'reports'}",
    )
    routes = len(Reference().routes)  # fault-http-429 passes on each route, fault-stall is skipped on each
    result.assert_outcomes(passed=routes, skipped=routes)
    result.stdout.fnmatch_lines(["*upstream read timeout would outlast the 5 s case bound*"])
    collected = pytester.runpytest(
        "--target=reference", "-p", "no:cacheprovider", "--collect-only", "-q", "-k", "transport"
    )
    lines = collected.stdout.str()
    for check in transport.CHECKS:
        assert f"conformance::transport::{check}[openai-chat-to-anthropic-messages]" in lines


def test_transport_checks_run_by_default_and_no_transport_skips_them(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    collected = pytester.runpytest(
        "--target=reference", "-p", "no:cacheprovider", "--collect-only", "-q", "--no-transport", "-k", "transport"
    )
    assert "conformance::transport::" not in collected.stdout.str()


def test_the_waiting_checks_begin_together_at_the_first_transport_item(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    reports = pytester.path / "reports"
    result = pytester.runpytest(
        "--target=reference",
        "-p",
        "no:cacheprovider",
        "-k",
        "transport and (incremental or fault-http-429) and not openai-responses",
        f"--report-dir={reports}",
    )
    result.assert_outcomes(passed=8)
    raw = json.loads((reports / "reference" / "raw.partial.json").read_text())
    paced = [item["seconds"] for name, item in raw["items"].items() if name.startswith("transport::incremental")]
    assert len(paced) == 4 and min(paced) >= transport.PACE * (transport.INCREMENTAL_EVENTS - 1)
    # One after another, the run could never take less than the four paced upstreams together.
    assert raw["total_seconds"] < sum(paced)


# ------------------------------------------------------------------------- the run's corpus

PROVIDER_RECORDING = '''
import os

from conformance.targets.reference import Reference


class ProviderRecording(Reference):
    """The reference, writing the provider of every upstream it is sent to $PROVIDERS."""

    def stream(self, exchange):
        with open(os.environ["PROVIDERS"], "a") as out:
            out.write(exchange.provider + "\\n")
        return super().stream(exchange)
'''


def _acme_corpus(root: Path) -> Path:
    """A private corpus of one openai-chat capture, from the provider `acme` (no features.txt: the
    shipped registry applies)."""
    source = next(c for c in load_corpus().captures if c.id == "openai-chat/openai/text-lf")
    folder = root / "openai-chat" / "acme"
    folder.mkdir(parents=True)
    (folder / "text.yaml").write_text(source.path.read_text().replace("provider: openai", "provider: acme"))
    shutil.copy(source.path.with_suffix(".sse"), folder / "text.sse")
    return root


def test_concurrent_isolation_streams_the_captures_it_is_given(runner: Runner, tmp_path: Path) -> None:
    (capture,) = load_corpus(_acme_corpus(tmp_path / "corpus")).captures
    seen: list[str] = []

    class Recording(Reference):
        def stream(self, exchange):  # type: ignore[no-untyped-def]
            seen.append(exchange.provider)
            return super().stream(exchange)

    case = transport.TransportCase("concurrent-isolation", (OA, OA))
    result = transport.run_check(runner, Recording(), case, captures=[capture])
    assert result.outcome == "pass", result.error or [v.to_json() for v in result.verdicts]
    # One run alone, then 32 at once: every one of them the private capture.
    assert seen == ["acme"] * (1 + transport.CONCURRENT_STREAMS)


class _RaisesOnDeepSeek(Reference):
    """A target that raises on every DeepSeek stream, alone or not: its own items say so."""

    def stream(self, exchange):  # type: ignore[no-untyped-def]
        if exchange.provider == "deepseek":
            raise RuntimeError("no DeepSeek here")
        return super().stream(exchange)


def test_concurrent_isolation_streams_the_captures_a_target_can_stream_alone(runner: Runner) -> None:
    captures = [c for c in load_corpus().captures if c.provider in ("deepseek", "openai")]
    case = transport.TransportCase("concurrent-isolation", (OA, OA))
    result = transport.run_check(runner, _RaisesOnDeepSeek(), case, captures=captures)
    assert result.outcome == "pass", result.error or [v.to_json() for v in result.verdicts]
    only_deepseek = [c for c in captures if c.provider == "deepseek"]
    result = transport.run_check(runner, _RaisesOnDeepSeek(), case, captures=only_deepseek)
    assert result.outcome == "errored"
    assert "cannot be judged" in result.error and "openai-chat/deepseek/tool-call alone" in result.error


def test_concurrent_isolation_is_skipped_on_a_route_the_corpus_has_no_capture_for(tmp_path: Path) -> None:
    captures = load_corpus(_acme_corpus(tmp_path / "corpus")).captures
    target = Reference()
    reason = transport.skip_reason("concurrent-isolation", target, "reference", 30, route=(AM, OA), captures=captures)
    assert reason is not None and "no complete anthropic-messages capture" in reason
    assert (
        transport.skip_reason("concurrent-isolation", target, "reference", 30, route=(OA, AM), captures=captures)
        is None
    )
    # Without the run's captures (the shipped corpus), nothing is skipped.
    assert transport.skip_reason("concurrent-isolation", target, "reference", 30) is None


def test_transport_items_stream_the_corpus_given_with_corpus(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(providertarget=PROVIDER_RECORDING)
    pytester.syspathinsert()
    providers = pytester.path / "providers.txt"
    monkeypatch.setenv("PROVIDERS", str(providers))
    corpus = _acme_corpus(pytester.path / "corpus")
    result = pytester.runpytest(
        "--target=providertarget:ProviderRecording",
        f"--corpus={corpus}",
        "-p",
        "no:cacheprovider",
        "-k",
        "transport and concurrent-isolation and not openai-responses",
        "-rs",
        f"--report-dir={pytester.path / 'reports'}",
    )
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*the corpus has no complete anthropic-messages capture*"])
    assert set(providers.read_text().split()) == {"acme"}


def test_concurrent_isolation_streams_only_what_the_routes_client_can_ask_for() -> None:
    captures = load_corpus().captures
    on_adapter = {c.id for c in transport.isolation_captures((OA, AM), captures, Reference())}
    on_normalizer = {c.id for c in transport.isolation_captures((OA, OA), captures, Reference())}
    assert "openai-chat/openai/n-3-choices" in on_normalizer
    assert "openai-chat/openai/n-3-choices" not in on_adapter
    assert on_adapter == on_normalizer - {"openai-chat/openai/n-3-choices"}
