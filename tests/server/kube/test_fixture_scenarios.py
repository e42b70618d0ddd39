"""kubectl against two bundled scenarios, indexed from their TSV files as a user would.

``Scenario-synth-3`` is a Chaos Mesh network partition (recorded in the Go recorder's form:
doubly encoded bodies, ``events.k8s.io/v1`` events); ``Scenario-synth-4`` rolls
``product-catalog`` out with an image that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_recording import Kubectl

from itbench_server.kube.facade import KubeFacade
from itbench_server.snapshot import open_snapshot

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def scenario_kubectl(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    directory = FIXTURES / name
    if not directory.is_dir():
        pytest.skip(f"{directory} is absent")
    cache = tmp_path_factory.mktemp("index-cache")
    with open_snapshot(directory, cache_dir=cache) as snapshot, KubeFacade(snapshot) as facade:
        yield Kubectl(facade, tmp_path_factory.mktemp("kubectl"))


@pytest.fixture(scope="module")
def partition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    yield from scenario_kubectl("Scenario-synth-3", tmp_path_factory)


@pytest.fixture(scope="module")
def bad_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    yield from scenario_kubectl("Scenario-synth-4", tmp_path_factory)


def test_chaos_kinds_are_not_listed_but_their_crds_and_the_controller_events_are(partition: Kubectl) -> None:
    # ITBench's recorder lists no chaos-mesh.org object: the experiment is seen through the chaos
    # controller's events and its effects only.
    assert partition("get", "networkchaos", "-A", "--no-headers").strip() in ("", "No resources found")
    assert "networkchaos.chaos-mesh.org" in partition("get", "crd")
    events = partition("get", "events", "-n", "chaos-mesh")
    assert "Successfully apply chaos for otel-demo/shipping-" in events


def test_logs_of_a_deployment_come_from_its_recorded_pod(partition: Kubectl) -> None:
    lines = partition("logs", "deploy/shipping", "-n", "otel-demo", "--tail=3").splitlines()
    assert len(lines) == 3
    assert all("quote" in line for line in lines)


def test_top_pods_covers_the_workloads(partition: Kubectl) -> None:
    rows = partition("top", "pods", "-n", "otel-demo", "--no-headers").splitlines()
    assert {row.split()[0].rsplit("-", 2)[0] for row in rows} >= {"shipping", "quote", "frontend", "checkout"}


def test_the_deployment_image_before_and_after_the_bad_rollout(bad_image: Kubectl) -> None:
    def image(at: str) -> str:
        return bad_image(
            "get", "deploy", "product-catalog", "-n", "otel-demo",
            "-o", "jsonpath={.spec.template.spec.containers[0].image}", at=at,
        )  # fmt: skip

    assert (image("start"), image("end")) == (
        "ghcr.io/open-telemetry/demo:2.0.2-product-catalog",
        "quay.io/it-bench/hello-bench-invalid:1.0.0",
    )


def test_the_new_pod_waits_in_image_pull_back_off_and_describe_says_why(bad_image: Kubectl) -> None:
    selector = "app.kubernetes.io/name=product-catalog"
    rows = bad_image("get", "pods", "-n", "otel-demo", "-l", selector, "--no-headers").splitlines()
    assert [row.split()[1:3] for row in rows] == [["0/1", "ImagePullBackOff"]]
    text = bad_image("describe", "pod", "-n", "otel-demo", "-l", selector)
    assert 'Failed to pull image "quay.io/it-bench/hello-bench-invalid:1.0.0"' in text
