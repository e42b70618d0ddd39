"""The API facade over HTTPS, as raw HTTP and through the official ``kubernetes`` Python client."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from itbench_server.kube.facade import KubeFacade

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture(scope="module")
def http(facade: KubeFacade) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cadata=facade.ca_pem.decode())
    headers = {"Authorization": f"Bearer {facade.token}"}
    with httpx.Client(base_url=facade.url, verify=context, headers=headers, timeout=30) as connected:
        yield connected


def python_client(facade: KubeFacade, directory: Path, at: str | None = None) -> k8s.ApiClient:
    path = directory / f"kubeconfig-{at or 'default'}"
    path.write_text(facade.kubeconfig(at))
    return k8s_config.new_client_from_config(config_file=str(path))


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }


def test_the_facade_listens_on_loopback_over_https(facade: KubeFacade) -> None:
    assert facade.url.startswith("https://127.0.0.1:")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic Zm9vOmJhcg=="])
def test_a_request_without_the_token_is_unauthorized(facade: KubeFacade, authorization: str | None) -> None:
    context = ssl.create_default_context(cadata=facade.ca_pem.decode())
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{facade.url}/api/v1/pods", verify=context, headers=headers)
    assert (response.status_code, response.json()) == (401, status(401, "Unauthorized", "Unauthorized"))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/otel-demo/pods",
        "/api/v1/namespaces/otel-demo/pods/ad-5d9f7c6b8-x2x9q",
        "/apis/apps/v1/namespaces/otel-demo/deployments/cart/scale",
        "/api/v1/namespaces/otel-demo/configmaps/flagd-config",
        "/at/start/api/v1/nodes/worker-1",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews/x",
    ],
)
def test_no_method_but_get_is_served_anywhere(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path, content=b'{"kind": "Pod"}')
    assert response.status_code == 405
    assert response.json() == status(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource: {method} is refused because "
        "this API serves a recorded incident and is read-only",
    )


@pytest.mark.parametrize("subresource", ["exec", "attach", "portforward", "proxy"])
def test_exec_attach_portforward_and_proxy_are_forbidden(http: httpx.Client, subresource: str) -> None:
    response = http.get(f"/api/v1/namespaces/otel-demo/pods/ad-5d9f7c6b8-x2x9q/{subresource}")
    assert response.json() == status(
        403,
        "Forbidden",
        f"pods/{subresource} is not allowed: this API serves a recorded incident and is read-only",
    )


def test_a_missing_object_and_an_unknown_path_are_not_found(http: httpx.Client) -> None:
    assert http.get("/apis/apps/v1/namespaces/otel-demo/deployments/nope").json() == status(
        404,
        "NotFound",
        'deployments.apps "nope" not found',
        {"name": "nope", "group": "apps", "kind": "deployments"},
    )
    assert http.get("/apis/nope.example.com/v1").json() == status(
        404, "NotFound", "the server could not find the requested resource"
    )
    assert http.get("/openapi/v2").status_code == 404


def test_bad_times_and_selectors_are_bad_requests(http: httpx.Client) -> None:
    bad_time = http.get("/at/yesterday/api/v1/pods")
    assert bad_time.status_code == 400
    assert bad_time.json()["message"].startswith("time in the URL: cannot read 'yesterday' as a time")
    bad_selector = http.get("/api/v1/pods", params={"labelSelector": "app=("})
    assert bad_selector.json() == status(
        400, "BadRequest", "unable to parse requirement: '(' in labelSelector 'app=('"
    )


def test_discovery_lists_builtin_recorded_and_metrics_groups(http: httpx.Client) -> None:
    assert http.get("/api").json()["versions"] == ["v1"]
    groups = {
        group["name"]: group["preferredVersion"]["groupVersion"]
        for group in http.get("/apis").json()["groups"]
    }
    assert groups["apps"] == "apps/v1"
    assert groups["chaos-mesh.org"] == "chaos-mesh.org/v1alpha1"
    assert groups["metrics.k8s.io"] == "metrics.k8s.io/v1beta1"
    resources = http.get("/apis/chaos-mesh.org/v1alpha1").json()
    assert resources == {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "chaos-mesh.org/v1alpha1",
        "resources": [
            {
                "name": "networkchaos",
                "singularName": "networkchaos",
                "namespaced": True,
                "kind": "NetworkChaos",
                "verbs": ["get", "list", "watch"],
            }
        ],
    }


def test_a_pod_as_a_table_has_the_columns_of_a_real_server_and_its_metadata(http: httpx.Client) -> None:
    response = http.get("/api/v1/namespaces/otel-demo/pods/cart-7f9b2c-bbbbb", headers={"Accept": TABLE})
    assert response.headers["content-type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    table = response.json()
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
        ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1),
    ]  # fmt: skip
    (row,) = table["rows"]
    assert row["cells"] == [
        "cart-7f9b2c-bbbbb", "0/1", "ImagePullBackOff", "0", "10m", "10.244.1.13", "worker-1", "<none>", "<none>",
    ]  # fmt: skip
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["labels"] == {"app": "cart", "tier": "backend"}


def test_include_object_none_and_object_control_the_row_objects(http: httpx.Client) -> None:
    bare = http.get("/api/v1/nodes", params={"includeObject": "None"}, headers={"Accept": TABLE}).json()
    assert [set(row) for row in bare["rows"]] == [{"cells"}]
    full = http.get("/api/v1/nodes", params={"includeObject": "Object"}, headers={"Accept": TABLE}).json()
    assert full["rows"][0]["object"]["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.4"


def test_limit_and_continue_page_through_a_list(http: httpx.Client) -> None:
    first = http.get("/api/v1/pods", params={"limit": 2}).json()
    assert [item["metadata"]["name"] for item in first["items"]] == [
        "ad-5d9f7c6b8-x2x9q",
        "cart-7f9b2c-bbbbb",
    ]
    assert first["metadata"]["remainingItemCount"] == 1
    second = http.get("/api/v1/pods", params={"limit": 2, "continue": first["metadata"]["continue"]}).json()
    assert [item["metadata"]["name"] for item in second["items"]] == ["frontend-7c9f-abcde"]
    assert "continue" not in second["metadata"]


def test_list_resource_versions_grow_with_the_viewed_time(http: httpx.Client) -> None:
    versions = [
        http.get(f"/at/{at}/api/v1/configmaps").json()["metadata"]["resourceVersion"]
        for at in ("start", "start+5m", "end")
    ]
    assert versions == ["1765819200000000", "1765819500000000", "1765820400000000"]
    objects = [
        http.get(f"/at/{at}/api/v1/namespaces/otel-demo/configmaps/flagd-config").json()["metadata"][
            "resourceVersion"
        ]
        for at in ("start+1m", "end")
    ]
    assert objects == ["2000", "2001"]


def test_events_k8s_io_events_are_selected_by_their_regarding_object(http: httpx.Client) -> None:
    listed = http.get(
        "/apis/events.k8s.io/v1/namespaces/otel-demo/events",
        params={"fieldSelector": "regarding.kind=Deployment,regarding.name=cart"},
    ).json()
    assert [(e["reason"], e["note"], e["eventTime"]) for e in listed["items"]] == [
        ("ScalingReplicaSet", "Scaled up replica set cart-7f9b2c from 0 to 1", "2025-12-15T17:29:30.000000Z")
    ]


def test_a_watch_from_version_zero_sends_the_frozen_state_then_ends(http: httpx.Client) -> None:
    response = http.get(
        "/api/v1/namespaces", params={"watch": "true", "resourceVersion": "0", "timeoutSeconds": "1"}
    )
    events = [json.loads(line) for line in response.text.splitlines()]
    assert [(event["type"], event["object"]["metadata"]["name"]) for event in events] == [
        ("ADDED", "chaos-mesh"),
        ("ADDED", "otel-demo"),
    ]


def test_concurrent_requests_are_all_served(http: httpx.Client) -> None:
    paths = [f"/at/start+{minute}m/api/v1/pods" for minute in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda path: http.get(path).status_code, paths))
    assert codes == [200] * 20


def test_the_python_client_lists_with_selectors_and_reads_logs(facade: KubeFacade, tmp_path: Path) -> None:
    core = k8s.CoreV1Api(python_client(facade, tmp_path))
    pods = core.list_namespaced_pod(
        "otel-demo", label_selector="app in (ad,cart)", field_selector="status.phase=Running"
    )
    assert [pod.metadata.name for pod in pods.items if pod.metadata] == ["ad-5d9f7c6b8-x2x9q"]
    log = core.read_namespaced_pod_log("frontend-7c9f-abcde", "otel-demo", container="envoy", tail_lines=1)
    assert log == "envoy minute 19\n"
    assert [node.metadata.name for node in core.list_node().items if node.metadata] == ["worker-1"]
    assert core.list_secret_for_all_namespaces().items == []


def test_the_python_client_reads_the_flag_before_and_after_it_flipped(
    facade: KubeFacade, tmp_path: Path
) -> None:
    def variant(at: str) -> str:
        core = k8s.CoreV1Api(python_client(facade, tmp_path, at))
        configmap = core.read_namespaced_config_map("flagd-config", "otel-demo")
        assert configmap.data is not None
        return json.loads(configmap.data["demo.flagd.json"])["flags"]["adFailure"]["defaultVariant"]

    assert (variant("start"), variant("start+6m")) == ("off", "on")


def test_the_python_client_cannot_change_anything(facade: KubeFacade, tmp_path: Path) -> None:
    apps = k8s.AppsV1Api(python_client(facade, tmp_path))
    with pytest.raises(ApiException) as raised:
        apps.delete_namespaced_deployment("cart", "otel-demo")
    assert raised.value.status == 405
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment_scale("cart", "otel-demo", {"spec": {"replicas": 0}})
    assert raised.value.status == 405
    deployment = apps.read_namespaced_deployment("cart", "otel-demo")
    assert deployment.spec.replicas == 1


@pytest.mark.parametrize("tail", [0, 1, 2, 5, 1000])
def test_a_log_tail_is_the_last_lines_of_the_whole_log(http: httpx.Client, tail: int) -> None:
    path = "/api/v1/namespaces/otel-demo/pods/frontend-7c9f-abcde/log"
    whole = http.get(path, params={"container": "envoy", "timestamps": "true"}).text.splitlines()
    tailed = http.get(path, params={"container": "envoy", "timestamps": "true", "tailLines": str(tail)})
    assert len(whole) > 5
    assert tailed.text.splitlines() == (whole[-tail:] if tail else [])
