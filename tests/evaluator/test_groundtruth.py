from __future__ import annotations

from pathlib import Path

import pytest
from ground_truths import QUOTA_INCIDENT_YAML, real_ground_truth_files

from itbench_eval.groundtruth import (
    GroundTruthError,
    compile_filter,
    ground_truth_from_yaml,
    load_ground_truth,
    oracle_entity_name,
    oracle_names,
)
from itbench_eval.scoring import DuplicatePolicy, ScoreOptions, score_names

FLAT = """
groups:
  - {id: flagd-config-1, kind: ConfigMap, namespace: otel-demo, name: flagd-config, root_cause: true}
  - {id: frontend-service-1, kind: Service, namespace: otel-demo, filter: ['frontend\\b'], owner: team-a}
aliases: [[frontend-service-1]]
propagations:
  - {source: flagd-config-1, target: frontend-service-1, condition: flag on, effect: slow images}
recommended_actions:
  - solution: {id: revert_flag, actions: [revert the flag]}
labels: {difficulty: easy}
"""


def test_flat_and_spec_wrapped_files_load_the_same_ground_truth(tmp_path: Path) -> None:
    flat = tmp_path / "flat.yaml"
    flat.write_text(FLAT)
    wrapped = tmp_path / "wrapped.yaml"
    indented = "".join(f"  {line}\n" for line in FLAT.strip().splitlines())
    wrapped.write_text(
        f"apiVersion: itbench.io/v1\nkind: GroundTruth\nmetadata: {{name: s1}}\nspec:\n{indented}"
    )

    from_flat = load_ground_truth(flat)
    from_wrapped = load_ground_truth(wrapped)

    assert from_wrapped.groups == from_flat.groups
    assert from_wrapped.propagations == from_flat.propagations
    assert from_wrapped.metadata == {"name": "s1"}
    assert [group.id for group in from_flat.root_cause_groups] == ["flagd-config-1"]


def test_unknown_keys_are_kept_and_both_spellings_of_recommended_actions_are_read() -> None:
    snake = ground_truth_from_yaml(FLAT)
    camel = ground_truth_from_yaml(FLAT.replace("recommended_actions:", "recommendedActions:"))

    assert snake.recommended_actions == camel.recommended_actions
    assert snake.recommended_actions == ({"solution": {"id": "revert_flag", "actions": ["revert the flag"]}},)
    assert snake.model_extra == {"labels": {"difficulty": "easy"}}
    assert snake.groups_by_id["frontend-service-1"].model_extra == {"owner": "team-a"}


def test_a_json_string_from_a_dataset_row_is_read_as_yaml() -> None:
    text = (
        '{"groups": [{"id": "ns-1", "kind": "Namespace", "filter": "otel-demo", "root_cause": true}],'
        ' "aliases": null, "propagations": null}'
    )

    ground_truth = ground_truth_from_yaml(text, "data.jsonl line 3")

    assert ground_truth.groups[0].filters == ("otel-demo",)
    assert ground_truth.aliases == ()


def test_a_filter_that_is_not_a_regular_expression_is_read_as_a_glob() -> None:
    catch_all = compile_filter("*.*")

    assert catch_all.search("ad")
    assert compile_filter("*-pod?").fullmatch("frontend-proxy-pod1")
    assert compile_filter(r"ad\b").search("ad-5c7b9d8f6-x2k4q")


def test_aliases_are_merged_transitively_into_sets_named_by_their_first_group() -> None:
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: a, kind: Service, name: a, root_cause: true}
  - {id: b, kind: Pod, name: b}
  - {id: c, kind: Deployment, name: c}
  - {id: d, kind: Service, name: d}
aliases: [[c, b], [b, a], [unknown-id]]
"""
    )

    assert ground_truth.alias_sets == {"a": ("a", "b", "c"), "d": ("d",)}
    assert ground_truth.root_cause_set_ids == ("a",)


def test_a_group_repeated_verbatim_is_kept_once_and_a_conflicting_repeat_is_an_error() -> None:
    repeated = "groups:\n" + "  - {id: x, kind: Schedule, namespace: chaos-mesh, filter: [x]}\n" * 2
    root = "  - {id: r, kind: Service, name: r, root_cause: true}\n"

    assert [group.id for group in ground_truth_from_yaml(repeated + root).groups] == ["x", "r"]
    with pytest.raises(GroundTruthError, match=r"^gt\.yaml: two different groups have the id 'x'$"):
        ground_truth_from_yaml(repeated.replace("filter: [x]}", "filter: [y]}", 1) + root, "gt.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: [", r"^gt\.yaml: not valid YAML at line 1$"),
        ("- a\n- b\n", r"^gt\.yaml: a ground truth is a mapping, not list$"),
        ("spec: {entities: []}\n", r"^gt\.yaml: this is a v2 ground truth \('entities'\)"),
        ("alerts: []\n", r"^gt\.yaml: no 'groups' \(not a v1 ground truth\)$"),
        ("groups: []\n", r"^gt\.yaml: 'groups' must be a non-empty list$"),
        ("groups: [{id: a, name: a, root_cause: true}]\n", r"^gt\.yaml: groups\.0\.kind: Field required$"),
        (
            "groups: [{id: a, kind: Pod, root_cause: true}]\n",
            r"^gt\.yaml: group 'a' has neither 'filter' nor",
        ),
        ("groups: [{id: a, kind: Pod, name: a}]\n", r"^gt\.yaml: no group has 'root_cause: true'$"),
    ],
)
def test_a_malformed_ground_truth_is_refused_with_the_source_and_the_fault(text: str, message: str) -> None:
    with pytest.raises(GroundTruthError, match=message):
        ground_truth_from_yaml(text, "gt.yaml")


def test_an_unreadable_file_is_refused_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"

    with pytest.raises(GroundTruthError, match=rf"^{missing}: cannot read: No such file or directory$"):
        load_ground_truth(missing)


def test_oracle_names_use_the_group_name_or_the_literal_of_its_filter() -> None:
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: deploy-1, kind: Deployment, namespace: otel-demo, filter: [product-catalog-.*], root_cause: true}
  - {id: pod-1, kind: Pod, namespace: otel-demo, filter: [product-catalog-.*], root_cause: true}
  - {id: ns-1, kind: Namespace, filter: ['^otel-demo$'], root_cause: true}
  - {id: jvm-1, kind: JVMChaos, namespace: chaos-mesh, filter: ['.*adservice'], root_cause: true}
  - {id: cm-1, kind: ConfigMap, namespace: otel-demo, name: features, root_cause: true}
  - {id: svc-1, kind: Service, namespace: book-info, filter: [productpage-v1-*], root_cause: true}
aliases: [[deploy-1, pod-1]]
"""
    )

    assert oracle_names(ground_truth) == [
        "otel-demo/Deployment/product-catalog",
        "cluster/Namespace/otel-demo",
        "chaos-mesh/JVMChaos/adservice",
        "otel-demo/ConfigMap/features",
        "book-info/Service/productpage-v1",
    ]
    assert score_names(ground_truth, oracle_names(ground_truth)).score == 1.0


def test_an_oracle_name_cannot_be_made_from_a_filter_without_a_literal() -> None:
    group = ground_truth_from_yaml("groups: [{id: g, kind: Pod, filter: ['[a-z]+-\\d'], root_cause: true}]")

    with pytest.raises(GroundTruthError, match="no literal object name can be derived"):
        oracle_entity_name(group.groups[0])


def test_the_quota_incident_oracle_names_the_namespace_as_a_cluster_object() -> None:
    assert oracle_names(ground_truth_from_yaml(QUOTA_INCIDENT_YAML)) == ["cluster/Namespace/otel-demo"]


REAL_FILES = real_ground_truth_files()


@pytest.mark.skipif(not REAL_FILES, reason="the shared ITBench ground truths are not present")
@pytest.mark.parametrize("path", REAL_FILES, ids=[path.parent.name for path in REAL_FILES])
def test_every_published_ground_truth_loads_and_its_oracle_scores_one(path: Path) -> None:
    ground_truth = load_ground_truth(path)
    names = oracle_names(ground_truth)

    for options in (
        ScoreOptions(),
        ScoreOptions(ranked=True),
        ScoreOptions(duplicates=DuplicatePolicy.ONCE),
    ):
        result = score_names(ground_truth, names, options=options)
        assert (result.score, result.fp, result.fn) == (1.0, 0, 0), result.matches


@pytest.mark.skipif(not REAL_FILES, reason="the shared ITBench ground truths are not present")
def test_the_published_ground_truths_are_all_read() -> None:
    # 55 of the 61 published scenarios carry a v1 file; every one has a root cause.
    loaded = [load_ground_truth(path) for path in REAL_FILES]
    assert len(loaded) == 55
    assert all(ground_truth.root_cause_set_ids for ground_truth in loaded)
