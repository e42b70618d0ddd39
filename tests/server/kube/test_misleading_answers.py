"""What the real kubectl got wrong answers to from the API, now answered as a real server would,
or with what the recording can say (the recording of ``cluster_cases``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_cases import EMAIL_POD, build_cases_index
from kube_recording import Kubectl

from itbench_server.kube.facade import KubeFacade


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    directory: Path = tmp_path_factory.mktemp("cases")
    with build_cases_index(directory) as snapshot, KubeFacade(snapshot) as facade:
        yield Kubectl(facade, directory)


def test_explain_says_the_schemas_are_not_recorded_and_how_to_see_the_fields(kubectl: Kubectl) -> None:
    assert kubectl("explain", "deployment") == (
        "GROUP:      apps\n"
        "KIND:       Deployment\n"
        "VERSION:    v1\n"
        "\n"
        "DESCRIPTION:\n"
        "    The API schemas (OpenAPI) are not in the recording, so the fields of\n"
        "    Deployment are not documented here. To see the fields a recorded Deployment\n"
        "    really has, read one: kubectl get deployments <name> -n <namespace> -o yaml\n"
        "    \n"
        "FIELDS:\n"
        "  apiVersion\t<string>\n"
        "    the API version of the object\n"
        "\n"
        "  kind\t<string>\n"
        "    the kind of the object\n"
        "\n"
        "  metadata\t<Object>\n"
        "    the object's name, namespace, labels, annotations and owners\n"
        "\n"
        "  spec\t<Object>\n"
        "    The desired state. Its fields are not documented here (no schemas are\n"
        "    recorded); to see them, read a Deployment: kubectl get deployments <name> -n\n"
        "    <namespace> -o yaml\n"
        "\n"
        "  status\t<Object>\n"
        "    The observed state. Its fields are not documented here (no schemas are\n"
        "    recorded); to see them, read a Deployment: kubectl get deployments <name> -n\n"
        "    <namespace> -o yaml\n"
        "\n"
        "\n"
    )


def test_auth_can_i_answers_yes_to_reading_and_no_to_anything_else(kubectl: Kubectl) -> None:
    assert kubectl("auth", "can-i", "list", "deployments", "-n", "otel-demo") == "yes\n"
    refused = kubectl.run("auth", "can-i", "delete", "pods", "-n", "otel-demo")
    assert (refused.returncode, refused.stdout) == (
        1,
        "no - this API serves a recorded incident and is read-only: only get, list and watch are allowed, "
        "and Secrets are never served\n",
    )
    assert kubectl.run("auth", "can-i", "get", "secrets").stdout.startswith("no - ")
    assert kubectl("auth", "can-i", "--list") == (
        "Resources   Non-Resource URLs   Resource Names   Verbs\n"
        "*.*         []                  []               [get list watch]\n"
        "            [*]                 []               [get]\n"
    )


def test_a_time_outside_the_recording_is_refused_with_the_recordings_window(kubectl: Kubectl) -> None:
    before = kubectl.run("get", "pods", "-A", at="start-10h")
    after = kubectl.run("get", "pods", "-A", at="end+10m")

    assert (before.returncode, before.stderr) == (
        1,
        'Error from server (BadRequest): Unable to list "/v1, Resource=pods": the viewed time: '
        "2025-12-15T07:20:00Z is outside the recording, 10h00m before its start; the recording covers "
        "2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z (start .. end); give a time inside it\n",
    )
    assert "2025-12-15T17:50:00Z is outside the recording, 10m00s after its end" in after.stderr


def test_tail_counts_the_lines_of_a_multi_line_record_as_the_kubelet_does(kubectl: Kubectl) -> None:
    assert kubectl("logs", EMAIL_POD, "-n", "otel-demo", "--tail=2", at="start+6m") == (
        "\tat Mailer.send(Mailer.java:42)\n\tat Main.run(Main.java:7)\n"
    )


def test_previous_logs_of_a_restarted_container_say_they_were_not_recorded(kubectl: Kubectl) -> None:
    refused = kubectl.run("logs", EMAIL_POD, "-n", "otel-demo", "--previous", at="start+6m")

    assert (refused.returncode, refused.stderr) == (
        1,
        f'Error from server (BadRequest): the previous instance of container "email" in pod "{EMAIL_POD}" '
        "was not recorded: the pod says it restarted 3 times, but its log records do not say which instance "
        "wrote them (no k8s.container.restart_count), so all of them are shown without --previous: "
        f"kubectl logs {EMAIL_POD} -c email; describe pod {EMAIL_POD} shows its last state\n",
    )
