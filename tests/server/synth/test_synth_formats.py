"""Value printing per variant and Go encoding/csv quoting."""

from __future__ import annotations

import csv
import io

import pytest

from itbench_server.synth.formats import Style, TsvWriter, needs_quotes, quote
from itbench_server.synth.telemetry import prometheus_value

NS = 1_765_819_519_123_456_789  # 2025-12-15 17:25:19.123456789 UTC


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        ("tab\there", '"tab\there"'),
        ("line\nbreak", '"line\nbreak"'),
        ('say "hi"', '"say ""hi"""'),
        (" leading space", '" leading space"'),
        ("trailing space ", "trailing space "),
        ("\\.", '"\\."'),
        ("a,b;c", "a,b;c"),
    ],
)
def test_fields_are_quoted_like_go_encoding_csv_with_a_tab(field: str, expected: str) -> None:
    assert quote(field) == expected
    assert needs_quotes(field) == (expected != field)


def test_written_rows_round_trip_through_pythons_csv_reader() -> None:
    rows = [["a", "b\tc", 'd "e"'], [" f", "g\nh", ""], ["{'k': 'v'}", "map[a:b c:d]", '{"x": 1}']]
    stream = io.StringIO()
    writer = TsvWriter(stream, ["one", "two", "three"])
    for row in rows:
        writer.write_row(row)
    writer.flush()
    stream.seek(0)
    assert list(csv.reader(stream, delimiter="\t", strict=True)) == [["one", "two", "three"], *rows]


def test_default_style_prints_python_dicts_and_nanosecond_timestamps() -> None:
    style = Style("default")
    assert style.ts(NS) == "2025-12-15 17:25:19.123456789"
    assert style.ts_seconds(NS) == "2025-12-15 17:25:19"
    assert style.attrs({"k8s.pod.name": "ad-1", "x": "it's"}) == "{'k8s.pod.name': 'ad-1', 'x': \"it's\"}"
    assert (style.span_kind("Server"), style.status_code("Error")) == ("Server", "Error")
    assert style.number(12.0) == "12.0"


def test_go_style_prints_go_values() -> None:
    style = Style("go")
    assert style.ts(NS) == "2025-12-15 17:25:19.123456789 +0000 UTC"
    assert style.ts(NS - 123_456_789) == "2025-12-15 17:25:19 +0000 UTC"
    assert style.ts(NS - 123_456_789 + 500_000_000) == "2025-12-15 17:25:19.5 +0000 UTC"
    assert style.attrs({"b": "2", "a": "1"}) == "map[a:1 b:2]"
    assert (style.span_kind("Server"), style.status_code("Error")) == (
        "SPAN_KIND_SERVER",
        "STATUS_CODE_ERROR",
    )
    assert [style.number(v) for v in (12.0, 0.5, 1234567.0, 123456.0, 1e-05)] == [
        "12",
        "0.5",
        "1.234567e+06",
        "123456",
        "1e-05",
    ]
    assert style.object_body({"kind": "Pod"}) == '"{\\"kind\\":\\"Pod\\"}"'


def test_json_style_prints_json_maps() -> None:
    assert Style("json").attrs({"a": "1"}) == '{"a":"1"}'


def test_alert_values_are_printed_like_prometheus() -> None:
    assert [prometheus_value(v) for v in (0.0, 1.0, 0.4, 1500.5)] == ["0e+00", "1e+00", "4e-01", "1.5005e+03"]
