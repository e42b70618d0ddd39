"""The resource types the facade serves: the built-in ones and those found in the recording.

Built-in types are always served (a list of a type the recording never listed is empty, as on a
cluster that has none). Custom resources come from the recording: a recorded
``CustomResourceDefinition`` gives names, scope and ``additionalPrinterColumns``; a custom kind
seen without its CRD (Chaos Mesh objects, say) is served under its recorded group and version
with the ``Name``/``Age`` table. Any other recorded kind (a built-in group's kind this catalogue
does not list, say) is served under its recorded group and version too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from itbench_server.kube.printers import PrinterColumn

__all__ = [
    "BUILTIN_TYPES",
    "METRICS_GROUP_VERSION",
    "METRICS_TYPES",
    "RecordedKind",
    "ResourceType",
    "build_catalog",
]


@dataclass(frozen=True)
class ResourceType:
    """One served resource: what discovery lists and what a URL names."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] | None = None  # None: a built-in printer
    subresources: tuple[str, ...] = field(default=())

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: how a real server names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["get", "list", "watch"],
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        entries.extend(
            {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get"],
            }
            for sub in self.subresources
        )
        return entries


def _builtin(
    group_version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    all_category: bool = False,
    subresources: tuple[str, ...] = (),
) -> ResourceType:
    group, _, version = group_version.rpartition("/")
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=("all",) if all_category else (),
        subresources=subresources,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin("v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("v1", "endpoints", "Endpoints", short=("ep",)),
    _builtin("v1", "events", "Event", short=("ev",)),
    _builtin("v1", "limitranges", "LimitRange", short=("limits",)),
    _builtin("v1", "namespaces", "Namespace", namespaced=False, short=("ns",), subresources=("status",)),
    _builtin("v1", "nodes", "Node", namespaced=False, short=("no",), subresources=("status",)),
    _builtin("v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",)),
    _builtin("v1", "persistentvolumes", "PersistentVolume", namespaced=False, short=("pv",)),
    _builtin("v1", "pods", "Pod", short=("po",), all_category=True, subresources=("log", "status")),
    _builtin("v1", "podtemplates", "PodTemplate"),
    _builtin("v1", "replicationcontrollers", "ReplicationController", short=("rc",), all_category=True),
    _builtin("v1", "resourcequotas", "ResourceQuota", short=("quota",)),
    _builtin("v1", "secrets", "Secret"),
    _builtin("v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("v1", "services", "Service", short=("svc",), all_category=True),
    _builtin(
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
    ),
    _builtin(
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
    ),
    _builtin(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
    ),
    _builtin("apps/v1", "controllerrevisions", "ControllerRevision"),
    _builtin("apps/v1", "daemonsets", "DaemonSet", short=("ds",), all_category=True),
    _builtin("apps/v1", "deployments", "Deployment", short=("deploy",), all_category=True),
    _builtin("apps/v1", "replicasets", "ReplicaSet", short=("rs",), all_category=True),
    _builtin("apps/v1", "statefulsets", "StatefulSet", short=("sts",), all_category=True),
    _builtin(
        "autoscaling/v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        all_category=True,
    ),
    _builtin("batch/v1", "cronjobs", "CronJob", short=("cj",), all_category=True),
    _builtin("batch/v1", "jobs", "Job", all_category=True),
    _builtin("coordination.k8s.io/v1", "leases", "Lease"),
    _builtin("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    _builtin("events.k8s.io/v1", "events", "Event", short=("ev",)),
    _builtin("networking.k8s.io/v1", "ingressclasses", "IngressClass", namespaced=False),
    _builtin("networking.k8s.io/v1", "ingresses", "Ingress", short=("ing",)),
    _builtin("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _builtin("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",)),
    _builtin("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _builtin("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io/v1", "roles", "Role"),
    _builtin("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", namespaced=False, short=("pc",)),
    _builtin("storage.k8s.io/v1", "csidrivers", "CSIDriver", namespaced=False),
    _builtin("storage.k8s.io/v1", "csinodes", "CSINode", namespaced=False),
    _builtin("storage.k8s.io/v1", "storageclasses", "StorageClass", namespaced=False, short=("sc",)),
    _builtin("storage.k8s.io/v1", "volumeattachments", "VolumeAttachment", namespaced=False),
)

METRICS_GROUP_VERSION = "metrics.k8s.io/v1beta1"
METRICS_TYPES: tuple[ResourceType, ...] = (
    _builtin(METRICS_GROUP_VERSION, "nodes", "NodeMetrics", namespaced=False),
    _builtin(METRICS_GROUP_VERSION, "pods", "PodMetrics"),
)

_BUILTIN_GROUPS = frozenset(t.group for t in BUILTIN_TYPES) | {"metrics.k8s.io"}


@dataclass(frozen=True)
class RecordedKind:
    """A kind as the ``objects`` table holds it."""

    api_version: str
    kind: str
    resource: str
    namespaced: bool


def _crd_types(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not (isinstance(group, str) and isinstance(kind, str) and isinstance(plural, str)):
        return []
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served", True)]
    if not versions and isinstance(spec.get("version"), str):  # apiextensions v1beta1
        versions = [
            {"name": spec["version"], "additionalPrinterColumns": spec.get("additionalPrinterColumns")}
        ]
    types: list[ResourceType] = []
    for version in versions:
        columns = tuple(
            PrinterColumn(
                name=str(column.get("name", "")),
                type=str(column.get("type", "string")),
                json_path=str(column.get("jsonPath") or column.get("JSONPath") or ""),
                description=str(column.get("description", "")),
                priority=int(column.get("priority", 0) or 0),
                format=str(column.get("format", "")),
            )
            for column in version.get("additionalPrinterColumns") or []
            if isinstance(column, dict)
        )
        types.append(
            ResourceType(
                group=group,
                version=str(version.get("name")),
                plural=plural,
                singular=str(names.get("singular") or kind.lower()),
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                printer_columns=columns,
            )
        )
    return types


def _plural_of(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("chaos"):  # Chaos Mesh names its plurals like the kind: networkchaos
        return lower
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def build_catalog(crd_bodies: Iterable[str], recorded: Iterable[RecordedKind]) -> list[ResourceType]:
    """Every served type, sorted by group, version and plural."""
    types: dict[tuple[str, str, str], ResourceType] = {
        (t.group, t.version, t.plural): t for t in BUILTIN_TYPES
    }
    for body in crd_bodies:
        try:
            crd = json.loads(body)
        except (TypeError, ValueError):
            continue
        if isinstance(crd, dict):
            for resource_type in _crd_types(crd):
                if resource_type.group not in _BUILTIN_GROUPS:
                    types[(resource_type.group, resource_type.version, resource_type.plural)] = resource_type
    known_kinds = {(t.group, t.kind) for t in types.values()}
    for entry in recorded:
        group, _, version = entry.api_version.rpartition("/")
        if not version or not entry.kind or (group, entry.kind) in known_kinds or group == "metrics.k8s.io":
            continue
        resource = entry.resource if entry.resource and entry.resource.isalnum() else _plural_of(entry.kind)
        types[(group, version, resource.lower())] = ResourceType(
            group=group,
            version=version,
            plural=resource.lower(),
            singular=entry.kind.lower(),
            kind=entry.kind,
            namespaced=entry.namespaced,
            # Other kinds of built-in groups get the server's default table, custom kinds Name/Age.
            printer_columns=None if group in _BUILTIN_GROUPS or not group else (),
        )
        known_kinds.add((group, entry.kind))
    return [types[key] for key in sorted(types)]
