"""The audit log: one JSON line per tool call, whatever the outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_each_call_is_one_line_with_its_arguments_outcome_and_size(
    client: Client, settings: ServerSettings
) -> None:
    await client.list_tools()  # not a tool call: not audited
    answer = await client.call_tool("run_sql", {"sql": "SELECT 1 AS one"})
    failure = await client.call_tool("run_sql", {"sql": "DROP TABLE logs"})

    assert settings.audit_log is not None
    first, second = read_records(settings.audit_log)
    assert set(first) == {
        "time",
        "tool",
        "arguments",
        "latency_ms",
        "output_chars",
        "is_error",
        "error",
        "truncated",
    }
    assert first["time"].endswith("Z") and first["latency_ms"] >= 0
    assert {
        key: first[key] for key in ("tool", "arguments", "output_chars", "is_error", "error", "truncated")
    } == {
        "tool": "run_sql",
        "arguments": {"sql": "SELECT 1 AS one"},
        "output_chars": len(answer.content[0].text),  # type: ignore[union-attr]
        "is_error": False,
        "error": None,
        "truncated": False,
    }
    assert second["is_error"] is True
    assert second["error"] == failure.content[0].text  # type: ignore[union-attr]
    assert second["error"].startswith(
        "Error executing tool run_sql: run_sql runs exactly one read-only SELECT"
    )


async def test_truncated_outputs_are_flagged(snapshot: Snapshot, tmp_path: Path) -> None:
    audit_log = tmp_path / "audit.jsonl"
    server = create_server(snapshot, ServerSettings(audit_log=audit_log, sql_row_limit=2))

    async with Client(server) as client:
        await client.call_tool("run_sql", {"sql": "SELECT * FROM range(5)"})
        await client.call_tool("run_sql", {"sql": "SELECT * FROM range(2)"})

    assert [record["truncated"] for record in read_records(audit_log)] == [True, False]


async def test_unknown_tools_and_validation_failures_are_audited(
    client: Client, settings: ServerSettings
) -> None:
    await client.call_tool("no_such_tool", {"x": 1})
    await client.call_tool("run_sql", {"sql": 7})

    assert settings.audit_log is not None
    records = read_records(settings.audit_log)
    assert [(r["tool"], r["arguments"], r["is_error"]) for r in records] == [
        ("no_such_tool", {"x": 1}, True),
        ("run_sql", {"sql": 7}, True),
    ]
    assert records[0]["error"] == "Unknown tool: no_such_tool"


async def test_concurrent_calls_write_whole_lines(client: Client, settings: ServerSettings) -> None:
    async with anyio.create_task_group() as task_group:
        for number in range(20):
            task_group.start_soon(client.call_tool, "run_sql", {"sql": f"SELECT {number} AS n"})

    assert settings.audit_log is not None
    records = read_records(settings.audit_log)
    assert sorted(record["arguments"]["sql"] for record in records) == sorted(
        f"SELECT {number} AS n" for number in range(20)
    )


async def test_audit_log_appends_across_servers(snapshot: Snapshot, tmp_path: Path) -> None:
    audit_log = tmp_path / "logs" / "audit.jsonl"
    for _ in range(2):
        async with Client(create_server(snapshot, ServerSettings(audit_log=audit_log))) as client:
            await client.call_tool("get_overview", {})

    assert [record["tool"] for record in read_records(audit_log)] == ["get_overview", "get_overview"]
