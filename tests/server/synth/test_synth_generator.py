"""generate_scenario: determinism, layout per variant, sizes, TSV quoting, errors, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from itbench_server.cli import main
from itbench_server.errors import GeneratorError
from itbench_server.synth import (
    FAULTS,
    SIZES,
    SUITES,
    VARIANTS,
    generate_lookalike,
    generate_scenario,
    size_preset,
)
from itbench_server.synth.generator import (
    LOG_COLUMNS,
    POD_METRIC_COLUMNS,
    SERVICE_METRIC_COLUMNS,
    TRACE_COLUMNS,
)

csv.field_size_limit(1 << 30)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as stream:
        return next(csv.reader(stream, delimiter="\t"))


def test_same_inputs_give_byte_identical_files(tmp_path: Path) -> None:
    first = generate_scenario("valkey-oom", 11, tmp_path / "a", size="tiny", variant="go")
    second = generate_scenario("valkey-oom", 11, tmp_path / "b", size="tiny", variant="go")
    assert files_of(first) == files_of(second)


def test_a_different_seed_gives_different_files(tmp_path: Path) -> None:
    first = files_of(generate_scenario("bad-image", 1, tmp_path / "a", size="tiny"))
    second = files_of(generate_scenario("bad-image", 2, tmp_path / "b", size="tiny"))
    assert first["otel_traces_raw.tsv"] != second["otel_traces_raw.tsv"]
    assert first["k8s_objects_raw.tsv"] != second["k8s_objects_raw.tsv"]


def test_size_changes_traffic_but_not_the_ground_truth(tmp_path: Path) -> None:
    tiny = generate_scenario("feature-flag", 3, tmp_path / "tiny", size="tiny")
    small = generate_scenario("feature-flag", 3, tmp_path / "small", size="small")
    assert (tiny / "ground_truth.yaml").read_bytes() == (small / "ground_truth.yaml").read_bytes()
    assert (small / "otel_traces_raw.tsv").stat().st_size > 3 * (tiny / "otel_traces_raw.tsv").stat().st_size


def test_default_variant_has_the_published_layout_and_headers(tiny_scenarios: dict[str, Path]) -> None:
    scenario = tiny_scenarios["bad-env"]
    names = set(files_of(scenario))
    for required in (
        "ground_truth.yaml",
        "k8s_events_raw.tsv",
        "k8s_objects_raw.tsv",
        "otel_logs_raw.tsv",
        "otel_traces_raw.tsv",
    ):
        assert required in names
    alerts = sorted(name for name in names if name.startswith("alerts/"))
    assert len(alerts) == 20 and all(
        name.startswith("alerts/alerts_at_") and name.endswith(".json") for name in alerts
    )
    assert any(name.startswith("metrics/pod_") and name.endswith("_raw.tsv") for name in names)
    assert any(name.startswith("metrics/service_") and name.endswith("_raw.tsv") for name in names)
    assert header(scenario / "otel_traces_raw.tsv") == list(TRACE_COLUMNS)
    assert header(scenario / "otel_logs_raw.tsv") == list(LOG_COLUMNS)
    assert header(scenario / "metrics" / "service_frontend_raw.tsv") == list(SERVICE_METRIC_COLUMNS)
    assert header(next((scenario / "metrics").glob("pod_*"))) == list(POD_METRIC_COLUMNS)
    payload = json.loads((scenario / alerts[0]).read_text())
    assert payload["status"] == "success" and payload["data"]["alerts"][0]["labels"]["alertname"]


def test_go_variant_prints_values_like_the_go_recorder(tmp_path: Path) -> None:
    scenario = generate_scenario("bad-image", 2, tmp_path / "go", size="tiny", variant="go")
    with (scenario / "otel_traces_raw.tsv").open(newline="") as stream:
        row = next(csv.DictReader(stream, delimiter="\t"))
    assert row["Timestamp"].endswith(" +0000 UTC")
    assert row["ResourceAttributes"].startswith("map[")
    assert row["SpanKind"].startswith("SPAN_KIND_") and row["StatusCode"].startswith("STATUS_CODE_")
    assert "EventName" not in header(scenario / "otel_logs_raw.tsv")
    assert "status_code" not in header(scenario / "metrics" / "service_frontend_raw.tsv")
    with (scenario / "k8s_objects_raw.tsv").open(newline="") as stream:
        body = next(csv.DictReader(stream, delimiter="\t"))["Body"]
    assert isinstance(json.loads(body), str) and json.loads(json.loads(body))["kind"]
    with (scenario / "k8s_events_raw.tsv").open(newline="") as stream:
        versions = {
            json.loads(r["Body"])["object"]["apiVersion"] for r in csv.DictReader(stream, delimiter="\t")
        }
    assert versions == {"v1", "events.k8s.io/v1"}
    assert all(
        path.name.startswith("alerts_in_alerting_state_") and path.name.endswith("Z.json")
        for path in (scenario / "alerts").iterdir()
    )


def test_json_variant_uses_json_maps_and_bare_alert_arrays(tmp_path: Path) -> None:
    scenario = generate_scenario("node-selector", 4, tmp_path / "json", size="tiny", variant="json")
    with (scenario / "otel_logs_raw.tsv").open(newline="") as stream:
        row = next(csv.DictReader(stream, delimiter="\t"))
    assert json.loads(row["ResourceAttributes"])["k8s.namespace.name"] == "otel-demo"
    first = sorted((scenario / "alerts").iterdir())[0]
    assert isinstance(json.loads(first.read_text()), list)


def test_raw_variant_keeps_the_recorders_nesting_and_one_alerts_file(tmp_path: Path) -> None:
    scenario = generate_scenario("bad-env", 3, tmp_path / "raw", size="tiny", variant="raw")
    names = set(files_of(scenario))
    assert {
        "raw/k8s_events_raw.tsv",
        "raw/k8s_objects_raw.tsv",
        "raw/otel_logs_raw.tsv",
        "raw/otel_traces_raw.tsv",
        "ground_truth.yaml",
    } <= names
    assert any(name.startswith("raw/metrics_pod/pod_") for name in names)
    assert any(name.startswith("raw/metrics_service/service_") for name in names)
    root_alerts = [name for name in names if "/" not in name and name.startswith("alerts_")]
    assert len(root_alerts) == 1 and not any(name.startswith("alerts/") for name in names)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_tsv_parses_with_a_field_count_matching_its_header(tmp_path: Path, variant: str) -> None:
    scenario = generate_scenario("feature-flag", 4, tmp_path / variant, size="tiny", variant=variant)
    for path in scenario.rglob("*.tsv"):
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.reader(stream, delimiter="\t", strict=True)
            columns = len(next(reader))
            assert all(len(row) == columns for row in reader), path.name


def test_log_bodies_with_tabs_newlines_quotes_and_leading_spaces_round_trip(small_scenarios: object) -> None:
    scenario: Path = small_scenarios["valkey-oom"]  # type: ignore[index]
    with (scenario / "otel_logs_raw.tsv").open(newline="", encoding="utf-8") as stream:
        bodies = [row["Body"] for row in csv.DictReader(stream, delimiter="\t", strict=True)]
    assert any("\t" in body for body in bodies)
    assert any("\n" in body for body in bodies)
    assert any('"' in body for body in bodies)
    assert any(body.startswith(" ") for body in bodies)
    raw = (scenario / "otel_logs_raw.tsv").read_text(encoding="utf-8")
    assert '""' in raw  # inner quotes doubled


def test_sizes_are_respected(tiny_scenarios: dict[str, Path], small_scenarios: object) -> None:
    # The cluster around the demo (its listings and its pods' metrics) is most of a tiny scenario.
    for scenario in tiny_scenarios.values():
        assert sum(len(data) for data in files_of(scenario).values()) < 2_000_000
    small: Path = small_scenarios["hpa-misconfig"]  # type: ignore[index]
    assert sum(len(data) for data in files_of(small).values()) <= 7_600_000
    assert set(SIZES) == {"tiny", "small", "large"}


def test_a_size_in_megabytes_is_roughly_honoured(tmp_path: Path) -> None:
    scenario = generate_scenario("bad-image", 5, tmp_path / "mb", size="12")
    total = sum(len(data) for data in files_of(scenario).values())
    assert 8_000_000 < total < 16_000_000
    assert size_preset("12MB") == size_preset("12")


@pytest.mark.parametrize(
    ("fault", "seed", "size", "variant", "message"),
    [
        ("disk-full", 1, "tiny", "default", "unknown fault 'disk-full'"),
        ("bad-env", 1, "tiny", "yaml", "unknown variant 'yaml'"),
        ("bad-env", 1, "huge", "default", "unknown size 'huge'"),
        ("bad-env", -1, "tiny", "default", "seed must be a non-negative integer"),
    ],
)
def test_bad_options_raise_a_generator_error_naming_the_option(
    tmp_path: Path, fault: str, seed: int, size: str, variant: str, message: str
) -> None:
    with pytest.raises(GeneratorError, match=message):
        generate_scenario(fault, seed, tmp_path / "out", size=size, variant=variant)
    assert not (tmp_path / "out").exists()


def test_a_non_empty_output_directory_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "scenario"
    generate_scenario("bad-env", 1, out, size="tiny")
    with pytest.raises(GeneratorError, match="not empty"):
        generate_scenario("bad-env", 1, out, size="tiny")
    generate_scenario("bad-env", 2, out, size="tiny", force=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(GeneratorError, match="does not hold a scenario"):
        generate_scenario("bad-env", 1, tmp_path / "other", size="tiny", force=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"


def test_cli_synth_writes_a_scenario_and_lists_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in FAULTS)
    out = tmp_path / "cli"
    assert (
        main(["synth", "--fault", "hpa-misconfig", "--seed", "5", "--out", str(out), "--size", "tiny"]) == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out
    assert files_of(out) == files_of(generate_scenario("hpa-misconfig", 5, tmp_path / "api", size="tiny"))


def test_cli_synth_turns_bad_options_into_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth", "--fault", "nope", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: unknown fault 'nope'")
    assert main(["synth", "--fault", "bad-env"]) == 2
    assert "--out is required" in capsys.readouterr().err


def test_cli_synth_writes_a_look_alike_of_a_public_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "102"
    assert main(["synth", "--like", "102", "--size", "tiny", "--out", str(out)]) == 0
    assert "a look-alike of scenario 102" in capsys.readouterr().out
    assert files_of(out) == files_of(generate_lookalike(102, 0, tmp_path / "api", size="tiny"))
    assert main(["synth", "--like", "999", "--out", str(tmp_path / "none")]) == 2
    assert "no look-alike of scenario 999" in capsys.readouterr().err
    assert main(["synth", "--list"]) == 0
    assert "102  resource-quota" in capsys.readouterr().out


def test_cli_synth_writes_a_suite_as_scenario_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SUITES, "mini", (16, 102))
    out = tmp_path / "suite"
    assert main(["synth", "--suite", "mini", "--size", "tiny", "--jobs", "1", "--out", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["Scenario-102", "Scenario-16"]
    assert files_of(out / "Scenario-16") == files_of(generate_lookalike(16, 0, tmp_path / "api", size="tiny"))
    assert "suite mini, 2 scenarios" in capsys.readouterr().out
    assert main(["synth", "--suite", "mini", "--size", "tiny", "--jobs", "1", "--out", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert main(["synth", "--suite", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err


def test_a_suite_without_out_is_written_once_into_the_cache_and_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SUITES, "mini", (102,))
    arguments = ["synth", "--suite", "mini", "--size", "tiny", "--jobs", "1", "--cache-dir", str(tmp_path)]
    assert main(arguments) == 0
    directory = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert (
        directory.parent == tmp_path / "suites"
        and (directory / "Scenario-102" / "ground_truth.yaml").is_file()
    )
    marker = (directory / "Scenario-102" / "ground_truth.yaml").stat().st_mtime_ns
    assert main(arguments) == 0
    assert Path(capsys.readouterr().out.strip()) == directory
    assert (directory / "Scenario-102" / "ground_truth.yaml").stat().st_mtime_ns == marker
    assert not [path for path in (tmp_path / "suites").iterdir() if path.name.startswith(".")]


def test_the_aa_suite_holds_every_look_alike() -> None:
    from itbench_server.synth import LOOKALIKES

    assert SUITES["aa"] == tuple(sorted(row.number for row in LOOKALIKES))
