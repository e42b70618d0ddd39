"""Who owns an address: the Pod, Service or Node behind an IP, a host name or a host:port.

An error that names an address (``connect ECONNREFUSED 10.96.103.36:8081``,
``http://quote:8081/getquote``) says which Service was refused, and whether on one of its ports,
once the address is resolved. The address book is read from every listing of the recording:

- Pods by ``status.podIP`` (and ``podIPs``), with the times the pod was listed holding it (pod
  IPs are reused, so one IP may have had several owners);
- Services by ``spec.clusterIP`` (and ``clusterIPs``, ``externalIPs``, load-balancer ingress
  IPs), with their ports; a host name resolves to the Service of that name (``quote``,
  ``quote.otel-demo``, ``quote.otel-demo.svc.cluster.local``);
- Nodes by their ``status.addresses``.
"""

from __future__ import annotations

import json
import re
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from itbench_server.analysis.cluster import objects_at
from itbench_server.analysis.entities import EntityRef
from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = ["AddressOwner", "ServicePort", "address_notes", "lookup_address", "owners"]

_IPV4: Final = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
_ADDRESS: Final = re.compile(rf"(?<![\w.])({_IPV4})(?::(\d{{1,5}}))?(?![\w.])")
_HOST_PORT: Final = re.compile(r"(?<![\w.-])([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*):(\d{1,5})(?![\w.])")
_HOST: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
MAX_NOTES: Final = 12


@dataclass(frozen=True)
class ServicePort:
    port: int
    target: str
    protocol: str
    name: str

    def __str__(self) -> str:
        target = f"->{self.target}" if self.target and self.target != str(self.port) else ""
        return f"{self.port}{target}/{self.protocol}"


@dataclass(frozen=True)
class AddressOwner:
    address: str
    entity: EntityRef
    role: str
    """``pod IP``, ``ClusterIP``, ``external IP``, ``node InternalIP``..."""
    first_listed: datetime
    last_listed: datetime
    ports: tuple[ServicePort, ...] = ()
    """A Service's ports; a pod's container ports (``target`` empty)."""

    def describe(self, port: int | None = None) -> str:
        text = f"{self.entity} ({self.role}"
        if self.ports:
            text += f"; ports {', '.join(str(item) for item in self.ports)}"
        text += ")"
        if port is not None and self.ports and all(item.port != port for item in self.ports):
            text += f"; {port} is not one of its ports"
        return text


@dataclass(frozen=True)
class _Book:
    by_address: dict[str, list[AddressOwner]]
    services: dict[str, list[AddressOwner]]
    """Service name -> its ClusterIP owners (one per namespace), for host names."""


_BOOKS: weakref.WeakKeyDictionary[Snapshot, _Book] = weakref.WeakKeyDictionary()


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _service_ports(spec: Any) -> tuple[ServicePort, ...]:
    items = spec.get("ports") if isinstance(spec, dict) else None
    return tuple(
        ServicePort(
            item["port"],
            "" if item.get("targetPort") is None else str(item["targetPort"]),
            str(item.get("protocol") or "TCP"),
            str(item.get("name") or ""),
        )
        for item in items or []
        if isinstance(item, dict) and isinstance(item.get("port"), int)
    )


def _container_ports(spec: Any) -> tuple[ServicePort, ...]:
    containers = spec.get("containers") if isinstance(spec, dict) else None
    return tuple(
        ServicePort(
            item["containerPort"], "", str(item.get("protocol") or "TCP"), str(item.get("name") or "")
        )
        for container in containers or []
        if isinstance(container, dict)
        for item in container.get("ports") or []
        if isinstance(item, dict) and isinstance(item.get("containerPort"), int)
    )


def _book(snapshot: Snapshot) -> _Book:
    cached = _BOOKS.get(snapshot)
    if cached is not None:
        return cached
    rows = snapshot.query(
        """
        SELECT kind, coalesce(namespace, ''), name, min(listed_at), max(listed_at),
               arg_max(json_extract(body, '$.spec')::VARCHAR, listed_at),
               arg_max(json_extract(body, '$.status')::VARCHAR, listed_at),
               list(DISTINCT json_extract_string(body, '$.status.podIP'))
        FROM objects WHERE kind IN ('Pod', 'Service', 'Node') AND coalesce(watch_type, '') <> 'DELETED'
        GROUP BY kind, coalesce(namespace, ''), name
        """
    )
    by_address: dict[str, list[AddressOwner]] = defaultdict(list)
    services: dict[str, list[AddressOwner]] = defaultdict(list)
    for kind, namespace, name, first, last, spec_text, status_text, pod_ips in rows:
        entity = EntityRef.from_index(namespace, kind, name)
        spec, status = _json(spec_text) or {}, _json(status_text) or {}
        found: list[tuple[str, str]] = []
        ports: tuple[ServicePort, ...] = ()
        if kind == "Pod":
            ips = {ip for ip in pod_ips or [] if ip}
            ips |= {
                item.get("ip")
                for item in status.get("podIPs") or []
                if isinstance(item, dict) and item.get("ip")
            }
            role = "pod IP (host network)" if spec.get("hostNetwork") else "pod IP"
            found = [(ip, role) for ip in sorted(ips)]
            ports = _container_ports(spec)
        elif kind == "Service":
            ports = _service_ports(spec)
            ips = [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])]
            service_type = spec.get("type") or "ClusterIP"
            role = "ClusterIP" if service_type == "ClusterIP" else f"ClusterIP of a {service_type} Service"
            found = [(ip, role) for ip in dict.fromkeys(ips) if ip and ip != "None"]
            found += [(ip, "external IP") for ip in spec.get("externalIPs") or [] if ip]
            ingress = ((status.get("loadBalancer") or {}).get("ingress")) or []
            found += [
                (item["ip"], "load-balancer IP")
                for item in ingress
                if isinstance(item, dict) and item.get("ip")
            ]
        else:
            found = [
                (item["address"], f"node {item.get('type') or 'address'}")
                for item in status.get("addresses") or []
                if isinstance(item, dict) and item.get("address")
            ]
        for address, role in found:
            owner = AddressOwner(str(address), entity, role, first, last, ports)
            by_address[str(address)].append(owner)
        if kind == "Service":
            services[name].append(AddressOwner(name, entity, "Service name", first, last, ports))
    for owners_ in by_address.values():
        owners_.sort(key=lambda owner: (owner.first_listed, str(owner.entity)))
    book = _Book(dict(by_address), dict(services))
    _BOOKS[snapshot] = book
    return book


def owners(snapshot: Snapshot, host: str) -> list[AddressOwner]:
    """The recorded owners of an IP, or the Services a host name denotes (a Node's name too)."""
    book = _book(snapshot)
    if re.fullmatch(_IPV4, host):
        return book.by_address.get(host, [])
    labels = host.lower().split(".")
    found = book.services.get(labels[0], [])
    if len(labels) > 1 and labels[1] not in ("svc", "cluster"):
        found = [owner for owner in found if owner.entity.namespace == labels[1]]
    if found:
        return found
    return [owner for owner in book.by_address.get(host, []) if owner.entity.kind == "Node"]


def _when(owner: AddressOwner, many: bool) -> str:
    return f", listed {format_time(owner.first_listed)}..{format_time(owner.last_listed)}" if many else ""


def address_notes(snapshot: Snapshot, texts: Iterable[str]) -> str:
    """A line naming the owner of each recorded IP or Service host:port the texts mention (at most
    :data:`MAX_NOTES`), or '' when they mention none."""
    mentioned: dict[str, tuple[str, int | None]] = {}
    for text in texts:
        for match in _ADDRESS.finditer(text):
            key = match.group(0)
            mentioned.setdefault(key, (match.group(1), int(match.group(2)) if match.group(2) else None))
        for match in _HOST_PORT.finditer(text):
            mentioned.setdefault(match.group(0), (match.group(1), int(match.group(2))))
        if len(mentioned) > 4 * MAX_NOTES:
            break
    notes = []
    for key, (host, port) in mentioned.items():
        found = owners(snapshot, host)
        if not found:
            continue
        many = len(found) > 1
        notes.append(f"{key} = " + " or ".join(owner.describe(port) + _when(owner, many) for owner in found))
        if len(notes) == MAX_NOTES:
            break
    return "addresses: " + "; ".join(notes) if notes else ""


def lookup_address(snapshot: Snapshot, text: str, at: datetime) -> list[str]:
    """Lines saying who owns the address ``text`` (an IP, a host name, either with a port), and
    for a Service the pods it selects at ``at``."""
    address = text.strip()
    if "://" in address:  # a URL: its host and port
        address = address.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port_text = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    host = host.lower()
    if port_text and not port_text.isdigit():
        raise QueryError(
            f"address {quoted(text)}: the port must be a number, as in quote:8080 or 10.96.0.10:53"
        )
    port = int(port_text) if port_text else None
    if not (re.fullmatch(_IPV4, host) or _HOST.fullmatch(host)):
        raise QueryError(
            f"address {quoted(text)} is not an IP or a host name; give 10.96.103.36, 10.96.103.36:8080, "
            "quote, quote:8080 or quote.otel-demo.svc.cluster.local:8080"
        )
    found = owners(snapshot, host)
    if not found:
        return [
            f"{address}: no recorded Pod, Service or Node has it (listings hold pod IPs, ClusterIPs, node addresses and Service names)"
        ]
    lines = [f"{address}:"]
    many = len(found) > 1
    for owner in found:
        lines.append(f"  {owner.describe(port)}{_when(owner, many or owner.entity.kind == 'Pod')}")
        if owner.entity.kind == "Service":
            lines += [f"    {line}" for line in _service_backends(snapshot, owner, port, at)]
    return lines


def _service_backends(snapshot: Snapshot, service: AddressOwner, port: int | None, at: datetime) -> list[str]:
    body = next(
        (
            item.body
            for item in objects_at(snapshot, "Service", at)
            if item.namespace == service.entity.index_namespace and item.name == service.entity.name
        ),
        None,
    )
    if body is None:
        return [f"(not present at {format_time(at)})"]
    selector = (body.get("spec") or {}).get("selector") or {}
    lines = []
    if port is not None:
        match = next((item for item in service.ports if item.port == port), None)
        if match is None:
            lines.append(
                f"port {port} is not a port of this Service: a connection to it is refused; its ports: "
                + (", ".join(str(item) for item in service.ports) or "(none)")
            )
        elif match.target:
            lines.append(f"port {port} leads to the pods' port {match.target}")
    if not selector:
        return [*lines, "selects no pods (no selector)"]
    pods = [
        item
        for item in objects_at(snapshot, "Pod", at)
        if item.namespace == service.entity.index_namespace
        and all(
            ((item.body.get("metadata") or {}).get("labels") or {}).get(key) == value
            for key, value in selector.items()
        )
    ]
    if not pods:
        return [
            *lines,
            f"selects no pod at {format_time(at)} (selector {', '.join(f'{k}={v}' for k, v in selector.items())})",
        ]
    described = [
        f"{EntityRef.from_index(item.namespace, 'Pod', item.name)} ({(item.body.get('status') or {}).get('podIP') or 'no IP'}, "
        f"{(item.body.get('status') or {}).get('phase') or 'phase unknown'})"
        for item in pods[:10]
    ]
    more = f" and {len(pods) - 10} more" if len(pods) > 10 else ""
    return [*lines, f"selects at {format_time(at)}: {', '.join(described)}{more}"]
