"""BookInfo in Istio's ambient mesh, and the faults of the five public BookInfo scenarios: each
leaves the object or edit a real injection leaves, the traffic and alerts that follow, and kubectl
serves the mesh's kinds."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from itbench_server.errors import GeneratorError
from itbench_server.synth import generate_lookalike, generate_scenario

csv.field_size_limit(1 << 30)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream, delimiter="\t", strict=True))


def _listed(scenario: Path, kind: str) -> list[dict[str, Any]]:
    """Every listed version of every object of ``kind``, in listing order."""
    bodies = (json.loads(row["Body"]) for row in _read(scenario / "k8s_objects_raw.tsv"))
    return [body for body in bodies if body["kind"] == kind]


def _events(scenario: Path) -> list[dict[str, Any]]:
    return [json.loads(row["Body"])["object"] for row in _read(scenario / "k8s_events_raw.tsv")]


def _fired(scenario: Path) -> set[tuple[str, str]]:
    out = set()
    for path in (scenario / "alerts").glob("*.json"):
        for alert in json.loads(path.read_text())["data"]["alerts"]:
            labels = alert["labels"]
            out.add((labels["alertname"], labels.get("service_name") or labels.get("pod") or ""))
    return out


def _roots(scenario: Path) -> list[dict[str, Any]]:
    document = yaml.safe_load((scenario / "ground_truth.yaml").read_text())
    return [group for group in document["spec"]["groups"] if group.get("root_cause")]


@pytest.fixture(scope="module")
def like(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("bookinfo")

    class _Lazy(dict[int, Path]):
        def __missing__(self, number: int) -> Path:
            self[number] = generate_lookalike(number, 0, root / f"Scenario-{number}", size="small")
            return self[number]

    return _Lazy()


def test_bookinfo_runs_in_an_ambient_namespace_behind_a_gateway(like: dict[int, Path]) -> None:
    scenario = like[53]
    namespace = next(
        body for body in _listed(scenario, "Namespace") if body["metadata"]["name"] == "book-info"
    )
    assert namespace["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    deployments = {
        body["metadata"]["name"]
        for body in _listed(scenario, "Deployment")
        if body["metadata"]["namespace"] == "book-info"
    }
    assert deployments == {
        "bookinfo-gateway-istio",
        "details-v1",
        "productpage-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
        "reviews-v3",
    }
    reviews = next(body for body in _listed(scenario, "Service") if body["metadata"]["name"] == "reviews")
    assert reviews["spec"]["selector"] == {"app": "reviews"}
    endpoints = next(body for body in _listed(scenario, "Endpoints") if body["metadata"]["name"] == "reviews")
    assert len(endpoints["subsets"][0]["addresses"]) >= 2  # the versions behind one Service
    assert {body["metadata"]["name"] for body in _listed(scenario, "Gateway")} == {"bookinfo-gateway"}
    route = _listed(scenario, "HTTPRoute")[0]
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == "productpage"
    ztunnels = [body for body in _listed(scenario, "Pod") if body["metadata"]["name"].startswith("ztunnel-")]
    assert {body["metadata"]["namespace"] for body in ztunnels} == {"istio-system"}
    assert not any(body["metadata"]["namespace"] == "otel-demo" for body in _listed(scenario, "Pod"))


def test_requests_enter_at_the_gateway_and_reach_ratings_through_reviews(like: dict[int, Path]) -> None:
    spans = _read(like[53] / "otel_traces_raw.tsv")
    services = {row["ServiceName"] for row in spans}
    assert {"bookinfo-gateway-istio", "productpage", "details", "reviews", "ratings"} <= services
    ratings_callers = {
        row["ServiceName"]
        for row in spans
        if row["SpanKind"] == "Client" and row["SpanName"].startswith("GET /ratings")
    }
    assert ratings_callers == {"reviews"}


def test_a_gateway_authorization_policy_is_applied_and_the_gateway_answers_403(like: dict[int, Path]) -> None:
    scenario = like[47]
    policies = _listed(scenario, "AuthorizationPolicy")
    assert policies, "the AuthorizationPolicy is listed"
    spec = policies[-1]["spec"]
    assert spec["action"] == "DENY"
    assert spec["rules"] == [{"to": [{"operation": {"methods": ["GET"]}}]}]
    assert spec["targetRefs"][0]["name"] == "bookinfo-gateway"
    first_listing = _read(scenario / "k8s_objects_raw.tsv")[0]["Timestamp"]
    assert all(
        json.loads(row["Body"])["kind"] != "AuthorizationPolicy"
        for row in _read(scenario / "k8s_objects_raw.tsv")
        if row["Timestamp"][:16] == first_listing[:16]
    )
    statuses = {
        row["SpanAttributes"]
        for row in _read(scenario / "otel_traces_raw.tsv")
        if row["ServiceName"] == "bookinfo-gateway-istio" and "403" in row["SpanAttributes"]
    }
    assert statuses
    fired = _fired(scenario)
    assert ("HighRequestErrorRate", "bookinfo-gateway-istio") in fired
    assert ("NoRequestsReceived", "productpage") in fired
    assert ("NoRequestsOpened", "reviews") in fired
    assert [(group["kind"], group["filter"]) for group in _roots(scenario)] == [
        ("Service", ["bookinfo-gateway-istio"])
    ]


def test_disabling_ambient_mode_removes_the_namespace_label_between_listings(like: dict[int, Path]) -> None:
    scenario = like[48]
    versions = [body for body in _listed(scenario, "Namespace") if body["metadata"]["name"] == "book-info"]
    assert "istio.io/dataplane-mode" in versions[0]["metadata"]["labels"]
    assert "istio.io/dataplane-mode" not in versions[-1]["metadata"]["labels"]
    assert ("NoRequestsReceived", "productpage") in _fired(scenario)
    assert [(group["kind"], group["filter"]) for group in _roots(scenario)] == [("Namespace", ["book-info"])]


def test_strict_mtls_on_productpage_fails_its_calls_but_not_its_pages(like: dict[int, Path]) -> None:
    scenario = like[50]
    policy = _listed(scenario, "PeerAuthentication")[-1]
    assert policy["spec"] == {
        "mtls": {"mode": "STRICT"},
        "selector": {"matchLabels": {"app": "productpage", "version": "v1"}},
    }
    fired = _fired(scenario)
    assert ("HighRequestErrorRate", "productpage") in fired
    assert ("HighRequestErrorRate", "bookinfo-gateway-istio") not in fired
    assert ("NoRequestsReceived", "ratings") in fired
    assert {group["kind"] for group in _roots(scenario)} == {"Service"}


def test_a_missing_volume_claim_leaves_the_new_reviews_v3_pod_pending(like: dict[int, Path]) -> None:
    scenario = like[53]
    pods = [body for body in _listed(scenario, "Pod") if body["metadata"]["name"].startswith("reviews-v3-")]
    last = pods[-1]
    assert last["status"]["phase"] == "Pending"
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in last["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["reviews-v3-pvc"]
    [container] = last["spec"]["containers"]
    assert container["name"] == "reviews"  # named after its app, as in Istio's manifest
    assert container["volumeMounts"][0]["name"] == last["spec"]["volumes"][-1]["name"]
    # the claim does not exist (the platform's monitoring and storage claims do, elsewhere)
    assert not [
        claim
        for claim in _listed(scenario, "PersistentVolumeClaim")
        if claim["metadata"]["namespace"] == "book-info"
    ]
    scheduling = [
        event
        for event in _events(scenario)
        if event["reason"] == "FailedScheduling"
        and event["involvedObject"]["name"] == last["metadata"]["name"]
    ]
    assert scheduling
    assert 'persistentvolumeclaim "reviews-v3-pvc" not found' in scheduling[0]["message"]
    assert ("KubePodNotReady", last["metadata"]["name"]) in _fired(scenario)
    assert [(group["kind"], group["filter"]) for group in _roots(scenario)] == [
        ("Deployment", [r"reviews-v3\b"])
    ]


def test_an_invalid_selector_on_details_empties_its_endpoints_and_fails_productpage_calls(
    like: dict[int, Path],
) -> None:
    scenario = like[36]
    endpoints = [body for body in _listed(scenario, "Endpoints") if body["metadata"]["name"] == "details"]
    assert "subsets" in endpoints[0] and "subsets" not in endpoints[-1]
    failed = [
        row
        for row in _read(scenario / "otel_traces_raw.tsv")
        if row["ServiceName"] == "productpage"
        and row["SpanKind"] == "Client"
        and row["StatusCode"] == "Error"
    ]
    assert failed and all(row["SpanName"].startswith("GET /details") for row in failed)
    assert "Operation not permitted" in failed[0]["StatusMessage"]
    assert ("HighRequestErrorRate", "productpage") in _fired(scenario)


def test_a_fault_refuses_an_application_it_does_not_know(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="does not run on the application 'otel-demo'"):
        generate_scenario("strict-mtls", 0, tmp_path / "a", size="tiny", params={"application": "otel-demo"})
    with pytest.raises(GeneratorError, match="does not run on the application 'bookinfo'"):
        generate_scenario("bad-image", 0, tmp_path / "b", size="tiny", params={"application": "bookinfo"})
    with pytest.raises(GeneratorError, match="unknown application"):
        generate_scenario("bad-image", 0, tmp_path / "c", size="tiny", params={"application": "nope"})


def test_a_missing_claim_in_a_container_the_workload_lacks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="has no container 'sidecar'"):
        generate_scenario("missing-pvc", 0, tmp_path / "s", size="tiny", params={"container": "sidecar"})


def test_a_bookinfo_fault_runs_on_bookinfo_by_default(tmp_path: Path) -> None:
    scenario = generate_scenario("missing-pvc", 3, tmp_path / "s", size="tiny")
    assert {body["metadata"]["namespace"] for body in _listed(scenario, "Deployment")} >= {"book-info"}


@pytest.mark.slow
def test_kubectl_lists_the_gateway_and_the_authorization_policy(
    like: dict[int, Path], tmp_path: Path
) -> None:
    kube_recording = pytest.importorskip("kube_recording")
    from itbench_server.kube.facade import KubeFacade
    from itbench_server.snapshot import open_snapshot

    with (
        open_snapshot(like[47], cache_dir=tmp_path / "cache") as snapshot,
        KubeFacade(snapshot) as facade,
    ):
        kubectl = kube_recording.Kubectl(facade, tmp_path)
        listing = kubectl("get", "gateways,authorizationpolicies", "-n", "book-info")
        assert "gateway.gateway.networking.k8s.io/bookinfo-gateway" in listing
        assert "authorizationpolicy.security.istio.io/bookinfo-gateway-deny" in listing
        labels = kubectl("get", "ns", "book-info", "--show-labels")
        assert "istio.io/dataplane-mode=ambient" in labels


def _series(scenario: Path, service: str, metric: str, **match: str) -> list[float]:
    """The values over time of ``metric`` in ``service``'s file whose tags hold ``match``."""
    out = []
    for row in _read(scenario / "metrics" / f"service_{service}_raw.tsv"):
        if row["metric_name"] != metric:
            continue
        tags = row["tags"]
        if all(f"'{key}': '{value}'" in tags for key, value in match.items()):
            out.append(float(row["value"]))
    return out


def test_istio_metrics_count_the_denied_requests_and_the_connections_that_stop(like: dict[int, Path]) -> None:
    scenario = like[47]
    denied = _series(scenario, "productpage", "istio_requests_total", response_code="403")
    assert denied and denied[-1] > denied[0]
    opened = _series(
        scenario,
        "productpage",
        "istio_tcp_connections_opened_total",
        source_workload="bookinfo-gateway-istio",
    )
    assert opened[0] > 0
    assert opened[-1] == opened[-5]  # no connection to productpage in the last minutes
    for reviews in ("reviews-v2", "reviews-v3"):  # the versions that call ratings
        to_ratings = _series(
            scenario, "ratings", "istio_tcp_connections_opened_total", source_workload=reviews
        )
        assert to_ratings[0] > 0
        assert to_ratings[-1] == to_ratings[-5]


def test_a_size_in_megabytes_holds_for_bookinfo_too(tmp_path: Path) -> None:
    scenario = generate_scenario("strict-mtls", 1, tmp_path / "s", size="12")
    written = sum(path.stat().st_size for path in scenario.rglob("*") if path.is_file())
    assert 10_000_000 < written < 14_000_000
