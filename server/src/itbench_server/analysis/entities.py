"""Kubernetes objects named as ``namespace/Kind/name``, and their resolution against the index.

The full form is the one diagnoses use: ``otel-demo/Deployment/ad``; a cluster-scoped object uses
``cluster`` as its namespace (``cluster/Node/worker-1``). Users may also write short forms, which
``resolve_entity`` / ``match_entities`` look up in the ``objects`` table:

- ``ad``: any object named ``ad``;
- ``Deployment/ad`` or ``deploy/ad``: kind and name, any namespace;
- ``otel-demo/ad``: namespace and name, any kind;
- ``otel-demo/deploy/ad``: the full form with a kind alias.

Kinds match case-insensitively and by their plural and short names, as kubectl accepts them
(``pods``/``po``, ``deployments``/``deploy``, ``svc``, ``cm``, ``hpa``, ``rs``, ``sts``, ``ds``,
``ns``, ``no``...). A short name that matches several objects raises ``AmbiguousEntityError`` with
the candidates; a name that matches nothing raises ``EntityNotFoundError`` with close names.
"""

from __future__ import annotations

import difflib
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from itbench_server.errors import AmbiguousEntityError, EntityNotFoundError, QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "CLUSTER_NAMESPACE",
    "EntityRef",
    "canonical_kind",
    "known_entities",
    "known_service",
    "match_entities",
    "plural_of",
    "resolve_entity",
]

CLUSTER_NAMESPACE: Final = "cluster"
"""The namespace written for cluster-scoped objects (stored as '' in the index)."""

# kind -> (plural, short names), as `kubectl api-resources` lists them.
_BUILTIN_KINDS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "Pod": ("pods", ("po",)),
    "Service": ("services", ("svc",)),
    "Deployment": ("deployments", ("deploy",)),
    "ReplicaSet": ("replicasets", ("rs",)),
    "StatefulSet": ("statefulsets", ("sts",)),
    "DaemonSet": ("daemonsets", ("ds",)),
    "Job": ("jobs", ()),
    "CronJob": ("cronjobs", ("cj",)),
    "ConfigMap": ("configmaps", ("cm",)),
    "Secret": ("secrets", ()),
    "Namespace": ("namespaces", ("ns",)),
    "Node": ("nodes", ("no",)),
    "PersistentVolumeClaim": ("persistentvolumeclaims", ("pvc",)),
    "PersistentVolume": ("persistentvolumes", ("pv",)),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", ("hpa",)),
    "ResourceQuota": ("resourcequotas", ("quota",)),
    "LimitRange": ("limitranges", ("limits",)),
    "Endpoints": ("endpoints", ("ep",)),
    "EndpointSlice": ("endpointslices", ()),
    "ServiceAccount": ("serviceaccounts", ("sa",)),
    "ReplicationController": ("replicationcontrollers", ("rc",)),
    "Ingress": ("ingresses", ("ing",)),
    "NetworkPolicy": ("networkpolicies", ("netpol",)),
    "PodDisruptionBudget": ("poddisruptionbudgets", ("pdb",)),
    "CustomResourceDefinition": ("customresourcedefinitions", ("crd", "crds")),
    "StorageClass": ("storageclasses", ("sc",)),
    "VolumeAttachment": ("volumeattachments", ()),
    "Role": ("roles", ()),
    "RoleBinding": ("rolebindings", ()),
    "ClusterRole": ("clusterroles", ()),
    "ClusterRoleBinding": ("clusterrolebindings", ()),
    "Event": ("events", ("ev",)),
}


@dataclass(frozen=True, order=True)
class EntityRef:
    """One Kubernetes object: ``namespace`` is ``cluster`` for cluster-scoped objects."""

    namespace: str
    kind: str
    name: str

    @classmethod
    def parse(cls, text: str) -> EntityRef:
        """Parse the full form ``namespace/Kind/name`` as written, without looking anything up.

        The kind is canonicalised when it is a known alias (``otel-demo/deploy/ad`` gives
        ``Deployment``). Raises ``QueryError`` when the text does not have three parts.
        """
        parts = [part.strip() for part in text.strip().split("/")]
        if len(parts) != 3 or not all(parts[1:]):
            raise QueryError(
                f"entity {quoted(text)}: expected namespace/Kind/name like otel-demo/Deployment/ad "
                f"(cluster/Node/worker-1 for cluster-scoped objects)"
            )
        namespace, kind, name = parts
        return cls(namespace or CLUSTER_NAMESPACE, canonical_kind(kind) or kind, name)

    @classmethod
    def from_index(cls, namespace: str | None, kind: str, name: str) -> EntityRef:
        """The entity of an index row, whose cluster-scoped objects have namespace ''."""
        return cls(namespace or CLUSTER_NAMESPACE, kind, name)

    @property
    def index_namespace(self) -> str:
        """The namespace as the index stores it ('' for cluster-scoped objects)."""
        return "" if self.namespace == CLUSTER_NAMESPACE else self.namespace

    @property
    def cluster_scoped(self) -> bool:
        return self.namespace == CLUSTER_NAMESPACE

    def __str__(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"


def canonical_kind(text: str, known_kinds: Iterable[str] = ()) -> str | None:
    """The kind ``text`` denotes (``po`` -> ``Pod``, ``deployments`` -> ``Deployment``), or None.

    ``known_kinds`` adds kinds seen in the data (custom resources): each matches by its name and
    by its lower-case plural with an ``s``.
    """
    lowered = text.strip().lower()
    if not lowered:
        return None
    for kind, (plural, short_names) in _BUILTIN_KINDS.items():
        if lowered in (kind.lower(), plural, *short_names):
            return kind
    for kind in sorted(set(known_kinds)):
        if lowered in (kind.lower(), kind.lower() + "s", kind.lower() + "es"):
            return kind
    return None


def plural_of(kind: str) -> str:
    """The resource (plural) name of a kind: ``Deployment`` -> ``deployments``."""
    builtin = _BUILTIN_KINDS.get(kind)
    if builtin:
        return builtin[0]
    lowered = kind.lower()
    if lowered.endswith(("s", "x", "ch", "sh")):
        return lowered + "es"
    if lowered.endswith("y") and lowered[-2:-1] not in ("a", "e", "o", "u"):
        return lowered[:-1] + "ies"
    return lowered + "s"


@dataclass(frozen=True)
class _Catalogue:
    entities: tuple[EntityRef, ...]
    kinds: frozenset[str]
    namespaces: frozenset[str]
    # lower-case resource name (from the index's `resource` column) -> kind
    resources: dict[str, str]


_catalogues: weakref.WeakKeyDictionary[Snapshot, dict[bool, _Catalogue]] = weakref.WeakKeyDictionary()


def _catalogue(snapshot: Snapshot, include_event_objects: bool) -> _Catalogue:
    cached = _catalogues.setdefault(snapshot, {})
    if include_event_objects not in cached:
        rows = snapshot.query(
            "SELECT DISTINCT coalesce(namespace, ''), kind, name, coalesce(resource, '') FROM objects"
            " WHERE kind <> '' AND name <> ''"
        )
        entities = {EntityRef.from_index(ns, kind, name) for ns, kind, name, _ in rows}
        resources = {resource.lower(): kind for _, kind, _, resource in rows if resource}
        if include_event_objects:
            event_rows = snapshot.query(
                "SELECT DISTINCT coalesce(object_namespace, ''), object_kind, object_name FROM events"
                " WHERE coalesce(object_kind, '') <> '' AND coalesce(object_name, '') <> ''"
            )
            entities |= {EntityRef.from_index(ns, kind, name) for ns, kind, name in event_rows}
        cached[include_event_objects] = _Catalogue(
            entities=tuple(sorted(entities)),
            kinds=frozenset(entity.kind for entity in entities),
            namespaces=frozenset(entity.namespace for entity in entities),
            resources=resources,
        )
    return cached[include_event_objects]


def known_entities(snapshot: Snapshot, *, include_event_objects: bool = False) -> tuple[EntityRef, ...]:
    """Every object of the snapshot, sorted; with ``include_event_objects`` also those only
    events mention (such as Chaos Mesh objects)."""
    return _catalogue(snapshot, include_event_objects).entities


def known_service(snapshot: Snapshot, name: str) -> bool:
    """Whether logs, spans or alerts name a service ``name`` (case ignored)."""
    return bool(
        snapshot.query(
            "SELECT 1 FROM logs WHERE lower(service) = lower(?) UNION ALL "
            "SELECT 1 FROM spans WHERE lower(service) = lower(?) UNION ALL "
            "SELECT 1 FROM alerts WHERE lower(service) = lower(?) LIMIT 1",
            [name, name, name],
        )
    )


def _resolve_kind(text: str, catalogue: _Catalogue) -> str | None:
    return canonical_kind(text, catalogue.kinds) or catalogue.resources.get(text.strip().lower())


def match_entities(snapshot: Snapshot, text: str, *, include_event_objects: bool = False) -> list[EntityRef]:
    """Every object the (possibly short) name ``text`` denotes, sorted; never empty.

    Raises ``EntityNotFoundError`` listing close names when nothing matches, and ``QueryError``
    when the text has more than three parts.
    """
    catalogue = _catalogue(snapshot, include_event_objects)
    parts = [part.strip() for part in text.strip().strip("/").split("/")]
    namespace: str | None = None
    kind: str | None = None
    if len(parts) == 3:
        namespace, kind_text, name = parts
        namespace = namespace or CLUSTER_NAMESPACE
        kind = _resolve_kind(kind_text, catalogue) or kind_text
    elif len(parts) == 2:
        first, name = parts
        kind = _resolve_kind(first, catalogue)
        if kind is None:
            namespace = first
    elif len(parts) == 1 and parts[0]:
        name = parts[0]
    else:
        raise QueryError(
            f"entity {quoted(text)}: write namespace/Kind/name (otel-demo/Deployment/ad), "
            f"Kind/name (Deployment/ad), namespace/name (otel-demo/ad) or a name (ad)"
        )
    matches = [
        entity
        for entity in catalogue.entities
        if entity.name == name
        and (namespace is None or entity.namespace == namespace)
        and (kind is None or entity.kind.lower() == kind.lower())
    ]
    if not matches:
        raise EntityNotFoundError(_not_found_message(text, name, namespace, kind, catalogue))
    return matches


def resolve_entity(snapshot: Snapshot, text: str, *, include_event_objects: bool = False) -> EntityRef:
    """The one object ``text`` denotes.

    Raises ``AmbiguousEntityError`` (with ``candidates`` in full form) when a short name matches
    several objects, and ``EntityNotFoundError`` with close names when it matches none.
    """
    matches = match_entities(snapshot, text, include_event_objects=include_event_objects)
    if len(matches) > 1:
        candidates = [str(entity) for entity in matches]
        raise AmbiguousEntityError(
            f"entity {quoted(text)} matches {len(candidates)} objects: {', '.join(candidates[:10])}"
            f"{' ...' if len(candidates) > 10 else ''}; name one as namespace/Kind/name",
            candidates,
        )
    return matches[0]


def _not_found_message(
    text: str, name: str, namespace: str | None, kind: str | None, catalogue: _Catalogue
) -> str:
    if namespace is not None and namespace not in catalogue.namespaces:
        known = ", ".join(sorted(catalogue.namespaces))
        return (
            f"entity {quoted(text)}: no namespace {quoted(namespace)} in this snapshot; namespaces: {known}"
        )
    if kind is not None and kind not in catalogue.kinds:
        close_kinds = difflib.get_close_matches(kind, sorted(catalogue.kinds), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close_kinds)}?" if close_kinds else ""
        return f"entity {quoted(text)}: no object of kind {quoted(kind)} in this snapshot{hint}"
    scope = [
        entity
        for entity in catalogue.entities
        if (namespace is None or entity.namespace == namespace)
        and (kind is None or entity.kind.lower() == kind.lower())
    ]
    by_name: dict[str, list[EntityRef]] = {}
    for entity in scope:
        by_name.setdefault(entity.name, []).append(entity)
    names = sorted(by_name)
    close = [candidate for candidate in names if candidate.startswith(name + "-")][:5]
    close += [
        candidate
        for candidate in difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        if candidate not in close
    ]
    if not close:
        return f"entity {quoted(text)}: no such object in this snapshot; list objects with kubectl get"
    suggestions = [str(entity) for candidate in close[:5] for entity in by_name[candidate][:2]]
    return f"entity {quoted(text)}: no such object; close names: {', '.join(suggestions)}"
