"""The `http` target: any proxy already running, driven over HTTP by its base URL.

    pytest --target=http://127.0.0.1:4000 --replay-port=8765
    pytest --target='http://127.0.0.1:4000?routes=openai-chat-to-openai-chat&model={token}'

For each exchange it POSTs the client request to `{base}/v1/chat/completions` (client protocol
openai-chat) or `{base}/v1/messages` (anthropic-messages) and yields the response body as it
arrives, whatever the status: a proxy's error body is output for the checks to judge. A body the
proxy cuts off (a chunked body closed before its terminating chunk, a reset) ends with an `Abort`,
which a client reads as an error.

How the proxy reaches the right capture. The proxy is configured by hand, so its upstream base URL
is fixed: `http://127.0.0.1:<replay-port>` (plus any path; give the port with `--replay-port`).
The replay server then picks the capture for each request by, in order: a `/r/<token>/` path
prefix, an `x-conformance-token: <token>` header, or the upstream request's JSON `model` when it
is `<token>` or ends in `/<token>`. This target therefore

- sets the client request's `model` to the exchange's stable name by default, `<provider>/<capture>`
  (`provider` is the capture's provider folder: `openai`, `openrouter`, `deepseek`, `vllm`,
  `anthropic`, ...; `conformance models` lists every name), so a proxy routes on the prefix (e.g. a
  LiteLLM `model_name: "openrouter/*"` entry) or on the listed names, and forwards the rest, or the
  whole name, as the upstream model. The replay server answers to a name while its stream is in
  flight, and two streams of one name are never in flight together;
- and sends `x-conformance-token: <token>`, for a proxy that forwards client headers.

Options, as a query string on the spec:

- `routes=<route>,<route>`: serve only these (default: the four between chat and Messages,
  `openai-chat-to-openai-chat`, `openai-chat-to-anthropic-messages`,
  `anthropic-messages-to-openai-chat`, `anthropic-messages-to-anthropic-messages`; the Responses
  routes, such as `openai-responses-to-openai-responses` to `/v1/responses`, when named); a route
  the proxy lacks otherwise fails its items;
- `model=<template>`: the model name sent, with `{name}` (the stable name), `{token}` (a fresh
  token per exchange), `{provider}`, `{upstream}` (the exchange's replay upstream base URL,
  `http://127.0.0.1:<replay-port>/r/<token>`) and `{litellm}` (the capture provider's LiteLLM
  prefix, `hosted_vllm` for `vllm`) filled in; it names the exchange by `{name}` or `{token}`;
  default `{name}`;
- `header.<name>=<template>`: a request header sent with every request, its value a template as
  for `model` (`{token}` optional), e.g. `header.x-portkey-provider={provider}` and
  `header.x-portkey-custom-host={upstream}` for a gateway that routes by header;
- `read_timeout=<seconds>`: how long the proxy waits for a silent upstream before it gives up, as
  configured; the transport check `fault-stall` needs it and is skipped without it.

`CONFORMANCE_PROXY_API_KEY`, when set, is sent as `Authorization: Bearer …` and `x-api-key`.

As a pytest run starts, the plugin connects once to the proxy's host and port (`HttpTarget.probe`):
a proxy that is not listening stops the run there, with one message, rather than erroring every
item. One that stops listening later errors the items it could not serve, each saying so.

A proxy can also be described by a TOML file, `--target=path/to/proxy.toml`, with the same options
plus a name, a version and, optionally, the command that starts it (`targets/http_file.py`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.replay import TOKEN_HEADER
from conformance.targets._tls import tls_context
from conformance.targets.base import Abort, Exchange, Head, Route, route_id

__all__ = [
    "ALL_ROUTES",
    "KNOWN_ROUTES",
    "CLIENT_PATHS",
    "DEFAULT_MODEL",
    "TEMPLATE_FIELDS",
    "PROBE_TIMEOUT",
    "HttpTarget",
    "ProxyError",
    "ProxyUnreachable",
    "abort_reason",
    "check_header_name",
    "check_template",
    "fill",
    "post_stream",
]

CLIENT_PROTOCOLS = (OPENAI_CHAT, ANTHROPIC_MESSAGES, OPENAI_RESPONSES)
ALL_ROUTES: frozenset[Route] = frozenset(
    (upstream, client) for upstream in (OPENAI_CHAT, ANTHROPIC_MESSAGES) for client in (OPENAI_CHAT, ANTHROPIC_MESSAGES)
)
"""The routes a proxy is assumed to serve when it does not say: chat and Messages, both ways."""
KNOWN_ROUTES: frozenset[Route] = frozenset(
    (upstream, client) for upstream in CLIENT_PROTOCOLS for client in CLIENT_PROTOCOLS
)
"""Every route a proxy may declare (`?routes=`, a target file's `routes`): the Responses ones too."""
CLIENT_PATHS = {
    OPENAI_CHAT: "/v1/chat/completions",
    ANTHROPIC_MESSAGES: "/v1/messages",
    OPENAI_RESPONSES: "/v1/responses",
}
DEFAULT_MODEL = "{name}"
API_KEY_ENV = "CONFORMANCE_PROXY_API_KEY"

# No read bound of our own beyond a generous one: the runner cancels a case after its time bound.
_TIMEOUT = httpx.Timeout(300.0, connect=5.0)
PROBE_TIMEOUT = 3.0
"""How long the probe at the start of a run waits for the proxy to accept a TCP connection."""


class ProxyError(Exception):
    """The proxy could not be used for this exchange; the message says why and what to do."""


class ProxyUnreachable(ProxyError, ConnectionError):
    """Nothing accepted the connection."""


def _litellm_prefix(provider: str) -> str:
    # The LiteLLM targets' one table; imported only for a template that asks for it.
    from conformance.targets.litellm_sdk import litellm_prefix

    return litellm_prefix(provider)


TEMPLATE_FIELDS = ("name", "token", "provider", "upstream", "litellm")
"""What a model or header template may name, in braces."""
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def fill(template: str, exchange: Exchange, provider: str | None = None) -> str:
    """`template` with the exchange's `{name}`, `{token}`, `{provider}` (or `provider`, the name the
    proxy knows the capture's provider by), `{upstream}` and `{litellm}`."""
    own = exchange.provider or "openai"
    litellm = _litellm_prefix(own) if "{litellm}" in template else ""
    return template.format(
        name=exchange.name,
        token=exchange.token,
        provider=provider or own,
        upstream=exchange.upstream_url,
        litellm=litellm,
    )


model_name = fill  # the name the model template was first filled by


def check_template(template: str, *, names_exchange: bool) -> str | None:
    """Why `template` cannot be filled (an unknown field, a stray brace, neither `{name}` nor
    `{token}` where the exchange must be named, a line break in it), or None when it can."""
    if names_exchange and "{token}" not in template and "{name}" not in template:
        return f"template {template!r} must contain {{name}} or {{token}}"
    try:
        filled = template.format(**{name: "x" for name in TEMPLATE_FIELDS})
    except (KeyError, IndexError, ValueError) as error:
        *first, last = (f"{{{name}}}" for name in TEMPLATE_FIELDS)
        known = f"{', '.join(first)} and {last}"
        return f"template {template!r} may use only {known} ({type(error).__name__}: {error})"
    if "\r" in filled or "\n" in filled:
        return f"template {template!r} must be one line"
    return None


def check_header_name(name: str) -> str | None:
    """Why `name` is not an HTTP header name, or None when it is."""
    return None if _HEADER_NAME.match(name) else f"{name!r} is not an HTTP header name"


def abort_reason(error: httpx.TransportError) -> str:
    """How a response body broke off, in a few words, for `Abort.reason`."""
    detail = str(error) or type(error).__name__
    if isinstance(error, httpx.RemoteProtocolError):
        # h11's words: "peer closed connection without sending complete message body: ..."
        if "incomplete chunked read" in detail:
            return "incomplete chunked body: the connection closed before the terminating chunk"
        if "complete message body" in detail:
            said = detail.split("complete message body", 1)[1].strip(" :()")
            return f"incomplete body: {said}" if said else "incomplete body"
        return f"malformed response body: {detail}"
    if isinstance(error, httpx.ReadTimeout):
        return "read timeout mid-body"
    if _caused_by(error, ConnectionResetError):
        return "connection reset"
    return f"{type(error).__name__}: {detail}"


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    for _ in range(10):  # httpx wraps httpcore wraps the OSError; a loop in the chain must not hang us
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def post_stream(
    base_url: str,
    exchange: Exchange,
    model: str | None,
    *,
    headers: Iterable[tuple[str, str]] = (),
    on_transport_error: Callable[[Exception], Awaitable[None]] | None = None,
) -> AsyncGenerator[bytes | Head | Abort, None]:
    """POST `exchange.request` (with `model`, or its own when None) to the proxy's path for the
    client protocol and yield the response's `Head` (its status counts: an error status is an
    error response), then the body's bytes as they arrive (`aiter_raw`: no decoding, no
    re-chunking).

    A connection that nobody accepts raises `ProxyUnreachable`, and one that fails before the
    response head `ProxyError`. A body that breaks off after the head (a chunked body that never
    ends, fewer bytes than its Content-Length, a reset, a read timeout) ends with an `Abort`
    saying how: what arrived before it is output for the checks to judge. A body that simply
    ends (its terminating chunk, or a close-delimited body's close) ends with no `Abort`.
    `on_transport_error`, if given, is awaited with the httpx error first and may raise something
    more telling (the LiteLLM target raises its log tail when the process died).
    """
    url = base_url.rstrip("/") + CLIENT_PATHS[exchange.route[1]]
    body = exchange.request if model is None else {**exchange.request, "model": model}
    sent = [
        ("accept", "text/event-stream"),
        ("accept-encoding", "identity"),  # aiter_raw would hand us compressed bytes otherwise
        (TOKEN_HEADER, exchange.token),
        *exchange.headers,
        *headers,
    ]
    key = os.environ.get(API_KEY_ENV)
    if key:
        sent += [("authorization", f"Bearer {key}"), ("x-api-key", key)]
    if exchange.route[1] == ANTHROPIC_MESSAGES:
        sent.append(("anthropic-version", "2023-06-01"))
    async with httpx.AsyncClient(timeout=_TIMEOUT, verify=tls_context()) as client:
        try:
            response = await client.send(client.build_request("POST", url, json=body, headers=sent), stream=True)
        except httpx.ConnectError as error:
            if on_transport_error is not None:
                await on_transport_error(error)
            raise ProxyUnreachable(
                f"cannot connect to {url}: {error or type(error).__name__}; is the proxy running?"
            ) from error
        except httpx.TransportError as error:
            if on_transport_error is not None:
                await on_transport_error(error)
            raise ProxyError(f"{url} gave no response: {type(error).__name__}: {error}") from error
        try:
            yield Head(response.status_code, tuple(response.headers.items()))
            reads = response.aiter_raw()
            while True:
                # Only the read is guarded: an error while a client's close unwinds a yield must
                # not be taken for a cut body (nothing may be yielded then).
                try:
                    chunk = await reads.__anext__()
                except StopAsyncIteration:
                    return
                except httpx.TransportError as error:
                    if on_transport_error is not None:
                        await on_transport_error(error)
                    # The proxy cut its body off: what the client got is the output, the cut an error.
                    yield Abort(abort_reason(error))
                    return
                yield chunk
        finally:
            with contextlib.suppress(httpx.TransportError):  # closing a broken connection tells nothing
                await response.aclose()


def parse_spec(spec: str) -> tuple[str, frozenset[Route], str, float | None, tuple[tuple[str, str], ...]]:
    """`http://host:port/path?routes=…&model=…&read_timeout=…&header.NAME=…` → (base URL, routes,
    model template, upstream read timeout, header templates)."""
    from conformance.targets import TargetError

    parts = urlsplit(spec)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError("bad-url", f"{spec!r} is not a proxy URL; give http://HOST:PORT")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(
        key for key in query if key not in {"routes", "model", "read_timeout"} and not key.startswith("header.")
    )
    if unknown:
        raise TargetError(
            "bad-url",
            f"{spec!r}: unknown option {', '.join(unknown)}; known: routes=<route>,<route>, model=<template>, "
            "read_timeout=<seconds>, header.<name>=<template>",
        )
    headers: list[tuple[str, str]] = []
    for key, values in query.items():
        if key.startswith("header."):
            name = key.removeprefix("header.")
            problem = check_header_name(name) or check_template(values[-1], names_exchange=False)
            if problem:
                raise TargetError("bad-url", f"{spec!r}: {key}: {problem}")
            headers.append((name.lower(), values[-1]))
    routes = ALL_ROUTES
    if "routes" in query:
        by_id = {route_id(r): r for r in KNOWN_ROUTES}
        names = [name.strip() for value in query["routes"] for name in value.split(",") if name.strip()]
        wrong = [name for name in names if name not in by_id]
        if wrong or not names:
            raise TargetError(
                "bad-url",
                f"{spec!r}: unknown route {', '.join(wrong) or '(none given)'}; known: {', '.join(sorted(by_id))}",
            )
        routes = frozenset(by_id[name] for name in names)
    template = query["model"][-1] if "model" in query else DEFAULT_MODEL
    problem = check_template(template, names_exchange=True)
    if problem:
        raise TargetError("bad-url", f"{spec!r}: model {problem}")
    read_timeout: float | None = None
    if "read_timeout" in query:
        try:
            read_timeout = float(query["read_timeout"][-1])
        except ValueError:
            read_timeout = -1.0
        if not 0 < read_timeout < float("inf"):
            raise TargetError(
                "bad-url",
                f"{spec!r}: read_timeout must be a positive number of seconds, got {query['read_timeout'][-1]!r}",
            )
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return base, routes, template, read_timeout, tuple(headers)


class HttpTarget:
    """Target protocol v1 over a running proxy's HTTP API (see the module doc for the conventions)."""

    name = "http"

    def __init__(
        self,
        base_url: str,
        routes: Iterable[Route] | None = None,
        model: str | None = None,
        headers: Iterable[tuple[str, str]] | None = None,
        providers: Mapping[str, str] | None = None,
    ) -> None:
        """`base_url` may carry the `?routes=…&model=…&read_timeout=…&header.NAME=…` options;
        explicit arguments win over them. `upstream_read_timeout` stays None without `read_timeout`.
        `headers` are (name, template) pairs, filled per exchange like the model template.
        `providers` maps a capture's provider to the name the proxy knows it by, for `{provider}`,
        keyed by `<protocol>/<provider>`, `<provider>`, `<protocol>/*` or `*` (the most specific
        wins); without it `{provider}` is the capture's own, and with it a capture of a provider it
        does not map is not served (`unserved`)."""
        self.base_url, parsed_routes, parsed_model, self.upstream_read_timeout, parsed_headers = parse_spec(base_url)
        self.routes: frozenset[Route] = frozenset(routes) if routes is not None else parsed_routes
        self.model = model if model is not None else parsed_model
        self.headers: tuple[tuple[str, str], ...] = tuple(headers) if headers is not None else parsed_headers
        self.providers = dict(providers) if providers is not None else None
        self.version = "unknown"
        self._probed = False

    @property
    def stable_names(self) -> bool:
        """Whether the proxy is asked for the exchange's stable name, so that two streams of one
        name must not be in flight together."""
        return any("{name}" in template for template in (self.model, *(value for _, value in self.headers)))

    def provider_name(self, protocol: str, provider: str) -> str | None:
        """The name the proxy knows `provider` (of a `protocol` upstream) by, or None when it does
        not serve it."""
        if self.providers is None:
            return provider
        for key in (f"{protocol}/{provider}", provider, f"{protocol}/*", "*"):
            if key in self.providers:
                return self.providers[key]
        return None

    def unserved(self, route: Route, provider: str) -> str | None:
        """Why the captures of `provider` are not served on `route`, or None when they are."""
        protocol = route[0]
        if self.provider_name(protocol, provider) is not None:
            return None
        return (
            f"target {self.name} has no provider of its own for {protocol} captures from {provider!r}: "
            f"its providers table has none of {protocol}/{provider}, {provider}, {protocol}/* and *"
        )

    def probe(self, timeout: float = PROBE_TIMEOUT) -> None:
        """Connect once to the proxy's host and port (TCP only, bounded by `timeout`), as the run
        starts: nothing listening there raises `TargetUnavailable` ("proxy-unreachable"), saying
        what was tried and what to do, so that the run stops once instead of erroring every item."""
        from conformance.targets import TargetError, TargetUnavailable

        parts = urlsplit(self.base_url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise TargetError("bad-url", f"{self.base_url!r}: {error}; give http://HOST:PORT") from None
        host = parts.hostname or ""
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise TargetUnavailable(
                "proxy-unreachable",
                f"nothing accepted a connection to {self.base_url} (TCP {host}:{port}, tried once for "
                f"up to {timeout:g} s: {reason}). Is the proxy running? Start it, or pass the URL it "
                f"listens on as --target=http://HOST:PORT",
            ) from error

    async def _probe_version(self) -> None:
        """Best effort, once: LiteLLM's `/health/readiness` names its version; others may have `/version`."""
        self._probed = True
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(3.0)) as client:
                for path, key in (("/health/readiness", "litellm_version"), ("/version", "version")):
                    response = await client.get(self.base_url + path)
                    if response.status_code == 200:
                        data = response.json()
                        if isinstance(data, dict) and isinstance(data.get(key), str):
                            self.version = data[key]
                            return
        except (httpx.HTTPError, ValueError):
            return

    async def stream(self, exchange: Exchange) -> AsyncGenerator[bytes | Head | Abort, None]:
        if exchange.route not in self.routes:
            raise ValueError(f"{self.name} at {self.base_url} is not configured for route {route_id(exchange.route)}")
        if not self._probed:
            await self._probe_version()
        # aclosing: a client that stops reading closes the connection now, not when the loop
        # gets round to finalizing an abandoned generator.
        provider = self.provider_name(exchange.route[0], exchange.provider or "openai")
        if provider is None:
            raise ValueError(self.unserved(exchange.route, exchange.provider))
        sent = [(name, fill(template, exchange, provider)) for name, template in self.headers]
        async with contextlib.aclosing(
            post_stream(self.base_url, exchange, fill(self.model, exchange, provider), headers=sent)
        ) as items:
            async for item in items:
                yield item

    async def aclose(self) -> None:
        """Nothing to release: each stream owns, and closes, its own HTTP client."""

    def __repr__(self) -> str:
        return f"<HttpTarget {self.base_url} routes={sorted(route_id(r) for r in self.routes)}>"
