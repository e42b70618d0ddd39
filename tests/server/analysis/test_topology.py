from pathlib import Path
from typing import Any

from incident_index import WINDOW_END, WINDOW_START, at, build_index

from itbench_server.analysis.entities import EntityRef
from itbench_server.analysis.topology import CallEdge, neighbours, object_edges, render_edges, service_calls
from itbench_server.snapshot.snapshot import Snapshot

AD = EntityRef("otel-demo", "Deployment", "ad")


def test_call_graph_comes_from_parent_child_spans_and_client_attributes(incident: Snapshot) -> None:
    assert service_calls(incident, since=WINDOW_START, until=WINDOW_END) == [
        CallEdge("frontend", "ad", 40, 30, "spans"),
        CallEdge("frontend", "product-catalog", 40, 0, "attributes"),
    ]
    # Client spans start 1 and 3 ms after each 30 s tick: 8 of them fall in the first 4 minutes.
    assert service_calls(incident, since=WINDOW_START, until=at(4)) == [
        CallEdge("frontend", "ad", 8, 0, "spans"),
        CallEdge("frontend", "product-catalog", 8, 0, "attributes"),
    ]


def test_object_graph_links_owners_selectors_references_nodes_hpas_and_quotas(incident: Snapshot) -> None:
    assert render_edges(object_edges(incident, at=WINDOW_END)) == [
        "otel-demo/Deployment/ad --limited-by--> otel-demo/ResourceQuota/strict-resource-quota",
        "otel-demo/Deployment/ad --scaled-by--> otel-demo/HorizontalPodAutoscaler/ad  (min 1 max 3)",
        "otel-demo/Deployment/cart --limited-by--> otel-demo/ResourceQuota/strict-resource-quota",
        "otel-demo/Pod/ad-5d9f7c6b8-x2x9q --owned-by--> otel-demo/ReplicaSet/ad-5d9f7c6b8",
        "otel-demo/Pod/ad-5d9f7c6b8-x2x9q --runs-on--> cluster/Node/worker-1",
        "otel-demo/Pod/ad-5d9f7c6b8-x2x9q --uses--> otel-demo/ConfigMap/ad-env  (envFrom of ad)",
        "otel-demo/Pod/ad-5d9f7c6b8-x2x9q --uses--> otel-demo/ConfigMap/flagd-config  (volume flags)",
        "otel-demo/Pod/ad-5d9f7c6b8-x2x9q --uses--> otel-demo/Secret/ad-secret  (env TOKEN of ad)",
        "otel-demo/ReplicaSet/ad-5d9f7c6b8 --owned-by--> otel-demo/Deployment/ad",
        "otel-demo/Service/ad --selects--> otel-demo/Pod/ad-5d9f7c6b8-x2x9q",
    ]


def test_the_graph_as_of_an_earlier_time_lacks_objects_created_later(incident: Snapshot) -> None:
    edges = object_edges(incident, at=at(1))

    assert not [edge for edge in edges if edge.target.kind == "ResourceQuota"]


def test_down_from_a_deployment_reaches_the_services_that_call_it(incident: Snapshot) -> None:
    found = neighbours(incident, AD, since=WINDOW_START, until=WINDOW_END, direction="down", depth=4)

    assert [(n.depth, str(n.entity), n.via.relation) for n in found] == [
        (1, "otel-demo/ReplicaSet/ad-5d9f7c6b8", "owned-by"),
        (2, "otel-demo/Pod/ad-5d9f7c6b8-x2x9q", "owned-by"),
        (3, "otel-demo/Service/ad", "selects"),
        (4, "otel-demo/Service/frontend", "calls"),
    ]


def test_up_from_a_pod_reaches_its_owners_configuration_and_node(incident: Snapshot) -> None:
    pod = EntityRef("otel-demo", "Pod", "ad-5d9f7c6b8-x2x9q")

    found = neighbours(incident, pod, since=WINDOW_START, until=WINDOW_END, direction="up", depth=2)

    assert [(n.depth, str(n.entity)) for n in found] == [
        (1, "otel-demo/ReplicaSet/ad-5d9f7c6b8"),
        (1, "cluster/Node/worker-1"),
        (1, "otel-demo/ConfigMap/ad-env"),
        (1, "otel-demo/ConfigMap/flagd-config"),
        (1, "otel-demo/Secret/ad-secret"),
        (2, "otel-demo/Deployment/ad"),
    ]


def test_chaos_experiments_affect_the_pods_they_inject_or_select(tmp_path: Path) -> None:
    def pod(name: str, app: str) -> dict[str, Any]:
        body = {"kind": "Pod", "metadata": {"name": name, "namespace": "otel-demo", "labels": {"app": app}}}
        return {"listed_at": at(1), "kind": "Pod", "namespace": "otel-demo", "name": name, "body": body}

    def chaos(name: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        body = {"kind": "NetworkChaos", "metadata": {"name": name}, "spec": spec, "status": status}
        return {
            "listed_at": at(1),
            "kind": "NetworkChaos",
            "api_version": "chaos-mesh.org/v1alpha1",
            "namespace": "chaos-mesh",
            "name": name,
            "body": body,
        }

    selector = {"namespaces": ["otel-demo"], "labelSelectors": {"app": "shipping"}}
    rows = [
        pod("shipping-1", "shipping"),
        pod("shipping-2", "shipping"),
        pod("quote-1", "quote"),
        chaos(
            "partition",
            {
                "action": "partition",
                "selector": selector,
                "target": {"selector": {"namespaces": ["otel-demo"], "labelSelectors": {"app": "quote"}}},
            },
            {},
        ),
        chaos(
            "delay",
            {"action": "delay", "mode": "one", "selector": selector},
            {"instances": {"otel-demo/shipping-2": 1}},
        ),
    ]
    with build_index(tmp_path, {"objects": rows}) as snapshot:
        edges = render_edges(object_edges(snapshot, at=WINDOW_END))

    assert edges == [
        "otel-demo/Pod/quote-1 --affected-by--> chaos-mesh/NetworkChaos/partition  (partition (target side))",
        "otel-demo/Pod/shipping-1 --affected-by--> chaos-mesh/NetworkChaos/partition  (partition)",
        "otel-demo/Pod/shipping-2 --affected-by--> chaos-mesh/NetworkChaos/delay  (delay)",
        "otel-demo/Pod/shipping-2 --affected-by--> chaos-mesh/NetworkChaos/partition  (partition)",
    ]


def test_the_call_graph_of_a_time_range_is_computed_once_per_index(incident: Snapshot) -> None:
    opened: list[object] = []

    def counting(cursor: Any) -> Any:
        opened.append(cursor)
        return cursor

    watched = incident.with_cursor_hook(counting)
    first = service_calls(watched, since=WINDOW_START, until=at(7))
    queries_for_first = len(opened)
    assert service_calls(watched, since=WINDOW_START, until=at(7)) == first
    assert queries_for_first > 0 and len(opened) == queries_for_first


def _listed(kind: str, name: str, body: dict[str, Any], namespace: str = "otel-demo") -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace, **body.pop("metadata", {})}
    return {
        "listed_at": at(1),
        "kind": kind,
        "api_version": body.pop("apiVersion", "v1"),
        "namespace": namespace,
        "name": name,
        "body": {"kind": kind, "metadata": metadata, **body},
    }


def _shipping_rows() -> list[dict[str, Any]]:
    container = {
        "name": "shipping",
        "args": ["--settings-configmap=shipping-settings", "--collector=otel-collector:4317"],
    }
    template = {"metadata": {"labels": {"app": "shipping"}}, "spec": {"containers": [container]}}
    owner = {"ownerReferences": [{"kind": "Deployment", "name": "shipping"}]}
    return [
        _listed("Deployment", "shipping", {"apiVersion": "apps/v1", "spec": {"template": template}}),
        _listed("ReplicaSet", "shipping-7d4f9", {"metadata": owner, "spec": {"template": template}}),
        _listed(
            "Pod",
            "shipping-7d4f9-x2k8p",
            {
                "metadata": {
                    "labels": {"app": "shipping"},
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "shipping-7d4f9"}],
                },
                "spec": {"nodeName": "worker-2", "containers": [container]},
            },
        ),
        _listed("ConfigMap", "shipping-settings", {"data": {"QUOTE_ADDR": "http://quote:8081"}}),
        _listed("ConfigMap", "otel-collector", {"data": {"relay": "receivers: {}"}}),
        _listed(
            "NetworkChaos",
            "partition",
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "spec": {
                    "action": "partition",
                    "selector": {"namespaces": ["otel-demo"], "labelSelectors": {"app": "shipping"}},
                },
            },
            namespace="chaos-mesh",
        ),
    ]


def test_up_from_a_deployment_reaches_what_affects_its_pods(tmp_path: Path) -> None:
    with build_index(tmp_path, {"objects": _shipping_rows()}) as snapshot:
        shipping = EntityRef("otel-demo", "Deployment", "shipping")
        found = neighbours(snapshot, shipping, since=WINDOW_START, until=WINDOW_END, direction="up", depth=1)

    assert [(n.depth, str(n.entity), str(n.via.source), n.via.relation) for n in found] == [
        (1, "otel-demo/ConfigMap/shipping-settings", "otel-demo/Deployment/shipping", "uses"),
        (1, "chaos-mesh/NetworkChaos/partition", "otel-demo/Pod/shipping-7d4f9-x2k8p", "affected-by"),
        (1, "cluster/Node/worker-2", "otel-demo/Pod/shipping-7d4f9-x2k8p", "runs-on"),
    ]


def test_a_configmap_named_only_in_a_containers_args_is_used_by_it(tmp_path: Path) -> None:
    with build_index(tmp_path, {"objects": _shipping_rows()}) as snapshot:
        settings = EntityRef("otel-demo", "ConfigMap", "shipping-settings")
        users = neighbours(
            snapshot, settings, since=WINDOW_START, until=WINDOW_END, direction="down", depth=1
        )
        collector = EntityRef("otel-demo", "ConfigMap", "otel-collector")
        not_users = neighbours(snapshot, collector, since=WINDOW_START, until=WINDOW_END, direction="down")

    assert [(str(n.entity), n.via.detail) for n in users] == [
        ("otel-demo/Deployment/shipping", "args of shipping"),
        ("otel-demo/Pod/shipping-7d4f9-x2k8p", "args of shipping"),
        ("otel-demo/ReplicaSet/shipping-7d4f9", "args of shipping"),
    ]
    assert not_users == []  # otel-collector:4317 names the collector's Service, not its ConfigMap
