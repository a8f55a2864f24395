"""conformance.cli: the `conformance` command."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from conformance.cli import main
from conformance.corpus import default_corpus
from conformance.invariants import registry
from conformance.targets.mutants import MUTANTS


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def test_validate_passes_on_the_shipped_corpus() -> None:
    code, out = cli("validate")
    assert code == 0
    assert out.startswith("ok: ") and "capture(s)" in out


def test_validate_fails_with_a_clear_message_on_a_broken_capture(tmp_path: Path) -> None:
    shutil.copytree(default_corpus(), tmp_path / "corpus")
    bad = tmp_path / "corpus" / "openai-chat" / "openai" / "text-lf.yaml"
    bad.write_text(bad.read_text().replace("protocol: openai-chat", "protocol: telegraph"))
    code, out = cli("validate", str(tmp_path / "corpus"))
    assert code == 1
    assert f"error: {bad}: protocol: 'telegraph' is not one of" in out
    assert out.strip().endswith(f"under {tmp_path / 'corpus'}")


def test_validate_names_an_expect_that_disagrees(tmp_path: Path) -> None:
    shutil.copytree(default_corpus(), tmp_path / "corpus")
    bad = tmp_path / "corpus" / "anthropic-messages" / "anthropic" / "thinking-signature.yaml"
    bad.write_text(bad.read_text().replace("signatures:\n", "signatures:\n  - forged\n", 1))
    code, out = cli("validate", str(tmp_path / "corpus"))
    assert code == 1
    assert "thinking-signature.yaml: semantic.signatures: expect disagrees with the raw stream" in out


def test_validate_on_a_missing_folder_exits_2(tmp_path: Path) -> None:
    code, out = cli("validate", str(tmp_path / "nothing"))
    assert code == 2 and "is not a folder of captures" in out


def test_targets_lists_reference_every_mutant_and_routes() -> None:
    code, out = cli("targets")
    assert code == 0
    assert "reference  [built-in]" in out
    for name in MUTANTS:
        assert f"mutant:{name}  [mutant]" in out
    assert "route openai-chat-to-anthropic-messages" in out


def test_invariants_lists_every_invariant_with_evidence() -> None:
    code, out = cli("invariants", "--json")
    rows = json.loads(out)
    assert code == 0 and {row["id"] for row in rows} == set(registry())
    assert all(row["requirement"] and row["evidence"] and row["hint"] for row in rows)
    assert all(row["impact"] in ("breaks", "strict") for row in rows)


def test_invariants_listing_shows_impact_level_and_protocol() -> None:
    code, out = cli("invariants")
    assert code == 0
    assert "openai.finish.once  [breaks, proxy, openai-chat]" in out
    assert "sse.utf8  [breaks, provider, any protocol]" in out
    assert "severity" not in out
    for inv in registry().values():
        assert f"{inv.id}  [{inv.impact}, " in out
        assert all(source in out for source in inv.evidence)


def test_invariants_explains_one_invariant() -> None:
    inv = registry()["openai.finish.once"]
    code, out = cli("invariants", "openai.finish.once")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "openai.finish.once"
    assert f"    requirement: {inv.requirement}" in lines
    assert "    impact: breaks (a client loses content, misses an error or raises)" in lines
    assert "    level: proxy" in lines
    assert "    protocol: openai-chat" in lines
    assert [line[len("      - ") :] for line in lines if line.startswith("      - ")] == list(inv.evidence)
    assert lines[-1] == f"    to fix: {inv.hint}"


def test_invariants_explains_a_strict_one_with_its_meaning() -> None:
    code, out = cli("invariants", "openai.usage.placement")
    assert code == 0
    assert "    impact: strict (a deviation from the documented format that the clients we know tolerate)" in out


def test_invariants_takes_several_ids_and_prefixes() -> None:
    code, out = cli("invariants", "openai.tool", "sse.utf8")
    expected = sorted(key for key in registry() if key.startswith("openai.tool.")) + ["sse.utf8"]
    assert code == 0 and len(expected) > 2
    named = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert named == sorted(expected)
    code, out = cli("invariants", "openai.tool", "openai.tool.index-dense", "--json")
    assert code == 0 and [row["id"] for row in json.loads(out)] == sorted(expected[:-1])


def test_invariants_unknown_id_names_the_closest_and_exits_2() -> None:
    code, out = cli("invariants", "openai.finsh.once")
    assert code == 2
    assert out.startswith("error: no invariant 'openai.finsh.once'; closest: openai.finish.once")
    code, out = cli("invariants", "sse.utf8", "zzzz")
    assert code == 2 and "error: no invariant 'zzzz'" in out and "sse.utf8\n" not in out


def test_report_renders_markdown_and_rejects_other_json(tmp_path: Path) -> None:
    summary = {"gate": "PASS", "errored": 0, "fail": 0, "non-strict": 1, "inherited": 0, "pass": 2, "skipped": 0}
    report = {
        "format": "conformance-report/2",
        "header": {"target": "t", "suite_version": "0", "corpus_revision": "x", "schedules": ["event"]},
        "summary": {**summary, "known_failures": 0, "gate_failures": 0, "total": 3},
        "invariants": {},
        "items": [],
    }
    (tmp_path / "r.json").write_text(json.dumps(report))
    code, out = cli("report", str(tmp_path / "r.json"))
    assert code == 0
    assert out.splitlines()[0] == "**PASS** (default gate): 1 non-strict, 2 pass."
    assert "# Conformance: `t`" in out.splitlines()
    (tmp_path / "strict.json").write_text(json.dumps({**report, "header": {**report["header"], "mode": "strict"}}))
    assert cli("report", str(tmp_path / "strict.json"))[1].startswith("**PASS** (strict gate): ")
    (tmp_path / "other.json").write_text("{}")
    assert cli("report", str(tmp_path / "other.json"))[0] == 2
    (tmp_path / "old.json").write_text(json.dumps({**report, "format": "conformance-report/1"}))
    code, out = cli("report", str(tmp_path / "old.json"))
    assert code == 2 and "is not a conformance-report/2 report (format: 'conformance-report/1')" in out


def test_replay_serves_a_capture_on_loopback() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "replay", "openai-chat/openai/text-lf"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:")
        body = httpx.post(url + "/v1/chat/completions", json={"stream": True}, timeout=10).content
        assert body == (default_corpus() / "openai-chat/openai/text-lf.sse").read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_replay_of_an_unknown_capture_exits_2() -> None:
    code, out = cli("replay", "no/such/capture")
    assert code == 2 and "no capture 'no/such/capture'" in out


def test_models_lists_stable_names_in_each_format() -> None:
    code, lines = cli("models", "--provider", "openrouter", "--no-transport")
    assert code == 0
    names = lines.split()
    assert "openrouter/tool-call" in names and all(name.startswith("openrouter/") for name in names)
    code, listed = cli("models", "--provider", "openrouter", "--no-transport", "--format", "json")
    assert code == 0 and json.loads(listed) == names
    code, listed = cli("models", "--provider", "openrouter", "--no-transport", "--format", "yaml")
    assert code == 0 and yaml.safe_load(listed) == names
    code, every = cli("models")
    assert "openai/conformance-incremental-to-anthropic-messages" in every.split()
    assert "anthropic/conformance-fault-stall-to-openai-chat" in every.split()
    assert len(every.split()) == len(set(every.split()))


def test_models_names_an_unknown_provider() -> None:
    code, out = cli("models", "--provider", "nobody")
    assert code == 2
    assert "--provider 'nobody'" in out and "openrouter" in out
