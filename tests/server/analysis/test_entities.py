import pytest

from itbench_server.analysis.entities import (
    EntityRef,
    canonical_kind,
    known_entities,
    match_entities,
    plural_of,
    resolve_entity,
)
from itbench_server.errors import AmbiguousEntityError, EntityNotFoundError, QueryError
from itbench_server.snapshot.snapshot import Snapshot


def test_full_form_parses_and_prints_back() -> None:
    ref = EntityRef.parse("otel-demo/deploy/ad")
    assert ref == EntityRef("otel-demo", "Deployment", "ad")
    assert str(ref) == "otel-demo/Deployment/ad"
    assert EntityRef.parse("cluster/Node/worker-1").index_namespace == ""
    with pytest.raises(QueryError, match="namespace/Kind/name"):
        EntityRef.parse("Deployment/ad")


@pytest.mark.parametrize(
    ("alias", "kind"),
    [
        ("po", "Pod"),
        ("pods", "Pod"),
        ("DEPLOY", "Deployment"),
        ("svc", "Service"),
        ("cm", "ConfigMap"),
        ("hpa", "HorizontalPodAutoscaler"),
        ("rs", "ReplicaSet"),
        ("sts", "StatefulSet"),
        ("ds", "DaemonSet"),
        ("ns", "Namespace"),
        ("no", "Node"),
        ("quota", "ResourceQuota"),
    ],
)
def test_kind_aliases_follow_kubectl(alias: str, kind: str) -> None:
    assert canonical_kind(alias) == kind


def test_custom_kinds_match_by_name_and_plural() -> None:
    assert canonical_kind("networkchaos", ["NetworkChaos"]) == "NetworkChaos"
    assert canonical_kind("schedules", ["Schedule"]) == "Schedule"
    assert canonical_kind("unknown") is None
    assert plural_of("NetworkPolicy") == "networkpolicies"
    assert plural_of("NetworkChaos") == "networkchaoses"


@pytest.mark.parametrize(
    "text",
    ["otel-demo/Deployment/ad", "Deployment/ad", "deploy/ad", "deployments/ad", "otel-demo/deploy/ad"],
)
def test_short_forms_resolve_to_one_object(incident: Snapshot, text: str) -> None:
    assert resolve_entity(incident, text) == EntityRef("otel-demo", "Deployment", "ad")


def test_cluster_scoped_objects_use_the_cluster_namespace(incident: Snapshot) -> None:
    assert resolve_entity(incident, "no/worker-1") == EntityRef("cluster", "Node", "worker-1")
    assert resolve_entity(incident, "cluster/Node/worker-1") == EntityRef("cluster", "Node", "worker-1")


def test_an_ambiguous_short_name_lists_its_candidates(incident: Snapshot) -> None:
    with pytest.raises(AmbiguousEntityError) as raised:
        resolve_entity(incident, "otel-demo/ad")
    assert raised.value.candidates == [
        "otel-demo/Deployment/ad",
        "otel-demo/HorizontalPodAutoscaler/ad",
        "otel-demo/Service/ad",
    ]
    assert match_entities(incident, "ad") == [
        EntityRef("otel-demo", "Deployment", "ad"),
        EntityRef("otel-demo", "HorizontalPodAutoscaler", "ad"),
        EntityRef("otel-demo", "Service", "ad"),
    ]


def test_an_unknown_name_suggests_close_names(incident: Snapshot) -> None:
    with pytest.raises(EntityNotFoundError, match="close names: otel-demo/Pod/ad-5d9f7c6b8-x2x9q"):
        resolve_entity(incident, "pod/ad-5d9f7c6b8")
    with pytest.raises(EntityNotFoundError, match="no namespace 'shop'"):
        resolve_entity(incident, "shop/Deployment/ad")
    with pytest.raises(EntityNotFoundError, match="did you mean Deployment"):
        resolve_entity(incident, "otel-demo/Deploymnt/ad")


def test_objects_known_only_from_events_resolve_on_request(incident: Snapshot) -> None:
    with pytest.raises(EntityNotFoundError):
        resolve_entity(incident, "networkchaos/ad-delay")
    assert resolve_entity(incident, "networkchaos/ad-delay", include_event_objects=True) == EntityRef(
        "chaos-mesh", "NetworkChaos", "ad-delay"
    )
    assert EntityRef("chaos-mesh", "NetworkChaos", "ad-delay") not in known_entities(incident)
