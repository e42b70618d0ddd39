"""Server-side Table output (``meta.k8s.io/v1 Table``): the columns a real API server prints.

kubectl asks the API server for a Table and prints it as it comes, so the columns and cell
values are computed here, per kind, the way the Kubernetes API server computes them (the
printers of ``pkg/printers/internalversion``). Every age is counted back from the time ``now``
the recording is viewed at, never from the wall clock. Kinds without a printer get ``Name`` and
``Created At``, as on a real server; custom resources get their CRD's
``additionalPrinterColumns`` (``Name`` and ``Age`` when it has none).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itbench_server.analysis.timeparse import parse_timestamp

__all__ = [
    "AGE",
    "BINDING_COLUMNS",
    "CONTAINERS",
    "CRON_JOB_COLUMNS",
    "DAEMON_SET_COLUMNS",
    "DEFAULT_COLUMNS",
    "DEPLOYMENT_COLUMNS",
    "EVENT_COLUMNS",
    "HPA_COLUMNS",
    "IMAGES",
    "JOB_COLUMNS",
    "NAME",
    "NODE_COLUMNS",
    "POD_COLUMNS",
    "PRINTERS",
    "REPLICA_SET_COLUMNS",
    "SELECTOR",
    "SERVICE_COLUMNS",
    "STATEFUL_SET_COLUMNS",
    "WEBHOOK_COLUMNS",
    "Column",
    "PrinterColumn",
    "age",
    "build_table",
    "custom_columns",
    "format_label_selector",
    "format_labels",
    "human_duration",
    "pod_status_reason",
    "printer_for",
]

Object = dict[str, Any]
Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Column:
    """One ``TableColumnDefinition``; ``priority`` 1 columns are shown by ``-o wide`` only."""

    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME = Column("Name", format="name", description="Name of the object, unique within its namespace.")
AGE = Column("Age", description="Time since the object was created, counted from the viewed time.")
CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")
SELECTOR = Column("Selector", priority=1, description="The label selector of the workload.")


def human_duration(seconds: float) -> str:
    """The short age text Kubernetes prints (``45s``, ``3m20s``, ``12m``, ``5h3m``, ``3d4h``)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any, now: datetime) -> str:
    moment = parse_timestamp(timestamp)
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def _get(value: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, list) or len(value) <= key:
                return None
            value = value[key]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def format_labels(labels: Any) -> str:
    """``a=b,c=d`` sorted by key, ``<none>`` when empty (``labels.FormatLabels``)."""
    pairs = sorted(_dict(labels).items())
    return ",".join(f"{key}={value}" for key, value in pairs) or "<none>"


def format_label_selector(selector: Any) -> str:
    """A ``LabelSelector`` as text (``metav1.FormatLabelSelector``)."""
    selector = _dict(selector)
    if not selector:
        return "<none>"
    parts = [f"{key}={value}" for key, value in sorted(_dict(selector.get("matchLabels")).items())]
    for expression in _list(selector.get("matchExpressions")):
        key = _get(expression, "key")
        operator = str(_get(expression, "operator") or "")
        values = ",".join(sorted(str(v) for v in _list(_get(expression, "values"))))
        match operator:
            case "In":
                parts.append(f"{key} in ({values})")
            case "NotIn":
                parts.append(f"{key} notin ({values})")
            case "Exists":
                parts.append(str(key))
            case "DoesNotExist":
                parts.append(f"!{key}")
            case _:
                parts.append(f"{key} {operator} ({values})")
    return ",".join(parts) or "<none>"


def _containers(template_spec: Any) -> tuple[str, str]:
    containers = _list(_get(template_spec, "containers"))
    names = ",".join(str(_get(c, "name") or "") for c in containers)
    images = ",".join(str(_get(c, "image") or "") for c in containers)
    return names, images


# --- Pods ------------------------------------------------------------------------------------


def _condition_true(conditions: Any, condition_type: str) -> bool:
    return any(_get(c, "type") == condition_type and _get(c, "status") == "True" for c in _list(conditions))


def pod_status_reason(pod: Object) -> tuple[str, int, int, int, datetime | None]:
    """(STATUS, ready containers, total containers, restarts, last restart) as kubectl shows them."""
    spec = _dict(pod.get("spec"))
    status = _dict(pod.get("status"))
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    for condition in _list(status.get("conditions")):
        if _get(condition, "type") == "PodScheduled" and _get(condition, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {str(_get(c, "name")): c for c in _list(spec.get("initContainers"))}

    def restartable(name: str) -> bool:
        return _get(init_specs.get(name), "restartPolicy") == "Always"

    total = len(_list(spec.get("containers"))) + sum(1 for name in init_specs if restartable(name))
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    def later(current: datetime | None, status_entry: Any) -> datetime | None:
        finished = parse_timestamp(_get(status_entry, "lastState", "terminated", "finishedAt"))
        if finished is not None and (current is None or finished > current):
            return finished
        return current

    initializing = False
    init_statuses = _list(status.get("initContainerStatuses"))
    for index, container in enumerate(init_statuses):
        name = str(_get(container, "name"))
        restarts += _int(_get(container, "restartCount"))
        last_restart = later(last_restart, container)
        if restartable(name):
            sidecar_restarts += _int(_get(container, "restartCount"))
            last_sidecar_restart = later(last_sidecar_restart, container)
        terminated = _get(container, "state", "terminated")
        waiting = _get(container, "state", "waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable(name) and _get(container, "started") is True:
            if _get(container, "ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            if not terminated.get("reason"):
                if _int(terminated.get("signal")):
                    reason = f"Init:Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = f"Init:{terminated['reason']}"
        elif (
            isinstance(waiting, dict) and waiting.get("reason") and waiting.get("reason") != "PodInitializing"
        ):
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status.get("conditions"), "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for container in reversed(_list(status.get("containerStatuses"))):
            restarts += _int(_get(container, "restartCount"))
            last_restart = later(last_restart, container)
            waiting = _get(container, "state", "waiting")
            terminated = _get(container, "state", "terminated")
            if isinstance(waiting, dict) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, dict) and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif isinstance(terminated, dict):
                if _int(terminated.get("signal")):
                    reason = f"Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif _get(container, "ready") is True and isinstance(_get(container, "state", "running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status.get("conditions"), "Ready") else "NotReady"

    deleting = bool(_get(pod, "metadata", "deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _pod_cells(pod: Object, now: datetime) -> list[Cell]:
    reason, ready, total, restarts, last_restart = pod_status_reason(pod)
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    spec = _dict(pod.get("spec"))
    status = _dict(pod.get("status"))
    pod_ip = _get(status, "podIPs", 0, "ip") or status.get("podIP") or "<none>"
    gates = _list(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        true_gates = sum(
            1 for gate in gates if _condition_true(status.get("conditions"), str(_get(gate, "conditionType")))
        )
        gates_text = f"{true_gates}/{len(gates)}"
    return [
        _get(pod, "metadata", "name"),
        f"{ready}/{total}",
        reason,
        restarts_text,
        age(_get(pod, "metadata", "creationTimestamp"), now),
        pod_ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]


POD_COLUMNS = (
    NAME,
    Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", description="The aggregate status of the containers in this pod."),
    Column("Restarts", description="How often the containers restarted, and when the last restart was."),
    AGE,
    Column("IP", priority=1, description="The pod's IP address."),
    Column("Node", priority=1, description="The node the pod runs on."),
    Column("Nominated Node", priority=1, description="The node nominated for a preempting pod."),
    Column("Readiness Gates", priority=1, description="Readiness gates that are true, of all."),
)


# --- Workloads -------------------------------------------------------------------------------


def _deployment_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    names, images = _containers(_get(spec, "template", "spec"))
    desired = spec.get("replicas", 1)
    return [
        _get(obj, "metadata", "name"),
        f"{_int(status.get('readyReplicas'))}/{_int(desired)}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        age(_get(obj, "metadata", "creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")) if spec.get("selector") else "",
    ]


DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", description="Ready pods of the desired number."),
    Column("Up-to-date", description="Pods that run the latest template."),
    Column("Available", description="Pods available to serve."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
)


def _replica_set_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    names, images = _containers(_get(spec, "template", "spec"))
    return [
        _get(obj, "metadata", "name"),
        _int(spec.get("replicas", 1)),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        age(_get(obj, "metadata", "creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


REPLICA_SET_COLUMNS = (
    NAME,
    Column("Desired", type="integer", description="Desired number of pods."),
    Column("Current", type="integer", description="Pods that exist."),
    Column("Ready", type="integer", description="Pods that are ready."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
)


def _replication_controller_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    names, images = _containers(_get(spec, "template", "spec"))
    return [
        _get(obj, "metadata", "name"),
        _int(spec.get("replicas", 1)),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        age(_get(obj, "metadata", "creationTimestamp"), now),
        names,
        images,
        format_labels(spec.get("selector")),
    ]


def _stateful_set_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    names, images = _containers(_get(spec, "template", "spec"))
    return [
        _get(obj, "metadata", "name"),
        f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas', 1))}",
        age(_get(obj, "metadata", "creationTimestamp"), now),
        names,
        images,
    ]


STATEFUL_SET_COLUMNS = (
    NAME,
    Column("Ready", description="Ready pods of the desired number."),
    AGE,
    CONTAINERS,
    IMAGES,
)


def _daemon_set_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    names, images = _containers(_get(spec, "template", "spec"))
    return [
        _get(obj, "metadata", "name"),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        format_labels(_get(spec, "template", "spec", "nodeSelector")),
        age(_get(obj, "metadata", "creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


DAEMON_SET_COLUMNS = (
    NAME,
    Column("Desired", type="integer", description="Nodes that should run the daemon pod."),
    Column("Current", type="integer", description="Nodes that run the daemon pod."),
    Column("Ready", type="integer", description="Nodes whose daemon pod is ready."),
    Column("Up-to-date", type="integer", description="Nodes that run the latest template."),
    Column("Available", type="integer", description="Nodes whose daemon pod is available."),
    Column("Node Selector", description="The node selector of the pod template."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
)


def _job_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    succeeded = _int(status.get("succeeded"))
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_int(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    started = parse_timestamp(status.get("startTime"))
    finished = parse_timestamp(status.get("completionTime"))
    duration = ""
    if started is not None:
        duration = human_duration(((finished or now) - started).total_seconds())
    conditions = status.get("conditions")
    if _condition_true(conditions, "Complete"):
        state = "Complete"
    elif _condition_true(conditions, "Failed"):
        state = "Failed"
    elif _get(obj, "metadata", "deletionTimestamp"):
        state = "Terminating"
    elif _condition_true(conditions, "Suspended"):
        state = "Suspended"
    elif _condition_true(conditions, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _containers(_get(spec, "template", "spec"))
    return [
        _get(obj, "metadata", "name"),
        state,
        completions,
        duration,
        age(_get(obj, "metadata", "creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


JOB_COLUMNS = (
    NAME,
    Column("Status", description="Status of the job."),
    Column("Completions", description="Succeeded pods of those required."),
    Column("Duration", description="Time the job ran, or has been running."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
)


def _cron_job_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    last = status.get("lastScheduleTime")
    job_spec = _get(spec, "jobTemplate", "spec")
    names, images = _containers(_get(job_spec, "template", "spec"))
    suspend = spec.get("suspend")
    return [
        _get(obj, "metadata", "name"),
        spec.get("schedule") or "",
        spec.get("timeZone") or "<none>",
        suspend if isinstance(suspend, bool) else "<unset>",
        len(_list(status.get("active"))),
        age(last, now) if last else "<none>",
        age(_get(obj, "metadata", "creationTimestamp"), now),
        names,
        images,
        format_label_selector(_get(job_spec, "selector")),
    ]


CRON_JOB_COLUMNS = (
    NAME,
    Column("Schedule", description="The schedule in Cron format."),
    Column("Timezone", description="The time zone of the schedule."),
    Column("Suspend", type="boolean", description="Whether later runs are suspended."),
    Column("Active", type="integer", description="Jobs running now."),
    Column("Last Schedule", description="When a job was last scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
)


def _hpa_metrics(obj: Object) -> str:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    if "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        current = status.get("currentCPUUtilizationPercentage")
        current_text = f"{current}%" if isinstance(current, int) else "<unknown>"
        return f"cpu: {current_text}/{spec['targetCPUUtilizationPercentage']}%"
    specs = _list(spec.get("metrics"))
    if not specs:
        return "<none>"
    statuses = _list(status.get("currentMetrics"))
    texts: list[str] = []
    for index, metric in enumerate(specs):
        current = statuses[index] if index < len(statuses) else {}
        kind = str(_get(metric, "type") or "")
        key = {"Resource": "resource", "ContainerResource": "containerResource"}.get(kind, "")
        if key:
            source, current_source = _dict(metric.get(key)), _dict(_get(current, key))
            target = _dict(source.get("target"))
            if target.get("averageValue") is not None:
                value = _get(current_source, "current", "averageValue") or "<unknown>"
                texts.append(f"{source.get('name')}: {value}/{target['averageValue']}")
            else:
                utilization = _get(current_source, "current", "averageUtilization")
                value = f"{utilization}%" if isinstance(utilization, int) else "<unknown>"
                wanted = target.get("averageUtilization")
                texts.append(
                    f"{source.get('name')}: {value}/{f'{wanted}%' if wanted is not None else '<auto>'}"
                )
        elif kind in ("Pods", "Object", "External"):
            key = kind.lower()
            target = _dict(_get(metric, key, "target"))
            current_value = _get(current, key, "current")
            if target.get("averageValue") is not None:
                value = _get(current_value, "averageValue") or "<unknown>"
                suffix = "" if kind == "Pods" else " (avg)"
                texts.append(f"{value}/{target['averageValue']}{suffix}")
            else:
                value = _get(current_value, "value") or "<unknown>"
                texts.append(f"{value}/{target.get('value')}")
        else:
            texts.append("<unknown type>")
    if len(texts) > 2:
        return ", ".join(texts[:2]) + f" + {len(texts) - 2} more..."
    return ", ".join(texts)


def _hpa_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    target = _dict(spec.get("scaleTargetRef"))
    minimum = spec.get("minReplicas")
    return [
        _get(obj, "metadata", "name"),
        f"{target.get('kind', '')}/{target.get('name', '')}",
        _hpa_metrics(obj),
        str(minimum) if isinstance(minimum, int) else "<unset>",
        _int(spec.get("maxReplicas")),
        _int(status.get("currentReplicas")),
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


HPA_COLUMNS = (
    NAME,
    Column("Reference", description="The scaled workload."),
    Column("Targets", description="Current and target values of the scaling metrics."),
    Column("MinPods", description="Lower limit of replicas."),
    Column("MaxPods", description="Upper limit of replicas."),
    Column("Replicas", description="Current number of replicas."),
    AGE,
)


# --- Services and configuration --------------------------------------------------------------


def _service_cells(obj: Object, now: datetime) -> list[Cell]:
    spec = _dict(obj.get("spec"))
    service_type = str(spec.get("type") or "ClusterIP")
    cluster_ips = _list(spec.get("clusterIPs"))
    cluster_ip = cluster_ips[0] if cluster_ips else spec.get("clusterIP") or "<none>"
    external_ips = [str(ip) for ip in _list(spec.get("externalIPs"))]
    if service_type in ("ClusterIP", "NodePort"):
        external = ",".join(external_ips) or "<none>"
    elif service_type == "LoadBalancer":
        ingress = _list(_get(obj, "status", "loadBalancer", "ingress"))
        balancers = sorted({str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)})
        external = ",".join(balancers + external_ips) or "<pending>"
    elif service_type == "ExternalName":
        external = str(spec.get("externalName") or "")
    else:
        external = "<unknown>"
    ports = []
    for port in _list(spec.get("ports")):
        protocol = _get(port, "protocol") or "TCP"
        node_port = _get(port, "nodePort")
        if node_port:
            ports.append(f"{_get(port, 'port')}:{node_port}/{protocol}")
        else:
            ports.append(f"{_get(port, 'port')}/{protocol}")
    return [
        _get(obj, "metadata", "name"),
        service_type,
        cluster_ip,
        external,
        ",".join(ports) or "<none>",
        age(_get(obj, "metadata", "creationTimestamp"), now),
        format_labels(spec.get("selector")),
    ]


SERVICE_COLUMNS = (
    NAME,
    Column("Type", description="How the service is exposed."),
    Column("Cluster-IP", description="The service's cluster IP."),
    Column("External-IP", description="External addresses of the service."),
    Column("Port(s)", description="The ports the service exposes."),
    AGE,
    SELECTOR,
)


def _endpoints_cells(obj: Object, now: datetime) -> list[Cell]:
    shown: list[str] = []
    count = 0
    for subset in _list(obj.get("subsets")):
        addresses = [str(_get(a, "ip")) for a in _list(_get(subset, "addresses"))]
        ports = _list(_get(subset, "ports"))
        if not ports:
            count += len(addresses)
            shown.extend(addresses[: max(0, 3 - len(shown))])
            continue
        for port in ports:
            count += len(addresses)
            for address in addresses:
                if len(shown) < 3:
                    host = f"[{address}]" if ":" in address else address
                    shown.append(f"{host}:{_get(port, 'port')}")
    text = ",".join(shown) or "<none>"
    if count > 3:
        text += f" + {count - 3} more..."
    return [_get(obj, "metadata", "name"), text, age(_get(obj, "metadata", "creationTimestamp"), now)]


def _config_map_cells(obj: Object, now: datetime) -> list[Cell]:
    count = len(_dict(obj.get("data"))) + len(_dict(obj.get("binaryData")))
    return [_get(obj, "metadata", "name"), count, age(_get(obj, "metadata", "creationTimestamp"), now)]


def _secret_cells(obj: Object, now: datetime) -> list[Cell]:
    return [
        _get(obj, "metadata", "name"),
        obj.get("type") or "",
        len(_dict(obj.get("data"))),
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _service_account_cells(obj: Object, now: datetime) -> list[Cell]:
    return [
        _get(obj, "metadata", "name"),
        len(_list(obj.get("secrets"))),
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _resource_quota_cells(obj: Object, now: datetime) -> list[Cell]:
    hard = _dict(_get(obj, "status", "hard")) or _dict(_get(obj, "spec", "hard"))
    used = _dict(_get(obj, "status", "used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        text = f"{resource}: {used.get(resource, '0')}/{hard[resource]}"
        (limits if resource.split(".")[0] == "limits" and "." in resource else requests).append(text)
    return [
        _get(obj, "metadata", "name"),
        ", ".join(requests),
        ", ".join(limits),
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _network_policy_cells(obj: Object, now: datetime) -> list[Cell]:
    selector = _get(obj, "spec", "podSelector")
    return [
        _get(obj, "metadata", "name"),
        format_label_selector(selector) if selector else "<none>",
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _ingress_cells(obj: Object, now: datetime) -> list[Cell]:
    spec = _dict(obj.get("spec"))
    rules = _list(spec.get("rules"))
    hosts = [str(_get(rule, "host")) for rule in rules if _get(rule, "host")][:3]
    hosts_text = ",".join(hosts) or "*"
    if len(rules) > 3:
        hosts_text += f" + {len(rules) - 3} more..."
    ingress = _list(_get(obj, "status", "loadBalancer", "ingress"))
    address = ",".join(
        sorted({str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)})
    )
    return [
        _get(obj, "metadata", "name"),
        spec.get("ingressClassName") or "<none>",
        hosts_text,
        address,
        "80, 443" if spec.get("tls") else "80",
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _access_modes(modes: Any) -> str:
    short = {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }
    return ",".join(short.get(str(mode), str(mode)) for mode in _list(modes))


def _pvc_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    phase = "Terminating" if _get(obj, "metadata", "deletionTimestamp") else status.get("phase") or ""
    bound = bool(spec.get("volumeName"))
    return [
        _get(obj, "metadata", "name"),
        phase,
        spec.get("volumeName") or "",
        (_get(status, "capacity", "storage") or "") if bound else "",
        _access_modes(status.get("accessModes")) if bound else "",
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        age(_get(obj, "metadata", "creationTimestamp"), now),
        spec.get("volumeMode") or "<unset>",
    ]


def _pv_cells(obj: Object, now: datetime) -> list[Cell]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    claim = _dict(spec.get("claimRef"))
    return [
        _get(obj, "metadata", "name"),
        _get(spec, "capacity", "storage") or "",
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy") or "",
        "Terminating" if _get(obj, "metadata", "deletionTimestamp") else status.get("phase") or "",
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "",
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason") or "",
        age(_get(obj, "metadata", "creationTimestamp"), now),
        spec.get("volumeMode") or "<unset>",
    ]


def _pdb_cells(obj: Object, now: datetime) -> list[Cell]:
    spec = _dict(obj.get("spec"))
    return [
        _get(obj, "metadata", "name"),
        str(spec["minAvailable"]) if "minAvailable" in spec else "N/A",
        str(spec["maxUnavailable"]) if "maxUnavailable" in spec else "N/A",
        _int(_get(obj, "status", "disruptionsAllowed")),
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _storage_class_cells(obj: Object, now: datetime) -> list[Cell]:
    annotations = _dict(_get(obj, "metadata", "annotations"))
    default = any(
        annotations.get(key) == "true"
        for key in (
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        )
    )
    expansion = obj.get("allowVolumeExpansion")
    return [
        f"{_get(obj, 'metadata', 'name')}{' (default)' if default else ''}",
        obj.get("provisioner") or "",
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        expansion if isinstance(expansion, bool) else False,
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _binding_cells(obj: Object, now: datetime) -> list[Cell]:
    role = _dict(obj.get("roleRef"))
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in _list(obj.get("subjects")):
        kind, name = _get(subject, "kind"), str(_get(subject, "name"))
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{_get(subject, 'namespace') or ''}/{name}")
    return [
        _get(obj, "metadata", "name"),
        f"{role.get('kind', '')}/{role.get('name', '')}",
        age(_get(obj, "metadata", "creationTimestamp"), now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


BINDING_COLUMNS = (
    NAME,
    Column("Role", description="The role the binding grants."),
    AGE,
    Column("Users", priority=1, description="Users in the binding."),
    Column("Groups", priority=1, description="Groups in the binding."),
    Column("ServiceAccounts", priority=1, description="Service accounts in the binding."),
)


# --- Cluster ---------------------------------------------------------------------------------


def _node_cells(obj: Object, now: datetime) -> list[Cell]:
    status = _dict(obj.get("status"))
    ready = [c for c in _list(status.get("conditions")) if _get(c, "type") == "Ready"]
    states = [("Ready" if _get(ready[0], "status") == "True" else "NotReady")] if ready else ["Unknown"]
    if _get(obj, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for key, value in _dict(_get(obj, "metadata", "labels")).items():
        if key.startswith("node-role.kubernetes.io/") and key.removeprefix("node-role.kubernetes.io/"):
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    info = _dict(status.get("nodeInfo"))

    def address(kind: str) -> str:
        for entry in _list(status.get("addresses")):
            if _get(entry, "type") == kind:
                return str(_get(entry, "address"))
        return "<none>"

    return [
        _get(obj, "metadata", "name"),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        age(_get(obj, "metadata", "creationTimestamp"), now),
        info.get("kubeletVersion") or "",
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE_COLUMNS = (
    NAME,
    Column("Status", description="The status of the node."),
    Column("Roles", description="The roles of the node."),
    AGE,
    Column("Version", description="The kubelet version."),
    Column("Internal-IP", priority=1, description="The node's internal IP."),
    Column("External-IP", priority=1, description="The node's external IP."),
    Column("OS-Image", priority=1, description="The node's OS image."),
    Column("Kernel-Version", priority=1, description="The node's kernel version."),
    Column("Container-Runtime", priority=1, description="The node's container runtime."),
)


def _namespace_cells(obj: Object, now: datetime) -> list[Cell]:
    return [
        _get(obj, "metadata", "name"),
        _get(obj, "status", "phase") or "Active",
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _lease_cells(obj: Object, now: datetime) -> list[Cell]:
    return [
        _get(obj, "metadata", "name"),
        _get(obj, "spec", "holderIdentity") or "",
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _webhook_cells(obj: Object, now: datetime) -> list[Cell]:
    return [
        _get(obj, "metadata", "name"),
        len(_list(obj.get("webhooks"))),
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


def _priority_class_cells(obj: Object, now: datetime) -> list[Cell]:
    default = obj.get("globalDefault")
    return [
        _get(obj, "metadata", "name"),
        _int(obj.get("value")),
        default if isinstance(default, bool) else False,
        age(_get(obj, "metadata", "creationTimestamp"), now),
        obj.get("preemptionPolicy") or "",
    ]


def _endpoint_slice_cells(obj: Object, now: datetime) -> list[Cell]:
    def listed(values: list[str]) -> str:
        text = ",".join(values[:3])
        if len(values) > 3:
            return f"{text} + {len(values) - 3} more..."
        return text or "<unset>"

    ports = [str(_get(p, "port") or _get(p, "name") or "*") for p in _list(obj.get("ports"))]
    addresses = [str(a) for e in _list(obj.get("endpoints")) for a in _list(_get(e, "addresses"))]
    return [
        _get(obj, "metadata", "name"),
        obj.get("addressType") or "",
        listed(ports),
        listed(addresses),
        age(_get(obj, "metadata", "creationTimestamp"), now),
    ]


# --- Events ----------------------------------------------------------------------------------


def _event_cells(event: Object, now: datetime) -> list[Cell]:
    """Cells of a core ``v1`` Event (events.k8s.io events are converted to it first)."""
    first = (
        age(event.get("firstTimestamp"), now)
        if event.get("firstTimestamp")
        else age(event.get("eventTime"), now)
    )
    last = age(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first
    count = _int(event.get("count"))
    series = _dict(event.get("series"))
    if series:
        last = age(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = _dict(event.get("involvedObject"))
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _dict(event.get("source"))
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type") or "",
        event.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        f"{component}, {instance}" if instance else component,
        str(event.get("message") or "").strip(),
        first,
        count,
        _get(event, "metadata", "name"),
    ]


EVENT_COLUMNS = (
    Column("Last Seen", description="When the event was last seen."),
    Column("Type", description="Normal or Warning."),
    Column("Reason", description="Why the event happened, in one word."),
    Column("Object", description="The object the event is about."),
    Column("Subobject", priority=1, description="The part of the object the event is about."),
    Column("Source", priority=1, description="The component that reported the event."),
    Column("Message", description="What happened."),
    Column("First Seen", priority=1, description="When the event was first seen."),
    Column("Count", priority=1, description="How often the event happened."),
    Column("Name", priority=1, format="name", description="Name of the Event object."),
)


WEBHOOK_COLUMNS = (NAME, Column("Webhooks", type="integer", description="Number of webhooks."), AGE)

Printer = Callable[[Object, datetime], list[Cell]]

PRINTERS: dict[str, tuple[Sequence[Column], Printer]] = {
    "Pod": (POD_COLUMNS, _pod_cells),
    "Deployment": (DEPLOYMENT_COLUMNS, _deployment_cells),
    "ReplicaSet": (REPLICA_SET_COLUMNS, _replica_set_cells),
    "ReplicationController": (REPLICA_SET_COLUMNS, _replication_controller_cells),
    "StatefulSet": (STATEFUL_SET_COLUMNS, _stateful_set_cells),
    "DaemonSet": (DAEMON_SET_COLUMNS, _daemon_set_cells),
    "Job": (JOB_COLUMNS, _job_cells),
    "CronJob": (CRON_JOB_COLUMNS, _cron_job_cells),
    "HorizontalPodAutoscaler": (HPA_COLUMNS, _hpa_cells),
    "Service": (SERVICE_COLUMNS, _service_cells),
    "Endpoints": (
        (NAME, Column("Endpoints", description="Addresses and ports of the endpoints."), AGE),
        _endpoints_cells,
    ),
    "ConfigMap": (
        (NAME, Column("Data", type="integer", description="Number of data keys."), AGE),
        _config_map_cells,
    ),
    "Secret": (
        (NAME, Column("Type", description="The secret type."), Column("Data", type="integer"), AGE),
        _secret_cells,
    ),
    "ServiceAccount": (
        (NAME, Column("Secrets", type="integer", description="Secrets listed."), AGE),
        _service_account_cells,
    ),
    "ResourceQuota": (
        (
            NAME,
            Column("Request", description="Used and hard amounts of requests and object counts."),
            Column("Limit", description="Used and hard amounts of limits."),
            AGE,
        ),
        _resource_quota_cells,
    ),
    "NetworkPolicy": (
        (NAME, Column("Pod-Selector", description="The pods the policy selects."), AGE),
        _network_policy_cells,
    ),
    "Ingress": (
        (
            NAME,
            Column("Class", description="The ingress class."),
            Column("Hosts", description="Hosts the rules match."),
            Column("Address", description="Load-balancer addresses."),
            Column("Ports", description="Ports the ingress serves."),
            AGE,
        ),
        _ingress_cells,
    ),
    "PersistentVolumeClaim": (
        (
            NAME,
            Column("Status", description="The claim's phase."),
            Column("Volume", description="The bound volume."),
            Column("Capacity", description="The bound capacity."),
            Column("Access Modes", description="The bound access modes."),
            Column("StorageClass", description="The storage class."),
            Column("VolumeAttributesClass", description="The volume attributes class."),
            AGE,
            Column("VolumeMode", priority=1, description="Filesystem or Block."),
        ),
        _pvc_cells,
    ),
    "PersistentVolume": (
        (
            NAME,
            Column("Capacity", description="The volume's capacity."),
            Column("Access Modes", description="The volume's access modes."),
            Column("Reclaim Policy", description="What happens when the claim is released."),
            Column("Status", description="The volume's phase."),
            Column("Claim", description="The bound claim."),
            Column("StorageClass", description="The storage class."),
            Column("VolumeAttributesClass", description="The volume attributes class."),
            Column("Reason", description="Why the volume is in its phase."),
            AGE,
            Column("VolumeMode", priority=1, description="Filesystem or Block."),
        ),
        _pv_cells,
    ),
    "PodDisruptionBudget": (
        (
            NAME,
            Column("Min Available", description="Pods that must stay available."),
            Column("Max Unavailable", description="Pods that may be unavailable."),
            Column("Allowed Disruptions", type="integer", description="Disruptions allowed now."),
            AGE,
        ),
        _pdb_cells,
    ),
    "StorageClass": (
        (
            NAME,
            Column("Provisioner", description="The volume provisioner."),
            Column("ReclaimPolicy", description="The reclaim policy of its volumes."),
            Column("VolumeBindingMode", description="When volumes are bound."),
            Column("AllowVolumeExpansion", description="Whether volumes may grow."),
            AGE,
        ),
        _storage_class_cells,
    ),
    "RoleBinding": (BINDING_COLUMNS, _binding_cells),
    "ClusterRoleBinding": (BINDING_COLUMNS, _binding_cells),
    "Node": (NODE_COLUMNS, _node_cells),
    "Namespace": ((NAME, Column("Status", description="The namespace's phase."), AGE), _namespace_cells),
    "Lease": ((NAME, Column("Holder", description="Who holds the lease."), AGE), _lease_cells),
    "PriorityClass": (
        (
            NAME,
            Column("Value", type="integer", description="The priority."),
            Column("Global-Default", type="boolean", description="Whether it is the default."),
            AGE,
            Column("PreemptionPolicy", priority=1, description="Whether it preempts."),
        ),
        _priority_class_cells,
    ),
    "EndpointSlice": (
        (
            NAME,
            Column("AddressType", description="IPv4, IPv6 or FQDN."),
            Column("Ports", description="The slice's ports."),
            Column("Endpoints", description="The slice's addresses."),
            AGE,
        ),
        _endpoint_slice_cells,
    ),
    "Event": (EVENT_COLUMNS, _event_cells),
    "MutatingWebhookConfiguration": (WEBHOOK_COLUMNS, _webhook_cells),
    "ValidatingWebhookConfiguration": (WEBHOOK_COLUMNS, _webhook_cells),
}


# --- Custom resources and the default ----------------------------------------------------------


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry of a recorded CRD."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


def _json_path_steps(path: str) -> list[str | int] | None:
    """Steps of a simple JSONPath like ``.spec.a.b[0]`` or ``.metadata.labels.app\\.kubernetes\\.io/name``."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.removeprefix("$")
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        if text[position] == ".":
            position += 1
            key = []
            while position < len(text) and text[position] not in ".[":
                if text[position] == "\\" and position + 1 < len(text):
                    position += 1
                key.append(text[position])
                position += 1
            steps.append("".join(key))
        elif text[position] == "[":
            end = text.find("]", position)
            if end < 0:
                return None
            inside = text[position + 1 : end].strip("'\"")
            steps.append(int(inside) if inside.lstrip("-").isdigit() else inside)
            position = end + 1
        else:
            return None
    return steps


def _json_cell(column: PrinterColumn, value: Any, now: datetime) -> Cell:
    if value is None:
        return None
    match column.type:
        case "date":
            return age(value, now) if isinstance(value, str) else "<invalid>"
        case "integer":
            return value if isinstance(value, int) else None
        case "number":
            return value if isinstance(value, int | float) else None
        case "boolean":
            return value if isinstance(value, bool) else None
        case _:
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            return json.dumps(value, separators=(",", ":"))


def custom_columns(printer_columns: Sequence[PrinterColumn]) -> tuple[list[Column], Printer]:
    """Columns and cells of a custom resource from its CRD's ``additionalPrinterColumns``."""
    if not printer_columns:
        return [NAME, AGE], lambda obj, now: [
            _get(obj, "metadata", "name"),
            age(_get(obj, "metadata", "creationTimestamp"), now),
        ]
    columns = [NAME] + [
        Column(c.name, type=c.type, description=c.description, priority=c.priority, format=c.format)
        for c in printer_columns
    ]
    paths = [_json_path_steps(c.json_path) for c in printer_columns]

    def cells(obj: Object, now: datetime) -> list[Cell]:
        row: list[Cell] = [_get(obj, "metadata", "name")]
        for column, steps in zip(printer_columns, paths, strict=True):
            row.append(_json_cell(column, _get(obj, *steps) if steps is not None else None, now))
        return row

    return columns, cells


DEFAULT_COLUMNS = (
    NAME,
    Column("Created At", type="date", description="When the object was created."),
)


def _default_cells(obj: Object, now: datetime) -> list[Cell]:
    created = parse_timestamp(_get(obj, "metadata", "creationTimestamp"))
    return [_get(obj, "metadata", "name"), created.isoformat() + "Z" if created else "<unknown>"]


def printer_for(
    kind: str, printer_columns: Sequence[PrinterColumn] | None
) -> tuple[Sequence[Column], Printer]:
    """The table layout of ``kind``: built-in printer, CRD columns (custom kinds) or the default."""
    if printer_columns is not None:
        return custom_columns(printer_columns)
    return PRINTERS.get(kind, (DEFAULT_COLUMNS, _default_cells))


def build_table(
    objects: Sequence[Object],
    columns: Sequence[Column],
    printer: Printer,
    now: datetime,
    *,
    include_object: str,
    resource_version: str,
    continue_token: str = "",
    remaining: int | None = None,
    partial: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``include_object`` is Object, Metadata or None."""
    rows: list[dict[str, Any]] = []
    for obj in objects:
        cells = printer(obj, now)[: len(columns)]
        row: dict[str, Any] = {"cells": cells}
        if obj.get("kind") == "Pod" and _get(obj, "status", "phase") in ("Succeeded", "Failed"):
            phase = _get(obj, "status", "phase")
            row["conditions"] = [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": phase,
                    "message": "The pod has completed successfully."
                    if phase == "Succeeded"
                    else "The pod failed.",
                }
            ]
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining:
        metadata["remainingItemCount"] = remaining
    if partial:
        metadata.update(partial)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [column.definition() for column in columns],
        "rows": rows,
    }
