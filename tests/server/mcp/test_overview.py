"""``get_overview``: the start-here summary."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp_scenario import text_of

from itbench_server.mcp.overview import alert_entity, overview_text
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio


def test_overview_gives_window_workloads_alerts_inventory_and_next_steps(snapshot: Snapshot) -> None:
    text = overview_text(snapshot, ["get_overview", "run_sql", "submit_diagnosis"], budget=20_000)

    assert text == (
        "Incident window: 2025-12-15T17:20:00Z to 2025-12-15T17:39:00Z (19 min), UTC.\n"
        "Entity names are namespace/Kind/name, e.g. otel-demo/Deployment/frontend; cluster-scoped objects "
        "use the namespace 'cluster', e.g. cluster/Node/worker-1.\n"
        "\n"
        "Namespaces (pods at the window's end):\n"
        "  otel-demo: 2 pods\n"
        "\n"
        "Workloads at the window's end (2; 1 with fewer ready replicas than desired, marked !):\n"
        " !otel-demo/Deployment/ad  ready 0/1\n"
        "  otel-demo/Deployment/frontend  ready 1/1\n"
        "\n"
        "Firing alerts (1 alert/entity pairs over 14 one-minute samples; first seen, minutes firing, "
        "severity):\n"
        "  2025-12-15T17:26:00Z  HighRequestErrorRate  otel-demo/Service/frontend  x14  critical\n"
        "\n"
        "Data in the recording (table: rows, from files):\n"
        "  logs: 40 rows from 1 files (0.0 MB)\n"
        "  spans: 20 rows from 1 files (0.0 MB)\n"
        "  events: 1 rows from 1 files (0.0 MB)\n"
        "  objects: 28 rows from 1 files (0.0 MB)\n"
        "  samples: 20 rows from 1 files (0.0 MB)\n"
        "  alerts: 14 rows from 14 files (0.0 MB)\n"
        "Skipped at ingest (3):\n"
        "  alerts/alerts_at_2025-12-15T17-19-00.000000.json: symlink leading outside the scenario or to its "
        "ground truth; not read\n"
        "  metrics/pod_answer_raw.tsv: symlink leading outside the scenario or to its ground truth; not read\n"
        "  otel_logs.tsv: symlink leading outside the scenario or to its ground truth; not read\n"
        "\n"
        "How to investigate:\n"
        "  1. run_sql: read-only SQL over the normalized tables for anything else\n"
        "  2. submit_diagnosis: the root causes as namespace/Kind/name, each with reasoning and evidence"
    )


def test_overview_fits_a_small_budget(snapshot: Snapshot) -> None:
    text = overview_text(snapshot, ["run_sql"], budget=400)

    assert len(text) <= 400
    assert text.endswith("more characters; narrow the query]")


async def test_overview_tool_lists_steps_only_for_tools_the_server_has(client: Client) -> None:
    served = {tool.name for tool in (await client.list_tools()).tools}

    text = text_of(await client.call_tool("get_overview", {}))

    steps = text.split("How to investigate:\n")[1].splitlines()
    named = [step.split(". ", 1)[1].split(":", 1)[0] for step in steps]
    assert named and set(named) <= served
    assert named[-1] == "submit_diagnosis"


@pytest.mark.parametrize(
    ("labels", "entity"),
    [
        ({"pod": "cart-1", "deployment": "cart", "service_name": "cart"}, "otel-demo/Pod/cart-1"),
        ({"deployment": "cart", "service_name": "cart"}, "otel-demo/Deployment/cart"),
        ({"horizontalpodautoscaler": "frontend"}, "otel-demo/HorizontalPodAutoscaler/frontend"),
        ({"service_name": "frontend"}, "otel-demo/Service/frontend"),
        ({"node": "worker-2"}, "cluster/Node/worker-2"),
        ({"alertname": "Watchdog"}, "otel-demo"),
    ],
)
def test_an_alert_is_attributed_to_the_most_specific_object_its_labels_name(
    labels: dict[str, object], entity: str
) -> None:
    assert alert_entity("otel-demo", labels) == entity
