"""The cluster around the demo: what an ITBench SRE cluster runs besides the OpenTelemetry Demo.

ITBench's tools role installs, each in its own namespace, kube-prometheus-stack (release
``prometheus``), the Kubernetes metrics server (release ``kube-metrics-server``), the ClickHouse
operator and its ``main`` instance (where the recorders write), the OpenTelemetry operator and
its collectors (``kubernetes-events`` and ``kubernetes-objects-snapshot`` record the events and
the object listings; ``jaeger`` the traces), the topology monitor and Chaos Mesh; the cluster
itself (kind) brings CoreDNS, kube-proxy, the kindnet CNI and the local-path provisioner. All of
them are listed with their controllers, pods (requests, limits, IPs), Services and Endpoints,
ServiceAccounts, RBAC, CustomResourceDefinitions and storage, and their pods have usage metrics
(``Cluster.platform_pods``). None of it changes during the window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from itbench_server.synth.cluster import (
    CONTROL_PLANE,
    MINUTE,
    NODES,
    SECOND,
    Cluster,
    PlatformPod,
    custom_resource_definition,
    iso,
    node_ip,
)

__all__ = ["PLATFORM_NAMESPACES", "PLATFORM_WORKLOADS", "PlatformWorkload", "install_platform"]

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class PlatformWorkload:
    """One workload of the platform, with what it asks for and what it typically uses."""

    namespace: str
    name: str
    controller: str  # Deployment, StatefulSet or DaemonSet
    image: str
    cpu_request_m: int | None
    memory_request_mi: int | None
    memory_limit_mi: int | None
    cpu_use_m: float
    memory_use_mi: int
    port: int | None = None
    replicas: int = 1
    host_network: bool = False
    everywhere: bool = False  # a DaemonSet that tolerates the control plane's taint
    storage_gi: int | None = None  # a StatefulSet's volume claim
    cluster_role: tuple[str, ...] = ()  # resources the workload reads cluster-wide
    service: str = ""  # the Service's name when it is not the workload's
    service_port: int = 0  # the Service's port when it is not the container's
    priority_class: str = ""  # the pods' priorityClassName (none: priority 0)


_KUBE_VERSION = "v1.33.1"
PLATFORM_WORKLOADS: tuple[PlatformWorkload, ...] = (
    PlatformWorkload("kube-system", "coredns", "Deployment", "registry.k8s.io/coredns/coredns:v1.12.0",
                     100, 70, 170, 3.0, 18, port=53, replicas=2, cluster_role=("endpoints", "services", "pods", "namespaces"),
                     service="kube-dns", priority_class="system-cluster-critical"),
    PlatformWorkload("kube-system", "kube-proxy", "DaemonSet", f"registry.k8s.io/kube-proxy:{_KUBE_VERSION}",
                     None, None, None, 1.2, 21, host_network=True, everywhere=True,
                     cluster_role=("endpoints", "services", "nodes"), priority_class="system-node-critical"),
    PlatformWorkload("kube-system", "kindnet", "DaemonSet", "docker.io/kindest/kindnetd:v20250512-df8de77b",
                     100, 50, 50, 1.0, 13, host_network=True, everywhere=True, cluster_role=("nodes", "pods"),
                     priority_class="system-node-critical"),
    PlatformWorkload("local-path-storage", "local-path-provisioner", "Deployment",
                     "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a",
                     None, None, None, 1.0, 9, cluster_role=("persistentvolumes", "persistentvolumeclaims", "nodes")),
    PlatformWorkload("kube-metrics-server", "kube-metrics-server", "Deployment",
                     "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
                     100, 200, None, 4.0, 24, port=10250, service_port=443,
                     cluster_role=("nodes", "pods", "nodes/metrics")),
    PlatformWorkload("prometheus", "prometheus-kube-prometheus-operator", "Deployment",
                     "quay.io/prometheus-operator/prometheus-operator:v0.81.0",
                     None, None, None, 2.5, 38, port=10250, service_port=443,
                     cluster_role=("prometheuses", "alertmanagers", "servicemonitors")),
    PlatformWorkload("prometheus", "prometheus-kube-state-metrics", "Deployment",
                     "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.15.0",
                     None, None, None, 6.0, 42, port=8080, cluster_role=("pods", "deployments", "nodes")),
    PlatformWorkload("prometheus", "prometheus-grafana", "Deployment", "docker.io/grafana/grafana:12.0.1",
                     None, None, None, 4.0, 140, port=3000, service_port=80),
    PlatformWorkload("prometheus", "prometheus-prometheus-node-exporter", "DaemonSet",
                     "quay.io/prometheus/node-exporter:v1.9.1", None, None, None, 2.0, 16, port=9100,
                     host_network=True, everywhere=True),
    PlatformWorkload("prometheus", "prometheus-prometheus-kube-prometheus-prometheus", "StatefulSet",
                     "quay.io/prometheus/prometheus:v3.4.0", None, None, None, 95.0, 1150, port=9090,
                     storage_gi=20, cluster_role=("nodes", "services", "endpoints", "pods"),
                     service="prometheus-kube-prometheus-prometheus"),
    PlatformWorkload("prometheus", "alertmanager-prometheus-kube-prometheus-alertmanager", "StatefulSet",
                     "quay.io/prometheus/alertmanager:v0.28.1", None, 200, None, 1.5, 28, port=9093,
                     service="prometheus-kube-prometheus-alertmanager"),
    PlatformWorkload("clickhouse-operator", "clickhouse-operator-altinity-clickhouse-operator", "Deployment",
                     "altinity/clickhouse-operator:0.25.0", None, None, None, 3.0, 60, port=8888,
                     cluster_role=("clickhouseinstallations", "statefulsets", "services")),
    PlatformWorkload("clickhouse", "chi-main-main-0-0", "StatefulSet", "clickhouse/clickhouse-server:25.3",
                     1000, 2048, 4096, 180.0, 1650, port=8123, storage_gi=50, service="clickhouse-main"),
    PlatformWorkload("opentelemetry-operator", "opentelemetry-operator", "Deployment",
                     "ghcr.io/open-telemetry/opentelemetry-operator/opentelemetry-operator:0.127.0",
                     100, 64, 128, 2.0, 45, port=9443, service_port=443,
                     cluster_role=("opentelemetrycollectors", "pods")),
    PlatformWorkload("opentelemetry-collectors", "kubernetes-events-collector", "Deployment",
                     "otel/opentelemetry-collector-contrib:0.129.1", None, None, None, 5.0, 70, port=8888,
                     cluster_role=("events",)),
    PlatformWorkload("opentelemetry-collectors", "kubernetes-objects-snapshot-collector", "Deployment",
                     "otel/opentelemetry-collector-contrib:0.129.1", None, None, None, 12.0, 120, port=8888,
                     cluster_role=("pods", "deployments", "nodes", "configmaps", "events")),
    PlatformWorkload("opentelemetry-collectors", "jaeger-collector", "Deployment",
                     "otel/opentelemetry-collector-contrib:0.129.1", None, None, None, 30.0, 160, port=4317),
    PlatformWorkload("topology-monitor", "kube-topology-monitor", "Deployment",
                     "quay.io/it-bench/topology-monitor:0.0.3", None, None, None, 8.0, 90, port=8080,
                     cluster_role=("pods", "services", "deployments")),
)  # fmt: skip
PLATFORM_NAMESPACES: tuple[str, ...] = tuple(
    sorted({w.namespace for w in PLATFORM_WORKLOADS} - {"kube-system"} | {"kube-node-lease", "kube-public"})
)
_COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""
_CA_BUNDLE = (
    "-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n"
    "-----END CERTIFICATE-----\n"
)
_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters."
)

# The CustomResourceDefinitions the platform's operators install (kind, plural, group).
_CRDS: tuple[tuple[str, str, str], ...] = (
    ("Alertmanager", "alertmanagers", "monitoring.coreos.com"),
    ("AlertmanagerConfig", "alertmanagerconfigs", "monitoring.coreos.com"),
    ("PodMonitor", "podmonitors", "monitoring.coreos.com"),
    ("Probe", "probes", "monitoring.coreos.com"),
    ("Prometheus", "prometheuses", "monitoring.coreos.com"),
    ("PrometheusAgent", "prometheusagents", "monitoring.coreos.com"),
    ("PrometheusRule", "prometheusrules", "monitoring.coreos.com"),
    ("ScrapeConfig", "scrapeconfigs", "monitoring.coreos.com"),
    ("ServiceMonitor", "servicemonitors", "monitoring.coreos.com"),
    ("ThanosRuler", "thanosrulers", "monitoring.coreos.com"),
    ("OpenTelemetryCollector", "opentelemetrycollectors", "opentelemetry.io"),
    ("Instrumentation", "instrumentations", "opentelemetry.io"),
    ("OpAMPBridge", "opampbridges", "opentelemetry.io"),
    ("TargetAllocator", "targetallocators", "opentelemetry.io"),
    ("ClickHouseInstallation", "clickhouseinstallations", "clickhouse.altinity.com"),
    ("ClickHouseInstallationTemplate", "clickhouseinstallationtemplates", "clickhouse.altinity.com"),
    ("ClickHouseOperatorConfiguration", "clickhouseoperatorconfigurations", "clickhouse.altinity.com"),
    ("ClickHouseKeeperInstallation", "clickhousekeeperinstallations", "clickhouse-keeper.altinity.com"),
)
# Roles every kubeadm/kind cluster has, with what they grant.
_SYSTEM_ROLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("cluster-admin", ("*",), ("*",)),
    ("admin", ("pods", "deployments", "services", "configmaps", "secrets"), ("*",)),
    ("edit", ("pods", "deployments", "services", "configmaps"), ("create", "delete", "patch", "update")),
    ("view", ("pods", "deployments", "services", "configmaps", "events"), ("get", "list", "watch")),
    ("system:kube-scheduler", ("pods", "nodes", "bindings"), ("get", "list", "watch", "create")),
    ("system:kube-controller-manager", ("*",), ("get", "list", "watch")),
    ("system:node", ("pods", "nodes", "configmaps", "secrets"), ("get", "list", "watch")),
    ("system:node-proxier", ("endpoints", "services", "nodes"), ("get", "list", "watch")),
    ("system:coredns", ("endpoints", "services", "pods", "namespaces"), ("list", "watch")),
)


def install_platform(cluster: Cluster) -> None:
    """List the platform around the demo in ``cluster``: namespaces, storage, CRDs, RBAC and
    the workloads above (with their pods' usage in ``cluster.platform_pods``)."""
    at = cluster.installed - 3 * 60 * MINUTE
    cluster.control_plane_pods()
    for namespace in PLATFORM_NAMESPACES:
        meta = cluster.metadata(namespace, None, at, labels={"kubernetes.io/metadata.name": namespace})
        cluster.add_static(
            "namespaces",
            at,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
             "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
        )  # fmt: skip
    cluster.add_static(
        "storageclasses",
        at,
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": cluster.metadata(
                "standard",
                None,
                at,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            "provisioner": "rancher.io/local-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
    )
    for kind, plural, group in _CRDS:
        cluster.add_static(
            "customresourcedefinitions",
            at,
            custom_resource_definition(
                cluster, group, kind, plural, "v1beta1" if group == "opentelemetry.io" else "v1", at
            ),
        )
    for name, resources, verbs in _SYSTEM_ROLES:
        cluster.add_static("clusterroles", at, _cluster_role(cluster, name, resources, verbs, at))
    for name, subject in (
        ("cluster-admin", {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}),
        ("system:kube-scheduler", {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:kube-scheduler"}),
        ("system:kube-controller-manager", {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:kube-controller-manager"}),
        ("system:node-proxier", {"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}),
        ("system:coredns", {"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}),
    ):  # fmt: skip
        cluster.add_static("clusterrolebindings", at, _binding(cluster, name, name, [subject], at))
    for workload in PLATFORM_WORKLOADS:
        _install(cluster, workload, at + 5 * MINUTE)
    _kube_system(cluster, at)
    _api_service(cluster, at)
    _namespace_defaults(cluster)


def _api_service(cluster: Cluster, at: int) -> None:
    """The ``default/kubernetes`` Service (the first address of the service range) and the API
    server's Endpoints on the control plane."""
    labels = {"component": "apiserver", "provider": "kubernetes"}
    cluster.add_static(
        "services",
        at,
        {"apiVersion": "v1", "kind": "Service", "metadata": cluster.metadata("kubernetes", "default", at, labels=labels),
         "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "internalTrafficPolicy": "Cluster",
                  "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                  "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                  "sessionAffinity": "None", "type": "ClusterIP"},
         "status": {"loadBalancer": {}}},
    )  # fmt: skip
    cluster.add_static(
        "endpoints",
        at,
        {"apiVersion": "v1", "kind": "Endpoints",
         "metadata": cluster.metadata("kubernetes", "default", at, labels={"endpointslice.kubernetes.io/skip-mirror": "true"}),
         "subsets": [{"addresses": [{"ip": node_ip(CONTROL_PLANE)}],
                      "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]},
    )  # fmt: skip


def _kube_system(cluster: Cluster, at: int) -> None:
    """What kubeadm writes in kube-system besides the pods: its configuration and the Roles that
    let components read it."""
    for name, data in (
        ("coredns", {"Corefile": _COREFILE}),
        ("kube-proxy", {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                                      "clusterCIDR: 10.244.0.0/16\nmode: iptables\n"}),
        ("kubeadm-config", {"ClusterConfiguration": f"apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
                                                    f"kubernetesVersion: {_KUBE_VERSION}\nnetworking:\n"
                                                    "  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/16\n"}),
        ("kubelet-config", {"kubelet": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                                       "cgroupDriver: systemd\nclusterDNS:\n- 10.96.0.10\nclusterDomain: cluster.local\n"}),
        ("extension-apiserver-authentication", {"requestheader-allowed-names": '["front-proxy-client"]',
                                                "requestheader-group-headers": '["X-Remote-Group"]'}),
    ):  # fmt: skip
        cluster.add_static(
            "configmaps",
            at,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": cluster.metadata(name, "kube-system", at),
             "data": data},
        )  # fmt: skip
    for role, resource, subject in (
        ("kube-proxy", "configmaps", {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                      "name": "system:bootstrappers:kubeadm:default-node-token"}),
        ("kubeadm:nodes-kubeadm-config", "configmaps", {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                        "name": "system:nodes"}),
        ("extension-apiserver-authentication-reader", "configmaps",
         {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:kube-scheduler"}),
    ):  # fmt: skip
        cluster.add_static(
            "roles",
            at,
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": cluster.metadata(role, "kube-system", at),
             "rules": [{"apiGroups": [""], "resources": [resource], "verbs": ["get"]}]},
        )  # fmt: skip
        cluster.add_static(
            "rolebindings",
            at,
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": cluster.metadata(role, "kube-system", at),
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
             "subjects": [subject]},
        )  # fmt: skip


def _namespace_defaults(cluster: Cluster) -> None:
    """What the controllers put in every namespace: the ``default`` ServiceAccount and the
    cluster's CA bundle (``kube-root-ca.crt``)."""
    namespaces = sorted(name for resource, _ns, name in cluster.static if resource == "namespaces")
    for namespace in namespaces:
        created = cluster.static[("namespaces", "", namespace)].versions[0][0]
        if ("serviceaccounts", namespace, "default") not in cluster.static:
            cluster.add_static(
                "serviceaccounts",
                created,
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": cluster.metadata("default", namespace, created)},
            )  # fmt: skip
        if ("configmaps", namespace, "kube-root-ca.crt") not in cluster.static:
            meta = cluster.metadata("kube-root-ca.crt", namespace, created)
            meta["annotations"] = {"kubernetes.io/description": _CA_DESCRIPTION}
            cluster.add_static(
                "configmaps",
                created,
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"ca.crt": _CA_BUNDLE}},
            )


def _install(cluster: Cluster, workload: PlatformWorkload, at: int) -> None:
    namespace, name = workload.namespace, workload.name
    labels = {
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/name": name,
    }
    account = name
    cluster.add_static(
        "serviceaccounts",
        at,
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": cluster.metadata(account, namespace, at, labels=labels)},
    )  # fmt: skip
    if workload.cluster_role and not name.startswith(("coredns", "kube-proxy")):
        role = name if namespace != "kube-system" else f"system:{name}"
        cluster.add_static(
            "clusterroles",
            at,
            _cluster_role(cluster, role, workload.cluster_role, ("get", "list", "watch"), at),
        )
        subject = {"kind": "ServiceAccount", "name": account, "namespace": namespace}
        cluster.add_static("clusterrolebindings", at, _binding(cluster, role, role, [subject], at))
    container = _container(workload)
    template: JsonObject = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "containers": [container],
            "dnsPolicy": "ClusterFirstWithHostNet" if workload.host_network else "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "serviceAccountName": account,
            "terminationGracePeriodSeconds": 30,
            **({"hostNetwork": True} if workload.host_network else {}),
            **({"tolerations": [{"operator": "Exists"}]} if workload.everywhere else {}),
            **({"priorityClassName": workload.priority_class} if workload.priority_class else {}),
        },
    }
    nodes = list((CONTROL_PLANE, *NODES) if workload.everywhere else NODES)
    # The pods that request CPU, DaemonSets' aside, are placed off a node a fault fills with
    # higher-priority pods: ClickHouse (the recorder's database, its volume bound to its node)
    # preempted would have ended the recording, and keeping the others off lets the fault size
    # its pods against the node's DaemonSets alone, before the platform is listed (last).
    workers = NODES
    if workload.cpu_request_m and workload.controller != "DaemonSet" and cluster.filled_nodes:
        workers = tuple(node for node in NODES if node not in cluster.filled_nodes)
    count = len(nodes) if workload.controller == "DaemonSet" else workload.replicas
    controller_meta = cluster.metadata(name, namespace, at, labels=labels, generation=1)
    spec: JsonObject = {"selector": {"matchLabels": dict(labels)}, "template": template}
    status: JsonObject = {"observedGeneration": 1}
    if workload.controller == "DaemonSet":
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
        status.update(currentNumberScheduled=count, desiredNumberScheduled=count, numberAvailable=count,
                      numberReady=count, numberMisscheduled=0, updatedNumberScheduled=count)  # fmt: skip
    else:
        spec["replicas"] = count
        status.update(replicas=count, readyReplicas=count, availableReplicas=count, updatedReplicas=count)
        if workload.controller == "StatefulSet":
            spec["serviceName"] = workload.service or name
            spec["podManagementPolicy"] = "Parallel"
            status.update(currentReplicas=count, currentRevision=f"{name}-{cluster.template_hash()}")
            status["updateRevision"] = status["currentRevision"]
            if workload.storage_gi:
                spec["volumeClaimTemplates"] = [_claim_template(name, workload.storage_gi)]
    kind_resource = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
    cluster.add_static(
        kind_resource[workload.controller],
        at,
        {"apiVersion": "apps/v1", "kind": workload.controller, "metadata": controller_meta, "spec": spec,
         "status": status},
    )  # fmt: skip
    owner_kind, owner_name, owner_uid = workload.controller, name, controller_meta["uid"]
    pod_labels = dict(labels)
    if workload.controller == "Deployment":
        template_hash = cluster.template_hash()
        owner_kind, owner_name = "ReplicaSet", f"{name}-{template_hash}"
        pod_labels["pod-template-hash"] = template_hash
        replicaset_meta = cluster.metadata(owner_name, namespace, at, labels=pod_labels, generation=1)
        replicaset_meta["ownerReferences"] = [_owner("Deployment", name, str(controller_meta["uid"]))]
        owner_uid = replicaset_meta["uid"]
        cluster.add_static(
            "replicasets",
            at,
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": replicaset_meta,
             "spec": {"replicas": count, "selector": {"matchLabels": dict(pod_labels)},
                      "template": {**template, "metadata": {"labels": dict(pod_labels)}}},
             "status": {"replicas": count, "fullyLabeledReplicas": count, "readyReplicas": count,
                        "availableReplicas": count, "observedGeneration": 1}},
        )  # fmt: skip
    addresses: list[JsonObject] = []
    for index in range(count):
        node = (
            nodes[index]
            if workload.controller == "DaemonSet"
            else workers[cluster.rng.randrange(len(workers))]
        )
        if workload.controller == "StatefulSet":
            pod_name = f"{name}-{index}"
        else:
            pod_name = f"{owner_name}-{cluster.ids.suffix(5)}"
        created = at + (index + 2) * SECOND
        ip = node_ip(node) if workload.host_network else cluster.ids.pod_ip(node)
        pod = _pod(cluster, workload, template, pod_name, pod_labels, owner_kind, owner_name, str(owner_uid),
                   node, ip, created)  # fmt: skip
        cluster.add_static("pods", created, pod)
        metadata = pod["metadata"]
        assert isinstance(metadata, dict)
        addresses.append(
            {"ip": ip, "nodeName": node,
             "targetRef": {"kind": "Pod", "name": pod_name, "namespace": namespace, "uid": metadata["uid"]}}
        )  # fmt: skip
        cluster.platform_pods.append(
            PlatformPod(
                name=pod_name,
                namespace=namespace,
                node=node,
                container=str(container["name"]),
                created=created,
                cpu_cores=workload.cpu_use_m / 1000.0,
                memory_bytes=workload.memory_use_mi * 1048576.0,
            )
        )
        if workload.storage_gi:
            _volume(
                cluster,
                workload,
                f"{spec['volumeClaimTemplates'][0]['metadata']['name']}-{pod_name}",
                node,
                at,
            )
    if workload.port is not None:
        _service(cluster, workload, labels, sorted(addresses, key=lambda a: str(a["ip"])), at)


def _container(workload: PlatformWorkload) -> JsonObject:
    resources: JsonObject = {}
    requests: dict[str, str] = {}
    if workload.cpu_request_m is not None:
        requests["cpu"] = f"{workload.cpu_request_m}m"
    if workload.memory_request_mi is not None:
        requests["memory"] = f"{workload.memory_request_mi}Mi"
    if requests:
        resources["requests"] = requests
    if workload.memory_limit_mi is not None:
        resources["limits"] = {"memory": f"{workload.memory_limit_mi}Mi"}
    container: JsonObject = {
        "name": workload.name.rsplit("-", 1)[0] if workload.controller == "StatefulSet" else workload.name,
        "image": workload.image,
        "imagePullPolicy": "IfNotPresent",
        "resources": resources,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if workload.port is not None:
        container["ports"] = [{"containerPort": workload.port, "name": "http", "protocol": "TCP"}]
    return container


def _pod(
    cluster: Cluster,
    workload: PlatformWorkload,
    template: JsonObject,
    name: str,
    labels: dict[str, str],
    owner_kind: str,
    owner: str,
    owner_uid: str,
    node: str,
    ip: str,
    created: int,
) -> JsonObject:
    meta = cluster.metadata(name, workload.namespace, created, labels=labels)
    meta["generateName"] = f"{owner}-"
    meta["ownerReferences"] = [_owner(owner_kind, owner, owner_uid)]
    template_spec = template["spec"]
    assert isinstance(template_spec, dict)
    spec = {**template_spec, "nodeName": node}
    container = template_spec["containers"][0]
    image = str(container["image"])
    started = iso(created + 6 * SECOND)
    resources = container.get("resources") or {}
    qos = "BestEffort"
    if resources:
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        qos = "Guaranteed" if limits and limits == requests else "Burstable"
    status: JsonObject = {
        "phase": "Running",
        "conditions": [
            {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": started}
            for kind in (
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            )
        ],
        "containerStatuses": [
            {
                "name": container["name"],
                "image": image,
                "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                "containerID": cluster.ids.container_id(),
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": started}},
                "lastState": {},
            }
        ],
        "hostIP": node_ip(node),
        "hostIPs": [{"ip": node_ip(node)}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "qosClass": qos,
        "startTime": iso(created),
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _service(
    cluster: Cluster, workload: PlatformWorkload, labels: dict[str, str], addresses: list[JsonObject], at: int
) -> None:
    name = workload.service or workload.name
    port = workload.port or 0
    cluster_ip = "10.96.0.10" if name == "kube-dns" else cluster.ids.cluster_ip()
    service_port = {
        "name": "https" if workload.service_port == 443 else "http",
        "port": workload.service_port or port,
        "protocol": "TCP",
        "targetPort": port,
    }
    cluster.add_static(
        "services",
        at,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": cluster.metadata(name, workload.namespace, at, labels=labels),
            "spec": {
                "clusterIP": cluster_ip,
                "clusterIPs": [cluster_ip],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [service_port],
                "selector": dict(labels),
                "sessionAffinity": "None",
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        },
    )
    cluster.add_static(
        "endpoints",
        at,
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": cluster.metadata(name, workload.namespace, at, labels=labels),
            "subsets": [
                {"addresses": addresses, "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
            ],
        },
    )


def _claim_template(name: str, size_gi: int) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data" if name.startswith("chi-") else f"{name.split('-')[0]}-db"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{size_gi}Gi"}},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
        },
    }


def _volume(cluster: Cluster, workload: PlatformWorkload, claim: str, node: str, at: int) -> None:
    """A claim of a StatefulSet's pod and the local-path volume bound to it on the pod's node."""
    size = f"{workload.storage_gi}Gi"
    claim_meta = cluster.metadata(claim, workload.namespace, at)
    volume = f"pvc-{claim_meta['uid']}"
    claim_meta["annotations"] = {
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.beta.kubernetes.io/storage-provisioner": "rancher.io/local-path",
        "volume.kubernetes.io/selected-node": node,
    }
    claim_meta["finalizers"] = ["kubernetes.io/pvc-protection"]
    cluster.add_static(
        "persistentvolumeclaims",
        at,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": claim_meta,
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
                "storageClassName": "standard",
                "volumeMode": "Filesystem",
                "volumeName": volume,
            },
            "status": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}, "phase": "Bound"},
        },
    )
    volume_meta = cluster.metadata(
        volume,
        None,
        at + 3 * SECOND,
        annotations={"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"},
    )
    volume_meta["finalizers"] = ["kubernetes.io/pv-protection"]
    cluster.add_static(
        "persistentvolumes",
        at + 3 * SECOND,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": volume_meta,
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": size},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": claim,
                    "namespace": workload.namespace,
                    "uid": claim_meta["uid"],
                },
                "hostPath": {"path": f"/var/local-path-provisioner/{volume}_{workload.namespace}_{claim}", "type": "DirectoryOrCreate"},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
                        ]
                    }
                },
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "standard",
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Bound"},
        },
    )  # fmt: skip


def _owner(kind: str, name: str, uid: str) -> JsonObject:
    return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True,
            "blockOwnerDeletion": True}  # fmt: skip


def _cluster_role(
    cluster: Cluster, name: str, resources: tuple[str, ...], verbs: tuple[str, ...], at: int
) -> JsonObject:
    labels = (
        {"kubernetes.io/bootstrapping": "rbac-defaults"}
        if name.startswith("system:") or "-" not in name
        else {}
    )
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": cluster.metadata(name, None, at, labels=labels or None),
        "rules": [{"apiGroups": ["*"] if "*" in resources else [""], "resources": list(resources), "verbs": list(verbs)}],
    }  # fmt: skip


def _binding(cluster: Cluster, name: str, role: str, subjects: list[JsonObject], at: int) -> JsonObject:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": cluster.metadata(name, None, at),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }
