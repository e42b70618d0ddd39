"""Every format variant the generator writes reads into the same normalized tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itbench_server.snapshot import open_snapshot
from itbench_server.synth import VARIANTS, generate_scenario

# What a variant may not change: every column but the attribute/body text, whose JSON spelling
# depends on the source form (a Go map has no types, a double-encoded body is re-serialized).
COMPARED = {
    "logs": "ts, service, namespace, pod, container, severity, severity_number, body, trace_id, span_id",
    "spans": "ts, trace_id, span_id, parent_span_id, name, kind, service, namespace, pod, duration_ms, status, status_message",
    "events": "ts, namespace, name, object_kind, object_namespace, object_name, reason, message, type, count, first_seen, last_seen, source",
    "objects": "listed_at, resource, api_version, kind, namespace, name, uid, json(body)",
    "samples": "metric, ts, value, source, entity, namespace, container, bucket_le, metric_type",
}


def tables(scenario: Path, cache: Path) -> dict[str, list[tuple[Any, ...]]]:
    with open_snapshot(scenario, cache_dir=cache) as snapshot:
        assert snapshot.skipped() == []
        return {
            table: snapshot.query(f"SELECT {columns} FROM {table} ORDER BY ALL")
            for table, columns in COMPARED.items()
        }


@pytest.fixture(scope="module")
def default_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[Any, ...]]]:
    root = tmp_path_factory.mktemp("variants")
    return tables(generate_scenario("bad-image", 3, root / "default", size="tiny"), root / "cache")


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "default"])
def test_a_variant_reads_into_the_same_tables_as_the_default_layout(
    variant: str, default_tables: dict[str, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    scenario = generate_scenario("bad-image", 3, tmp_path / variant, size="tiny", variant=variant)
    assert tables(scenario, tmp_path / "cache") == default_tables
