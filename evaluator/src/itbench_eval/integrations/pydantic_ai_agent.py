"""Example: a pydantic-ai agent with the run's server as its MCP toolset.

```python
from itbench_eval.integrations.pydantic_ai_agent import investigate, openai_model

model = openai_model("gpt-4.1", base_url="http://127.0.0.1:8787/v1", api_key="sk-...")
result = await investigate("fixtures/Scenario-synth-1", model, submission_out="submission.json",
                           cache_dir=".itbench-cache", transport="stdio")   # or "http"
```

Over stdio pydantic-ai starts ``itbench-server serve SCENARIO --submission-out F --cache-dir C``
(a FastMCP ``StdioTransport``); over ``http`` a server is started on a free loopback port with a
bearer token and the toolset connects to its URL with that header. Any pydantic-ai model works
(``"anthropic:claude-..."``, ``"google-gla:gemini-..."``, an ``OpenAIChatModel`` on another endpoint).

pydantic-ai-slim[openai,mcp] is not a dependency of itbench-eval; install it to use this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from fastmcp.client.transports import StdioTransport
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import UsageLimits

from itbench_eval.integrations.servers import http_server, serve_args, server_command
from itbench_eval.prompt import build_prompt

__all__ = ["INSTRUCTIONS", "investigate", "openai_model"]

INSTRUCTIONS = (
    "You are an SRE diagnosing a recorded Kubernetes incident with the itbench tools. "
    "Finish by calling submit_diagnosis with the root causes."
)
TIMEOUT_S = 300.0


def openai_model(
    name: str, *, base_url: str | None = None, api_key: str | None = None, client: AsyncOpenAI | None = None
) -> Model:
    """A model on any OpenAI-compatible Chat Completions endpoint.

    Pass ``client`` to control its lifetime (``async with AsyncOpenAI(...) as client``).
    """
    if client is not None:
        return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
    key = api_key or os.environ.get("OPENAI_API_KEY", "sk-none")
    return OpenAIChatModel(name, provider=OpenAIProvider(base_url=base_url, api_key=key))


async def _run(toolset: MCPToolset[Any], model: Model | str, max_turns: int) -> Any:
    agent = Agent(model, instructions=INSTRUCTIONS, toolsets=[toolset])
    async with agent:
        return await agent.run(build_prompt(max_turns), usage_limits=UsageLimits(request_limit=max_turns))


async def investigate(
    scenario: Path | str,
    model: Model | str,
    *,
    submission_out: Path | str,
    cache_dir: Path | str | None = None,
    audit_log: Path | str | None = None,
    transport: Literal["stdio", "http"] = "stdio",
    max_turns: int = 30,
) -> Any:
    """Let a pydantic-ai agent investigate ``scenario``; its diagnosis lands in ``submission_out``."""
    if transport == "http":
        with http_server(
            scenario, submission_out=submission_out, cache_dir=cache_dir, audit_log=audit_log
        ) as http:
            toolset: MCPToolset[Any] = MCPToolset(
                http.url, headers=http.headers, init_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S
            )
            return await _run(toolset, model, max_turns)
    command, *prefix = server_command()
    args = serve_args(scenario, submission_out=submission_out, cache_dir=cache_dir, audit_log=audit_log)
    transport_ = StdioTransport(command=command, args=[*prefix, *args])
    return await _run(
        MCPToolset(transport_, init_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S), model, max_turns
    )
