"""Target files (`conformance/targets/http_file.py`): a proxy described in TOML, maybe started by the suite."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_http_target import PassthroughProxy, capture, closed_port, proxy_in_a_thread, small_corpus

from conformance.protocols import OPENAI_CHAT
from conformance.runner import Case, Runner
from conformance.targets import TargetError, TargetUnavailable, load
from conformance.targets.http_file import FileTarget

TINY_PROXY = """\
import http.server, os, sys
from pathlib import Path

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args):
        pass

Path(sys.argv[2]).write_text(str(os.getpid()))
print("tiny proxy listening", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def write(folder: Path, text: str, name: str = "proxy.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def runner() -> Iterator[Runner]:
    running = Runner(timeout=15)
    try:
        yield running
    finally:
        running.close()


def test_header_templates_reach_the_proxy_filled_in(runner: Runner, tmp_path: Path) -> None:
    proxy = PassthroughProxy(runner.replay.base_url)
    runner.call(proxy.start(), timeout=5)
    try:
        path = write(
            tmp_path,
            f'name = "gateway"\nversion = "1.0"\nbase_url = "{proxy.url}"\n'
            'routes = ["openai-chat-to-openai-chat"]\nmodel = "{token}"\n'
            '[headers]\nx-portkey-provider = "{provider}"\nX-Portkey-Custom-Host = "{upstream}"\n',
        )
        target = load(str(path))
        case = Case(capture("openai-chat/openai/text-lf"), (OPENAI_CHAT, OPENAI_CHAT), "event")
        result = runner.run(case, target)
    finally:
        runner.call(proxy.close(), timeout=5)
    assert result.outcome == "pass", (result.error, result.failures)
    [sent] = proxy.seen
    token = sent["body"]["model"]
    assert sent["headers"]["x-portkey-provider"] == "openai"
    assert sent["headers"]["x-portkey-custom-host"] == f"{runner.replay.base_url}/r/{token}"
    assert (target.name, target.version) == ("gateway", "1.0")


def test_header_templates_in_the_url_query() -> None:
    target = load("http://127.0.0.1:4000?header.x-portkey-provider={provider}")
    assert target.headers == (("x-portkey-provider", "{provider}"),)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('name = "p"\nroutes = ["openai-chat-to-openai-chat"]\n', "top level: 'base_url' is a required property"),
        ('name = "p"\nbase_url = "http://h:1"\nroutes = ["openai-to-openai"]\n', "field routes[0]: 'openai-to-openai'"),
        ('name = "p"\nbase_url = "http://h:1"\nroutes = ["openai-chat-to-openai-chat"]\nread_timeout = -1\n', "field read_timeout"),
        ('name = "p"\nbase_url = "http://h:1"\nroutes = ["openai-chat-to-openai-chat"]\nmodel = "{token}-{region}"\n', "field model: template"),
        ('name = "p"\nbase_url = "http://h:1"\nroutes = ["openai-chat-to-openai-chat"]\nport = 1\n', "'port' was unexpected"),
        ('name = "p"\nbase_url = "http://h:1"\nroutes = ["openai-chat-to-openai-chat"]\nstart = ["x"]\n', "'ready_url' is a dependency of 'start'"),
        ('name = "p"\nversion = "1"\nversion_command = ["x"]\nbase_url = "http://h:1"\nroutes = ["openai-chat-to-openai-chat"]\n', "field version_command"),
        ("name = \n", "not TOML"),
    ],
)  # fmt: skip
def test_a_bad_field_names_the_file_and_the_field(tmp_path: Path, body: str, says: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TargetError) as caught:
        load(str(path))
    assert caught.value.code == "bad-target-file"
    assert str(caught.value).startswith(f"{path}: ")
    assert says in str(caught.value)


def test_version_command_prints_the_version(tmp_path: Path) -> None:
    command = json.dumps([sys.executable, "-c", "print('4.5.6')"])
    path = write(
        tmp_path,
        f'name = "p"\nversion_command = {command}\nbase_url = "http://h:1"\nroutes = ["openai-chat-to-openai-chat"]\n',
    )
    assert load(str(path)).version == "4.5.6"


def started_file(folder: Path, port: int, script: str = TINY_PROXY, ready_timeout: float = 10) -> Path:
    (folder / "tiny_proxy.py").write_text(script, encoding="utf-8")
    start = json.dumps([sys.executable, "tiny_proxy.py", str(port), "pid.txt"])
    return write(
        folder,
        f'name = "tiny"\nversion = "0.1"\nbase_url = "http://127.0.0.1:{port}"\n'
        f'routes = ["openai-chat-to-openai-chat"]\nstart = {start}\n'
        f'ready_url = "http://127.0.0.1:{port}/health"\nready_timeout = {ready_timeout}\n',
    )


def test_start_runs_the_proxy_until_the_target_closes(tmp_path: Path) -> None:
    target = load(str(started_file(tmp_path, closed_port())))
    assert isinstance(target, FileTarget) and target.pid is None  # loading starts nothing
    try:
        target.probe()
        pid = int((tmp_path / "pid.txt").read_text())
        assert pid == target.pid and not gone(pid)
    finally:
        asyncio.run(target.aclose())
    assert gone(pid)
    assert "tiny proxy listening" in (target.log_text() or "")
    assert target.log_path is not None and not Path(target.log_path).exists()


def test_a_proxy_that_never_gets_ready_is_stopped_and_its_output_shown(tmp_path: Path) -> None:
    script = "import sys, time\nprint('no config found', flush=True)\nsys.exit(3)\n"
    target = load(str(started_file(tmp_path, closed_port(), script)))
    with pytest.raises(TargetUnavailable) as caught:
        target.probe()
    said = str(caught.value)
    assert caught.value.code == "proxy-not-ready"
    assert "tiny_proxy.py" in said and "exited with code 3" in said and "| no config found" in said
    assert target.process is None


def test_a_proxy_not_ready_in_time_is_killed(tmp_path: Path) -> None:
    script = "import time\nprint('warming up', flush=True)\ntime.sleep(60)\n"
    target = load(str(started_file(tmp_path, closed_port(), script, ready_timeout=0.5)))
    with pytest.raises(TargetUnavailable, match=r"did not answer within 0.5 s[\s\S]*warming up"):
        target.probe()
    assert target.pid is not None and gone(target.pid)


# -- through pytest --------------------------------------------------------------------------------


def test_the_report_is_named_after_the_file_and_unserved_routes_are_skipped(pytester: pytest.Pytester) -> None:
    replay_port = closed_port()
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (pytester.path / "out" / "fakeproxy-2.0").mkdir(parents=True)
    with proxy_in_a_thread(f"http://127.0.0.1:{replay_port}") as passthrough:
        path = write(
            pytester.path,
            f'name = "fakeproxy"\nversion = "2.0"\nbase_url = "{passthrough.url}"\n'
            'routes = ["openai-chat-to-openai-chat"]\n',
        )
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "--no-transport", f"--target={path}", f"--replay-port={replay_port}",
            f"--corpus={corpus}", "--schedule=event", "--report-dir", str(pytester.path / "out"), "-rs",
        )  # fmt: skip
    # The other 2 routes from openai-chat, one item each (one schedule), are skipped.
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "conformance: target fakeproxy, *",
            "*does not serve route openai-chat-to-anthropic-messages*",
            "*does not serve route openai-chat-to-openai-responses*",
        ]
    )
    header = json.loads((pytester.path / "out" / "fakeproxy-2.0" / "report.partial.json").read_text())["header"]
    assert (header["target"], header["target_version"]) == ("fakeproxy", "2.0")
    assert header["routes"] == ["openai-chat-to-openai-chat"]


def test_a_started_proxy_is_stopped_when_the_run_fails(pytester: pytest.Pytester) -> None:
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    path = started_file(pytester.path, closed_port())
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--no-transport", f"--target={path}", f"--corpus={corpus}",
        "--schedule=event", "--report-dir", str(pytester.path / "out"),
    )  # fmt: skip
    assert result.ret != 0  # the tiny proxy answers POST with 501: every item fails
    pid = int((pytester.path / "pid.txt").read_text())
    assert gone(pid)
    assert "tiny proxy listening" in (pytester.path / "out" / "tiny" / "proxy.log").read_text()


def test_a_configuration_names_its_report_and_unmapped_providers_are_skipped(pytester: pytest.Pytester) -> None:
    replay_port = closed_port()
    corpus = small_corpus(pytester.path / "corpus", "openai-chat/openai/text-lf", "openai-chat/openrouter/tool-call")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (pytester.path / "out" / "fakeproxy-2.0-plain").mkdir(parents=True)
    with proxy_in_a_thread(f"http://127.0.0.1:{replay_port}") as passthrough:
        path = write(
            pytester.path,
            f'name = "fakeproxy"\nversion = "2.0"\nconfiguration = "plain"\nbase_url = "{passthrough.url}"\n'
            'routes = ["openai-chat-to-openai-chat"]\nmodel = "{provider},{name}"\n'
            f"replay_port = {replay_port}\n"
            '[providers]\nopenrouter = "or"\n',
        )
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "--no-transport", f"--target={path}", f"--corpus={corpus}",
            "--schedule=event", "--report-dir", str(pytester.path / "out"), "-rs",
        )  # fmt: skip
    result.stdout.fnmatch_lines(["*has no provider of its own for openai-chat captures from 'openai'*"])
    header = json.loads((pytester.path / "out" / "fakeproxy-2.0-plain" / "report.partial.json").read_text())["header"]
    assert header["configuration"] == "plain"
    assert passthrough.seen and {seen["body"]["model"] for seen in passthrough.seen} == {"or,openrouter/tool-call"}


def test_a_started_proxy_is_told_the_replay_url(tmp_path: Path) -> None:
    script = TINY_PROXY.replace(
        "Path(sys.argv[2]).write_text(str(os.getpid()))",
        'Path(sys.argv[2]).write_text(str(os.getpid())); Path("replay.txt").write_text(os.environ["CONFORMANCE_REPLAY_URL"])',
    )
    target = load(str(started_file(tmp_path, closed_port(), script)))
    try:
        target.probe()
        assert isinstance(target, FileTarget) and target.replay_port
        assert (tmp_path / "replay.txt").read_text() == f"http://127.0.0.1:{target.replay_port}"
    finally:
        asyncio.run(target.aclose())
