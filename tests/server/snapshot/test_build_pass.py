"""The build reads each file once: its shortcuts (sampled attribute dictionaries, the logs and
their templates loaded on a second connection beside the other files) change how fast it is,
never what it stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenario_files import LOG_COLUMNS, SPAN_COLUMNS, log_row, write_tsv

from itbench_server.snapshot import build_index, ingest, open_snapshot, store
from itbench_server.snapshot.discover import find_scenario_files

RESOURCE_FORMS = [
    "{'k8s.pod.name': 'cart-1', 'k8s.namespace.name': 'otel-demo', 'service.name': 'cart', 'ok': True}",
    '{"k8s.pod.name": "ad-2", "k8s.namespace.name": "otel-demo", "k8s.container.name": "ad"}',
    "map[k8s.namespace.name:shop k8s.pod.name:quote-3 service.name:quote]",
    "not an attribute map at all",
    "",
    "None",
    "{'k8s.pod.name': 'email-4',\n 'note': 'a value\twith a tab and a \"quote\"'}",
]
ROW_FORMS = [
    "{'http.request.method': 'POST', 'url.path': '/api/cart'}",
    '{"event.name": "proxy.access", "http.response.status_code": "503"}',
    "map[http.status_code:500]",
    "{'multi': 'line\nvalue'}",
    "",
]


def _scenario(root: Path) -> Path:
    """Logs and spans whose attribute texts repeat, in every form, some over several lines."""
    logs = []
    spans = []
    for index in range(240):
        resource = RESOURCE_FORMS[index % len(RESOURCE_FORMS)]
        if index % 37 == 0:
            resource = f"{{'k8s.pod.name': 'rare-{index}', 'k8s.namespace.name': 'otel-demo'}}"
        row = ROW_FORMS[index % len(ROW_FORMS)]
        logs.append(
            log_row(f"2025-12-15 17:25:{index % 60:02d}", f"request {index} took {index % 7} ms")
            | {"ResourceAttributes": resource, "LogAttributes": row, "ServiceName": ""}
        )
        span = {"Timestamp": f"2025-12-15 17:26:{index % 60:02d}", "TraceId": f"t{index // 4}",
                "SpanId": f"s{index}", "SpanName": "GET /", "SpanKind": "Server", "ServiceName": "",
                "ResourceAttributes": resource, "SpanAttributes": row, "Duration": "1000000",
                "StatusCode": "Ok"}  # fmt: skip
        spans.append(span)
    write_tsv(root / "otel_logs_raw.tsv", LOG_COLUMNS, logs)
    write_tsv(root / "otel_traces_raw.tsv", SPAN_COLUMNS, spans)
    return root


def _stored(root: Path, cache: Path) -> dict[str, list[tuple[Any, ...]]]:
    with open_snapshot(root, cache_dir=cache, rebuild=True) as snapshot:
        return {
            table: snapshot.query(f"SELECT * FROM {table} ORDER BY rowid")
            for table in ("logs", "spans", "skipped", "log_templates", "log_row_templates")
        }


def test_the_stored_rows_do_not_depend_on_which_attribute_texts_were_sampled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _scenario(tmp_path / "scenario")
    whole_files = _stored(root, tmp_path / "cache-whole")  # small files are sampled whole
    assert len(whole_files["logs"]) == len(whole_files["spans"]) == 240
    body = 7  # the logs table's column
    assert [row[body] for row in whole_files["logs"]] == [
        f"request {index} took {index % 7} ms" for index in range(240)
    ]  # in the file's order
    assert whole_files["skipped"] == []

    # A few short blocks, some starting inside a quoted field that spans lines: most texts unseen.
    monkeypatch.setattr(ingest, "SAMPLE_BLOCKS", 3)
    monkeypatch.setattr(ingest, "SAMPLE_BLOCK_BYTES", 300)
    assert _stored(root, tmp_path / "cache-sampled") == whole_files

    monkeypatch.setattr(ingest, "SAMPLE_BLOCKS", 0)  # no dictionary at all: every row parsed
    assert _stored(root, tmp_path / "cache-none") == whole_files


def test_the_tables_are_the_same_loaded_in_two_streams_or_one_file_after_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _scenario(tmp_path / "scenario")
    monkeypatch.setattr(store, "BUILD_THREADS", 2)  # two streams on at most two threads
    two_streams = _stored(root, tmp_path / "cache-two")
    monkeypatch.setattr(ingest, "TWO_STREAMS", False)
    one_stream = _stored(root, tmp_path / "cache-one")
    assert one_stream == two_streams
    assert len(two_streams["log_row_templates"]) == 240
    templates = {template for _, template in two_streams["log_templates"]}
    assert "request <NUM> took <NUM> ms" in templates


def test_a_build_reports_the_wall_and_cpu_time_of_each_stage(tmp_path: Path) -> None:
    root = _scenario(tmp_path / "scenario")
    report = build_index(find_scenario_files(root), tmp_path / "index.duckdb")
    assert report.rows["logs"] == report.rows["spans"] == 240
    expected = {
        "logs: attribute dictionaries",
        "logs: rows",
        "spans: attribute dictionaries",
        "spans: rows",
        "log templates",
        "checkpoint",
        "the whole build",
    }
    assert expected <= set(report.stages)
    assert all(wall >= 0 and cpu >= 0 for wall, cpu in report.stages.values())
