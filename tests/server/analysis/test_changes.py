from incident_index import WINDOW_END, WINDOW_START, at

from itbench_server.analysis.changes import FieldChange, diff, normalized, object_changes, render_changes
from itbench_server.analysis.entities import EntityRef
from itbench_server.snapshot.snapshot import Snapshot


def test_a_flag_flip_inside_a_configmap_json_value_is_diffed_to_the_leaf(incident: Snapshot) -> None:
    found = object_changes(incident, since=WINDOW_START, until=WINDOW_END, kinds=["ConfigMap"])

    ((change,),) = [found.changes]
    assert (change.entity, change.at, change.previous_at) == (
        EntityRef("otel-demo", "ConfigMap", "flagd-config"),
        at(5),
        at(0),
    )
    assert change.fields == [
        FieldChange('data["demo.flagd.json"].flags.adFailure.defaultVariant', '"off"', '"on"')
    ]


def test_status_and_metadata_bookkeeping_are_not_changes(incident: Snapshot) -> None:
    # The ad Deployment's readyReplicas and resourceVersion change between listings; its spec does not.
    found = object_changes(
        incident, since=WINDOW_START, until=WINDOW_END, objects=[EntityRef("otel-demo", "Deployment", "ad")]
    )

    assert found.changes == []


def test_rendered_changes_and_appearances_are_in_time_order(incident: Snapshot) -> None:
    found = object_changes(incident, since=WINDOW_START, until=WINDOW_END)

    assert render_changes(found) == [
        "2025-12-15T17:25:00Z  otel-demo/ConfigMap/flagd-config  changed since the listing at 2025-12-15T17:20:00Z:",
        '    data["demo.flagd.json"].flags.adFailure.defaultVariant: "off" -> "on"',
        "2025-12-15T17:25:00Z  otel-demo/ResourceQuota/strict-resource-quota  appeared (at 2025-12-15T17:25:00Z)",
        "2025-12-15T17:30:00Z  otel-demo/Deployment/cart  changed since the listing at 2025-12-15T17:25:00Z:",
        '    spec.template.spec.containers[cart].image: "demo:2.0.2-cart" -> "demo:9.9.9-cart"',
    ]
    assert object_changes(incident, since=at(11), until=WINDOW_END, namespace="otel-demo").changes == []


def test_diff_matches_named_list_items_and_reports_added_and_removed_keys() -> None:
    before = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}], "replicas": 1}}
    after = {
        "spec": {
            "containers": [{"name": "a", "env": [{"name": "X", "value": "2"}, {"name": "Y", "value": "3"}]}]
        }
    }

    assert diff(before, after) == [
        FieldChange("spec.containers[a].env[X].value", '"1"', '"2"'),
        FieldChange("spec.containers[a].env[Y]", "(absent)", '{"name":"Y","value":"3"}'),
        FieldChange("spec.replicas", "1", "(absent)"),
    ]


def test_normalized_drops_status_and_bookkeeping_but_keeps_labels() -> None:
    body = {
        "metadata": {
            "name": "x",
            "resourceVersion": "7",
            "labels": {"a": "b"},
            "annotations": {"control-plane.alpha.kubernetes.io/leader": "{}", "note": "kept"},
        },
        "spec": {"replicas": 2},
        "status": {"ready": 1},
    }

    assert normalized(body) == {
        "metadata": {"name": "x", "labels": {"a": "b"}, "annotations": {"note": "kept"}},
        "spec": {"replicas": 2},
    }
