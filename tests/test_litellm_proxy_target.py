"""The `litellm-proxy` target: its process handling against fake `litellm` executables, and (when
the `litellm` CLI is installed next to this Python) the real proxy on one capture per route."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conformance.corpus import default_corpus, load_corpus
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.runner import Case, Runner
from conformance.targets import MAX_RESTARTS, TargetError, load
from conformance.targets.litellm_proxy import BIN_ENV, LiteLLMProxy, find_litellm, proxy_config
from conformance.targets.litellm_sdk import PROVIDER_PREFIXES

REAL_LITELLM = Path(sys.executable).parent / "litellm"

# A stand-in for the `litellm` CLI: FAKE_MODE=exit fails at once, hang never listens, serve answers
# the health check and dies on the first POST (a proxy that crashes mid-run).
FAKE_LITELLM = textwrap.dedent(
    f"""\
    #!{sys.executable}
    import http.server, os, sys, time
    mode = os.environ.get("FAKE_MODE", "exit")
    print("fake litellm starting with", " ".join(sys.argv[1:]), flush=True)
    if mode == "exit":
        print("ImportError: cannot import name 'proxy_server'", flush=True)
        sys.exit(3)
    if mode == "hang":
        time.sleep(3600)
    port = int(sys.argv[sys.argv.index("--port") + 1])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'"I am alive!"' if self.path.startswith("/health/liveliness") else b'{{"litellm_version": "9.9.9-fake"}}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            print("Segmentation fault while handling", self.path, flush=True)
            os._exit(139)

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def fake_litellm(tmp_path: Path) -> Path:
    path = tmp_path / "litellm"
    path.write_text(FAKE_LITELLM)
    path.chmod(0o755)
    return path


@pytest.fixture
def runner() -> Iterator[Runner]:
    running = Runner(timeout=20)
    try:
        yield running
    finally:
        running.close()


def capture(capture_id: str):
    return next(c for c in load_corpus(default_corpus()).captures if c.id == capture_id)


def run_case(runner: Runner, target: LiteLLMProxy, capture_id: str, route: tuple[str, str]):
    return runner.run(Case(capture(capture_id), route, "event"), target)


# -- without litellm: the process handling -----------------------------------------------------


def test_a_proxy_that_exits_at_once_errors_with_its_log_tail(
    runner: Runner, fake_litellm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "exit")
    target = LiteLLMProxy(executable=fake_litellm)
    first = run_case(runner, target, "openai-chat/openai/text-lf", (OPENAI_CHAT, OPENAI_CHAT))
    assert first.outcome == "errored"
    assert "the LiteLLM proxy exited with code 3 before it was ready" in first.error
    assert "ImportError: cannot import name 'proxy_server'" in first.error  # the log tail
    assert "--config" in first.error and "--host 127.0.0.1 --port" in first.error
    # Every later item errors at once with a short reminder, not another start.
    started = time.monotonic()
    second = run_case(runner, target, "anthropic-messages/anthropic/text", (ANTHROPIC_MESSAGES, OPENAI_CHAT))
    assert time.monotonic() - started < 2
    assert second.outcome == "errored"
    assert "exited with code 3" in second.error and "ImportError" not in second.error
    assert target.pid is not None and gone(target.pid)
    runner.call(target.aclose(), timeout=20)
    assert "ImportError" in (target.log_text() or "")  # kept for the report after the folder is gone
    assert target.log_path is not None and not target.log_path.exists()


def test_the_binary_can_be_named_by_environment(fake_litellm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BIN_ENV, str(fake_litellm))
    assert find_litellm() == fake_litellm
    assert load("litellm-proxy").executable == fake_litellm
    monkeypatch.setenv(BIN_ENV, str(fake_litellm.parent / "nope"))
    with pytest.raises(TargetError, match="not an executable file") as caught:
        load("litellm-proxy")
    assert caught.value.code == "litellm-not-installed"


@pytest.mark.skipif(REAL_LITELLM.exists(), reason="litellm is installed here")
def test_without_litellm_installed_the_target_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BIN_ENV, raising=False)
    with pytest.raises(TargetError, match=r"pip install 'llm-stream-conformance\[litellm\]'") as caught:
        load("litellm-proxy")
    assert caught.value.code == "litellm-not-installed"


def test_a_taken_port_is_one_clear_message(runner: Runner, fake_litellm: Path) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        target = LiteLLMProxy(executable=fake_litellm, port=port)
        result = run_case(runner, target, "openai-chat/openai/text-lf", (OPENAI_CHAT, OPENAI_CHAT))
    assert result.outcome == "errored"
    assert f"port {port} on 127.0.0.1 is already in use" in result.error
    assert target.pid is None  # nothing was started
    runner.call(target.aclose(), timeout=20)
    assert target.log_path is not None and not target.log_path.parent.exists()


def test_a_proxy_that_never_answers_times_out_and_is_stopped(
    runner: Runner, fake_litellm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "hang")
    target = LiteLLMProxy(executable=fake_litellm, startup_timeout=1.5)
    result = run_case(runner, target, "openai-chat/openai/text-lf", (OPENAI_CHAT, OPENAI_CHAT))
    assert result.outcome == "errored"
    assert "did not answer" in result.error and "within 1.5 s" in result.error
    assert "fake litellm starting" in result.error
    assert target.pid is not None and gone(target.pid)
    runner.call(target.aclose(), timeout=20)
    assert target.log_path is not None and not target.log_path.parent.exists()


def test_a_proxy_that_dies_mid_run_errors_the_item_with_its_log_and_is_started_again_a_bounded_number_of_times(
    runner: Runner, fake_litellm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "serve")  # it dies on every POST
    target = LiteLLMProxy(executable=fake_litellm)
    first = run_case(runner, target, "openai-chat/openai/text-lf", (OPENAI_CHAT, OPENAI_CHAT))
    assert target.version == "9.9.9-fake"  # read from /health/readiness once started
    assert first.outcome == "errored"
    assert "died mid-run with exit code 139; it is started again for the next case" in first.error
    assert "Segmentation fault while handling /v1/chat/completions" in first.error
    pids = [target.pid]
    for restart in range(1, MAX_RESTARTS + 1):
        again = run_case(runner, target, "openai-chat/openai/text-lf", (OPENAI_CHAT, ANTHROPIC_MESSAGES))
        assert again.outcome == "errored" and "died mid-run with exit code 139" in again.error
        assert target.restarts == restart and target.pid not in pids
        pids.append(target.pid)
    assert [note for note in target.notes if "was started again" in note] == [
        f"the LiteLLM proxy (pid {pid}) died mid-run with exit code 139 and was started again (restart {n} of at most {MAX_RESTARTS}); its log is in proxy.log"
        for n, pid in enumerate(pids[:-1], start=1)
    ]
    last = run_case(runner, target, "openai-chat/openai/text-lf", (OPENAI_CHAT, OPENAI_CHAT))
    assert last.outcome == "errored" and f"for the {MAX_RESTARTS + 1}th time" in last.error
    assert target.restarts == MAX_RESTARTS and target.pid == pids[-1]  # not started again
    log = target.log_text() or ""
    assert log.count("Segmentation fault while handling") == MAX_RESTARTS + 1  # one log across restarts
    runner.call(target.aclose(), timeout=20)
    assert all(gone(pid) for pid in pids if pid is not None)


def test_atexit_stops_a_proxy_the_run_never_closed(fake_litellm: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from conformance.targets.litellm_proxy import LiteLLMProxy
        from conformance.targets.base import Exchange

        async def main():
            target = LiteLLMProxy(executable={str(fake_litellm)!r})
            await target._ensure_started("http://127.0.0.1:9")
            print(target.pid, target.log_path.parent, flush=True)

        asyncio.run(main())  # no aclose(): interrupted runs end like this
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FAKE_MODE": "serve"},
    )
    assert done.returncode == 0, done.stderr
    pid, folder = done.stdout.split()
    assert gone(int(pid))
    assert not Path(folder).exists()


def test_generated_config_points_every_prefix_at_the_replay_server() -> None:
    config = proxy_config("http://127.0.0.1:5555")
    assert yaml.safe_load(yaml.safe_dump(config)) == config
    by_name = {m["model_name"]: m["litellm_params"] for m in config["model_list"]}
    assert set(by_name) == {f"{prefix}/*" for prefix in {*PROVIDER_PREFIXES.values(), "custom_openai"}}
    for name, params in by_name.items():
        assert params["model"] == name and params["api_key"]
        assert params["api_base"].startswith("http://127.0.0.1:5555")
    assert by_name["anthropic/*"]["api_base"] == "http://127.0.0.1:5555"
    assert by_name["hosted_vllm/*"]["api_base"] == "http://127.0.0.1:5555/v1"
    assert by_name["custom_openai/*"]["drop_params"] is True and "drop_params" not in by_name["openai/*"]
    assert config["litellm_settings"]["num_retries"] == 0
    assert config["litellm_settings"]["use_chat_completions_url_for_anthropic_messages"] is True
    assert config["router_settings"]["disable_cooldowns"] is True
    # The second proxy: LiteLLM's default, /v1/messages on an openai/ model to the Responses API.
    default = proxy_config("http://127.0.0.1:5555", messages_to_responses=True)
    assert default["litellm_settings"]["use_chat_completions_url_for_anthropic_messages"] is False
    assert "database_url" not in config["general_settings"] and "master_key" not in config["general_settings"]


# -- with litellm: the real proxy ----------------------------------------------------------------


@pytest.mark.skipif(
    not REAL_LITELLM.exists(),
    reason=f"the litellm CLI is not installed next to {sys.executable} (pip install 'llm-stream-conformance[litellm]')",
)
def test_the_real_proxy_serves_every_route_and_is_stopped(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BIN_ENV, raising=False)
    target = load("litellm-proxy")
    assert isinstance(target, LiteLLMProxy)
    cases = [
        ("openai-chat/openai/text-lf", (OPENAI_CHAT, OPENAI_CHAT)),
        ("openai-chat/openai/text-lf", (OPENAI_CHAT, ANTHROPIC_MESSAGES)),
        ("anthropic-messages/anthropic/text", (ANTHROPIC_MESSAGES, OPENAI_CHAT)),
        ("anthropic-messages/anthropic/text", (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES)),
        ("openai-responses/openai/text", (OPENAI_RESPONSES, OPENAI_RESPONSES)),
        ("openai-responses/openai/text", (OPENAI_RESPONSES, OPENAI_CHAT)),
        ("openai-responses/openai/text", (OPENAI_RESPONSES, ANTHROPIC_MESSAGES)),
        ("openai-chat/deepseek/chat-usage-on-finish-chunk", (OPENAI_CHAT, OPENAI_RESPONSES)),
        ("anthropic-messages/anthropic/text", (ANTHROPIC_MESSAGES, OPENAI_RESPONSES)),
    ]
    results = [run_case(runner, target, capture_id, route) for capture_id, route in cases]
    for result in results:
        # Whether LiteLLM passes every invariant is the conformance run's business; here: it ran,
        # the capture reached the proxy's upstream once, and the client text came through.
        assert result.outcome not in ("errored", "skipped"), result.error
        assert result.upstream_requests == 1
        assert result.message is not None and result.message.text == result.case.capture.expect["text"]
    pid, log_path = target.pid, target.log_path
    second = target._responses_proxy  # started for openai-responses → anthropic-messages
    assert pid is not None and log_path is not None and not gone(pid)
    assert second is not None and second.pid is not None and not gone(second.pid)
    runner.call(target.aclose(), timeout=30)
    assert gone(pid) and gone(second.pid)
    assert not log_path.exists()
    log = target.log_text() or ""
    assert "/v1/messages" in log and "/v1/chat/completions" in log and "/v1/responses" in log
    _, _, theirs = log.partition("use_chat_completions_url_for_anthropic_messages unset")
    assert "POST /v1/messages" in theirs and "POST /v1/responses" not in theirs
    assert "\x1b[" not in log


def test_the_readme_recipe_config_matches_the_prefix_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing a running proxy (http target)", 1)[1]
    config = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    entries = {m["model_name"]: m["litellm_params"] for m in config["model_list"]}
    providers = {c.provider for c in load_corpus(default_corpus()).captures}
    assert set(entries) == {f"{provider}/*" for provider in providers | set(PROVIDER_PREFIXES)}
    for name, params in entries.items():
        assert params["model"] == PROVIDER_PREFIXES.get(name[:-2], "openai") + "/*", name
        assert params["api_base"].startswith("http://127.0.0.1:8765")
    assert config["litellm_settings"]["num_retries"] == 0
    assert config["litellm_settings"]["use_chat_completions_url_for_anthropic_messages"] is True
