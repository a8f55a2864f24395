"""The catalogue: the provider quirks and the real-world bug classes the corpus sets out to cover.

It is data, read by `conformance coverage` (`conformance.coverage`), which says for each entry
which captures express the quirk or trigger the bug class, and writes `corpus/COVERAGE.md`.

- A `Quirk` is something a provider's stream does that OpenAI's or Anthropic's own streams do not.
  A capture expresses it when it has any of the quirk's `features`.
- A `BugClass` is a kind of bug seen in real proxies, gateways and clients, with the issues and pull
  requests that report it (`sources`). A capture triggers it per `needs`: when it has `any` of the
  class's `triggers`, `all` of them, or always (`every-capture`: every stream exercises it). The
  invariants in `invariants` are those that catch it. A class that no upstream stream can trigger
  (a concurrency or request-side bug) has `triggerable=False` and says why in `reason`; the
  invariants of the transport check that catches it, if any, are still listed.

To add an entry, append a record below. Feature names are those of `corpus/features.txt` (a name
not registered yet is shown as such in the coverage); invariant ids are those `conformance
invariants` lists. tests/test_coverage.py checks both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["BUG_CLASSES", "QUIRKS", "BugClass", "Needs", "Quirk"]

Needs = Literal["any", "all", "every-capture"]
"""How a capture triggers a bug class: with any of its trigger features, with all of them, or always."""


def _check_id(kind: str, value: str) -> None:
    if not value or value != value.strip() or " " in value:
        raise ValueError(f"{kind} id {value!r} must be a non-empty name without spaces")


@dataclass(frozen=True, slots=True)
class Quirk:
    id: str
    description: str
    """What the stream does, in one line."""
    providers: tuple[str, ...]
    """Who sends it."""
    features: tuple[str, ...]
    """The features that express it: a capture with any of them expresses the quirk."""

    def __post_init__(self) -> None:
        _check_id("quirk", self.id)
        if not self.description or not self.providers:
            raise ValueError(f"quirk {self.id}: description and providers must not be empty")

    def expressed_by(self, features: Iterable[str]) -> bool:
        """Whether a capture with these features expresses the quirk."""
        return not set(self.features).isdisjoint(features)


@dataclass(frozen=True, slots=True)
class BugClass:
    id: str
    symptom: str
    """What went wrong, and what the user saw."""
    sources: tuple[str, ...]
    """The issues and pull requests that report it, as https URLs."""
    triggers: tuple[str, ...] = ()
    """The features whose captures trigger it (see `needs`)."""
    needs: Needs = "any"
    invariants: tuple[str, ...] = ()
    """The invariants that catch it."""
    triggerable: bool = True
    """False when no upstream stream can trigger it (see `reason`)."""
    reason: str = ""
    """Why no upstream stream can trigger it; "" for a triggerable class."""

    def __post_init__(self) -> None:
        _check_id("bug class", self.id)
        if not self.symptom or not self.sources:
            raise ValueError(f"bug class {self.id}: symptom and sources must not be empty")
        for source in self.sources:
            if not source.startswith("https://"):
                raise ValueError(f"bug class {self.id}: sources: {source!r} is not an https URL")
        if self.needs not in ("any", "all", "every-capture"):
            raise ValueError(f"bug class {self.id}: needs: {self.needs!r} is not one of any, all, every-capture")
        if self.triggerable:
            if self.reason:
                raise ValueError(f"bug class {self.id}: reason: only a class with triggerable=False gives one")
            if not self.invariants:
                raise ValueError(f"bug class {self.id}: invariants: name those that catch it")
            if (self.needs == "every-capture") == bool(self.triggers):
                raise ValueError(
                    f"bug class {self.id}: triggers: give trigger features, or none with needs='every-capture'"
                )
        elif not self.reason or self.triggers:
            raise ValueError(f"bug class {self.id}: a class with triggerable=False gives a reason and no triggers")

    def triggered_by(self, features: Iterable[str]) -> bool:
        """Whether a capture with these features triggers the class."""
        if not self.triggerable:
            return False
        if self.needs == "every-capture":
            return True
        present = set(features)
        wanted = set(self.triggers)
        return wanted <= present if self.needs == "all" else not wanted.isdisjoint(present)


def _issue(repo: str, number: int) -> str:
    return f"https://github.com/{repo}/issues/{number}"


def _pull(repo: str, number: int) -> str:
    return f"https://github.com/{repo}/pull/{number}"


# -- feature groups: edit a name here once when the registry renames it -------------------------

_REASONING_OPENAI = (
    "reasoning.deepseek",
    "reasoning.groq",
    "reasoning.ollama",
    "reasoning.openrouter",
    "reasoning.thinking-field",
    "reasoning.vllm",
    "reasoning.vllm-legacy",
)
"""Reasoning in an OpenAI-format stream, whatever field the provider uses."""
_REASONING = (
    *_REASONING_OPENAI,
    "anthropic.interleaved-thinking",
    "anthropic.redacted-thinking",
    "anthropic.thinking-signature",
    "responses.reasoning-summary",
)
"""Reasoning in any protocol."""
_TOOL_CALLS = (
    "anthropic.tool-use",
    "responses.function-call",
    "text.then-tool",
    "tool.first-chunk",
    "tool.forced-choice-stop",
    "tool.parallel",
    "tool.whole-in-one-delta",
)
"""Client tool calls, in any protocol."""
_USAGE_REPORTED = (
    "usage.cache-write",
    "usage.cached",
    "usage.empty-choices-chunk",
    "usage.every-chunk",
    "usage.input-updated-in-delta",
    "usage.on-finish-chunk",
    "usage.repeated",
)
"""Usage the upstream reports, wherever it puts it."""


QUIRKS: tuple[Quirk, ...] = (
    # OpenAI-format streams.
    Quirk(
        "usage-empty-choices-chunk",
        "usage arrives on an extra chunk with `choices: []` after the finish chunk",
        ("OpenAI", "Azure", "xAI", "Qwen", "Groq", "Ollama"),
        ("usage.empty-choices-chunk",),
    ),
    Quirk(
        "usage-on-finish-chunk",
        "`usage` on the finish chunk, whose `choices` are not empty",
        ("DeepSeek", "Groq", "Mistral", "Copilot", "Together", "OpenRouter", "Cloudflare"),
        ("usage.on-finish-chunk",),
    ),
    Quirk(
        "usage-every-chunk",
        "`usage` on every chunk, not only the last",
        ("Perplexity",),
        ("usage.every-chunk",),
    ),
    Quirk(
        "usage-reasoning-excluded",
        "`completion_tokens` leaves out the reasoning tokens, reported beside it (total = prompt + completion + reasoning)",
        ("xAI",),
        ("usage.reasoning-excluded",),
    ),
    Quirk(
        "finish-delta-not-empty",
        'the finish chunk\'s delta is not `{}`: it carries `content: ""`, `role`, `reasoning_content: null`, '
        "`token_id` or a whole tool call",
        ("DeepSeek", "Qwen", "OpenRouter", "Together", "Copilot", "Mistral"),
        ("finish.delta-not-empty",),
    ),
    Quirk(
        "finish-duplicate",
        "the finish chunk is sent twice",
        ("OpenRouter", "Cloudflare", "Together"),
        ("finish.duplicate",),
    ),
    Quirk(
        "finish-keys-absent",
        "the `finish_reason` and `logprobs` keys are absent from the chunks before the finish chunk",
        ("xAI", "Copilot", "Qwen", "Cloudflare AI Gateway", "Perplexity"),
        ("finish.keys-absent",),
    ),
    Quirk(
        "logprobs-absent",
        "only the `logprobs` key is absent",
        ("OpenRouter", "Cloudflare"),
        ("chunk.logprobs-absent",),
    ),
    Quirk(
        "role-every-delta",
        "`role` repeated in every delta, not only the first",
        ("OpenRouter", "Together", "Copilot", "Perplexity"),
        ("role.every-delta",),
    ),
    Quirk(
        "chunk-placeholder-first",
        "a placeholder first chunk: empty `id`, `model` and `object`, `created: 0`, `choices: []` and "
        "`prompt_filter_results`",
        ("Azure",),
        ("chunk.placeholder-first",),
    ),
    Quirk(
        "chunk-object-absent",
        "chunks carry no `object` key",
        ("Copilot",),
        ("chunk.object-absent",),
    ),
    Quirk(
        "service-tier-nonstandard",
        '`service_tier: "standard"`, outside OpenAI\'s enum',
        ("OpenRouter",),
        ("service-tier.nonstandard",),
    ),
    Quirk(
        "sse-comments",
        "SSE comment lines between events (`: OPENROUTER PROCESSING` before the first data, `: keep-alive`)",
        ("OpenRouter", "DeepSeek"),
        ("sse.comments",),
    ),
    Quirk(
        "reasoning-field",
        "reasoning in a delta field OpenAI does not define (`reasoning_content`, `reasoning`, `reasoning_details`, "
        "`thinking`)",
        ("DeepSeek", "OpenRouter", "Groq", "Ollama", "vLLM", "xAI", "Qwen", "Moonshot/Kimi"),
        _REASONING_OPENAI,
    ),
    Quirk(
        "content-array",
        "`delta.content` is an array of typed parts (`thinking`, `text`), not a string",
        ("Mistral",),
        ("content.array",),
    ),
    Quirk(
        "citations-top-level",
        "top-level `citations` on every chunk",
        ("Perplexity",),
        ("citations.top-level",),
    ),
    Quirk(
        "tool-whole-in-one-delta",
        "a tool call is not split: its whole arguments arrive in one delta",
        ("Groq", "xAI", "Mistral", "Together"),
        ("tool.whole-in-one-delta",),
    ),
    Quirk(
        "tool-no-index",
        "tool-call deltas carry no `index`",
        ("Mistral",),
        ("tool.no-index",),
    ),
    Quirk(
        "tool-first-index-nonzero",
        "the first tool call has `index: 1`, the Anthropic block index leaking through",
        ("Copilot",),
        ("tool.first-index-nonzero",),
    ),
    Quirk(
        "tool-index-reused",
        "every parallel tool call arrives at `index: 0`",
        ("Ollama",),
        ("tool.index-reused",),
    ),
    Quirk(
        "tool-continuation-empty-header",
        'the continuation deltas of a tool call carry `"id": ""` or `"name": ""`',
        ("Qwen", "z.ai GLM"),
        ("tool.continuation-empty-header",),
    ),
    # Anthropic-format streams.
    Quirk(
        "anthropic-tool-input-in-start",
        "a `tool_use` block's whole `input` arrives in `content_block_start`, with no `input_json_delta`",
        ("Moonshot/Kimi",),
        ("anthropic.tool-input-in-start",),
    ),
)
"""Provider quirks, OpenAI format first."""


BUG_CLASSES: tuple[BugClass, ...] = (
    # -- reasoning ------------------------------------------------------------------------------
    BugClass(
        "reasoning-content-dropped",
        "`reasoning_content` (DeepSeek, Alibaba) is None or missing in every streamed delta, though present "
        "without streaming; usage reports `reasoning_tokens: 0`",
        (_issue("BerriAI/litellm", 7942), _issue("BerriAI/litellm", 41049)),
        triggers=("reasoning.deepseek", "reasoning.vllm-legacy"),
        invariants=("semantic.reasoning",),
    ),
    BugClass(
        "reasoning-field-unmapped",
        "reasoning in `delta.reasoning` (OpenRouter, Nebius, vLLM) is not mapped to the client's reasoning field, "
        "or is kept on the non-streaming path only",
        (
            _issue("BerriAI/litellm", 8193),
            _pull("BerriAI/litellm", 22573),
            _issue("api7/aisix", 502),
            _pull("api7/aisix", 501),
            _pull("api7/aisix", 507),
        ),
        triggers=(
            "reasoning.groq",
            "reasoning.ollama",
            "reasoning.openrouter",
            "reasoning.thinking-field",
            "reasoning.vllm",
        ),
        invariants=("semantic.reasoning", "openai.reasoning.one-field"),
    ),
    BugClass(
        "reasoning-in-wrong-block",
        "reasoning streamed into a `text` block (or text into an open `tool_use` block), or `message_start` sent "
        'twice: the Anthropic SDK assembles empty content and Claude Code fails with "Content block is not a '
        'thinking block"',
        (
            _issue("BerriAI/litellm", 32357),
            _issue("BerriAI/litellm", 33224),
            _pull("BerriAI/litellm", 32664),
            _issue("sgl-project/sglang", 26795),
        ),
        triggers=_REASONING,
        invariants=(
            "anthropic.delta.matches-block",
            "anthropic.message-start.first",
            "oracle.anthropic-python",
            "semantic.reasoning",
        ),
    ),
    BugClass(
        "text-after-thinking-dropped",
        "the first `text_delta` after a thinking block is dropped when the adapter switches from thinking to text",
        (_issue("BerriAI/litellm", 30765),),
        triggers=_REASONING,
        invariants=("semantic.text",),
    ),
    BugClass(
        "signature-lost",
        'thinking signatures sent as `""`, fabricated, or not propagated as `signature_delta`: the next turn fails '
        'with "Invalid signature in thinking block"',
        (
            _pull("dwgx/WindsurfAPI", 228),
            _pull("router-for-me/CLIProxyAPI", 570),
            _pull("diegosouzapw/OmniRoute", 12386),
        ),
        triggers=("anthropic.thinking-signature",),
        invariants=("semantic.signatures", "anthropic.thinking.signature"),
    ),
    BugClass(
        "thinking-reserialised-on-replay",
        "a proxy re-serialises the thinking block a client sends back on the next turn, so its signature no "
        "longer matches",
        (_issue("router-for-me/CLIProxyAPI", 2172),),
        triggerable=False,
        reason="request-side: the bug is in what the proxy sends upstream on the next turn (the replayed history), "
        "not in how it streams a response",
    ),
    # -- Anthropic blocks -----------------------------------------------------------------------
    BugClass(
        "empty-text-block",
        "a spurious empty text block (at index 0, before a tool call or thinking) is emitted; replayed, it makes "
        'the API answer 400 "text content blocks must be non-empty"',
        (
            _issue("BerriAI/litellm", 30765),
            _issue("BerriAI/litellm", 34692),
            _pull("BerriAI/litellm", 34718),
            _issue("vercel/ai", 5576),
            _issue("anthropics/claude-code", 62396),
        ),
        triggers=("tool.first-chunk", *_REASONING),
        invariants=("anthropic.block.no-empty-text",),
    ),
    BugClass(
        "text-block-left-open",
        'a text block is never closed before a `tool_use` or thinking block opens: "Content block not found"',
        (_pull("tombii/better-ccflare", 173), _pull("looplj/axonhub", 1677)),
        triggers=("text.then-tool", "text.after-tool", "tool.interleaved", *_REASONING),
        invariants=("anthropic.block.sequence", "oracle.anthropic-python"),
    ),
    BugClass(
        "done-in-anthropic-stream",
        "`data: [DONE]` appended to an Anthropic-format stream: a Go decoder fails with \"invalid character 'D'\"",
        (_pull("decolua/9router", 2046),),
        needs="every-capture",
        invariants=("anthropic.stream.no-done",),
    ),
    # -- tool calls -----------------------------------------------------------------------------
    BugClass(
        "tool-turn-ends-end-turn",
        "a tool turn (text then a tool call, a forced named `tool_choice`, a tool call through ollama_chat) ends "
        "with `stop_reason: end_turn` instead of `tool_use`, so the client never runs the tool",
        (
            _issue("BerriAI/litellm", 34692),
            _issue("maximhq/bifrost", 3638),
            _pull("vllm-project/vllm", 47598),
        ),
        triggers=_TOOL_CALLS,
        invariants=("anthropic.stop-reason.tool-use", "semantic.finish"),
    ),
    BugClass(
        "tool-call-beside-content-dropped",
        "content and `tool_calls` in one delta: the tool call is dropped, and `stop_reason: tool_use` comes with no "
        "tool block",
        (
            "https://github.com/vllm-project/vllm/blob/32c715e405f3a5496dfc210b266303254cbf5d5f/tests/entrypoints/anthropic/test_message_stream_converter.py",
        ),
        triggers=("tool.content-same-delta",),
        invariants=("semantic.tool-calls", "anthropic.stop-reason.tool-use"),
    ),
    BugClass(
        "tool-input-fragments-invalid",
        '`input_json_delta` fragments concatenate to invalid JSON (`code": "uptime"}`)',
        (_pull("vllm-project/vllm", 34887),),
        triggers=_TOOL_CALLS,
        invariants=("anthropic.tool.input-json", "semantic.tool-calls"),
    ),
    BugClass(
        "tool-start-input-prefixed",
        '`content_block_start` carries `input: {}` and the deltas follow: clients build `{}{"location": …}`',
        (_issue("envoyproxy/ai-gateway", 1465),),
        triggers=_TOOL_CALLS,
        invariants=("anthropic.tool.input-json", "semantic.tool-calls"),
    ),
    BugClass(
        "tool-start-input-overwritten",
        "the whole `input` arrives in `content_block_start` with no deltas (Kimi), and the arguments are "
        "overwritten with `{}`",
        (_pull("earendil-works/pi", 2593),),
        triggers=("anthropic.tool-input-in-start",),
        invariants=("semantic.tool-calls", "anthropic.tool.input-json"),
    ),
    BugClass(
        "tool-no-arguments",
        'a streamed tool call with no arguments (`partial_json: ""`) ends as `""`, which is not JSON: a parse error',
        (_issue("BerriAI/litellm", 5063),),
        triggers=("tool.no-arguments",),
        invariants=("semantic.tool-calls", "openai.tool.arguments-json", "anthropic.tool.input-json"),
    ),
    BugClass(
        "tool-index-reused",
        "every parallel tool call has `index: 0`: clients merge the calls, and the merged arguments are invalid JSON",
        (
            _issue("ollama/ollama", 15457),
            _pull("vercel/ai", 14277),
            _issue("BerriAI/litellm", 33678),
        ),
        triggers=("tool.index-reused",),
        invariants=("openai.tool.index-per-id", "semantic.tool-calls"),
    ),
    BugClass(
        "translator-index-zero",
        "a translator (Responses to Chat, Gemini to OpenAI) emits `index: 0` for every tool call of a parallel turn",
        (_issue("mcowger/plexus", 691), _pull("su-kaka/gcli2api", 406)),
        triggers=("tool.parallel",),
        invariants=("openai.tool.index-per-id", "openai.tool.index-dense", "semantic.tool-calls"),
    ),
    BugClass(
        "tool-deltas-interleaved-merged",
        "interleaved tool-call deltas are merged into one call, with names like `search_circularsearch_circular…`",
        (_issue("maximhq/bifrost", 1829), _pull("langchain-ai/langchain", 35281)),
        triggers=("tool.interleaved",),
        invariants=("openai.tool.index-per-id", "semantic.tool-calls"),
    ),
    BugClass(
        "tool-index-not-dense",
        "a first tool index of 1 (Copilot), or no index at all (Mistral), breaks accumulators that place calls by "
        "index: openai-python raises on a missing index, and splits a call that starts at 1 in two",
        (
            "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/_deltas.py",
            "https://github.com/coder/aibridge/blob/e5e573e395bb4015846c0ac4c05fd49649529352/fixtures/openai/chatcompletions/streaming_injected_tool_nonzero_index.txtar",
            "https://github.com/vercel/ai/blob/c22d50fb4f2fcd3036b6f32c652a5ff4e1d61000/packages/mistral/src/__fixtures__/mistral-tool-call.chunks.txt",
        ),
        triggers=("tool.first-index-nonzero", "tool.no-index"),
        invariants=("openai.tool.index-dense", "oracle.openai-python", "semantic.tool-calls"),
    ),
    BugClass(
        "tool-header-repeated",
        'continuation deltas repeat the tool call\'s header (`"id": ""`, `"name": ""`, or the name again), and a '
        "client that concatenates or overwrites it ends with an empty or doubled id or name",
        (_issue("langchain-ai/langchain", 40041),),
        triggers=("tool.continuation-empty-header",),
        invariants=("openai.tool.header-once", "semantic.tool-calls", "semantic.tool-call-ids"),
    ),
    # -- finish ---------------------------------------------------------------------------------
    BugClass(
        "finish-duplicate",
        'a second finish chunk wipes the tool calls, concatenates `finish_reason` into `"stopstop"`, or doubles '
        "`content_block_stop` and the message",
        (
            _issue("QwenLM/qwen-code", 2402),
            _pull("langchain-ai/langchain", 38349),
            _pull("Gitlawb/openclaude", 21),
            _pull("ai-dynamo/dynamo", 4154),
        ),
        triggers=("finish.duplicate",),
        invariants=(
            "openai.finish.once",
            "anthropic.block.sequence",
            "anthropic.message-delta.once",
            "semantic.tool-calls",
        ),
    ),
    BugClass(
        "finish-on-content-chunk",
        "`finish_reason` arrives on the last content chunk instead of a separate chunk, and an adapter that handles "
        "the finish first drops that chunk's content",
        (
            _pull("vllm-project/vllm", 36944),
            "https://github.com/BerriAI/litellm/blob/main/litellm/llms/anthropic/experimental_pass_through/adapters/streaming_iterator.py",
        ),
        triggers=("finish.on-content-chunk",),
        invariants=("semantic.text", "semantic.tool-calls", "semantic.finish"),
    ),
    # -- usage ----------------------------------------------------------------------------------
    BugClass(
        "usage-chunk-unrequested",
        "a `choices: []` usage chunk is sent without `stream_options.include_usage`, and naive clients reading "
        "`choices[0]` raise IndexError",
        (_issue("Arthur-Ficial/apfel", 100),),
        triggers=("usage.without-request",),
        invariants=("openai.chunk.has-choice",),
    ),
    BugClass(
        "usage-chunk-missing-or-malformed",
        "the usage chunk is missing despite `include_usage`, or is sent without a `choices` key, and a strict SDK "
        "rejects it",
        (_pull("AntonioAEMartins/claude-code-proxy", 20), _pull("ROCm/ATOM", 1711)),
        triggers=_USAGE_REPORTED,
        invariants=("openai.usage.placement", "openai.chunk.client-fields", "semantic.usage"),
    ),
    BugClass(
        "choiceless-chunk-crash",
        "a chunk without choices (Azure's placeholder first chunk with `prompt_filter_results`, or a usage-only "
        "chunk) crashes the proxy or aborts the stream",
        (_pull("meilisearch/meilisearch", 6477), _pull("Portkey-AI/gateway", 1629)),
        triggers=("chunk.placeholder-first", "usage.empty-choices-chunk"),
        invariants=("semantic.clean-finish", "semantic.text", "openai.chunk.has-choice"),
    ),
    BugClass(
        "input-tokens-zero-at-start",
        "`message_start.usage.input_tokens` is 0, and the real count comes only in `message_delta`: Claude Code "
        "shows 0% context",
        (
            _issue("router-for-me/CLIProxyAPI", 1700),
            _issue("BerriAI/litellm", 41406),
            _pull("sgl-project/sglang", 20830),
        ),
        triggers=("usage.input-updated-in-delta", "usage.empty-choices-chunk", "usage.on-finish-chunk"),
        invariants=("anthropic.message-start.input-tokens", "semantic.usage"),
    ),
    BugClass(
        "cumulative-usage-overwritten",
        "`message_delta` usage overwrites or omits `input_tokens` and the cache counts, which are cumulative",
        (_pull("envoyproxy/ai-gateway", 1631), _pull("ollama/ollama", 13934)),
        triggers=("usage.input-updated-in-delta", "anthropic.usage-output-only", "usage.cached", "usage.cache-write"),
        invariants=("semantic.usage",),
    ),
    # -- how a stream ends ----------------------------------------------------------------------
    BugClass(
        "stream-end-hidden",
        '`JSON.parse("[DONE]")` throws, or the body ends with no terminal event, and the answer is silently '
        "truncated or the client hangs",
        (_issue("caozhiyuan/copilot-api", 338), _pull("earendil-works/pi", 8997)),
        triggers=("stream.cut-off", "stream.cut-off-in-tool"),
        invariants=("semantic.error-surfaced", "openai.stream.terminated", "anthropic.message-stop.last"),
    ),
    BugClass(
        "upstream-error-hidden",
        "an upstream error (an HTTP error status, an error event before or after content started, or an event that "
        "is not JSON) reaches the client as a successful response",
        (_issue("2389-research/tracker", 544),),
        triggers=("error.before-content", "error.http-status", "error.mid-stream", "json.invalid"),
        invariants=("semantic.error-surfaced", "http.error-body"),
    ),
    # -- OpenAI Responses -----------------------------------------------------------------------
    BugClass(
        "responses-error-shape-misread",
        "an `error` event is read in one shape only: OpenAI nests its type, code and message under `error`, the spec "
        'puts code and message at the top level, and a client reading the other shape shows "Unknown error" and loses '
        "the provider's code",
        (
            _issue("anomalyco/opencode", 42007),
            _pull("can1357/oh-my-pi", 2570),
            _pull("QwenLM/qwen-code", 11523),
        ),
        triggers=("responses.error-event", "responses.error-flat"),
        invariants=("semantic.error", "semantic.error-surfaced", "openai-responses.error.message"),
    ),
    BugClass(
        "responses-failed-dropped",
        "`response.failed`, whose error sits on the response object, has no case of its own: the failure is yielded as "
        'an empty successful update, or as a bare "Unknown error" without its code and message',
        (
            _pull("microsoft/agent-framework-go", 546),
            _pull("vllm-project/guidellm", 1107),
            _pull("earendil-works/pi", 1458),
        ),
        triggers=("responses.error-event", "responses.error-flat"),
        invariants=("semantic.error-surfaced", "semantic.error", "openai-responses.error.before-failed"),
    ),
    BugClass(
        "responses-incomplete-read-as-complete",
        "a stream that ends with `response.incomplete` (max_output_tokens) is reported with finish `stop`, or none, so "
        "the client takes a truncated answer for a whole one",
        (
            _pull("pydantic/pydantic-ai", 7912),
            _pull("BerriAI/litellm", 37710),
            _pull("BerriAI/litellm", 34352),
        ),
        triggers=("responses.incomplete",),
        invariants=("semantic.finish",),
    ),
    BugClass(
        "encrypted-reasoning-lost",
        'a reasoning item\'s `encrypted_content` (asked for with `include: ["reasoning.encrypted_content"]` and '
        "`store: false`) is dropped on its way to the client, which then has none to send back: the model loses its "
        "reasoning on the next turn",
        (
            _pull("microsoft/agent-framework-go", 683),
            _issue("zendev-sh/goai", 134),
        ),
        triggers=("responses.reasoning-encrypted",),
        invariants=("semantic.encrypted-reasoning", "oracle.openai-python-responses"),
    ),
    BugClass(
        "custom-tool-call-lost",
        "a `custom_tool_call` (Codex's freeform `apply_patch`) is dropped, streamed as text, or re-shaped into a "
        "`function_call` with JSON-wrapped arguments, which Codex rejects: the edit silently never happens",
        (
            _issue("router-for-me/CLIProxyAPI", 5753),
            _issue("MetaFARS/codex-relay", 37),
            _pull("ardeyouxipianyi/workbuddy2api-intl", 12),
        ),
        triggers=("responses.custom-tool-call",),
        invariants=("semantic.tool-calls",),
    ),
    # -- SSE framing ----------------------------------------------------------------------------
    BugClass(
        "sse-comment-misread",
        "SSE comments (`: OPENROUTER PROCESSING`, `: ping`) are JSON-parsed, re-emitted as data, or taken for the "
        "end of the stream",
        (
            _pull("docker/docker-agent", 2349),
            _pull("continuedev/continue", 13187),
            _issue("mnfst/llm-gateway", 2053),
        ),
        triggers=("sse.comments",),
        invariants=("semantic.text", "semantic.clean-finish", "openai.data.json"),
    ),
    BugClass(
        "crlf-framing",
        "CRLF line ends are not split, a CRLF split across reads yields two events, or mixed `\\n\\r\\n` endings "
        "are buffered",
        (
            _issue("hey-api/hey-api", 3054),
            _issue("rexxars/eventsource-parser", 17),
            _pull("ax-llm/ax", 622),
            _pull("openai/openai-node", 2309),
        ),
        triggers=("sse.crlf", "sse.cr-only"),
        invariants=("semantic.text", "semantic.clean-finish"),
    ),
    BugClass(
        "data-no-space-or-utf8-split",
        "`data:{…}` without a space after the colon is lost, or multi-byte UTF-8 split across reads is corrupted",
        (
            _pull("kubernetes-sigs/inference-perf", 781),
            _pull("praxis-proxy/praxis", 739),
            _issue("api7/aisix", 111),
        ),
        triggers=("sse.data-no-space", "utf8.multibyte"),
        invariants=("semantic.text", "sse.utf8"),
    ),
    # -- transport: no single upstream stream shows these ---------------------------------------
    BugClass(
        "shared-stream-state",
        "state shared between concurrent streams (a chunk queue kept in a class attribute) mixes up the events of "
        "streams running at the same time",
        (_pull("BerriAI/litellm", 28868), _issue("BerriAI/litellm", 3881)),
        invariants=("transport.concurrent-isolation",),
        triggerable=False,
        reason="concurrency: a capture is replayed one stream at a time; the transport check concurrent-isolation "
        "runs 32 streams through one target at once",
    ),
    BugClass(
        "buffered-stream",
        "the proxy buffers the whole response and delivers it at once",
        (_issue("BerriAI/litellm", 3129),),
        invariants=("transport.incremental",),
        triggerable=False,
        reason="timing: a buffered stream carries the same content; the transport check incremental paces an "
        "upstream and times the output",
    ),
    BugClass(
        "cancel-not-propagated",
        "upstream requests keep running after the client has disconnected",
        (_issue("BerriAI/litellm", 13774), _pull("BerriAI/litellm", 30245)),
        invariants=("transport.cancel-propagates",),
        triggerable=False,
        reason="client-side: it takes a client that leaves mid-stream, which no upstream stream causes; the "
        "transport check cancel-propagates does it",
    ),
)
"""Bug classes seen in real proxies, gateways and clients, grouped by what they break."""
