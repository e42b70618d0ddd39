"""The real kubectl against the API facade of the hand-made recording (conftest.py)."""

from __future__ import annotations

import json

import yaml
from kube_recording import Kubectl


def test_get_pods_prints_the_server_side_table_with_ages_counted_from_the_end_of_the_window(
    kubectl: Kubectl,
) -> None:
    assert kubectl("get", "pods", "-n", "otel-demo") == (
        "NAME                  READY   STATUS             RESTARTS      AGE\n"
        "ad-5d9f7c6b8-x2x9q    1/1     Running            2 (22m ago)   50m\n"
        "cart-7f9b2c-bbbbb     0/1     ImagePullBackOff   0             10m\n"
        "frontend-7c9f-abcde   2/2     Running            0             50m\n"
    )


def test_get_pods_wide_across_namespaces_adds_namespace_ip_and_node(kubectl: Kubectl) -> None:
    assert kubectl("get", "pods", "-A", "-o", "wide") == (
        "NAMESPACE   NAME                  READY   STATUS             RESTARTS      AGE   IP            NODE       NOMINATED NODE   READINESS GATES\n"
        "otel-demo   ad-5d9f7c6b8-x2x9q    1/1     Running            2 (22m ago)   50m   10.244.1.10   worker-1   <none>           <none>\n"
        "otel-demo   cart-7f9b2c-bbbbb     0/1     ImagePullBackOff   0             10m   10.244.1.13   worker-1   <none>           <none>\n"
        "otel-demo   frontend-7c9f-abcde   2/2     Running            0             50m   10.244.1.12   worker-1   <none>           <none>\n"
    )


def test_get_deployments_wide_shows_containers_images_and_selector(kubectl: Kubectl) -> None:
    assert kubectl("get", "deploy", "-n", "otel-demo", "-o", "wide") == (
        "NAME       READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES                                       SELECTOR\n"
        "ad         1/1     1            1           80m   ad           ghcr.io/open-telemetry/demo:2.0.2-ad         app=ad\n"
        "cart       0/1     1            0           80m   cart         ghcr.io/open-telemetry/demo:9.9.9-cart       app=cart\n"
        "frontend   1/1     1            1           80m   frontend     ghcr.io/open-telemetry/demo:2.0.2-frontend   app=frontend\n"
    )


def test_get_several_kinds_prints_one_table_per_kind(kubectl: Kubectl) -> None:
    assert kubectl("get", "svc,ep,cm,hpa,quota", "-n", "otel-demo") == (
        "NAME                     TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE\n"
        "service/ad               ClusterIP   10.96.0.20   <none>        8080/TCP         80m\n"
        "service/frontend-proxy   NodePort    10.96.0.30   <none>        8080:30080/TCP   80m\n"
        "\n"
        "NAME           ENDPOINTS          AGE\n"
        "endpoints/ad   10.244.1.10:8080   80m\n"
        "\n"
        "NAME                     DATA   AGE\n"
        "configmap/flagd-config   1      80m\n"
        "\n"
        "NAME                                     REFERENCE       TARGETS        MINPODS   MAXPODS   REPLICAS   AGE\n"
        "horizontalpodautoscaler.autoscaling/ad   Deployment/ad   cpu: 25%/80%   1         3         1          80m\n"
        "\n"
        "NAME                            REQUEST      LIMIT                       AGE\n"
        "resourcequota/otel-demo-quota   pods: 3/20   limits.memory: 1536Mi/8Gi   80m\n"
    )


def test_get_nodes_and_namespaces_are_cluster_scoped(kubectl: Kubectl) -> None:
    assert kubectl("get", "nodes", "-o", "wide") == (
        "NAME       STATUS   ROLES    AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE           KERNEL-VERSION   CONTAINER-RUNTIME\n"
        "worker-1   Ready    worker   80m   v1.31.4   10.0.0.11     <none>        Ubuntu 24.04 LTS   6.8.0            containerd://1.7.22\n"
    )
    assert kubectl("get", "ns") == (
        "NAME         STATUS   AGE\nchaos-mesh   Active   80m\notel-demo    Active   80m\n"
    )


def test_output_forms_name_jsonpath_custom_columns_json_and_yaml(kubectl: Kubectl) -> None:
    assert kubectl("get", "pods", "-n", "otel-demo", "-o", "name") == (
        "pod/ad-5d9f7c6b8-x2x9q\npod/cart-7f9b2c-bbbbb\npod/frontend-7c9f-abcde\n"
    )
    assert kubectl("get", "pods", "-n", "otel-demo", "-o", "jsonpath={.items[*].status.podIP}") == (
        "10.244.1.10 10.244.1.13 10.244.1.12"
    )
    assert kubectl(
        "get",
        "pods",
        "-n",
        "otel-demo",
        "-o",
        "custom-columns=POD:.metadata.name,IMAGE:.spec.containers[0].image",
    ) == (
        "POD                   IMAGE\n"
        "ad-5d9f7c6b8-x2x9q    ghcr.io/open-telemetry/demo:2.0.2-ad\n"
        "cart-7f9b2c-bbbbb     ghcr.io/open-telemetry/demo:9.9.9-cart\n"
        "frontend-7c9f-abcde   demo:frontend\n"
    )
    listed = json.loads(kubectl("get", "deployments", "-n", "otel-demo", "-o", "json"))
    assert [item["metadata"]["name"] for item in listed["items"]] == ["ad", "cart", "frontend"]
    configmap = yaml.safe_load(kubectl("get", "configmap", "flagd-config", "-n", "otel-demo", "-o", "yaml"))
    assert configmap["metadata"] == {
        "creationTimestamp": "2025-12-15T16:20:00Z",
        "name": "flagd-config",
        "namespace": "otel-demo",
        "resourceVersion": "2001",
        "uid": "uid-configmap-flagd-config",
    }


def test_label_selectors_with_equality_sets_and_existence(kubectl: Kubectl) -> None:
    def names(selector: str) -> str:
        return kubectl("get", "pods", "-A", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")

    assert names("app=ad") == "ad-5d9f7c6b8-x2x9q"
    assert names("app==cart") == "cart-7f9b2c-bbbbb"
    assert names("tier!=web") == "ad-5d9f7c6b8-x2x9q cart-7f9b2c-bbbbb"
    assert names("app in (ad,frontend)") == "ad-5d9f7c6b8-x2x9q frontend-7c9f-abcde"
    assert names("app notin (ad,frontend)") == "cart-7f9b2c-bbbbb"
    assert names("tier,!missing") == "ad-5d9f7c6b8-x2x9q cart-7f9b2c-bbbbb frontend-7c9f-abcde"
    assert names("missing") == ""


def test_field_selectors_on_phase_node_and_name(kubectl: Kubectl) -> None:
    def names(selector: str) -> str:
        return kubectl(
            "get", "pods", "-A", "--field-selector", selector, "-o", "jsonpath={.items[*].metadata.name}"
        )

    assert names("status.phase=Pending") == "cart-7f9b2c-bbbbb"
    assert names("status.phase!=Pending,spec.nodeName=worker-1") == "ad-5d9f7c6b8-x2x9q frontend-7c9f-abcde"
    assert names("metadata.name=frontend-7c9f-abcde") == "frontend-7c9f-abcde"
    refused = kubectl.run("get", "pods", "-A", "--field-selector", "spec.containers=x")
    assert refused.returncode == 1
    assert "field label not supported: spec.containers" in refused.stderr


def test_describe_pod_shows_state_last_termination_and_its_events(kubectl: Kubectl) -> None:
    text = kubectl("describe", "pod", "ad-5d9f7c6b8-x2x9q", "-n", "otel-demo")
    assert "Controlled By:  ReplicaSet/ad-5d9f7c6b8" in text
    assert "    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137" in text
    assert "    Restart Count:  2" in text
    events = text.split("Events:", 1)[1]
    assert "Warning  BackOff" in events and "kubelet  Back-off restarting failed container ad" in events


def test_describe_deployment_shows_replica_sets_and_its_events_k8s_io_event(kubectl: Kubectl) -> None:
    text = kubectl("describe", "deployment", "cart", "-n", "otel-demo")
    assert "Image:         ghcr.io/open-telemetry/demo:9.9.9-cart" in text
    assert "OldReplicaSets:    cart-6c8d4f (0/0 replicas created)" in text
    assert "NewReplicaSet:     cart-7f9b2c (1/1 replicas created)" in text
    assert "deployment-controller  Scaled up replica set cart-7f9b2c from 0 to 1" in text


def test_describe_node_lists_the_pods_scheduled_on_it(kubectl: Kubectl) -> None:
    text = kubectl("describe", "node", "worker-1")
    assert "Non-terminated Pods:          (3 in total)" in text
    for pod in ("ad-5d9f7c6b8-x2x9q", "cart-7f9b2c-bbbbb", "frontend-7c9f-abcde"):
        assert f"  otel-demo                   {pod}" in text


def test_logs_with_tail_since_container_previous_and_timestamps(kubectl: Kubectl) -> None:
    assert kubectl("logs", "ad-5d9f7c6b8-x2x9q", "-n", "otel-demo", "--tail=2") == (
        "ad minute 18: GetAds failed: flag adFailure is on\nad minute 19: GetAds failed: flag adFailure is on\n"
    )
    assert kubectl(
        "logs", "ad-5d9f7c6b8-x2x9q", "-n", "otel-demo", "--previous", "--tail=1", "--timestamps"
    ) == ("2025-12-15T17:27:00Z ad minute 07: GetAds failed: flag adFailure is on\n")
    assert kubectl("logs", "frontend-7c9f-abcde", "-n", "otel-demo", "-c", "envoy", "--since=2m") == (
        "envoy minute 18\nenvoy minute 19\n"
    )
    # Without -c kubectl picks the first container and says so.
    defaulted = kubectl.run("logs", "frontend-7c9f-abcde", "-n", "otel-demo", "--tail=1")
    assert (defaulted.stdout, defaulted.stderr) == (
        "frontend minute 19\n",
        'Defaulted container "frontend" out of: frontend, envoy\n',
    )


def test_logs_previous_of_a_container_without_recorded_instances_is_a_bad_request(kubectl: Kubectl) -> None:
    refused = kubectl.run("logs", "frontend-7c9f-abcde", "-n", "otel-demo", "-c", "envoy", "--previous")
    assert refused.returncode == 1
    assert refused.stderr == (
        'Error from server (BadRequest): previous terminated container "envoy" in pod "frontend-7c9f-abcde" not found\n'
    )


def test_top_pods_and_nodes_use_the_recorded_cpu_rate_and_working_set(kubectl: Kubectl) -> None:
    assert kubectl("top", "pods", "-n", "otel-demo", "--containers") == (
        "POD                   NAME       CPU(cores)   MEMORY(bytes)   \n"
        "ad-5d9f7c6b8-x2x9q    ad         250m         200Mi           \n"
        "frontend-7c9f-abcde   envoy      50m          50Mi            \n"
        "frontend-7c9f-abcde   frontend   100m         100Mi           \n"
    )
    assert kubectl("top", "nodes") == (
        "NAME       CPU(cores)   CPU(%)   MEMORY(bytes)   MEMORY(%)   \n"
        "worker-1   400m         10%      350Mi           2%          \n"
    )


def test_events_in_both_api_forms(kubectl: Kubectl) -> None:
    assert kubectl("get", "events", "-n", "otel-demo") == (
        "LAST SEEN   TYPE      REASON              OBJECT                   MESSAGE\n"
        "22m         Warning   BackOff             pod/ad-5d9f7c6b8-x2x9q   Back-off restarting failed container ad\n"
        '6m          Warning   Failed              pod/cart-7f9b2c-bbbbb    Failed to pull image "ghcr.io/open-telemetry/demo:9.9.9-cart": not found\n'
        "10m         Normal    ScalingReplicaSet   deployment/cart          Scaled up replica set cart-7f9b2c from 0 to 1\n"
    )
    notes = kubectl("get", "events.events.k8s.io", "-n", "otel-demo", "-o", "jsonpath={.items[*].note}")
    assert "Scaled up replica set cart-7f9b2c from 0 to 1" in notes
    recent = kubectl("events", "-n", "otel-demo", "--for", "deployment/cart")
    assert "ScalingReplicaSet   Deployment/cart   Scaled up replica set cart-7f9b2c from 0 to 1" in recent


def test_api_resources_lists_builtin_custom_and_metrics_types(kubectl: Kubectl) -> None:
    lines = kubectl("api-resources").splitlines()
    assert lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["pods", "po", "v1", "true", "Pod"] in [line.split() for line in lines]
    assert ["networkchaos", "chaos-mesh.org/v1alpha1", "true", "NetworkChaos"] in [
        line.split() for line in lines
    ]
    assert ["pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics"] in [line.split() for line in lines]
    assert "chaos-mesh.org/v1alpha1" in kubectl("api-versions").splitlines()


def test_custom_resource_uses_the_printer_columns_of_its_recorded_crd(kubectl: Kubectl) -> None:
    assert kubectl("get", "networkchaos", "-A") == (
        "NAMESPACE    NAME           ACTION      DURATION\nchaos-mesh   ad-partition   partition   10m\n"
    )
    assert (
        kubectl("get", "crd")
        == "NAME                          CREATED AT\nnetworkchaos.chaos-mesh.org   2025-12-15T16:20:00Z\n"
    )


def test_time_travel_shows_the_flag_and_the_image_before_and_after_the_change(kubectl: Kubectl) -> None:
    def flag(at: str | None) -> str:
        data = kubectl(
            "get",
            "cm",
            "flagd-config",
            "-n",
            "otel-demo",
            "-o",
            "jsonpath={.data.demo\\.flagd\\.json}",
            at=at,
        )
        return json.loads(data)["flags"]["adFailure"]["defaultVariant"]

    def image(at: str | None) -> str:
        return kubectl(
            "get",
            "deploy",
            "cart",
            "-n",
            "otel-demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
            at=at,
        )

    assert (flag("start+1m"), flag("2025-12-15T17:26:00Z"), flag(None)) == ("off", "on", "on")
    assert (image("start+7m"), image("end")) == (
        "ghcr.io/open-telemetry/demo:2.0.2-cart",
        "ghcr.io/open-telemetry/demo:9.9.9-cart",
    )


def test_time_travel_drops_a_pod_the_next_listing_round_no_longer_holds(kubectl: Kubectl) -> None:
    assert kubectl("get", "pods", "-n", "otel-demo", at="start+2m") == (
        "NAME                  READY   STATUS    RESTARTS     AGE\n"
        "ad-5d9f7c6b8-x2x9q    1/1     Running   2 (4m ago)   32m\n"
        "cart-6c8d4f-aaaaa     1/1     Running   0            32m\n"
        "frontend-7c9f-abcde   2/2     Running   0            32m\n"
    )
    gone = kubectl.run("get", "pod", "cart-6c8d4f-aaaaa", "-n", "otel-demo", at="end")
    assert gone.stderr == 'Error from server (NotFound): pods "cart-6c8d4f-aaaaa" not found\n'


def test_secrets_are_never_served(kubectl: Kubectl) -> None:
    empty = kubectl.run("get", "secrets", "-A")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "No resources found\n")


def test_version_reports_the_recorded_kubelet_version(kubectl: Kubectl) -> None:
    assert "Server Version: v1.31.4" in kubectl("version")
