"""The investigation tools through an MCP client: arguments, bounded text results, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from incident_index import build_index, incident_rows
from mcp import Client
from mcp.server import MCPServer
from mcp.types import TextContent

from itbench_server.mcp.calls import READ_ONLY
from itbench_server.mcp.investigation import FetchedPage, register_investigation_tools
from itbench_server.mcp.output import page_lines
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio

TOOLS = [
    "get_alerts",
    "search_logs",
    "query_metrics",
    "query_traces",
    "get_events",
    "get_timeline",
    "get_topology",
    "lookup_address",
    "get_changes",
]


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    snapshot = build_index(tmp_path_factory.mktemp("incident"), incident_rows())
    yield snapshot
    snapshot.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def tools(incident: Snapshot) -> AsyncIterator[Client]:
    server: MCPServer[Any] = MCPServer("investigation-test")
    register_investigation_tools(server, incident, ServerSettings(output_budget=4_000))
    async with Client(server) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, str]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is None
    (content,) = result.content
    assert isinstance(content, TextContent)
    return bool(result.is_error), content.text


async def test_tools_are_read_only_text_tools_with_examples(tools: Client) -> None:
    listed = {tool.name: tool for tool in (await tools.list_tools()).tools}

    assert sorted(listed) == sorted(TOOLS)
    for tool in listed.values():
        assert tool.annotations == READ_ONLY
        assert tool.output_schema is None
        assert "Example: " in (tool.description or "")


async def test_get_alerts_shows_the_alert_timeline(tools: Client) -> None:
    error, text = await call(tools, "get_alerts", severity="critical")

    assert not error
    assert text.splitlines()[2] == (
        "2025-12-15T17:26:30Z  2025-12-15T17:27:00Z  2025-12-15T17:40:00Z    13m00s       14  critical  "
        "HighRequestErrorRate  otel-demo/Service/frontend  [0.4] Request error rate in service frontend is above 0"
    )


async def test_search_logs_pages_lines_with_an_offset_marker(tools: Client) -> None:
    error, text = await call(tools, "search_logs", service="ad", limit=2)

    assert not error
    assert text.splitlines() == [
        "30 of 30 log lines in scope match (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z)",
        "2025-12-15T17:25:00Z ad ad-5d9f7c6b8-x2x9q ERROR GetAds failed: flag adFailure is on, request id 0000012c-aaaa",
        "2025-12-15T17:25:30Z ad ad-5d9f7c6b8-x2x9q ERROR GetAds failed: flag adFailure is on, request id 0000014a-aaaa",
        "[truncated: 28 more lines; call again with offset=2]",
    ]
    _, next_page = await call(tools, "search_logs", service="ad", limit=2, offset=28)
    assert next_page.splitlines()[-1].endswith("request id 00000492-aaaa")


async def test_search_logs_patterns_and_counts(tools: Client) -> None:
    _, patterns = await call(tools, "search_logs", mode="patterns", min_severity="error")
    assert (
        "30  ad  ERROR  2025-12-15T17:25:00Z..2025-12-15T17:39:30Z  GetAds failed: flag adFailure is on"
        in patterns
    )

    _, counts = await call(tools, "search_logs", mode="counts", pattern="adfailure")
    assert counts.splitlines()[1:] == ["ad  total=30 warn=0 error=30"]


async def test_query_metrics_lists_ranks_and_draws_series(tools: Client) -> None:
    _, listing = await call(tools, "query_metrics", entity="ad")
    assert "traces_span_metrics_calls_total  [service, counter]" in listing

    _, anomalies = await call(tools, "query_metrics", mode="anomalies")
    header, first = anomalies.splitlines()[:2]
    assert "pivot 2025-12-15T17:26:30Z (first activation of alert HighRequestErrorRate)" in header
    assert "traces_span_metrics_calls_total (rate/s)  ad  {status_code=STATUS_CODE_ERROR}" in first

    _, series = await call(
        tools,
        "query_metrics",
        mode="series",
        metric="traces_span_metrics_calls_total",
        by="status_code",
        since="end-2m",
        labels={"status_code": "STATUS_CODE_ERROR"},
    )
    assert series.splitlines()[1:] == [
        "== STATUS_CODE_ERROR: min=1 avg=1 max=1",
        "   17:38:00 1  17:39:00 1  17:40:00 1",
    ]


async def test_query_traces_summarises_lists_errors_and_draws_a_trace(tools: Client) -> None:
    _, summary = await call(tools, "query_traces", pivot="start+5m")
    assert summary.splitlines()[1].startswith("ad  oteldemo.AdService/GetAds  | before: 10 calls, 0 err (0%)")

    _, errors = await call(tools, "query_traces", mode="errors", limit=1)
    assert "30 spans     30 traces  ad  oteldemo.AdService/GetAds" in errors
    assert errors.splitlines()[-1] == "[truncated: 29 more lines; call again with offset=1]"

    _, tree = await call(tools, "query_traces", mode="trace", trace_id="trace00300")
    assert (
        tree.splitlines()[3]
        == "    ad oteldemo.AdService/GetAds [Server] +2ms 100.0ms Error flag adFailure is on"
    )


async def test_get_events_groups_by_object_and_accepts_short_names(tools: Client) -> None:
    _, text = await call(tools, "get_events", object="deploy/ad", type="Warning")

    assert text.splitlines()[1].startswith(
        "Warning  FailedCreate  x3  otel-demo/ReplicaSet/ad-5d9f7c6b8  2025-12-15T17:26:00Z..2025-12-15T17:29:00Z"
    )
    assert "exceeded quota: strict-resource-quota" in text


async def test_get_topology_shows_calls_objects_and_neighbours(tools: Client) -> None:
    _, calls = await call(tools, "get_topology")
    assert calls.splitlines()[1] == "frontend -> ad  calls=40 errors=30 (75%)"

    _, objects = await call(tools, "get_topology", view="kubernetes", namespace="otel-demo", limit=1)
    assert objects.splitlines()[1:] == [
        "otel-demo/Deployment/ad --limited-by--> otel-demo/ResourceQuota/strict-resource-quota",
        "[truncated: 9 more lines; call again with offset=1]",
    ]

    _, up = await call(tools, "get_topology", entity="otel-demo/Service/ad", direction="up", depth=1)
    assert up.splitlines() == [
        "otel-demo/Service/ad (objects as of 2025-12-15T17:40:00Z)",
        "up 1: otel-demo/Pod/ad-5d9f7c6b8-x2x9q    via otel-demo/Service/ad --selects--> otel-demo/Pod/ad-5d9f7c6b8-x2x9q",
    ]


async def test_get_changes_shows_the_flag_that_flipped(tools: Client) -> None:
    _, text = await call(tools, "get_changes", kind="cm")

    assert text.splitlines()[1:] == [
        "2025-12-15T17:25:00Z  otel-demo/ConfigMap/flagd-config  changed since the listing at 2025-12-15T17:20:00Z:",
        '    data["demo.flagd.json"].flags.adFailure.defaultVariant: "off" -> "on"',
    ]


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("get_alerts", {"since": "yesterday"}, "since: cannot read 'yesterday' as a time; use RFC 3339"),
        ("get_alerts", {"since": "end", "until": "start"}, "is after until"),
        ("search_logs", {"pattern": "a(b"}, "is not a valid regular expression"),
        ("search_logs", {"service": "adservice"}, "services with logs: ad, frontend"),
        ("search_logs", {"min_severity": "loud"}, "use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"),
        ("query_metrics", {"mode": "series"}, "needs metric; find names with mode='list'"),
        ("query_metrics", {"mode": "series", "metric": "cpu", "step": "fast"}, "step: cannot read 'fast'"),
        ("query_traces", {"mode": "trace"}, "needs trace_id"),
        ("get_events", {"object": "otel-demo/ad"}, ""),
        ("get_topology", {"entity": "ad"}, "matches 3 objects: otel-demo/Deployment/ad"),
        ("get_topology", {"entity": "deploy/adservice"}, "no such object"),
        ("get_changes", {"kind": "gizmo"}, "kinds listed in this recording: ConfigMap"),
    ],
)
async def test_bad_arguments_get_errors_that_say_how_to_fix_them(
    tools: Client, tool: str, arguments: dict[str, Any], message: str
) -> None:
    error, text = await call(tools, tool, **arguments)

    if not message:  # several objects are fine where a filter takes them all
        assert not error, text
        return
    assert error, text
    assert text.startswith(f"Error executing tool {tool}: ")
    assert message in text


async def test_every_result_fits_the_output_budget(tools: Client) -> None:
    for tool in TOOLS:
        _, text = await call(tools, tool, limit=1000)
        assert len(text) <= 4_000, tool


def test_a_fetched_page_pages_like_the_whole_list() -> None:
    whole = [f"line {number}" for number in range(10)]

    assert page_lines(
        FetchedPage(whole[4:6], offset=4, total=10), offset=4, limit=2, budget=1000
    ) == page_lines(whole, offset=4, limit=2, budget=1000)


async def test_empty_results_say_how_to_widen_the_search(tools: Client) -> None:
    _, no_match = await call(tools, "search_logs", pattern="no such text")
    assert (
        no_match.splitlines()[1]
        == "(no line matches; try a broader pattern, or mode='patterns' to see what is logged)"
    )

    _, no_scope = await call(tools, "search_logs", service="ad", until="start+1m")
    assert no_scope.splitlines()[1] == "(no log lines in scope; widen the time range or drop a filter)"

    _, alone = await call(tools, "get_topology", entity="ns/otel-demo", direction="up")
    assert alone.splitlines()[1] == (
        "(no neighbours up within 2 edges; try direction='down' or 'both', or a larger depth)"
    )
    _, isolated = await call(tools, "get_topology", entity="ns/otel-demo", direction="both", depth=6)
    assert isolated.splitlines()[1] == (
        "(no neighbours either way within 6 edges; try another until: the object graph is the one at "
        "the end of the range)"
    )
