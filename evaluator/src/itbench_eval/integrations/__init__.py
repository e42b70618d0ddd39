"""Ways to run the benchmark from other harnesses (each optional: its harness is not a dependency).

- :mod:`~itbench_eval.integrations.inspect_task`: an inspect_ai task (``inspect eval``), and
  :mod:`~itbench_eval.integrations.inspect_registry`, the module for an ``inspect_ai`` entry point;
- :mod:`~itbench_eval.integrations.agents_sdk`: an OpenAI Agents SDK agent with the server as its
  MCP server, over stdio or Streamable HTTP;
- :mod:`~itbench_eval.integrations.pydantic_ai_agent`: the same with pydantic-ai;
- :mod:`~itbench_eval.integrations.harbor`: Harbor tasks (``itbench-eval export-harbor``);
- :mod:`~itbench_eval.integrations.servers`: the server's command lines and a Streamable HTTP
  server started for the length of a ``with`` block, shared by the above.

See docs/integrations.md.
"""

__all__: list[str] = []
