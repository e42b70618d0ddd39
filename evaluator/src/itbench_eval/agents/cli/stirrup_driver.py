# pyright: reportMissingImports=false
"""Runs Artificial Analysis' Stirrup harness on one task, against the run's MCP server.

This file runs inside Stirrup's own environment (Python >= 3.12, ``stirrup[mcp]``, ``mcp<2``),
never in the evaluator's: ``itbench-eval --agent stirrup:MODEL`` starts it there, confined like
the other CLI agents. It prints one JSON line with what the run spent.

    python stirrup_driver.py --mcp-config F --model M --base-url URL --prompt-file P --max-turns N --output-dir D
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from stirrup import Agent
from stirrup.clients.chat_completions_client import ChatCompletionsClient
from stirrup.tools.mcp import MCPToolProvider

__all__ = ["main"]


async def main(args: argparse.Namespace) -> int:
    client = ChatCompletionsClient(
        model=args.model,
        max_tokens=args.max_tokens,
        context_window_tokens=args.context_window,
        base_url=args.base_url,
        api_key=os.environ.get(args.api_key_env) or "sk-placeholder-for-a-local-endpoint",
        max_retries=2,
    )
    agent = Agent(
        client=client,
        name="itbench-sre",
        max_turns=args.max_turns,
        tools=[MCPToolProvider.from_config(args.mcp_config)],
    )
    prompt = Path(args.prompt_file).read_text(encoding="utf-8")
    async with agent.session(output_dir=args.output_dir) as session:
        finish, history, metadata = await session.run(prompt)
    print(
        json.dumps({"finished": finish is not None, "turns": len(history), "metadata": str(metadata)[:2000]})
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mcp-config", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY")
    parser.add_argument("--prompt-file", required=True)
    parser.add_argument("--max-turns", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=16000)
    parser.add_argument("--context-window", type=int, default=128000)
    parser.add_argument("--output-dir", required=True)
    sys.exit(asyncio.run(main(parser.parse_args())))
