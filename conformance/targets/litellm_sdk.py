"""The `litellm` target: LiteLLM's Python SDK, run against the replay upstream in a process of its
own (`targets/hosted.py`): LiteLLM's import (about 6 s) then overlaps the harness's collection, its
interpreter's exit (seconds, for LiteLLM's heap) happens outside the harness, and a crash in it
errors its streams instead of ending the run. `conformance.targets.litellm_sdk:LiteLLM` is the same
target in process.

    pip install 'llm-stream-conformance[litellm]'     # LiteLLM with its proxy extra, pinned
    pytest --target=litellm

Routes, each one a real LiteLLM code path:

- openai-chat → openai-chat: `litellm.acompletion(model="<prefix>/<model>", stream=True)`, with the
  LiteLLM provider prefix that matches the capture's dialect (`PROVIDER_PREFIXES`: `openrouter/`,
  `deepseek/`, `hosted_vllm/`, `groq/`, `dashscope/`, `openai/`, …), so that LiteLLM's own
  provider-specific stream parsing is what gets tested;
- anthropic-messages → openai-chat: `litellm.acompletion(model="anthropic/<model>", stream=True)`;
- openai-chat → anthropic-messages: `litellm.anthropic.messages.acreate(..., stream=True)` with
  `litellm.use_chat_completions_url_for_anthropic_messages = True`, LiteLLM's Chat Completions →
  Messages adapter (`AnthropicStreamWrapper`). Without that switch an `openai/` model goes upstream
  to the Responses API instead (the openai-responses → anthropic-messages route below);
- anthropic-messages → anthropic-messages: `litellm.anthropic.messages.acreate(model="anthropic/…")`,
  LiteLLM's native Messages pass-through (its `/v1/messages` endpoint for an Anthropic model);
- openai-responses → openai-responses: `litellm.aresponses(model="openai/<model>", stream=True)`,
  LiteLLM's native Responses API for OpenAI (its `/v1/responses` endpoint for an `openai/` model);
- openai-responses → anthropic-messages: `litellm.anthropic.messages.acreate(model="openai/<model>")`
  with `use_chat_completions_url_for_anthropic_messages` unset, LiteLLM's default for an `openai/`
  model: the Messages request goes upstream to `/v1/responses` and the Responses stream comes back
  as Messages events (`LiteLLMMessagesToResponsesAPIHandler`). The switch is process-wide in
  LiteLLM, so the two Messages routes from OpenAI upstreams are two deployments; this target sets
  it for each stream before LiteLLM reads it, and opens one Messages stream at a time so that no
  stream sees the other's value;
- openai-responses → openai-chat: `litellm.acompletion(model="openai/responses/<model>")`, LiteLLM's
  documented `responses/` prefix, which sends a Chat Completions request upstream to the Responses
  API and turns its stream back into chunks;
- openai-chat → openai-responses: `litellm.aresponses(model="<prefix>/<model>")` for a provider
  LiteLLM has no Responses API for (DeepSeek, Groq, Mistral, …): LiteLLM's Responses → Chat
  Completions bridge (`LiteLLMCompletionTransformationHandler`). An OpenAI-format Chat server (the
  `openai` provider's Chat captures, Ollama's, any unknown one) is reached as `custom_openai/`,
  LiteLLM's provider for an OpenAI-compatible server without a Responses API. The captures of the
  providers whose Responses requests LiteLLM sends to that provider's own Responses API
  (`NATIVE_RESPONSES_PREFIXES`: OpenRouter, hosted vLLM, Perplexity, xAI) are skipped on this
  route, saying so: LiteLLM translates none of their Chat Completions streams there;
- anthropic-messages → openai-responses: `litellm.aresponses(model="anthropic/<model>")`, the same
  bridge to Chat Completions, whose `anthropic/` provider then speaks Messages upstream (a Responses
  client such as Codex on a Claude model).

For a provider whose Messages requests LiteLLM hands to the provider's own Anthropic-compatible API
(DeepSeek: `deepseek/` goes to `…/anthropic/v1/messages`), LiteLLM translates nothing, so the
openai-chat → anthropic-messages route reaches that provider's Chat Completions stream as an
`openai/` model instead: LiteLLM's generic OpenAI-compatible parsing, then the adapter.

Upstream: LiteLLM is pointed at `exchange.upstream_url` (`…/r/<token>`) as `api_base`, plus the path
prefix the real provider's base URL has (`/v1`, `/api/v1` for OpenRouter, `/openai/v1` for Groq, …);
LiteLLM then appends its own path (`/chat/completions`, `/v1/messages`), so every request lands
under `/r/<token>/`, which is how the replay server picks the capture. The API key is a dummy.

Output: the bytes a client of LiteLLM's proxy would receive. This target does not re-implement the
proxy's framing; it runs the SDK's stream through the proxy's own generator for that route, imported
from the installed LiteLLM, so the framing is exactly that version's:

- openai-chat: `litellm.proxy.proxy_server.async_data_generator` (each chunk serialized by the
  proxy's `_serialize_streaming_chunk`, `model` restamped to the model the client asked for, then
  `data: [DONE]`);
- openai-responses: the same generator, as the proxy's `/v1/responses` endpoint calls it (with
  `responses_stream_errors=True` where the version has it: an error becomes an `error` event);
- anthropic-messages: `ProxyBaseLLMRequestProcessing.async_sse_data_generator`, the generator of the
  proxy's `/v1/messages` endpoint (the SDK already yields `event:`/`data:` frames as bytes; the
  proxy passes them through, and newer versions restamp `message_start`'s model). Not reproduced:
  the `: ping` / `event: ping` keep-alives newer proxies add after 15 s without output, which a
  replayed stream never reaches.

Errors: an exception LiteLLM raises mid-stream is rendered by that same generator, as the proxy's
client sees it: for openai-chat an OpenAI-format error frame `data: {"error": {...}}` and no
`[DONE]`; for anthropic-messages whatever that version's `/v1/messages` writes (a bare
`data: {"error": {...}}` frame in v1.90.0, an `event: error` frame in newer versions). An exception
raised before the first chunk is rendered the same way. (The real proxy would then answer with an
HTTP error status and a JSON body instead of a 200 stream; target protocol v1 carries no status,
so the error frame is the closest faithful rendering.) An exception that escapes the generator
itself (v1.106's Responses error handling raises on an upstream's invalid UTF-8) ends the output
with an `Abort`: the proxy's server breaks the response off there.

Set-up it needs: LiteLLM with its `proxy` extra. The extra is not optional here: LiteLLM's own SDK
imports proxy modules on some of these routes (the Anthropic pass-through's streaming iterator
imports `fastapi` through `litellm.proxy`; v1.106 imports `mcp` for any request with tools), and
the proxy's generators are what frame the output. LiteLLM is imported lazily, in `LiteLLM()`, after
`LITELLM_LOCAL_MODEL_COST_MAP=True`, `LITELLM_OFFLINE_MODE=true` and `HF_HUB_OFFLINE=1` are set
(`set_offline_environment`), so nothing is fetched from the network. `reports/LITELLM-VERSIONS.md`
says which versions are pinned and why. Without LiteLLM, loading this target raises one `TargetUnavailable`
(`litellm-not-installed`) that says how to install it.

The target knows nothing of the checks that run on its output.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import inspect
import os
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.targets.base import Abort, Exchange, Route

if TYPE_CHECKING:
    from conformance.targets.hosted import Hosted

__all__ = [
    "LITELLM_VERSIONS",
    "NATIVE_RESPONSES_PREFIXES",
    "PROVIDER_PREFIXES",
    "ROUTES",
    "LiteLLM",
    "api_base",
    "hosted",
    "install_hint",
    "litellm_model",
    "litellm_prefix",
    "route_prefix",
    "set_offline_environment",
    "unserved",
]

LITELLM_VERSIONS = ("1.90.0", "1.106.2")
"""The LiteLLM versions the nox sessions pin (`conformance(litellm-<version>)`); the extra pins the
last one. reports/LITELLM-VERSIONS.md says why these two."""

PROVIDER_PREFIXES: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "groq": "groq",
    "vllm": "hosted_vllm",
    "dashscope": "dashscope",
    "mistral": "mistral",
    "xai": "xai",
    "together": "together_ai",
    "perplexity": "perplexity",
    "moonshot": "moonshot",
    # LiteLLM's `ollama_chat/` speaks Ollama's native NDJSON `/api/chat`; the capture is Ollama's
    # OpenAI-compatible `/v1/chat/completions` SSE stream, which LiteLLM reaches as `openai/`.
    "ollama": "openai",
    "thinking-server": "openai",
}
"""Capture provider → LiteLLM model prefix; a provider not listed here is reached as `openai/`.
The `litellm-proxy` target uses this table too."""

# The path each provider's real base URL has before LiteLLM appends `/chat/completions`.
_BASE_PATHS: dict[str, str] = {
    "openai": "/v1",
    "openrouter": "/api/v1",
    "deepseek": "/v1",
    "groq": "/openai/v1",
    "hosted_vllm": "/v1",
    "dashscope": "/compatible-mode/v1",
    "mistral": "/v1",
    "xai": "/v1",
    "together_ai": "/v1",
    "perplexity": "",
    "moonshot": "/v1",
    "custom_openai": "/v1",
    "anthropic": "",  # LiteLLM appends /v1/messages itself
}

NATIVE_RESPONSES_PREFIXES = frozenset({"openai", "openrouter", "hosted_vllm", "perplexity", "xai"})
"""The prefixes of `PROVIDER_PREFIXES` whose Responses requests LiteLLM sends to the provider's own
Responses API rather than bridging them to its Chat Completions API: those LiteLLM has a Responses
config for (`ProviderConfigManager.get_provider_responses_api_config`), the same at both pinned
versions. The target checks this table against the installed LiteLLM before each such stream."""

CHAT_SERVER_PREFIX = "custom_openai"
"""How an OpenAI-format Chat server is reached on the openai-chat → openai-responses route: LiteLLM's
provider for an OpenAI-compatible server with no Responses API (`openai/` would call `/responses`).
Its deployment drops the parameters LiteLLM does not know it to take (`drop_params`), as one for
such a server is set up: LiteLLM refuses a Responses request's `reasoning` for it otherwise."""

_MESSAGES_SWITCH = "use_chat_completions_url_for_anthropic_messages"

ROUTES: frozenset[Route] = frozenset(
    {
        (OPENAI_CHAT, OPENAI_CHAT),
        (OPENAI_CHAT, ANTHROPIC_MESSAGES),
        (ANTHROPIC_MESSAGES, OPENAI_CHAT),
        (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES),
        (OPENAI_RESPONSES, OPENAI_RESPONSES),
        (OPENAI_RESPONSES, ANTHROPIC_MESSAGES),
        (OPENAI_RESPONSES, OPENAI_CHAT),
        (OPENAI_CHAT, OPENAI_RESPONSES),
        (ANTHROPIC_MESSAGES, OPENAI_RESPONSES),
    }
)

_DUMMY_KEY = "sk-conformance-dummy"
_OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the model cost map at import
    "LITELLM_OFFLINE_MODE": "true",  # the same switch in newer versions
    "LITELLM_TELEMETRY": "False",
    # Counting tokens for a stream that reports no usage, v1.106 asks the Hugging Face hub for a
    # tokenizer (five retries, ~45 s offline) before it falls back to tiktoken; offline it fails at once.
    "HF_HUB_OFFLINE": "1",
}


def set_offline_environment() -> None:
    """LiteLLM's (and its tokenizer hub's) offline switches, for this process; before LiteLLM's import."""
    os.environ.update(_OFFLINE_ENV)


def install_hint() -> str:
    versions = ", ".join(LITELLM_VERSIONS)
    return (
        f"install it with: pip install 'llm-stream-conformance[litellm]' (pinned versions: litellm[proxy]=={LITELLM_VERSIONS[-1]} in the extra; "
        f'{versions} in the nox sessions, e.g. nox -s "conformance(litellm-{LITELLM_VERSIONS[0]})")'
    )


def route_prefix(provider: str, route: Route, model: str) -> str:
    """The LiteLLM prefix to use on this route. LiteLLM sends `/v1/messages` for a provider with
    its own Anthropic-compatible API (DeepSeek's /anthropic/v1/messages) straight there, so no Chat
    Completions stream would be translated; on the adapter route such a provider's stream reaches
    LiteLLM as a generic `openai/` model instead. An Anthropic-format upstream (Kimi's or z.ai's
    Anthropic-compatible API as much as Anthropic's own) is reached as `anthropic/`."""
    if route[0] == ANTHROPIC_MESSAGES:
        return "anthropic"
    if route[0] == OPENAI_RESPONSES:
        return "openai"  # the only provider of Responses streams LiteLLM reaches natively
    prefix = litellm_prefix(provider)
    if route == (OPENAI_CHAT, ANTHROPIC_MESSAGES) and _has_native_messages_api(prefix, model):
        return "openai"
    if route == (OPENAI_CHAT, OPENAI_RESPONSES) and prefix == "openai":
        return CHAT_SERVER_PREFIX
    return prefix


def litellm_model(prefix: str, route: Route, model: str) -> str:
    """The model name LiteLLM is asked for: `<prefix>/<model>`, or `<prefix>/responses/<model>` on
    the openai-responses → openai-chat route (LiteLLM's prefix for a Chat request answered by the
    Responses API)."""
    if route == (OPENAI_RESPONSES, OPENAI_CHAT):
        return f"{prefix}/responses/{model}"
    return f"{prefix}/{model}"


def unserved(route: Route, provider: str) -> str | None:
    """Why LiteLLM translates no stream of `provider` on `route`, or None (`runner.unserved`)."""
    prefix = litellm_prefix(provider)
    if route == (OPENAI_CHAT, OPENAI_RESPONSES) and prefix in NATIVE_RESPONSES_PREFIXES - {"openai"}:
        return (
            f"LiteLLM sends a Responses request for a {prefix}/ model to the provider's own Responses API, "
            f"so it translates no {provider} Chat Completions stream on this route"
        )
    return None


def _has_native_messages_api(prefix: str, model: str) -> bool:
    try:
        set_offline_environment()
        import litellm
        from litellm.utils import ProviderConfigManager

        provider = litellm.LlmProviders(prefix)
        return ProviderConfigManager.get_provider_anthropic_messages_config(model=model, provider=provider) is not None
    except Exception:  # LiteLLM absent, an unknown prefix, or an older LiteLLM without this lookup
        return False


def litellm_prefix(provider: str) -> str:
    """The LiteLLM model prefix for a capture's provider (`vllm` → `hosted_vllm`); `openai` if unknown."""
    return PROVIDER_PREFIXES.get(provider, "openai")


def api_base(prefix: str, upstream_url: str) -> str:
    """The replay upstream as LiteLLM's `api_base` for a provider prefix, with that provider's base path."""
    return upstream_url.rstrip("/") + _BASE_PATHS.get(prefix, "/v1")


def _accepted(function: Any, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments `function` takes: the proxy's generators grew parameters over versions."""
    parameters = inspect.signature(function).parameters
    return {name: value for name, value in kwargs.items() if name in parameters}


async def _opened(pending: Any) -> Any:
    """LiteLLM's stream object, or, when opening it raised (an upstream error before the first
    chunk), a stream that raises that exception at its first read, where the proxy's generator
    renders it."""
    try:
        return await pending
    except Exception as error:
        return _failing(error)


async def _failing(error: Exception) -> AsyncIterator[Any]:
    raise error
    yield  # an async generator that raises at its first read


# LiteLLM's `timeout`, as a deployment would set it; short, because the upstream is the replay
# server on loopback, which pauses only when the transport check `fault-stall` stalls it.
UPSTREAM_TIMEOUT = 3.0


def hosted(spec: str = f"{__name__}:LiteLLM") -> Hosted:
    """The `litellm` target: `LiteLLM` (or the target `spec` names, a wrapper of it) in a child
    process. Its name, version and routes are known here without importing LiteLLM, so the child's
    import runs while the harness collects."""
    from conformance.targets.hosted import Hosted

    try:
        version = importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        version = ""
    if not version or importlib.util.find_spec("litellm") is None:
        from conformance.targets import TargetUnavailable

        raise TargetUnavailable(
            "litellm-not-installed",
            f"the litellm target runs LiteLLM's SDK in this environment, and LiteLLM is not installed here; {install_hint()}",
        )
    return Hosted(
        spec,
        name=LiteLLM.name,
        version=version,
        routes=ROUTES,
        upstream_read_timeout=UPSTREAM_TIMEOUT,
        unserved=unserved,
    )


class LiteLLM:
    """Target protocol v1 (`conformance.targets.base`) over LiteLLM's SDK, in process."""

    name = "litellm"
    version: str
    routes: frozenset[Route] = ROUTES
    upstream_read_timeout = UPSTREAM_TIMEOUT

    def __init__(self) -> None:
        set_offline_environment()  # before LiteLLM's first import: no cost-map download
        try:
            import litellm
        except ImportError as error:
            from conformance.targets import TargetUnavailable

            raise TargetUnavailable(
                "litellm-not-installed",
                f"the litellm target runs LiteLLM's SDK in this environment, and LiteLLM is not installed here ({error}); {install_hint()}",
            ) from error
        try:
            from litellm.proxy import proxy_server
            from litellm.proxy._types import UserAPIKeyAuth
            from litellm.proxy.common_request_processing import ProxyBaseLLMRequestProcessing
        except ImportError as error:
            from conformance.targets import TargetUnavailable

            raise TargetUnavailable(
                "litellm-not-installed",
                f"the litellm target needs LiteLLM with its proxy extra (LiteLLM's SDK imports proxy modules on these routes, and the proxy frames the output), "
                f"and LiteLLM {importlib.metadata.version('litellm')} here lacks it ({error}); {install_hint()}",
            ) from error
        self._litellm = litellm
        self._proxy_server = proxy_server
        self._user = UserAPIKeyAuth
        self._processing = ProxyBaseLLMRequestProcessing
        self.version = importlib.metadata.version("litellm")
        self._messages_lock: asyncio.Lock | None = None  # made on the loop that runs the streams
        # Process-wide LiteLLM settings, as a proxy config would set them.
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        litellm.num_retries = 0  # a retry would replay the capture twice

    def stream(self, exchange: Exchange) -> AsyncIterator[bytes | Abort]:
        if exchange.route not in self.routes:
            raise ValueError(f"{self.name} does not serve route {exchange.route!r}; it serves {sorted(self.routes)}")
        reason = unserved(exchange.route, exchange.provider or "openai")
        if reason is not None:
            raise ValueError(reason)
        return self._stream(exchange)

    async def _stream(self, exchange: Exchange) -> AsyncIterator[bytes | Abort]:
        upstream, client = exchange.route
        provider = exchange.provider or ("anthropic" if upstream == ANTHROPIC_MESSAGES else "openai")
        request = dict(exchange.request)
        requested_model = str(request.pop("model"))
        request.pop("stream", None)
        request_data = {**exchange.request, "litellm_call_id": str(uuid.uuid4())}
        prefix = route_prefix(provider, exchange.route, requested_model)
        if client == OPENAI_RESPONSES and upstream == OPENAI_CHAT:
            self._check_bridged(prefix)
        call: dict[str, Any] = {
            **request,
            "model": litellm_model(prefix, exchange.route, requested_model),
            "stream": True,
            "api_base": api_base(prefix, exchange.upstream_url),
            "api_key": _DUMMY_KEY,
            "timeout": UPSTREAM_TIMEOUT,
        }
        if prefix == CHAT_SERVER_PREFIX:
            call["drop_params"] = True
        if exchange.headers:
            call["extra_headers"] = dict(exchange.headers)
        if client == ANTHROPIC_MESSAGES:
            if self._messages_lock is None:
                self._messages_lock = asyncio.Lock()
            async with self._messages_lock:
                # LiteLLM reads the switch once, while it opens the stream: an OpenAI Chat upstream
                # is this suite's Chat → Messages adapter route, a Responses upstream LiteLLM's default.
                setattr(self._litellm, _MESSAGES_SWITCH, upstream == OPENAI_CHAT)
                response = await _opened(self._litellm.anthropic.messages.acreate(**call))
            generator = self._processing.async_sse_data_generator
            frames = generator(
                response=response,
                user_api_key_dict=self._user(),
                request_data=request_data,
                proxy_logging_obj=self._proxy_server.proxy_logging_obj,
                **_accepted(generator, request=None, restamp_model=requested_model),
            )
        else:
            opening = self._litellm.aresponses if client == OPENAI_RESPONSES else self._litellm.acompletion
            response = await _opened(opening(**call))
            frames = self._proxy_server.async_data_generator(
                response=response,
                user_api_key_dict=self._user(),
                request_data=request_data,
                **_accepted(
                    self._proxy_server.async_data_generator,
                    request=None,
                    responses_stream_errors=client == OPENAI_RESPONSES,
                ),
            )
        try:
            async for frame in frames:
                yield frame.encode("utf-8") if isinstance(frame, str) else bytes(frame)
        except Exception as error:
            # What the proxy's server does when the generator of a streaming response raises: the
            # body breaks off where it was (uvicorn closes the connection mid-body).
            yield Abort(f"LiteLLM's response generator raised {type(error).__name__}: {error}"[:300])
        finally:
            await frames.aclose()
            # As the proxy's streaming response does once its client has gone: closing the
            # generators alone may leave LiteLLM's upstream response open.
            closer = getattr(response, "aclose", None)
            if closer is not None:
                await closer()

    def _check_bridged(self, prefix: str) -> None:
        """`NATIVE_RESPONSES_PREFIXES` must be this LiteLLM's: a provider it sends to a Responses API
        of its own would get a Chat Completions capture where it expects a Responses stream."""
        from litellm.utils import ProviderConfigManager

        native = ProviderConfigManager.get_provider_responses_api_config(
            model="", provider=self._litellm.LlmProviders(prefix)
        )
        if native is not None:
            raise ValueError(
                f"LiteLLM {self.version} has a Responses API of its own for {prefix}/ ({type(native).__name__}), "
                "so it would not bridge this stream to Chat Completions; add the prefix to NATIVE_RESPONSES_PREFIXES"
            )

    async def aclose(self) -> None:
        """LiteLLM caches its HTTP clients per event loop; nothing else is held."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {getattr(self, 'version', '?')}>"
