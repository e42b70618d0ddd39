"""Example: an OpenAI Agents SDK agent with the run's server as its MCP server.

```python
from itbench_eval.integrations.agents_sdk import investigate, openai_model

model = openai_model("gpt-4.1", base_url="http://127.0.0.1:8787/v1", api_key="sk-...")
result = await investigate("fixtures/Scenario-synth-1", model, submission_out="submission.json",
                           cache_dir=".itbench-cache", transport="stdio")   # or "http"
```

Over stdio the SDK starts ``itbench-server serve SCENARIO --submission-out F --cache-dir C``
itself; over ``http`` a server is started on a free loopback port with a bearer token
(:func:`~itbench_eval.integrations.servers.http_server`) and the SDK connects to its URL. The answer
is what the agent passed to ``submit_diagnosis``: the submission file, which
``itbench-eval score`` or :func:`itbench_eval.scoring.score_submission_file` scores.

Offline notes: tracing is turned off (it posts to api.openai.com otherwise), and the MCP session
timeout is raised from the SDK's 5 s, too short for a first index build.

openai-agents is not a dependency of itbench-eval; install it to use this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from agents import Agent, Model, Runner, RunResult, set_tracing_disabled
from agents.mcp import MCPServerStdio, MCPServerStreamableHttp
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from openai import AsyncOpenAI

from itbench_eval.integrations.servers import http_server, serve_args, server_command
from itbench_eval.prompt import build_prompt

__all__ = ["INSTRUCTIONS", "investigate", "openai_model"]

INSTRUCTIONS = (
    "You are an SRE diagnosing a recorded Kubernetes incident with the itbench tools. "
    "Finish by calling submit_diagnosis with the root causes."
)
SESSION_TIMEOUT_S = 300.0


def openai_model(
    name: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    api: Literal["responses", "chat"] = "responses",
    client: AsyncOpenAI | None = None,
) -> Model:
    """A model on any OpenAI-compatible endpoint (the Responses or the Chat Completions API).

    Pass ``client`` to control its lifetime (``async with AsyncOpenAI(...) as client``).
    """
    if client is None:
        client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY", "sk-none")
        )
    if api == "chat":
        return OpenAIChatCompletionsModel(model=name, openai_client=client)
    return OpenAIResponsesModel(model=name, openai_client=client)


async def _run(
    server: MCPServerStdio | MCPServerStreamableHttp, model: Model | str, max_turns: int
) -> RunResult:
    async with server:
        agent = Agent(name="itbench-sre", instructions=INSTRUCTIONS, model=model, mcp_servers=[server])
        return await Runner.run(agent, build_prompt(max_turns), max_turns=max_turns)


async def investigate(
    scenario: Path | str,
    model: Model | str,
    *,
    submission_out: Path | str,
    cache_dir: Path | str | None = None,
    audit_log: Path | str | None = None,
    transport: Literal["stdio", "http"] = "stdio",
    max_turns: int = 30,
) -> RunResult:
    """Let an Agents SDK agent investigate ``scenario``; its diagnosis lands in ``submission_out``."""
    os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
    set_tracing_disabled(True)
    if transport == "http":
        with http_server(
            scenario, submission_out=submission_out, cache_dir=cache_dir, audit_log=audit_log
        ) as http:
            params: Any = {"url": http.url, "headers": http.headers}
            http_mcp = MCPServerStreamableHttp(
                params,
                name="itbench",
                cache_tools_list=True,
                client_session_timeout_seconds=SESSION_TIMEOUT_S,
            )
            return await _run(http_mcp, model, max_turns)
    command, *prefix = server_command()
    args = serve_args(scenario, submission_out=submission_out, cache_dir=cache_dir, audit_log=audit_log)
    server = MCPServerStdio(
        {"command": command, "args": [*prefix, *args]},
        name="itbench",
        cache_tools_list=True,
        client_session_timeout_seconds=SESSION_TIMEOUT_S,
    )
    return await _run(server, model, max_turns)
