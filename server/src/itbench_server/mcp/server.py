"""``create_server``: one recorded incident served as an MCP server.

The tools are registered in a fixed order (the order an investigation usually takes), so that
``tools/list`` is identical from run to run. Every tool gets a view of the snapshot whose cursors
join the running call (``with_cursor_hook(track_cursor)``), so that the per-call time limit can
stop its queries. The middlewares, outermost first: the audit log (when configured), so it
records what the client finally received; the reply bound (every reply, errors included, fits
the output budget); plain words for schema validation errors; the argument guard (strings no tool can take are refused before
validation); the tool-call budget (when set); the concurrency limit (at most ``max_concurrent_calls`` at once, then "busy"); and
the per-call time limit.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.context import ServerMiddleware

from itbench_server import __version__
from itbench_server.mcp.audit import AuditLog
from itbench_server.mcp.calls import (
    argument_guard_middleware,
    bounded_reply_middleware,
    concurrency_limit_middleware,
    plain_validation_middleware,
    time_limit_middleware,
    tool_call_budget_middleware,
    track_cursor,
)
from itbench_server.mcp.settings import ServerSettings
from itbench_server.mcp.sql import register_sql_tool
from itbench_server.mcp.submission import register_submission_tool
from itbench_server.mcp.tooling import ToolContext, add_tool
from itbench_server.snapshot import Snapshot

__all__ = ["INSTRUCTIONS", "SERVER_NAME", "create_server"]

SERVER_NAME = "itbench-server"

INSTRUCTIONS = """\
This server holds one recorded Kubernetes incident: logs, traces, metrics, alerts, events and \
the cluster's objects over a window of about 15-30 minutes. Nothing is live and nothing can be \
changed; every tool but submit_diagnosis only reads the recording.

Investigate like an SRE: call get_overview first (the window, the workloads, the alerts), then \
follow the alerts to the failing workloads, look at what changed during the window, and walk the \
dependencies upstream from the symptoms to their cause. Look for evidence in events, logs, \
traces and metrics. Times are UTC; tools that take a time accept RFC 3339 or a time relative \
to the window, such as -5m, start+3m or end.

Name every entity namespace/Kind/name, e.g. otel-demo/Deployment/ad or otel-demo/Pod/ad-5d9f7c6b8-x2x9q; \
cluster-scoped objects use the namespace 'cluster', e.g. cluster/Node/worker-1.

Finish by calling submit_diagnosis with the root causes: the minimal set of independent \
causes, not their symptoms, each with its reasoning and evidence."""


def create_server(snapshot: Snapshot, settings: ServerSettings | None = None) -> MCPServer[Any]:
    """An MCP server over ``snapshot`` with the tools of ``settings.profile``."""
    settings = settings or ServerSettings()
    middleware: list[ServerMiddleware[Any]] = []
    if settings.audit_log is not None:
        middleware.append(AuditLog(settings.audit_log).middleware)
    middleware += [
        bounded_reply_middleware(settings.output_budget),
        plain_validation_middleware(),
        argument_guard_middleware(),
        *([tool_call_budget_middleware(settings.max_tool_calls)] if settings.max_tool_calls else []),
        concurrency_limit_middleware(settings.max_concurrent_calls, wait=settings.call_timeout),
        time_limit_middleware(settings.call_timeout),
    ]
    if settings.profile == "aa":
        from itbench_server.mcp.shell_tool import aa_instructions

        instructions = aa_instructions(snapshot)
    else:
        instructions = INSTRUCTIONS
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        version=__version__,
        instructions=instructions,
        subscriptions=False,
        middleware=middleware,
        log_level="WARNING",
    )
    guarded = snapshot.with_cursor_hook(track_cursor)
    context = ToolContext(guarded, settings)

    if settings.profile == "aa":
        # ITBench-AA's own protocol: a shell over the files, and the submission; nothing else.
        from itbench_server.mcp.shell_tool import register_shell_tool

        register_shell_tool(server, guarded, settings)
        context.tool_names.append("run_shell")
        register_submission_tool(server, context)
        return server

    # Imported here: these modules sit on the kube and analysis layers, which the rest of the
    # MCP frame does not need.
    from itbench_server.mcp.investigation import register_investigation_tools
    from itbench_server.mcp.kubectl_tool import kubectl
    from itbench_server.mcp.overview import get_overview

    add_tool(server, context, get_overview, title="Incident overview")
    add_tool(server, context, kubectl, title="Run kubectl against the recorded cluster")
    register_investigation_tools(server, context)
    register_sql_tool(server, context)
    register_submission_tool(server, context)
    return server
