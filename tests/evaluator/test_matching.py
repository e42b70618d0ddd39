from __future__ import annotations

import pytest
from ground_truths import SHARED_GROUND_TRUTH_DIR, quota_incident

from itbench_eval.groundtruth import GroundTruth, ground_truth_from_yaml, load_ground_truth
from itbench_eval.matching import NameMatch, match_names, parse_entity_name


def matched_ids(ground_truth: GroundTruth, *names: str) -> list[str | None]:
    return [match.group_id for match in match_names(ground_truth, names)]


@pytest.mark.parametrize(
    "name",
    ["ad", "otel-demo/ad", "otel-demo/Deployment/ad/extra", "otel-demo//ad", "otel demo/Service/ad", ""],
)
def test_a_name_not_of_the_form_namespace_kind_name_matches_nothing(name: str) -> None:
    assert parse_entity_name(name) is None
    assert match_names(quota_incident(), [name]) == [
        NameMatch(name=name, group_id=None, reason="not of the form namespace/Kind/name")
    ]


def test_the_namespace_must_be_the_groups() -> None:
    assert matched_ids(quota_incident(), "otel-demo/Service/ad", "other/Service/ad") == ["ad-service-1", None]


def test_a_namespace_is_named_as_a_cluster_object_and_not_inside_another_namespace() -> None:
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: worker-node-1, kind: Node, filter: [worker-1], root_cause: true}
  - {id: otel-demo-namespace-1, kind: Namespace, namespace: otel-demo, name: otel-demo}
"""
    )

    assert matched_ids(
        ground_truth,
        "cluster/Node/worker-1",
        "otel-demo/Node/worker-1",
        "cluster/Namespace/otel-demo",
        "otel-demo/Namespace/otel-demo",
        "kube-system/Namespace/otel-demo",
    ) == ["worker-node-1", None, "otel-demo-namespace-1", "otel-demo-namespace-1", None]


def test_kinds_are_compared_ignoring_case() -> None:
    ground_truth = ground_truth_from_yaml(
        "groups: [{id: quote-abort, kind: HttpChaos, namespace: chaos-mesh, filter: [quote-abort], root_cause: true}]"
    )

    assert matched_ids(ground_truth, "chaos-mesh/HTTPChaos/quote-abort") == ["quote-abort"]


def test_a_deployment_stands_for_its_pods_and_a_pod_for_its_deployment() -> None:
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: ad-pod-1, kind: Pod, namespace: otel-demo, filter: [ad-.*], root_cause: true}
  - {id: cart-deployment-1, kind: Deployment, namespace: otel-demo, filter: ['^cart$']}
  - {id: ad-service-1, kind: Service, namespace: otel-demo, filter: ['ad\\b']}
"""
    )

    assert matched_ids(
        ground_truth,
        "otel-demo/Deployment/ad",
        "otel-demo/StatefulSet/ad",
        "otel-demo/Pod/cart-7d4b9c8f6-x2k4q",
        "otel-demo/ReplicaSet/cart-7d4b9c8f6",
        "otel-demo/ConfigMap/ad",
    ) == ["ad-pod-1", "ad-pod-1", "cart-deployment-1", None, None]


def test_a_deployment_group_whose_filter_was_written_for_pod_names_matches_the_deployment() -> None:
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: productcatalog-deployment-1, kind: Deployment, namespace: otel-demo,
     filter: [product-catalog-.*], root_cause: true}
  - {id: productcatalog-pod-1, kind: Pod, namespace: otel-demo, filter: [product-catalog-.*]}
  - {id: product-catalog-service-1, kind: Service, namespace: otel-demo, filter: ['product-catalog\\b']}
"""
    )

    [match] = match_names(ground_truth, ["otel-demo/Deployment/product-catalog"])

    assert match == NameMatch(
        name="otel-demo/Deployment/product-catalog",
        group_id="productcatalog-deployment-1",
        reason="filter 'product-catalog-.*' matches 'product-catalog-5c7b9d8f6-x2k4q' "
        "(as its pod product-catalog-5c7b9d8f6-x2k4q)",
    )
    assert matched_ids(ground_truth, "otel-demo/Pod/product-catalog-5c7b9d8f6-abcde") == [
        "productcatalog-pod-1"
    ]


def test_a_prefix_filter_does_not_capture_a_longer_workload_whose_group_names_it() -> None:
    # `frontend-.*` also matches frontend-proxy's pods; the group whose id names them wins.
    assert matched_ids(
        quota_incident(),
        "otel-demo/Pod/frontend-proxy-7d4b9c8f6-x2k4q",
        "otel-demo/Deployment/frontend-proxy",
        "otel-demo/Service/frontend-proxy",
        "otel-demo/Pod/frontend-5c7b9d8f6-abcde",
        "otel-demo/Service/frontend",
    ) == [
        "frontend-proxy-pod-1",
        "frontend-proxy-pod-1",
        "frontend-proxy-service-1",
        "frontend-pod-1",
        "frontend-service-1",
    ]


def test_the_exact_kind_wins_over_another_kind_of_the_same_workload() -> None:
    assert matched_ids(quota_incident(), "otel-demo/Deployment/ad", "otel-demo/Pod/ad-5c7b9d8f6-x2k4q") == [
        "ad-deployment-1",
        "ad-pod-1",
    ]


def test_a_chaos_schedule_stands_for_the_chaos_object_it_spawns_and_back() -> None:
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: delay-1, kind: NetworkChaos, namespace: chaos-mesh, filter: ['.*product-catalog'], root_cause: true}
  - {id: loss-schedule, kind: Schedule, namespace: chaos-mesh, filter: [checkout-payment-network-loss]}
  - {id: product-catalog-service-1, kind: Service, namespace: otel-demo, filter: ['product-catalog\\b']}
"""
    )

    assert matched_ids(
        ground_truth,
        "chaos-mesh/Schedule/otel-demo-delay-product-catalog",
        "chaos-mesh/NetworkChaos/checkout-payment-network-loss-x7k2p",
        "chaos-mesh/StressChaos/otel-demo-delay-product-catalog",
        "chaos-mesh/Schedule/cart-stress",
        "chaos-mesh/Service/otel-demo-delay-product-catalog",
    ) == ["delay-1", "loss-schedule", "delay-1", None, None]


CATCH_ALL = ground_truth_from_yaml(
    """
groups:
  - {id: ad-horizontal-pod-autoscaler-1, kind: HorizontalPodAutoscaler, namespace: otel-demo, filter: ['*.*'],
     root_cause: true}
  - {id: cart-horizontal-pod-autoscaler-1, kind: HorizontalPodAutoscaler, namespace: otel-demo, filter: ['*.*']}
  - {id: hpa-a, kind: HorizontalPodAutoscaler, namespace: book-info, filter: ['*.*']}
  - {id: hpa-b, kind: HorizontalPodAutoscaler, namespace: book-info, filter: ['*.*']}
"""
)


def test_groups_sharing_a_catch_all_filter_are_told_apart_by_their_ids() -> None:
    assert matched_ids(
        CATCH_ALL,
        "otel-demo/HorizontalPodAutoscaler/cart",
        "otel-demo/HorizontalPodAutoscaler/ad",
    ) == ["cart-horizontal-pod-autoscaler-1", "ad-horizontal-pod-autoscaler-1"]


def test_two_objects_do_not_claim_one_group_while_an_equally_good_one_is_left() -> None:
    assert matched_ids(
        CATCH_ALL,
        "book-info/HorizontalPodAutoscaler/reviews",
        "book-info/HorizontalPodAutoscaler/reviews",
        "book-info/HorizontalPodAutoscaler/ratings",
        "book-info/HorizontalPodAutoscaler/details",
    ) == ["hpa-a", "hpa-a", "hpa-b", "hpa-a"]


def test_a_group_with_a_name_matches_that_name_only() -> None:
    ground_truth = ground_truth_from_yaml(
        "groups: [{id: flagd-config, kind: ConfigMap, namespace: otel-demo, name: flagd-config, root_cause: true}]"
    )

    assert matched_ids(
        ground_truth, "otel-demo/ConfigMap/flagd-config", "otel-demo/ConfigMap/flagd-config-old"
    ) == ["flagd-config", None]


def test_an_object_listed_twice_in_a_ground_truth_is_credited_as_its_root_cause() -> None:
    # A published file lists one Service twice under two ids, once as the root cause, unaliased.
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: bookinfo-gateway, kind: Service, namespace: book-info, filter: [bookinfo-gateway-istio]}
  - {id: bookinfo-gateway-service, kind: Service, namespace: book-info, filter: [bookinfo-gateway-istio],
     root_cause: true}
"""
    )

    assert matched_ids(ground_truth, "book-info/Service/bookinfo-gateway-istio") == [
        "bookinfo-gateway-service"
    ]


def test_an_unmatched_name_says_what_was_looked_for() -> None:
    assert match_names(quota_incident(), ["otel-demo/Service/cart"]) == [
        NameMatch(
            name="otel-demo/Service/cart",
            group_id=None,
            reason="no group of kind Service in namespace otel-demo matches 'cart'",
        )
    ]


PUBLISHED_TRAPS = [
    # A root Deployment group whose filter was written for its pods.
    ("scenario_20", "otel-demo/Deployment/product-catalog", "productcatalog-deployment-1"),
    ("scenario_20", "otel-demo/Service/product-catalog", "product-catalog-service-1"),
    # One Service listed twice, once as the root cause, without an alias.
    ("scenario_47", "book-info/Service/bookinfo-gateway-istio", "bookinfo-gateway-service"),
    # A network delay labelled PodChaos, and its Schedule.
    (
        "scenario_18",
        "chaos-mesh/NetworkChaos/otel-demo-product-catalog-network-delay",
        "otel-demo-product-catalog-network-delay-1",
    ),
    (
        "scenario_61",
        "chaos-mesh/NetworkChaos/checkout-payment-network-loss-x7k2p",
        "checkout-payment-network-loss-chaos",
    ),
    (
        "scenario_25",
        "chaos-mesh/StressChaos/otel-demo-recommendation-cpu-stress",
        "otel-demo-recommendation-cpu-stress",
    ),
    # `frontend-.*` is listed before `frontend-proxy-.*`.
    ("scenario_102", "otel-demo/Pod/frontend-proxy-7d4b9c8f6-x2k4q", "frontend-proxy-pod-1"),
    ("scenario_37", "otel-demo/Namespace/otel-demo", "otel-demo-namespace-1"),
]


@pytest.mark.parametrize(("scenario", "name", "group_id"), PUBLISHED_TRAPS)
def test_published_ground_truths_are_matched_as_a_careful_judge_would(
    scenario: str, name: str, group_id: str
) -> None:
    path = SHARED_GROUND_TRUTH_DIR / scenario / "groundtruth_v1.yaml"
    if not path.is_file():
        pytest.skip("the shared ITBench ground truths are not present")

    assert matched_ids(load_ground_truth(path), name) == [group_id]
