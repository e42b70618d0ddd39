"""Topology: the service call graph from spans and the Kubernetes object graph from listings.

Every edge reads *source depends on target*:

- ``A calls B`` (services): a client span of A has a server span of B as its child; when the
  callee recorded no span, the client span's ``peer.service``, ``server.address``,
  ``net.peer.name``, ``db.system`` or ``messaging.system`` attribute names it;
- ``Pod owned-by ReplicaSet owned-by Deployment`` (ownerReferences, any kinds);
- ``Service selects Pod`` (the Service's selector matches the Pod's labels);
- ``Pod uses ConfigMap / Secret / PersistentVolumeClaim`` (volumes, env ``valueFrom``,
  ``envFrom``), and so does a workload through its pod template; ``Pod runs-on Node``,
  ``PersistentVolumeClaim bound-to PersistentVolume``;
- ``Deployment scaled-by HorizontalPodAutoscaler`` (the HPA's scaleTargetRef);
- ``Deployment/StatefulSet/DaemonSet limited-by ResourceQuota / LimitRange`` of its namespace;
- ``Pod affected-by NetworkChaos`` (any Chaos Mesh ``*Chaos``): the pods the experiment reports
  as injected, else those its selector picks, and for network chaos the pods of its target.

So *up* from an object leads to what it depends on (where a cause may sit) and *down* to what
depends on it (where a failure spreads). Call edges join the object graph from the caller's
workload (the Deployment, StatefulSet or DaemonSet named like the traced service) to the
callee's Kubernetes Service: ``Deployment/frontend calls Service/ad``.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from itbench_server.analysis.entities import EntityRef
from itbench_server.analysis.timeparse import format_time
from itbench_server.snapshot.servicegraph import SERVICE_CALL_TABLES, callee_sql
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "LISTING_TOLERANCE",
    "CallEdge",
    "Edge",
    "Neighbour",
    "neighbours",
    "no_neighbours_hint",
    "object_edges",
    "render_calls",
    "render_edges",
    "render_neighbours",
    "service_calls",
    "users_of",
]

Direction = Literal["up", "down", "both"]

LISTING_TOLERANCE: Final = timedelta(seconds=90)
"""An object listed this long before its resource's last listing round is still present."""

_WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet", "DaemonSet")
_TEMPLATE_KINDS: Final = (*_WORKLOAD_KINDS, "ReplicaSet", "Job")
_GRAPH_KINDS: Final = (
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Service",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "Node",
    "HorizontalPodAutoscaler",
    "ResourceQuota",
    "LimitRange",
)


@dataclass(frozen=True, order=True)
class Edge:
    source: EntityRef
    relation: str
    target: EntityRef
    detail: str = ""


@dataclass(frozen=True)
class CallEdge:
    caller: str
    callee: str
    calls: int
    errors: int
    via: str
    """``spans`` when a server span of the callee was recorded for some call, else ``attributes``
    (only the client spans' attributes name the callee)."""


# The index never changes once built, so a call graph computed for one time range stays right;
# it joins every span, which makes it worth keeping for the next caller.
_CALL_GRAPHS: OrderedDict[tuple[str, datetime, datetime], list[CallEdge]] = OrderedDict()
_CALL_GRAPHS_LOCK = threading.Lock()
_CALL_GRAPHS_KEPT: Final = 32


def service_calls(snapshot: Snapshot, *, since: datetime, until: datetime) -> list[CallEdge]:
    """Service-to-service calls in [since, until] with call and error counts, most calls first."""
    key = (str(snapshot.index_path), since, until)
    with _CALL_GRAPHS_LOCK:
        if key in _CALL_GRAPHS:
            _CALL_GRAPHS.move_to_end(key)
            return list(_CALL_GRAPHS[key])
    edges = _compute_service_calls(snapshot, since=since, until=until)
    with _CALL_GRAPHS_LOCK:
        _CALL_GRAPHS[key] = edges
        while len(_CALL_GRAPHS) > _CALL_GRAPHS_KEPT:
            _CALL_GRAPHS.popitem(last=False)
    return list(edges)


def _compute_service_calls(snapshot: Snapshot, *, since: datetime, until: datetime) -> list[CallEdge]:
    # A child span counts when it starts at most a minute outside the range (clocks of two
    # services disagree a little; a call at the range's edge keeps its callee).
    children = [since - timedelta(minutes=1), until + timedelta(minutes=1)]
    if _has_service_call_tables(snapshot):
        rows = snapshot.query(_CALLS_FROM_INDEX, [since, until, *children, *children, since, until])
    else:
        rows = snapshot.query(_CALLS_FROM_SPANS, [since, until, *children])
    return [CallEdge(*row) for row in rows]


def _has_service_call_tables(snapshot: Snapshot) -> bool:
    """Whether the index holds the calls joined at index time (:mod:`~itbench_server.snapshot.servicegraph`)."""
    (found,) = snapshot.query(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name IN (?, ?)",
        list(SERVICE_CALL_TABLES),
    )[0]
    return found == len(SERVICE_CALL_TABLES)


_GRAPH_OF_CALLS: Final = """
    SELECT caller, callee, count(*), count(*) FILTER (WHERE failed), max(via)
    FROM calls
    WHERE callee IS NOT NULL AND callee <> '' AND callee <> caller
    GROUP BY caller, callee
    ORDER BY count(*) DESC, caller, callee
"""

# The range query over all spans (for an index without the calls joined at index time):
# parameters since, until, and the children's bounds.
_CALLS_FROM_SPANS: Final = f"""
    WITH clients AS (
        SELECT trace_id, span_id, service, status, span_attributes FROM spans
        WHERE kind IN ('Client', 'Producer') AND ts BETWEEN ? AND ?
    ),
    servers AS (
        SELECT trace_id, parent_span_id, service, status FROM spans
        WHERE kind IN ('Server', 'Consumer') AND ts BETWEEN ? AND ? AND coalesce(parent_span_id, '') <> ''
    ),
    calls AS (
        SELECT c.service AS caller,
               coalesce(s.service, {callee_sql("c.span_attributes")}) AS callee,
               CASE WHEN s.service IS NULL THEN 'attributes' ELSE 'spans' END AS via,
               c.status = 'Error' OR coalesce(s.status, '') = 'Error' AS failed
        FROM clients c LEFT JOIN servers s ON s.trace_id = c.trace_id AND s.parent_span_id = c.span_id
    )
    {_GRAPH_OF_CALLS}
"""

# The same from the calls joined at index time: the near ones as they are, the far ones with
# the children's bound applied here (a far client none of whose children is left counts once,
# by its attributes). Parameters: since, until, the children's bounds twice, since, until.
_CALLS_FROM_INDEX: Final = f"""
    WITH far AS (
        SELECT * FROM service_calls_far WHERE ts BETWEEN ? AND ?
    ),
    calls AS (
        SELECT caller, coalesce(server_service, attribute_callee) AS callee,
               CASE WHEN server_service IS NULL THEN 'attributes' ELSE 'spans' END AS via,
               client_failed OR coalesce(server_status, '') = 'Error' AS failed
        FROM far WHERE server_ts BETWEEN ? AND ?
        UNION ALL
        SELECT any_value(caller), any_value(attribute_callee), 'attributes', any_value(client_failed)
        FROM far GROUP BY client_id
        HAVING count(*) FILTER (WHERE server_ts BETWEEN ? AND ?) = 0
        UNION ALL
        SELECT caller, callee, via, failed FROM service_calls WHERE ts BETWEEN ? AND ?
    )
    {_GRAPH_OF_CALLS}
"""


def _latest_objects(snapshot: Snapshot, at: datetime) -> list[tuple[Any, ...]]:
    """(kind, namespace, name, owners, labels, spec) of the objects present at ``at``."""
    kinds = ", ".join(f"'{kind}'" for kind in _GRAPH_KINDS)
    (first_listing,) = snapshot.query("SELECT min(listed_at) FROM objects")[0]
    if first_listing is None:
        return []
    at = max(at, first_listing)
    return snapshot.query(
        f"""
        WITH latest AS (
            SELECT kind, coalesce(namespace, '') AS namespace, name, any_value(resource) AS resource,
                   arg_max(body, listed_at) AS body, arg_max(watch_type, listed_at) AS watch_type,
                   max(listed_at) AS last_listed
            FROM objects
            WHERE listed_at <= ? AND (kind IN ({kinds}) OR (starts_with(api_version, 'chaos-mesh.org/')
                                                             AND ends_with(kind, 'Chaos')))
            GROUP BY kind, coalesce(namespace, ''), name
        ),
        rounds AS (
            SELECT kind, max(listed_at) AS last_round FROM objects
            WHERE listed_at <= ? AND coalesce(watch_type, '') = '' GROUP BY kind
        )
        SELECT l.kind, l.namespace, l.name,
               json_extract(l.body, '$.metadata.ownerReferences')::VARCHAR,
               json_extract(l.body, '$.metadata.labels')::VARCHAR,
               CASE WHEN l.kind IN ('Pod', 'Service', 'HorizontalPodAutoscaler', 'PersistentVolumeClaim')
                    THEN json_extract(l.body, '$.spec')::VARCHAR
                    WHEN l.kind IN ('Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job')
                    THEN json_extract(l.body, '$.spec.template.spec')::VARCHAR
                    WHEN ends_with(l.kind, 'Chaos')
                    THEN json_object('spec', json_extract(l.body, '$.spec'),
                                     'instances', json_extract(l.body, '$.status.instances'))::VARCHAR
                    END
        FROM latest l LEFT JOIN rounds r ON r.kind = l.kind
        WHERE coalesce(l.watch_type, '') <> 'DELETED'
          AND (coalesce(l.watch_type, '') <> '' OR r.last_round IS NULL
               OR l.last_listed >= r.last_round - INTERVAL {int(LISTING_TOLERANCE.total_seconds())} SECOND)
        ORDER BY l.kind, l.namespace, l.name
        """,
        [at, at],
    )


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _pod_references(
    spec: dict[str, Any], named: frozenset[tuple[str, str]] = frozenset()
) -> list[tuple[str, str, str]]:
    """(kind, name, how) of the ConfigMaps, Secrets and claims a pod spec refers to: through its
    volumes (with where they are mounted), env ``valueFrom``, ``envFrom``, and the ``args`` or
    ``command`` of a container that name one of ``named`` ((kind, name) of the namespace's
    ConfigMaps and Secrets) as a word of their own, as in ``--configmap=flagd-config``."""
    references: list[tuple[str, str, str]] = []
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    mounts: dict[str, list[str]] = defaultdict(list)
    for container in containers:
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") and mount.get("mountPath"):
                mounts[mount["name"]].append(f"{container.get('name', '')}:{mount['mountPath']}")

    def volume_how(volume_name: str) -> str:
        where = mounts.get(volume_name)
        return f"volume {volume_name}" + (f" at {', '.join(where)}" if where else "")

    for volume in spec.get("volumes") or []:
        volume_name = volume.get("name", "")
        if (config_map := volume.get("configMap")) and config_map.get("name"):
            references.append(("ConfigMap", config_map["name"], volume_how(volume_name)))
        if (secret := volume.get("secret")) and secret.get("secretName"):
            references.append(("Secret", secret["secretName"], volume_how(volume_name)))
        if (claim := volume.get("persistentVolumeClaim")) and claim.get("claimName"):
            references.append(("PersistentVolumeClaim", claim["claimName"], volume_how(volume_name)))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (config_map := source.get("configMap")) and config_map.get("name"):
                references.append(("ConfigMap", config_map["name"], volume_how(volume_name)))
            if (secret := source.get("secret")) and secret.get("name"):
                references.append(("Secret", secret["name"], volume_how(volume_name)))
    for container in containers:
        container_name = container.get("name", "")
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            if (ref := value_from.get("configMapKeyRef")) and ref.get("name"):
                references.append(
                    ("ConfigMap", ref["name"], f"env {env.get('name', '')} of {container_name}")
                )
            if (ref := value_from.get("secretKeyRef")) and ref.get("name"):
                references.append(("Secret", ref["name"], f"env {env.get('name', '')} of {container_name}"))
        for env_from in container.get("envFrom") or []:
            if (ref := env_from.get("configMapRef")) and ref.get("name"):
                references.append(("ConfigMap", ref["name"], f"envFrom of {container_name}"))
            if (ref := env_from.get("secretRef")) and ref.get("name"):
                references.append(("Secret", ref["name"], f"envFrom of {container_name}"))
        if named:
            for part in ("command", "args"):
                words = {
                    word
                    for argument in container.get(part) or []
                    if isinstance(argument, str)
                    for word in _WORDS.split(argument)
                }
                references += [
                    (kind, name, f"{part} of {container_name}")
                    for kind, name in sorted(named)
                    if name in words
                ]
    return references


# What separates the words of an argument: --configmap=flagd-config, core.openfeature.dev/ns/name
# (not ':', so that the Service of the same name in host:port is not taken for it).
_WORDS: Final = re.compile(r"[\s=,;/]+")


def object_edges(snapshot: Snapshot, *, at: datetime) -> list[Edge]:
    """The Kubernetes object graph as of ``at`` (the last listing at or before it), sorted."""
    rows = _latest_objects(snapshot, at)
    edges: set[Edge] = set()
    pods: list[tuple[EntityRef, dict[str, str]]] = []
    services: list[tuple[EntityRef, dict[str, str]]] = []
    namespace_limits: dict[str, list[EntityRef]] = defaultdict(list)
    workloads: list[EntityRef] = []
    chaos: list[tuple[EntityRef, dict[str, Any]]] = []
    configuration: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for kind, namespace, name, *_ in rows:
        if kind in ("ConfigMap", "Secret") and name != "kube-root-ca.crt":
            configuration[namespace].add((kind, name))
    named = {namespace: frozenset(items) for namespace, items in configuration.items()}
    for kind, namespace, name, owners_text, labels_text, spec_text in rows:
        ref = EntityRef.from_index(namespace, kind, name)
        for owner in _json(owners_text) or []:
            if owner.get("kind") and owner.get("name"):
                edges.add(
                    Edge(ref, "owned-by", EntityRef.from_index(namespace, owner["kind"], owner["name"]))
                )
        spec = _json(spec_text) or {}
        if kind == "Pod":
            pods.append((ref, _json(labels_text) or {}))
            for target_kind, target_name, how in _pod_references(spec, named.get(namespace, frozenset())):
                edges.add(Edge(ref, "uses", EntityRef.from_index(namespace, target_kind, target_name), how))
            if spec.get("nodeName"):
                edges.add(Edge(ref, "runs-on", EntityRef.from_index("", "Node", spec["nodeName"])))
        elif kind == "Service" and spec.get("selector"):
            services.append((ref, spec["selector"]))
        elif kind == "HorizontalPodAutoscaler":
            target = spec.get("scaleTargetRef") or {}
            if target.get("kind") and target.get("name"):
                target_ref = EntityRef.from_index(namespace, target["kind"], target["name"])
                detail = f"min {spec.get('minReplicas', '?')} max {spec.get('maxReplicas', '?')}"
                edges.add(Edge(target_ref, "scaled-by", ref, detail))
        elif kind == "PersistentVolumeClaim" and spec.get("volumeName"):
            edges.add(Edge(ref, "bound-to", EntityRef.from_index("", "PersistentVolume", spec["volumeName"])))
        elif kind in ("ResourceQuota", "LimitRange"):
            namespace_limits[namespace].append(ref)
        elif kind in _WORKLOAD_KINDS:
            workloads.append(ref)
        elif kind.endswith("Chaos"):
            chaos.append((ref, spec))
        if kind in _TEMPLATE_KINDS:
            for target_kind, target_name, how in _pod_references(spec, named.get(namespace, frozenset())):
                edges.add(Edge(ref, "uses", EntityRef.from_index(namespace, target_kind, target_name), how))
    for service, selector in services:
        for pod, labels in pods:
            if pod.namespace == service.namespace and all(labels.get(k) == v for k, v in selector.items()):
                edges.add(Edge(service, "selects", pod))
    for workload in workloads:
        for limit in namespace_limits.get(workload.index_namespace, []):
            edges.add(Edge(workload, "limited-by", limit))
    for experiment, content in chaos:
        for pod, detail in _chaos_targets(experiment, content, pods):
            edges.add(Edge(pod, "affected-by", experiment, detail))
    return sorted(edges)


def users_of(snapshot: Snapshot, entity: EntityRef, *, at: datetime) -> list[Edge]:
    """The objects that use ``entity`` (a ConfigMap, Secret or claim) at ``at``: through volumes,
    env, envFrom, or the args and command of their containers; workloads first, then pods."""
    edges = [
        edge for edge in object_edges(snapshot, at=at) if edge.relation == "uses" and edge.target == entity
    ]
    order = {kind: index for index, kind in enumerate((*_TEMPLATE_KINDS, "Pod"))}
    return sorted(edges, key=lambda edge: (order.get(edge.source.kind, len(order)), edge.source))


def _selected_pods(
    selector: dict[str, Any], default_namespace: str, pods: list[tuple[EntityRef, dict[str, str]]]
) -> list[EntityRef]:
    """The pods a Chaos Mesh selector picks (namespaces, labelSelectors and pods)."""
    namespaces = set(selector.get("namespaces") or [default_namespace])
    labels = selector.get("labelSelectors") or {}
    named = {(ns, name) for ns, names in (selector.get("pods") or {}).items() for name in names}
    if named:
        return [pod for pod, _ in pods if (pod.namespace, pod.name) in named]
    return [
        pod
        for pod, pod_labels in pods
        if pod.namespace in namespaces and all(pod_labels.get(k) == v for k, v in labels.items())
    ]


def _chaos_targets(
    experiment: EntityRef, content: dict[str, Any], pods: list[tuple[EntityRef, dict[str, str]]]
) -> list[tuple[EntityRef, str]]:
    """The pods a chaos experiment acts on: those it reports as injected, else those its selector
    picks; for network chaos also the pods of its ``target`` (the other side of the link)."""
    spec = content.get("spec") or {}
    action = str(spec.get("action", "")) or experiment.kind
    injected = set(content.get("instances") or {})
    if injected:
        chosen = [pod for pod, _ in pods if f"{pod.namespace}/{pod.name}" in injected]
    else:
        chosen = _selected_pods(spec.get("selector") or {}, experiment.namespace, pods)
    targets = [(pod, action) for pod in chosen]
    target_selector = (spec.get("target") or {}).get("selector")
    if target_selector:
        targets += [
            (pod, f"{action} (target side)")
            for pod in _selected_pods(target_selector, experiment.namespace, pods)
        ]
    return targets


def _call_endpoints(
    snapshot: Snapshot, names: set[str], edges: list[Edge]
) -> tuple[dict[str, EntityRef], dict[str, EntityRef]]:
    """For each traced service name: the workload that makes its calls (its Deployment,
    StatefulSet or DaemonSet) and the Service that receives them, where they can be found."""
    by_name: dict[tuple[str, str], set[EntityRef]] = defaultdict(set)
    for edge in edges:
        for ref in (edge.source, edge.target):
            by_name[(ref.kind, ref.name)].add(ref)
    span_namespaces = dict(
        snapshot.query(
            "SELECT service, min(namespace) FROM spans WHERE coalesce(namespace, '') <> '' GROUP BY service"
        )
    )

    def find(kinds: tuple[str, ...], name: str) -> EntityRef | None:
        candidates = sorted(ref for kind in kinds for ref in by_name.get((kind, name), set()))
        preferred = [ref for ref in candidates if ref.namespace == span_namespaces.get(name)]
        return (preferred or candidates or [None])[0]

    callers: dict[str, EntityRef] = {}
    callees: dict[str, EntityRef] = {}
    for name in sorted(names):
        service = find(("Service",), name)
        if service is None and span_namespaces.get(name):
            service = EntityRef(span_namespaces[name], "Service", name)
        workload = find(_WORKLOAD_KINDS, name) or service
        if service is not None and workload is not None:
            callers[name], callees[name] = workload, service
    return callers, callees


@dataclass(frozen=True)
class Neighbour:
    entity: EntityRef
    depth: int
    direction: Literal["up", "down"]
    via: Edge


def neighbours(
    snapshot: Snapshot,
    entity: EntityRef,
    *,
    since: datetime,
    until: datetime,
    direction: Direction = "both",
    depth: int = 2,
) -> list[Neighbour]:
    """The objects within ``depth`` edges of ``entity``, up (dependencies), down (dependents) or
    both, in breadth-first order; each with the edge that reached it."""
    edges = object_edges(snapshot, at=until)
    calls = service_calls(snapshot, since=since, until=until)
    callers, callees = _call_endpoints(snapshot, {c.caller for c in calls} | {c.callee for c in calls}, edges)
    for call in calls:
        caller, callee = callers.get(call.caller), callees.get(call.callee)
        if caller and callee and caller != callee:
            edges.append(Edge(caller, "calls", callee, f"{call.calls} calls, {call.errors} errors"))
    outgoing: dict[EntityRef, list[Edge]] = defaultdict(list)
    incoming: dict[EntityRef, list[Edge]] = defaultdict(list)
    owned: dict[EntityRef, list[EntityRef]] = defaultdict(list)
    for edge in edges:
        outgoing[edge.source].append(edge)
        incoming[edge.target].append(edge)
        if edge.relation == "owned-by":
            owned[edge.target].append(edge.source)

    def upward(current: EntityRef) -> list[Edge]:
        """What ``current`` depends on, and for a workload what its ReplicaSets and pods depend on
        (the node they run on, a chaos experiment), reached through them."""
        steps = list(outgoing[current])
        descendants, pending = [], list(owned.get(current, []))
        while pending:
            child = pending.pop()
            if child not in descendants and child != current:
                descendants.append(child)
                pending += owned.get(child, [])
        for child in descendants:
            steps += [edge for edge in outgoing[child] if edge.relation != "owned-by"]
        return steps

    found: list[Neighbour] = []
    directions: list[Literal["up", "down"]] = ["up", "down"] if direction == "both" else [direction]
    for way in directions:
        seen = {entity}
        queue = deque([(entity, 0)])
        while queue:
            current, distance = queue.popleft()
            if distance == depth:
                continue
            steps = upward(current) if way == "up" else incoming[current]
            for edge in sorted(steps):
                other = edge.target if way == "up" else edge.source
                if other not in seen:
                    seen.add(other)
                    found.append(Neighbour(other, distance + 1, way, edge))
                    queue.append((other, distance + 1))
    return found


def no_neighbours_hint(direction: Direction, depth: int) -> str:
    """What to try when an object has no neighbours in ``direction`` within ``depth`` edges: never
    the direction just used."""
    deeper = ", or a larger depth" if depth < 6 else ""
    if direction == "both":
        return (
            f"(no neighbours either way within {depth} edges; try {'a larger depth, or ' if deeper else ''}"
            "another until: the object graph is the one at the end of the range)"
        )
    other = "down" if direction == "up" else "up"
    return f"(no neighbours {direction} within {depth} edges; try direction='{other}' or 'both'{deeper})"


def render_calls(calls: list[CallEdge]) -> list[str]:
    return [
        f"{call.caller} -> {call.callee}  calls={call.calls} errors={call.errors}"
        f" ({call.errors / call.calls:.0%}){'  [from client attributes]' if call.via == 'attributes' else ''}"
        for call in calls
    ]


def render_edges(edges: list[Edge]) -> list[str]:
    return [
        f"{edge.source} --{edge.relation}--> {edge.target}{'  (' + edge.detail + ')' if edge.detail else ''}"
        for edge in edges
    ]


def render_neighbours(entity: EntityRef, found: list[Neighbour], at: datetime) -> list[str]:
    lines = [f"{entity} (objects as of {format_time(at)})"]
    for neighbour in found:
        edge = neighbour.via
        detail = f" ({edge.detail})" if edge.detail else ""
        arrow = f"{edge.source} --{edge.relation}--> {edge.target}"
        lines.append(f"{neighbour.direction} {neighbour.depth}: {neighbour.entity}    via {arrow}{detail}")
    return lines
