"""The `litellm-proxy` target: the real LiteLLM proxy server, run as a subprocess.

    pip install 'llm-stream-conformance[litellm]'   # LiteLLM with its proxy extra, pinned
    pytest --target=litellm-proxy

On the first exchange of a run it writes a config (`config.yaml`, in a temporary folder) whose
model list has one wildcard entry per LiteLLM provider prefix, every one pointing its `api_base`
at the replay server, and starts `litellm --config config.yaml --host 127.0.0.1 --port <free>`
with no database, no master key, no callbacks and LiteLLM's offline switches set. It waits for
the health endpoint, then drives every exchange over HTTP: `/v1/chat/completions`, `/v1/messages`
or `/v1/responses` with `model: "<litellm prefix>/<capture>"`, the last segment of the exchange's
stable name. LiteLLM routes the prefix to the wildcard entry and sends `<capture>` upstream as the
model name, which is how the replay server picks the capture (`conformance/replay.py`); being
stable, it is the same in every run's report. On a route to or from the Responses API the proxy is
asked for the model the capture's client asked for instead, and the request's `extra_headers` carry
the capture's token upstream: there LiteLLM fakes the stream of a model it does not know, and
refuses parameters such a model is not known to take.

The routes and the prefixes are the SDK target's (`targets/litellm_sdk.py`, which says which LiteLLM
code path each one is). The config sets `use_chat_completions_url_for_anthropic_messages`, so that
`/v1/messages` on an `openai/` model reaches the Chat Completions adapter; LiteLLM's default for
that model, the Responses API, is another deployment: on the first openai-responses →
anthropic-messages exchange a second proxy is started, with the switch unset, and serves that
route (its log follows the first's in `proxy.log`).

The proxy's stdout and stderr go to `proxy.log` (`log_path`); the plugin copies it into the report
folder. A proxy that does not start, or dies mid-run, errors the affected items with one message
that carries the log's last lines; the run goes on. `aclose()` stops the process (SIGTERM, then
SIGKILL after 10 s) and removes the folder, and an `atexit` hook does the same if the run is cut
short.

`CONFORMANCE_LITELLM_BIN` names another `litellm` executable (default: the one next to
`sys.executable`, i.e. in the environment running the suite).
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import importlib.metadata
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import yaml

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_RESPONSES
from conformance.replay import TOKEN_HEADER
from conformance.targets import MAX_RESTARTS, TargetError, TargetUnavailable, died
from conformance.targets.base import Exchange, Head, Route
from conformance.targets.http import post_stream
from conformance.targets.litellm_sdk import (
    CHAT_SERVER_PREFIX,
    PROVIDER_PREFIXES,
    ROUTES,
    UPSTREAM_TIMEOUT,
    api_base,
    install_hint,
    litellm_model,
    route_prefix,
    unserved,
)

__all__ = ["BIN_ENV", "LiteLLMProxy", "find_litellm", "proxy_config"]

BIN_ENV = "CONFORMANCE_LITELLM_BIN"
STARTUP_TIMEOUT = 90.0
STOP_GRACE = 10.0
LOG_TAIL = 40
HEALTH_PATHS = ("/health/liveliness", "/health/liveness")
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the model cost map
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_TELEMETRY": "False",
    # Counting the tokens of a stream that reports no usage, LiteLLM asks the Hugging Face hub for
    # the model's tokenizer (five retries, ~45 s offline) before it falls back to tiktoken.
    "HF_HUB_OFFLINE": "1",
    "DISABLE_ADMIN_UI": "True",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "PYTHONUNBUFFERED": "1",  # the log is current when we read its tail
    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",  # see general_settings below
}
# A database or master key in the caller's environment would change what the proxy does.
SCRUBBED_ENV = (
    "DATABASE_URL",
    "DIRECT_URL",
    "LITELLM_MASTER_KEY",
    "LITELLM_SALT_KEY",
    "REDIS_HOST",
    "REDIS_URL",
    "STORE_MODEL_IN_DB",
    "CONFIG_FILE_PATH",
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _model_list(replay_base_url: str) -> list[tuple[str, str]]:
    """(prefix, api_base) per LiteLLM prefix in the table: the replay server plus the path the real
    provider's base URL has (`/v1`, `/api/v1` for OpenRouter, none for Anthropic, ...), as in the
    SDK target, so LiteLLM builds the same upstream URL it would for the real provider."""
    by_prefix: dict[str, str] = {}
    for prefix in (*PROVIDER_PREFIXES.values(), CHAT_SERVER_PREFIX):
        by_prefix.setdefault(prefix, api_base(prefix, replay_base_url))
    return sorted(by_prefix.items())


def find_litellm() -> Path:
    """The `litellm` CLI: $CONFORMANCE_LITELLM_BIN, else the one in this environment's bin folder."""
    given = os.environ.get(BIN_ENV)
    if given:
        path = Path(given)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise TargetUnavailable(
                "litellm-not-installed", f"${BIN_ENV} is {given!r}, which is not an executable file"
            )
        return path
    folder = Path(sys.executable).parent
    for name in ("litellm", "litellm.exe"):
        if (folder / name).is_file():
            return folder / name
    raise TargetUnavailable(
        "litellm-not-installed",
        f"the litellm-proxy target runs the `litellm` CLI of this environment, and there is none in {folder}; "
        f"{install_hint()} (or set ${BIN_ENV} to a litellm executable)",
    )


def proxy_config(replay_base_url: str, *, messages_to_responses: bool = False) -> dict[str, Any]:
    """The LiteLLM proxy config: one wildcard model per provider prefix, every upstream the replay
    server; the replay server picks the capture by the model name LiteLLM sends upstream (the
    capture's name after the prefix). `messages_to_responses`: LiteLLM's default for `/v1/messages`
    on an `openai/` model (the Responses API) instead of the Chat Completions adapter."""
    models = [
        {
            "model_name": f"{prefix}/*",
            "litellm_params": {
                "model": f"{prefix}/*",
                "api_base": base,
                "api_key": "conformance",
                **({"drop_params": True} if prefix == CHAT_SERVER_PREFIX else {}),
            },
        }
        for prefix, base in _model_list(replay_base_url)
    ]
    return {
        "model_list": models,
        "litellm_settings": {
            "telemetry": False,
            "callbacks": [],
            "success_callback": [],
            "failure_callback": [],
            "num_retries": 0,  # a retry would replay the capture twice
            # Without it /v1/messages to an `openai/` model goes upstream to the Responses API; the
            # openai-chat captures are Chat Completions streams.
            "use_chat_completions_url_for_anthropic_messages": not messages_to_responses,
            "request_timeout": UPSTREAM_TIMEOUT,
        },
        "router_settings": {
            "num_retries": 0,
            "disable_cooldowns": True,  # an error capture must not take the wildcard deployment out
        },
        "general_settings": {
            # No master key (and no database): newer versions refuse to start so unless told. The
            # proxy listens on 127.0.0.1 and reaches nothing but the replay server.
            "dangerously_permit_weak_or_unset_master_key": True,
            "disable_spend_logs": True,
            "disable_reset_budget": True,
            "background_health_checks": False,
        },
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _Process:
    """The proxy process (a process group of its own); stopping is idempotent and safe from atexit."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    def stop(self, grace: float = STOP_GRACE) -> None:
        popen = self.popen
        if popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                popen.wait(5)
        # Children that outlived the leader (workers started by uvicorn) share its process group.
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        try:
            if os.name == "posix":
                os.killpg(self.popen.pid, sig)
            elif sig == signal.SIGTERM:
                self.popen.terminate()
            else:
                self.popen.kill()
        except (ProcessLookupError, PermissionError):
            pass


class LiteLLMProxy:
    """Target protocol v1 over a LiteLLM proxy process started for the run."""

    name = "litellm-proxy"
    routes: frozenset[Route] = ROUTES
    upstream_read_timeout = UPSTREAM_TIMEOUT  # the config's request_timeout
    stable_names = True  # the upstream is asked for the capture's name, not the exchange's token
    unserved = staticmethod(unserved)

    def __init__(
        self,
        *,
        executable: str | os.PathLike[str] | None = None,
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        messages_to_responses: bool = False,
    ) -> None:
        self.executable = Path(executable) if executable is not None else find_litellm()
        self.port = port
        self.startup_timeout = startup_timeout
        self.messages_to_responses = messages_to_responses
        self._responses_proxy: LiteLLMProxy | None = None
        """The second proxy, LiteLLM's default for /v1/messages on `openai/` models; started on the
        first openai-responses → anthropic-messages exchange."""
        self.version = _installed_version()
        self.base_url: str | None = None
        self.log_path: Path | None = None
        self.pid: int | None = None
        self._process: _Process | None = None
        self._lock: asyncio.Lock | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._failure: str | None = None
        """Why the proxy is unusable (did not start, or died): every later exchange is told at once."""
        self._failure_told = False
        self._start_error_seen = False
        self._log_text: str | None = None
        self._folder: Path | None = None
        self._notes: list[str] = []
        """Each time the proxy died and was started again."""
        self.restarts = 0

    # -- the process ---------------------------------------------------------------------------

    async def _ensure_started(self, replay_base: str) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._died_after_start() and self.restarts < MAX_RESTARTS:
                await self._forget_dead_process()
            if self._start_task is None:
                self._start_task = asyncio.get_running_loop().create_task(
                    self._start(replay_base), name="litellm-proxy-start"
                )
        # Shielded: a case cancelled at its time bound must not cancel the start the next case needs.
        try:
            await asyncio.shield(self._start_task)
        except TargetError:
            if self._failure is None or not self._start_error_seen:
                self._start_error_seen = True
                raise  # the first case to wait for the start hears the whole story
        self._check_alive()
        assert self.base_url is not None
        return self.base_url

    def _died_after_start(self) -> bool:
        return (
            self._failure is None
            and self._start_task is not None
            and self._start_task.done()
            and self._process is not None
            and self._process.popen.poll() is not None
        )

    async def _forget_dead_process(self) -> None:
        """A proxy that died mid-run (a native crash, say) is started again for the next case; the
        cases it was serving have errored with its exit code, and the report's notes say so."""
        assert self._process is not None
        process, self._process = self._process, None
        code = process.popen.poll()
        await asyncio.to_thread(process.stop)  # what is left of its process group
        _LIVE.discard(process)
        self.restarts += 1
        self._notes.append(
            f"the LiteLLM proxy (pid {self.pid}) {died(code)} and was started again (restart {self.restarts} of at most {MAX_RESTARTS}); its log is in proxy.log"
        )
        self._start_task = None

    async def _start(self, replay_base: str) -> None:
        port = self.port if self.port is not None else _free_port()
        if self._folder is None:  # a restart keeps the folder, and appends to the same log
            self._folder = Path(tempfile.mkdtemp(prefix="conformance-litellm-proxy-"))
            _FOLDERS.add(self._folder)
        folder = self._folder
        config_path = folder / "config.yaml"
        self.log_path = folder / "proxy.log"
        config = proxy_config(replay_base, messages_to_responses=self.messages_to_responses)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        command = [str(self.executable), "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port)]
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
        if not _port_is_free(port):
            self._fail(f"the LiteLLM proxy cannot start: port {port} on 127.0.0.1 is already in use")
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(OFFLINE_ENV)
        env["PYTHONFAULTHANDLER"] = "1"  # a crash of a native extension leaves its traceback in the log
        try:
            with self.log_path.open("ab") as log:
                popen = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                    env=env,
                    start_new_session=True,  # its own process group: stopped whole, spared our Ctrl-C
                )
        except OSError as error:
            self._fail(f"cannot run {self.executable}: {error}")
        self._process = _Process(popen)
        self.pid = popen.pid
        _LIVE.add(self._process)
        self.base_url = f"http://127.0.0.1:{port}"
        await self._wait_healthy()
        await self._read_version()

    async def _wait_healthy(self) -> None:
        assert self._process is not None and self.base_url is not None
        deadline = time.monotonic() + self.startup_timeout
        paths = list(HEALTH_PATHS)
        async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
            while True:
                code = self._process.popen.poll()
                if code is not None:
                    self._fail(f"the LiteLLM proxy exited with code {code} before it was ready")
                for path in list(paths):
                    try:
                        response = await client.get(self.base_url + path)
                    except httpx.HTTPError:
                        break  # not listening yet
                    if response.status_code == 200:
                        return
                    if response.status_code == 404 and len(paths) > 1:
                        paths.remove(path)  # this version names its health endpoint differently
                if time.monotonic() > deadline:
                    self._fail(
                        f"the LiteLLM proxy did not answer {self.base_url}{paths[0]} within {self.startup_timeout:g} s"
                    )
                await asyncio.sleep(0.25)

    async def _read_version(self) -> None:
        assert self.base_url is not None
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
                response = await client.get(self.base_url + "/health/readiness")
            found = response.json().get("litellm_version")
            if isinstance(found, str) and found:
                self.version = found
        except (httpx.HTTPError, ValueError, AttributeError):
            pass

    def _fail(self, reason: str) -> NoReturn:
        """Record why the proxy is unusable (stopping what is left of it) and raise that."""
        if self._failure is None:
            if self._process is not None:
                self._process.stop(grace=2.0)
            tail = self.log_tail()
            where = f" ({self.log_path}; copied to proxy.log in the report folder)" if self.log_path else ""
            self._failure = f"{reason}. Last {LOG_TAIL} lines of its log{where}:\n{tail}" if tail else reason
        self._raise_failure()

    def _raise_failure(self) -> NoReturn:
        """The first item to hear of the failure gets the log tail; the others a short reminder."""
        assert self._failure is not None
        if not self._failure_told:
            self._failure_told = True
            raise TargetError("proxy-failed", self._failure)
        first = self._failure.split(". Last", 1)[0]
        raise TargetError(
            "proxy-failed",
            f"{first} (the log tail is in the first errored item; the whole log is proxy.log in the report folder)",
        )

    def _check_alive(self) -> None:
        if self._failure is not None:
            self._raise_failure()
        assert self._process is not None
        code = self._process.popen.poll()
        if code is None:
            return
        reason = f"the LiteLLM proxy (pid {self.pid}) {died(code)}"
        if self.restarts >= MAX_RESTARTS:
            self._fail(f"{reason}, for the {MAX_RESTARTS + 1}th time")
        tail = self.log_tail()
        raise TargetError(
            "proxy-died",
            f"{reason}; it is started again for the next case. Last {LOG_TAIL} lines of its log:\n{tail}"
            if tail
            else reason,
        )

    async def _on_transport_error(self, error: Exception) -> None:
        """A broken connection: if the process is gone (or going), say so with its log."""
        assert self._process is not None
        for _ in range(10):
            if self._process.popen.poll() is not None:
                self._check_alive()
            await asyncio.sleep(0.1)

    # -- the target protocol -------------------------------------------------------------------

    @property
    def notes(self) -> list[str]:
        second = self._responses_proxy
        return [*self._notes, *(f"second proxy: {note}" for note in (second.notes if second else ()))]

    async def stream(self, exchange: Exchange) -> AsyncGenerator[bytes | Head, None]:
        provider = exchange.provider or "openai"
        reason = unserved(exchange.route, provider)
        if reason is not None:
            raise ValueError(reason)
        if exchange.route == (OPENAI_RESPONSES, ANTHROPIC_MESSAGES) and not self.messages_to_responses:
            if self._responses_proxy is None:
                self._responses_proxy = LiteLLMProxy(
                    executable=self.executable, startup_timeout=self.startup_timeout, messages_to_responses=True
                )
            async for chunk in self._responses_proxy.stream(exchange):
                yield chunk
            return
        replay_base = exchange.upstream_url.split("/r/", 1)[0]
        base = await self._ensure_started(replay_base)
        requested = str(exchange.request.get("model", ""))
        prefix = route_prefix(provider, exchange.route, requested)
        name = exchange.name.rsplit("/", 1)[-1]
        if OPENAI_RESPONSES in exchange.route:
            # On its Responses paths LiteLLM judges the request by what its model map says of the
            # model: it fakes the stream (one non-streaming request, its answer replayed as events)
            # for a model missing from it, as a capture's name is (BerriAI/litellm#21090), and its
            # bridge refuses parameters (tools) the model is not known to take. So the proxy is
            # asked for the model the client asked for, and LiteLLM's `extra_headers` request
            # parameter carries the token that picks the capture.
            name = requested
            exchange = dataclasses.replace(
                exchange, request={**exchange.request, "extra_headers": {TOKEN_HEADER: exchange.token}}
            )
        model = litellm_model(prefix, exchange.route, name)
        async for chunk in post_stream(base, exchange, model, on_transport_error=self._on_transport_error):
            yield chunk

    async def aclose(self) -> None:
        if self._responses_proxy is not None:
            await self._responses_proxy.aclose()
        task = self._start_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._process is not None:
            process, self._process = self._process, None
            await asyncio.to_thread(process.stop)
            _LIVE.discard(process)
        if self._folder is not None:
            folder, self._folder = self._folder, None
            self._log_text = self._own_log_text()
            shutil.rmtree(folder, ignore_errors=True)
            _FOLDERS.discard(folder)

    # -- the log ---------------------------------------------------------------------------------

    def log_text(self) -> str | None:
        """The proxy's whole log, ANSI colours removed, then the second proxy's; still there after
        `aclose()` removed the files."""
        own = self._own_log_text()
        second = self._responses_proxy.log_text() if self._responses_proxy is not None else None
        if second is None:
            return own
        header = "===== the second proxy: use_chat_completions_url_for_anthropic_messages unset ====="
        return f"{own or ''}\n{header}\n{second}"

    def _own_log_text(self) -> str | None:
        if self._log_text is not None:
            return self._log_text
        if self.log_path is None:
            return None
        try:
            return _ANSI.sub("", self.log_path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        text = self._own_log_text() or ""
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        return f"<LiteLLMProxy {self.version} {self.executable} pid={self.pid}>"


def _installed_version() -> str:
    try:
        return importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# Every proxy still running, and every folder not yet removed, cleaned up at interpreter exit if
# the run ended without aclose().
_LIVE: set[_Process] = set()
_FOLDERS: set[Path] = set()


@atexit.register
def _stop_all() -> None:
    for process in list(_LIVE):
        process.stop(grace=5.0)
    _LIVE.clear()
    for folder in list(_FOLDERS):
        shutil.rmtree(folder, ignore_errors=True)
    _FOLDERS.clear()
