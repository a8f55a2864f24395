"""Client oracles: the official SDK clients read each output, and what they assemble must be the capture's.

Each oracle serves the stream's bytes from a loopback HTTP server
(`conformance.oracles._server`) and reads them with the real client, so the SDK's transport, SSE
decoder, stream loop and accumulator all take part. A client exception, or an assembled message
that differs from the capture's `expect`, fails and names the client and its version. A client
reads each distinct response once: an output the same to the byte, with the same status and
request (as the default schedules often produce twice), gets the read already made
(`_common.Reads`).

- `oracle.openai-python`: openai-python, `client.chat.completions.stream()` (openai-chat streams).
- `oracle.anthropic-python`: anthropic-sdk-python, `client.messages.stream()` (anthropic-messages streams).
- `oracle.openai-python-responses`: openai-python, `client.responses.stream()` (openai-responses streams).

Importing this package registers them; the SDKs themselves are imported on first use.
"""

from conformance.oracles import anthropic_python as _anthropic_python  # noqa: F401  (registers oracle.anthropic-python)
from conformance.oracles import openai_python as _openai_python  # noqa: F401  (registers oracle.openai-python)
from conformance.oracles import (  # noqa: F401  (registers oracle.openai-python-responses)
    openai_python_responses as _openai_python_responses,
)

__all__: list[str] = []
