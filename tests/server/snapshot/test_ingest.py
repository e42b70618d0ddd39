"""The loader reads every documented variant of the snapshot format, and reports what it cannot."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from scenario_files import (
    LOG_COLUMNS,
    POD_METRIC_COLUMNS,
    SERVICE_METRIC_COLUMNS,
    SPAN_COLUMNS,
    log_row,
    minimal_scenario,
    object_row,
    watch_record,
    write_tsv,
)

from itbench_server.errors import NotAScenarioError
from itbench_server.snapshot import SkippedInput, Snapshot, open_snapshot


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def load(root: Path, cache: Path) -> Snapshot:
    return open_snapshot(root, cache_dir=cache)


def test_log_fields_with_tabs_newlines_and_quotes_survive_csv_quoting(tmp_path: Path, cache: Path) -> None:
    body = 'line one\twith a tab\nline "two" with quotes'
    write_tsv(tmp_path / "otel_logs_raw.tsv", LOG_COLUMNS, [log_row("2025-12-15 17:25:19.123456789", body)])
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT body, pod, namespace, container, service FROM logs") == [
            (body, "ad-6b7d9-abcde", "otel-demo", "ad", "ad")
        ]
        assert snapshot.skipped() == []


@pytest.mark.parametrize(
    "attributes",
    [
        "{'k8s.pod.name': 'cart-1', 'k8s.namespace.name': 'otel-demo', 'flag': True}",
        '{"k8s.pod.name": "cart-1", "k8s.namespace.name": "otel-demo", "flag": true}',
        "map[flag:true k8s.namespace.name:otel-demo k8s.pod.name:cart-1]",
    ],
    ids=["python-dict", "json", "go-map"],
)
def test_attribute_columns_in_every_form_become_the_same_json(
    tmp_path: Path, cache: Path, attributes: str
) -> None:
    row = {
        "Timestamp": "2025-12-15 17:25:19",
        "ServiceName": "cart",
        "Body": "x",
        "ResourceAttributes": attributes,
    }
    write_tsv(tmp_path / "otel_logs_raw.tsv", LOG_COLUMNS, [row])
    with load(tmp_path, cache) as snapshot:
        (pod, namespace, flag) = snapshot.query(
            """SELECT pod, namespace, json_extract_string(resource_attributes, '$.flag') FROM logs"""
        )[0]
    assert (pod, namespace, flag) == ("cart-1", "otel-demo", "true")


@pytest.mark.parametrize(
    "text",
    [
        "2025-12-15 17:25:19.123456789",
        "2025-12-15 17:25:19.123456789 +0000 UTC",
        "2025-12-15T17:25:19.123456Z",
        "2025-12-15T18:25:19.123456+01:00",
    ],
)
def test_every_timestamp_form_reads_as_the_same_utc_instant(tmp_path: Path, cache: Path, text: str) -> None:
    write_tsv(tmp_path / "otel_logs_raw.tsv", LOG_COLUMNS, [log_row(text, "x")])
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT ts FROM logs") == [(datetime(2025, 12, 15, 17, 25, 19, 123456),)]


def test_spans_normalize_go_enum_spellings_and_nanosecond_durations(tmp_path: Path, cache: Path) -> None:
    rows = [
        {"Timestamp": "2025-12-15 17:25:19", "TraceId": "t1", "SpanId": "a", "SpanName": "GET /",
         "SpanKind": "SPAN_KIND_SERVER", "ServiceName": "frontend", "Duration": "12500000",
         "StatusCode": "STATUS_CODE_ERROR", "SpanAttributes": "map[http.status_code:500]"},
        {"Timestamp": "2025-12-15 17:25:19", "TraceId": "t1", "SpanId": "b", "ParentSpanId": "a",
         "SpanName": "oteldemo.CartService/GetCart", "SpanKind": "Client", "ServiceName": "frontend",
         "Duration": "2000000", "StatusCode": "Unset"},
    ]  # fmt: skip
    write_tsv(tmp_path / "otel_traces_raw.tsv", SPAN_COLUMNS, rows)
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query(
            "SELECT span_id, parent_span_id, kind, status, duration_ms, span_attributes FROM spans ORDER BY span_id"
        ) == [
            ("a", "", "Server", "Error", 12.5, '{"http.status_code":"500"}'),
            ("b", "a", "Client", "Unset", 2.0, "{}"),
        ]


def test_core_and_events_k8s_io_events_share_one_table(tmp_path: Path, cache: Path) -> None:
    core = {
        "metadata": {"name": "ad.1", "namespace": "otel-demo"},
        "involvedObject": {"kind": "ReplicaSet", "name": "ad-6b7d9", "namespace": "otel-demo"},
        "reason": "FailedCreate", "message": "exceeded quota: otel-demo-quota", "type": "Warning", "count": 7,
        "firstTimestamp": "2025-12-15T17:20:00Z", "lastTimestamp": "2025-12-15T17:29:00Z",
        "source": {"component": "replicaset-controller"},
    }  # fmt: skip
    modern = {
        "apiVersion": "events.k8s.io/v1", "metadata": {"name": "ad.2", "namespace": "otel-demo"},
        "regarding": {"kind": "Pod", "name": "ad-6b7d9-abcde", "namespace": "otel-demo"},
        "reason": "BackOff", "note": "Back-off pulling image", "type": "Warning",
        "eventTime": "2025-12-15T17:27:00.000000Z", "reportingController": "kubelet",
    }  # fmt: skip
    rows = [
        {"Timestamp": "2025-12-15 17:29:00", "Body": watch_record(core)},
        {"Timestamp": "2025-12-15 17:27:00", "Body": watch_record(modern, "MODIFIED")},
    ]
    write_tsv(tmp_path / "k8s_events_raw.tsv", LOG_COLUMNS, rows)
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query(
            """SELECT watch_type, object_kind, object_name, reason, message, type, count, first_seen, last_seen,
                      source FROM events ORDER BY ts"""
        ) == [
            ("MODIFIED", "Pod", "ad-6b7d9-abcde", "BackOff", "Back-off pulling image", "Warning", 1,
             datetime(2025, 12, 15, 17, 27), datetime(2025, 12, 15, 17, 27), "kubelet"),
            ("ADDED", "ReplicaSet", "ad-6b7d9", "FailedCreate", "exceeded quota: otel-demo-quota", "Warning", 7,
             datetime(2025, 12, 15, 17, 20), datetime(2025, 12, 15, 17, 29), "replicaset-controller"),
        ]  # fmt: skip


def test_objects_are_unwrapped_and_stripped_of_secrets_and_bookkeeping(tmp_path: Path, cache: Path) -> None:
    config_map = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": "flagd-config", "namespace": "otel-demo", "uid": "u-1",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "team": "shop"},
        },
        "data": {"demo.flagd.json": "{}"},
    }  # fmt: skip
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "otel-demo"},
              "data": {"password": "aHVudGVyMg=="}, "stringData": {"password": "hunter2"}}  # fmt: skip
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}}
    rows = [
        object_row("2025-12-15 17:25:00", config_map, "configmaps", twice_encoded=True),
        object_row("2025-12-15 17:25:00", secret, "secrets"),
        {"Timestamp": "2025-12-15 17:25:00", "Body": watch_record(node)},  # no k8s.resource.name
    ]
    write_tsv(tmp_path / "k8s_objects_raw.tsv", LOG_COLUMNS, rows)
    with load(tmp_path, cache) as snapshot:
        listed = snapshot.query("SELECT resource, kind, namespace, name, body FROM objects ORDER BY name")
    assert [(resource, kind, namespace, name) for resource, kind, namespace, name, _ in listed] == [
        ("secrets", "Secret", "otel-demo", "db"),
        ("configmaps", "ConfigMap", "otel-demo", "flagd-config"),
        ("nodes", "Node", "", "worker-1"),
    ]
    bodies = {name: json.loads(body) for _, _, _, name, body in listed}
    assert bodies["flagd-config"]["metadata"] == {
        "name": "flagd-config", "namespace": "otel-demo", "uid": "u-1", "annotations": {"team": "shop"}
    }  # fmt: skip
    assert bodies["flagd-config"]["data"] == {"demo.flagd.json": "{}"}
    assert "data" not in bodies["db"] and "stringData" not in bodies["db"]


def test_metric_files_of_pods_and_services_fill_one_samples_table(tmp_path: Path, cache: Path) -> None:
    write_tsv(tmp_path / "metrics" / "pod_ad-6b7d9-abcde_raw.tsv", POD_METRIC_COLUMNS, [
        {"metric_name": "container_memory_working_set_bytes", "timestamp": "2025-12-15 17:25:00", "value": "1.5e8",
         "pod_name": "ad-6b7d9-abcde", "namespace": "otel-demo",
         "tags": "{'container': 'ad', 'pod': 'ad-6b7d9-abcde', 'namespace': 'otel-demo'}"},
    ])  # fmt: skip
    # A service file whose first query returned no status_code column at all.
    columns = [c for c in SERVICE_METRIC_COLUMNS if c != "status_code"]
    write_tsv(tmp_path / "metrics" / "service_cart_raw.tsv", columns, [
        {"metric_name": "traces_span_metrics_duration_milliseconds_bucket", "timestamp": "2025-12-15 17:25:00",
         "value": "42", "service_name": "cart", "namespace": "otel-demo", "bucket_le": "+Inf", "tags": "{}"},
    ])  # fmt: skip
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query(
            "SELECT metric, value, source, entity, container, bucket_le, status_code FROM samples ORDER BY source"
        ) == [
            ("container_memory_working_set_bytes", 1.5e8, "pod", "ad-6b7d9-abcde", "ad", None, None),
            ("traces_span_metrics_duration_milliseconds_bucket", 42.0, "service", "cart", "", "+Inf", None),
        ]


def alert(name: str, **labels: str) -> dict[str, object]:
    return {"labels": {"alertname": name, **labels}, "annotations": {"summary": name}, "state": "firing",
            "activeAt": "2025-12-15T17:26:00Z", "value": "1"}  # fmt: skip


def test_alert_files_in_both_names_and_both_shapes_are_read(tmp_path: Path, cache: Path) -> None:
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    envelope = {"status": "success", "data": {"alerts": [alert("KubePodNotReady", namespace="otel-demo")]}}
    (alerts / "alerts_at_2025-12-15T17-27-00.000000.json").write_text(json.dumps(envelope), encoding="utf-8")
    bare = [alert("HighRequestErrorRate", service_name="frontend", severity="critical")]
    (alerts / "alerts_in_alerting_state_2025-12-15T17:28:00.000000Z.json").write_text(
        json.dumps(bare), encoding="utf-8"
    )
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query(
            "SELECT sampled_at, alertname, severity, namespace, service FROM alerts ORDER BY 1"
        ) == [
            (datetime(2025, 12, 15, 17, 27), "KubePodNotReady", "", "otel-demo", ""),
            (datetime(2025, 12, 15, 17, 28), "HighRequestErrorRate", "critical", "", "frontend"),
        ]


def test_recorder_raw_nesting_is_read_and_raw_files_win_over_lite_copies(tmp_path: Path, cache: Path) -> None:
    write_tsv(
        tmp_path / "raw" / "otel_logs_raw.tsv", LOG_COLUMNS, [log_row("2025-12-15 17:25:19", "raw copy")]
    )
    write_tsv(tmp_path / "lite" / "otel_logs.tsv", LOG_COLUMNS, [log_row("2025-12-15 17:25:19", "lite copy")])
    write_tsv(tmp_path / "raw" / "metrics_pod" / "pod_ad-1_raw.tsv", POD_METRIC_COLUMNS, [
        {"metric_name": "up", "timestamp": "2025-12-15 17:25:00", "value": "1", "pod_name": "ad-1"},
    ])  # fmt: skip
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT body FROM logs") == [("raw copy",)]
        assert snapshot.query("SELECT entity FROM samples") == [("ad-1",)]


def test_a_truncated_last_line_is_skipped_and_reported_with_its_line(tmp_path: Path, cache: Path) -> None:
    path = write_tsv(tmp_path / "otel_logs_raw.tsv", LOG_COLUMNS, [
        log_row("2025-12-15 17:25:19", "first\nspans two lines"),
        log_row("2025-12-15 17:25:20", "second"),
    ])  # fmt: skip
    with path.open("a", encoding="utf-8") as handle:
        handle.write("2025-12-15 17:25:21\t\t\t\t0\tINFO\t9\tad\tcut off her")
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT count(*) FROM logs") == [(2,)]
        [skipped] = snapshot.skipped()
    assert (skipped.file, skipped.line) == ("otel_logs_raw.tsv", 5)
    assert skipped.reason.startswith("too few fields")


def test_invalid_utf8_is_replaced_and_the_line_kept(tmp_path: Path, cache: Path) -> None:
    path = write_tsv(tmp_path / "otel_logs_raw.tsv", LOG_COLUMNS, [log_row("2025-12-15 17:25:19", "good")])
    with path.open("ab") as handle:
        handle.write(b"2025-12-15 17:25:20\t\t\t\t0\tERROR\t17\tad\tbad \xff\xfe bytes\t\t{}\t\t\t\t{}\t{}\n")
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT body FROM logs ORDER BY ts") == [("good",), ("bad ?? bytes",)]
        assert snapshot.skipped() == [SkippedInput("otel_logs_raw.tsv", 3, "invalid UTF-8 replaced with '?'")]


def test_a_ten_megabyte_log_line_loads_cut_to_the_body_limit(tmp_path: Path, cache: Path) -> None:
    huge = "x" * (10 * 1024 * 1024)
    write_tsv(tmp_path / "otel_logs_raw.tsv", LOG_COLUMNS, [
        log_row("2025-12-15 17:25:19", huge), log_row("2025-12-15 17:25:20", "after"),
    ])  # fmt: skip
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT length(body) FROM logs ORDER BY ts") == [(1_000_000,), (5,)]


def test_a_malformed_json_body_skips_that_row_only(tmp_path: Path, cache: Path) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}}
    rows = [
        {"Timestamp": "2025-12-15 17:25:00", "Body": '{"type": "ADDED", "object": {"kind": "Pod", '},
        {"Timestamp": "2025-12-15 17:25:00", "Body": json.dumps(node)},
    ]
    write_tsv(tmp_path / "k8s_objects_raw.tsv", LOG_COLUMNS, rows)
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT name FROM objects") == [("worker-1",)]
        assert snapshot.skipped() == [
            SkippedInput(
                "k8s_objects_raw.tsv", None, "1 row(s) with a Body that is not a JSON object were skipped"
            )
        ]


def test_files_missing_required_columns_or_empty_are_reported_and_the_rest_loads(
    tmp_path: Path, cache: Path
) -> None:
    minimal_scenario(tmp_path)
    (tmp_path / "otel_traces_raw.tsv").write_text("", encoding="utf-8")
    (tmp_path / "k8s_events_raw.tsv").write_text("Timestamp\tWhatever\n2025-12-15\tx\n", encoding="utf-8")
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "alerts_at_2025-12-15T17-27-00.000000.json").write_text(
        "{not json", encoding="utf-8"
    )
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT count(*) FROM logs") == [(1,)]
        assert snapshot.skipped() == [
            SkippedInput("alerts/alerts_at_2025-12-15T17-27-00.000000.json", 1,
                         "not valid JSON: Expecting property name enclosed in double quotes"),
            SkippedInput("k8s_events_raw.tsv", 1,
                         "missing column(s) Body; the header has: Timestamp, Whatever"),
            SkippedInput("otel_traces_raw.tsv", None, "empty file (no header row)"),
        ]  # fmt: skip


def test_unknown_extra_columns_are_ignored(tmp_path: Path, cache: Path) -> None:
    row = log_row("2025-12-15 17:25:19", "hello") | {"EventName": "x", "SomethingNew": "y"}
    write_tsv(tmp_path / "otel_logs_raw.tsv", [*LOG_COLUMNS, "EventName", "SomethingNew"], [row])
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT body FROM logs") == [("hello",)]
        assert snapshot.skipped() == []


def test_a_directory_without_scenario_files_is_refused_with_its_path(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(NotAScenarioError) as raised:
        load(tmp_path, cache)
    assert str(tmp_path) in str(raised.value)
    with pytest.raises(NotAScenarioError):
        load(tmp_path / "missing", cache)


def test_the_ground_truth_is_never_read_even_through_a_symlink(tmp_path: Path, cache: Path) -> None:
    minimal_scenario(tmp_path)
    secret = "otel-demo/Deployment/the-planted-answer"
    (tmp_path / "ground_truth.yaml").write_text(f"groups: [{{id: {secret}}}]\n", encoding="utf-8")
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "alerts_at_2025-12-15T17-27-00.000000.json").symlink_to(
        tmp_path / "ground_truth.yaml"
    )
    with load(tmp_path, cache) as snapshot:
        index_bytes = snapshot.index_path.read_bytes()
        assert snapshot.skipped() == [
            SkippedInput("alerts/alerts_at_2025-12-15T17-27-00.000000.json", None,
                         "symlink leading outside the scenario or to its ground truth; not read"),
        ]  # fmt: skip
    assert secret.encode() not in index_bytes


def test_a_bad_line_in_one_of_many_metric_files_is_reported_against_that_file(
    tmp_path: Path, cache: Path
) -> None:
    for pod in ("ad-1", "cart-1", "email-1"):
        write_tsv(tmp_path / "metrics" / f"pod_{pod}_raw.tsv", POD_METRIC_COLUMNS, [
            {"metric_name": "up", "timestamp": "2025-12-15 17:25:00", "value": "1", "pod_name": pod},
        ])  # fmt: skip
    with (tmp_path / "metrics" / "pod_cart-1_raw.tsv").open("a", encoding="utf-8") as handle:
        handle.write("up\t2025-12-15 17:26:00\n")
    # A file whose header differs from the others is read on its own.
    write_tsv(tmp_path / "metrics" / "pod_fraud-1_raw.tsv", ["timestamp", "metric_name", "value"], [
        {"metric_name": "up", "timestamp": "2025-12-15 17:25:00", "value": "0"},
    ])  # fmt: skip
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT entity, value FROM samples ORDER BY entity") == [
            ("ad-1", 1.0), ("cart-1", 1.0), ("email-1", 1.0), ("fraud-1", 0.0),
        ]  # fmt: skip
        [skipped] = snapshot.skipped()
        assert (skipped.file, skipped.line) == ("metrics/pod_cart-1_raw.tsv", 3)
        assert [row[:3] for row in snapshot.inventory()] == [
            ("metrics/pod_ad-1_raw.tsv", "samples", 1),
            ("metrics/pod_cart-1_raw.tsv", "samples", 1),
            ("metrics/pod_email-1_raw.tsv", "samples", 1),
            ("metrics/pod_fraud-1_raw.tsv", "samples", 1),
        ]


def test_logs_and_spans_without_attribute_columns_load_each_row_once(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "otel_logs_raw.tsv").write_text(
        "Timestamp\tBody\tServiceName\n2025-12-15 17:25:19\thello\tad\n2025-12-15 17:25:20\tagain\tad\n",
        encoding="utf-8",
    )
    (tmp_path / "otel_traces_raw.tsv").write_text(
        "Timestamp\tTraceId\tSpanId\tSpanAttributes\n2025-12-15 17:25:19\tt\ts\t\n", encoding="utf-8"
    )
    with load(tmp_path, cache) as snapshot:
        assert snapshot.query("SELECT body, resource_attributes, log_attributes FROM logs ORDER BY ts") == [
            ("hello", "{}", "{}"),
            ("again", "{}", "{}"),
        ]
        assert snapshot.query("SELECT span_id, span_attributes FROM spans") == [("s", "{}")]
