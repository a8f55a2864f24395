"""The `litellm` target (LiteLLM's SDK, in a process of its own): its loading, its one clear error when LiteLLM is
missing, and, when LiteLLM is installed here, one text capture per route end to end.

The end-to-end tests need LiteLLM with its proxy extra (`pip install -e '.[dev,litellm]'`, or the
environments of `nox -s "conformance(litellm-<version>)"`); without it they are skipped.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import sys
from collections.abc import Iterator

import pytest

from conformance.client_request import client_request
from conformance.corpus import Capture, default_corpus, load_corpus
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.replay import ReplayServer
from conformance.runner import Case, Runner
from conformance.targets import TargetError, available, load
from conformance.targets.base import Exchange, Target
from conformance.targets.litellm_sdk import (
    NATIVE_RESPONSES_PREFIXES,
    PROVIDER_PREFIXES,
    ROUTES,
    LiteLLM,
    api_base,
    litellm_model,
    litellm_prefix,
    route_prefix,
    set_offline_environment,
    unserved,
)

# Each one a LiteLLM code path: Chat and Messages both ways, and its Responses API natively, bridged
# to Chat Completions, and behind its /v1/messages and its chat `responses/` prefix.
ALL_ROUTES = {
    (OPENAI_CHAT, OPENAI_CHAT),
    (OPENAI_CHAT, ANTHROPIC_MESSAGES),
    (ANTHROPIC_MESSAGES, OPENAI_CHAT),
    (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES),
    (OPENAI_RESPONSES, OPENAI_RESPONSES),
    (OPENAI_RESPONSES, OPENAI_CHAT),
    (OPENAI_RESPONSES, ANTHROPIC_MESSAGES),
    (OPENAI_CHAT, OPENAI_RESPONSES),
    (ANTHROPIC_MESSAGES, OPENAI_RESPONSES),
}
TEXT_CAPTURES = {
    OPENAI_CHAT: "openai-chat/openai/text-lf",
    ANTHROPIC_MESSAGES: "anthropic-messages/anthropic/text",
    OPENAI_RESPONSES: "openai-responses/openai/text",
}
INSTALL = "pip install 'llm-stream-conformance[litellm]'"


def _captures() -> dict[str, Capture]:
    return {capture.id: capture for capture in load_corpus(default_corpus()).captures}


# -- without LiteLLM ---------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["litellm", "litellm.proxy"])
def test_a_missing_litellm_is_one_clear_target_error(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    """Without LiteLLM, `load("litellm")` says so before starting its process; without the proxy
    extra, the target itself says so where it loads, in that process."""
    if missing != "litellm" and importlib.util.find_spec("litellm") is not None:
        # LiteLLM itself imports fine here; only its proxy modules go missing. Import it whole
        # first, so that the failing import cannot leave a half-initialized `litellm` behind.
        set_offline_environment()
        importlib.import_module("litellm")
    monkeypatch.setitem(sys.modules, missing, None)  # `import <missing>` now raises ImportError
    with pytest.raises(TargetError) as raised:
        load("litellm") if missing == "litellm" else LiteLLM()
    assert raised.value.code == "litellm-not-installed"
    message = str(raised.value)
    assert INSTALL in message
    assert "1.90.0" in message and "1.106.2" in message  # the pinned versions
    assert "Traceback" not in message


def test_available_lists_litellm_whether_or_not_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    info = next(info for info in available() if info.spec == "litellm")
    assert info.kind == "built-in (needs the litellm extra)"
    assert info.description.startswith("cannot load: LiteLLM is not installed") and INSTALL in info.description
    assert set(info.routes) == ALL_ROUTES

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9.9")
    info = next(info for info in available() if info.spec == "litellm")
    assert "LiteLLM 9.9.9" in info.description
    assert set(ROUTES) == ALL_ROUTES


@pytest.mark.parametrize(
    ("provider", "prefix", "path"),
    [
        ("openai", "openai", "/v1"),
        ("openrouter", "openrouter", "/api/v1"),
        ("deepseek", "deepseek", "/v1"),
        ("groq", "groq", "/openai/v1"),
        ("vllm", "hosted_vllm", "/v1"),
        ("dashscope", "dashscope", "/compatible-mode/v1"),
        ("ollama", "openai", "/v1"),
        ("thinking-server", "openai", "/v1"),
        ("somebody-new", "openai", "/v1"),
        ("anthropic", "anthropic", ""),
    ],
)
def test_each_provider_gets_its_litellm_prefix_and_base_path(provider: str, prefix: str, path: str) -> None:
    assert litellm_prefix(provider) == prefix
    assert api_base(prefix, "http://127.0.0.1:9/r/abc") == "http://127.0.0.1:9/r/abc" + path


def test_the_responses_routes_pick_the_litellm_path_named_for_them() -> None:
    to_responses, from_responses = (OPENAI_CHAT, OPENAI_RESPONSES), (OPENAI_RESPONSES, OPENAI_CHAT)
    # A Chat server with no Responses API of its own is bridged; an OpenAI-format one as custom_openai/.
    assert route_prefix("deepseek", to_responses, "deepseek-chat") == "deepseek"
    assert route_prefix("openai", to_responses, "gpt-4o") == "custom_openai"
    assert route_prefix("ollama", to_responses, "gpt-oss") == "custom_openai"
    assert api_base("custom_openai", "http://127.0.0.1:9/r/abc") == "http://127.0.0.1:9/r/abc/v1"
    # A Responses upstream is OpenAI's; a chat client reaches it through the responses/ prefix.
    for client in (OPENAI_RESPONSES, OPENAI_CHAT, ANTHROPIC_MESSAGES):
        assert route_prefix("openai", (OPENAI_RESPONSES, client), "gpt-5.5") == "openai"
    assert litellm_model("openai", from_responses, "gpt-5.5") == "openai/responses/gpt-5.5"
    assert litellm_model("openai", (OPENAI_RESPONSES, OPENAI_RESPONSES), "gpt-5.5") == "openai/gpt-5.5"
    assert route_prefix("anthropic", (ANTHROPIC_MESSAGES, OPENAI_RESPONSES), "claude") == "anthropic"


@pytest.mark.parametrize("provider", sorted(PROVIDER_PREFIXES))
def test_only_providers_with_a_responses_api_of_their_own_are_unserved_on_the_bridge(provider: str) -> None:
    reason = unserved((OPENAI_CHAT, OPENAI_RESPONSES), provider)
    native = litellm_prefix(provider) in NATIVE_RESPONSES_PREFIXES - {"openai"}
    assert (reason is not None) == native
    if reason is not None:
        assert f"{litellm_prefix(provider)}/ model" in reason and "own Responses API" in reason
    for route in sorted(ALL_ROUTES - {(OPENAI_CHAT, OPENAI_RESPONSES)}):
        assert unserved(route, provider) is None


# -- with LiteLLM --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    set_offline_environment()  # before LiteLLM's import: it must not fetch its cost map
    pytest.importorskip("litellm", reason=f"the litellm target needs LiteLLM; install it with: {INSTALL}")
    try:
        loaded = load("litellm")
    except TargetError as error:  # LiteLLM without its proxy extra
        pytest.skip(str(error))
    yield loaded


@pytest.fixture(scope="module")
def runner(target: Target) -> Iterator[Runner]:
    runner = Runner(timeout=60)
    yield runner
    runner.close(target)


def test_the_native_responses_table_is_litellm_s(target: Target) -> None:
    import litellm
    from litellm.utils import ProviderConfigManager

    native = {
        prefix
        for prefix in {*PROVIDER_PREFIXES.values(), "custom_openai"}
        if ProviderConfigManager.get_provider_responses_api_config(model="", provider=litellm.LlmProviders(prefix))
    }
    assert native == NATIVE_RESPONSES_PREFIXES


def test_it_loads_by_name_with_litellm_s_version(target: Target) -> None:
    assert target.name == "litellm"
    assert target.version == importlib.metadata.version("litellm")
    assert set(target.routes) == ALL_ROUTES


@pytest.mark.parametrize("route", sorted(ALL_ROUTES), ids=lambda route: f"{route[0]}-to-{route[1]}")
def test_a_text_capture_passes_semantic_text_on_every_route(
    runner: Runner, target: Target, route: tuple[str, str]
) -> None:
    capture = _captures()[TEXT_CAPTURES[route[0]]]
    result = runner.run(Case(capture, route, "event"), target)
    assert result.outcome not in ("errored", "skipped"), result.error
    verdicts = {verdict.invariant: verdict for verdict in result.verdicts}
    assert verdicts["semantic.text"].outcome == "pass", verdicts["semantic.text"].reason
    assert result.upstream_requests == 1


@pytest.mark.parametrize(
    "capture_id",
    [
        "openai-chat/openai/text-lf",
        "openai-chat/openrouter/deepseek-r1-reasoning",
        "openai-chat/deepseek/chat-usage-on-finish-chunk",
        "openai-chat/groq/reasoning-parsed",
        "openai-chat/vllm/reasoning-field",
        "openai-chat/dashscope/data-without-space",
        "openai-chat/ollama/reasoning-gpt-oss",
        "anthropic-messages/anthropic/text",
        "openai-responses/openai/text",
    ],
)
def test_litellm_s_upstream_request_lands_under_the_exchange_s_path(
    runner: Runner, target: Target, capture_id: str
) -> None:
    """Each provider's api_base is chosen so that the path LiteLLM appends stays under /r/<token>/,
    on every route: LiteLLM reached the replay server by path, not by luck."""
    capture = _captures()[capture_id]

    async def run(route: tuple[str, str]) -> tuple[str, list[str]]:
        async with ReplayServer() as server:
            slot = server.register(capture.body, schedule="event", headers=capture.headers)
            request = client_request(capture.request, route[0], route[1])
            exchange = Exchange(route, request, slot.url, token=slot.token, provider=capture.provider)
            output = b"".join([chunk async for chunk in target.stream(exchange)])
            assert output, "the target wrote nothing"
            for sent in slot.requests:
                assert json.loads(sent.body)["model"] == capture.request["model"]
            return slot.token, [sent.path for sent in slot.requests]

    for route in sorted(r for r in ALL_ROUTES if r[0] == capture.protocol and not unserved(r, capture.provider)):
        # On the runner's loop: LiteLLM caches its HTTP clients per event loop.
        token, paths = runner.call(run(route), timeout=60)
        assert len(paths) == 1, paths
        assert paths[0].startswith(f"/r/{token}/"), paths
