"""A proxy described by a TOML file: `--target=path/to/proxy.toml`, the `http` target without code.

    name = "portkey"
    version = "1.15.2"                 # or: version_command = ["node", "-p", "..."]
    configuration = "default"          # optional: one of several gated configurations
    base_url = "http://127.0.0.1:8787"
    routes = ["openai-chat-to-openai-chat"]
    model = "{name}"
    read_timeout = 30
    start = ["node", "server.js", "--port=8787"]   # optional, with ready_url
    ready_url = "http://127.0.0.1:8787/"
    replay_port = 8765                 # optional

    [headers]
    x-portkey-provider = "{provider}"
    x-portkey-custom-host = "{upstream}"

    [providers]                        # optional: what {provider} is, per capture provider
    openrouter = "openrouter"
    "openai-chat/*" = "openai"

The fields mean what the `http://` target's options mean (`targets/http.py`): `routes` are the
routes served (the others are skipped, with the reason), `model` and each header value are
templates with `{name}`, `{token}`, `{provider}`, `{upstream}` and `{litellm}`, and `read_timeout`
is the proxy's own upstream read timeout. `providers` says what `{provider}` is for the captures of
each provider (`HttpTarget.provider_name`); the captures of a provider it leaves out are skipped,
with the reason. The report is named after `name`, `version` and `configuration`
(`reports/<name>-<version>[-<configuration>]/` when that folder exists, else
`reports/<name>[-<configuration>]/`).

With `start`, the suite runs that command (in the file's folder, in a session of its own, its
output to a log, with `CONFORMANCE_REPLAY_URL` set to the replay server's base URL, at
`replay_port` or a free port the suite picks) as the run starts, waits up to `ready_timeout`
seconds (default 30) for a GET of `ready_url` to get any answer, and stops it at the end by its PID
(its process group: SIGTERM, then SIGKILL), whether the run passed, failed or stopped early. Its
output is copied next to the report as `proxy.log`.

The file is checked against `schemas/target-file.schema.json`; a wrong field is a `TargetError`
("bad-target-file") naming the file and the field.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from conformance.targets.base import route_id
from conformance.targets.http import PROBE_TIMEOUT, HttpTarget, check_template

__all__ = [
    "DEFAULT_READY_TIMEOUT",
    "REPLAY_URL_ENV",
    "STOP_TIMEOUT",
    "SUFFIX",
    "VERSION_COMMAND_TIMEOUT",
    "FileTarget",
    "is_target_file",
    "load_file",
]

SUFFIX = ".toml"
REPLAY_URL_ENV = "CONFORMANCE_REPLAY_URL"
"""Set for a started proxy's command: the replay server's base URL, its upstream."""
DEFAULT_READY_TIMEOUT = 30.0
"""How long a started proxy has to answer at its `ready_url`, unless the file says `ready_timeout`."""
VERSION_COMMAND_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
"""How long a started proxy has to exit after SIGTERM before it gets SIGKILL."""
_TAIL_LINES = 20


def _free_port() -> int:
    """A loopback port free now, for the replay server a started proxy is pointed at."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_target_file(spec: str) -> bool:
    return spec.endswith(SUFFIX)


def _error(code: str, message: str) -> Exception:
    from conformance.targets import TargetError

    return TargetError(code, message)


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(f"  | {line}" for line in kept) if kept else "  (no output)"


def load_file(spec: str) -> FileTarget:
    """The target `spec`, a TOML file, describes; a file that cannot be read, is not TOML or breaks
    `schemas/target-file.schema.json` raises `TargetError` ("bad-target-file") naming the file and
    the field. A `version_command` runs here, bounded by `VERSION_COMMAND_TIMEOUT`."""
    from conformance.schemas import problems

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the same parser, a dependency on Python 3.10
        import tomli as tomllib
    path = Path(spec)
    hint = "see schemas/target-file.schema.json and README: Testing a running proxy"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise _error("bad-target-file", f"{path}: cannot read the target file: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise _error("bad-target-file", f"{path}: not TOML: {error}") from None
    found = problems("target-file", data)
    if found:
        where = f"field {found[0].path}" if found[0].path else "top level"
        raise _error("bad-target-file", f"{path}: {where}: {found[0].message}; {hint}")
    if "version" in data and "version_command" in data:
        raise _error("bad-target-file", f"{path}: field version_command: give version or version_command, not both")
    for field, template, names_exchange in (
        ("model", data.get("model"), True),
        *((f"headers.{name}", value, False) for name, value in data.get("headers", {}).items()),
    ):
        problem = template is not None and check_template(template, names_exchange=names_exchange)
        if problem:
            raise _error("bad-target-file", f"{path}: field {field}: {problem}; {hint}")
    version = data.get("version") or (
        _run_version_command(path, data["version_command"]) if "version_command" in data else None
    )
    return FileTarget(path, data, version)


def _run_version_command(path: Path, command: list[str]) -> str:
    shown = shlex.join(command)
    try:
        done = subprocess.run(
            command,
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=VERSION_COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _error("version-command-failed", f"{path}: field version_command: {shown} failed: {error}") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        said = f"exited with code {done.returncode}" if done.returncode else "printed nothing"
        raise _error(
            "version-command-failed",
            f"{path}: field version_command: {shown} {said}; its output:\n{_tail(done.stdout + done.stderr)}",
        )
    return lines[0].strip()


class FileTarget(HttpTarget):
    """The `http` target with a name, a version and, optionally, a proxy process of its own."""

    def __init__(self, path: Path, data: dict[str, Any], version: str | None) -> None:
        from conformance.targets.http import KNOWN_ROUTES

        by_id = {route_id(route): route for route in KNOWN_ROUTES}
        super().__init__(
            data["base_url"],
            routes=[by_id[name] for name in data["routes"]],
            model=data.get("model"),
            headers=[(name.lower(), value) for name, value in data.get("headers", {}).items()],
            providers=data.get("providers"),
        )
        self.path = path
        self.name = data["name"]
        self.report_name = data["name"]
        """What the report folder, header and expectations are named after, rather than the spec."""
        self.configuration: str | None = data.get("configuration")
        self.replay_port: int = data.get("replay_port", 0)
        """The replay server's port the proxy is configured for; 0 until `start` picks one."""
        if version is not None:
            self.version = version
            self._probed = True  # a version the file gives is not asked of the proxy
        if "read_timeout" in data:
            self.upstream_read_timeout = float(data["read_timeout"])
        self.start_command: list[str] | None = data.get("start")
        self.ready_url: str | None = data.get("ready_url")
        self.ready_timeout = float(data.get("ready_timeout", DEFAULT_READY_TIMEOUT))
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.log_path: str | None = None
        self._log: str | None = None

    def probe(self, timeout: float = PROBE_TIMEOUT) -> None:
        """Start the proxy when the file says how (once), then check it listens (`HttpTarget.probe`);
        a proxy that fails either is stopped before the error is raised."""
        if self.start_command and self.pid is None:
            self.start()
        try:
            super().probe(timeout)
        except BaseException:
            self.stop()
            raise

    def start(self) -> None:
        """Run `start` and wait, bounded by `ready_timeout`, for `ready_url` to answer anything.
        A command that cannot run, exits, or is not ready in time is stopped, and raises
        `TargetUnavailable` ("proxy-not-ready") naming the command and its last lines of output."""
        from conformance.targets import TargetUnavailable

        assert self.start_command and self.ready_url
        shown = shlex.join(self.start_command)
        if not self.replay_port:
            self.replay_port = _free_port()
        environment = {**os.environ, REPLAY_URL_ENV: f"http://127.0.0.1:{self.replay_port}"}
        with tempfile.NamedTemporaryFile(prefix=f"conformance-{self.name}-", suffix=".log", delete=False) as log:
            self.log_path = log.name
            try:
                self.process = subprocess.Popen(
                    self.start_command,
                    cwd=self.path.parent,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=environment,
                    start_new_session=True,  # its own process group: stopped with all it started
                )
            except OSError as error:
                raise TargetUnavailable(
                    "proxy-not-ready", f"{self.path}: field start: {shown} could not run: {error}"
                ) from None
        self.pid = self.process.pid
        atexit.register(self.stop)  # a run that never reaches its end still stops the proxy
        deadline = time.monotonic() + self.ready_timeout
        why = ""
        with httpx.Client() as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    why = f"it exited with code {code} before {self.ready_url} answered"
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f"{self.ready_url} did not answer within {self.ready_timeout:g} s (ready_timeout)"
                    break
                try:
                    client.get(self.ready_url, timeout=min(2.0, left))
                    return
                except httpx.HTTPError:
                    time.sleep(min(0.1, max(left, 0)))
        self.stop()
        raise TargetUnavailable(
            "proxy-not-ready",
            f"{self.path}: started {shown} (PID {self.pid}), but {why}. Its last lines of output:\n"
            f"{_tail(self.log_text() or '')}\nFix start or ready_url in the file, or raise ready_timeout",
        )

    def stop(self) -> None:
        """Stop the started proxy by its PID (SIGTERM to its process group, SIGKILL after
        `STOP_TIMEOUT`) and keep its log; nothing to do when none was started, or it was stopped."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                self._signal(process, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._signal(process, signal.SIGKILL)
                    process.wait(STOP_TIMEOUT)
            atexit.unregister(self.stop)
        if self.log_path and self._log is None:
            self._log = self.log_text()
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], sent: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if hasattr(os, "killpg"):
                os.killpg(process.pid, sent)
            else:  # no process groups here: the process alone
                process.send_signal(sent)

    def log_text(self) -> str | None:
        """The started proxy's output, also once `stop` removed its log file."""
        if self._log is not None:
            return self._log
        if not self.log_path:
            return None
        try:
            return Path(self.log_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    async def aclose(self) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<FileTarget {self.name} {self.version} from {self.path} at {self.base_url}>"
