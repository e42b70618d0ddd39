"""The HTTP face of the recording: a read-only Kubernetes API server (a Starlette app).

Paths are those of the Kubernetes API (``/api/v1/namespaces/otel-demo/pods``, ``/apis/apps/v1``,
``/version``...), optionally behind a time prefix ``/at/<time>/`` that picks the moment the
recording is viewed at (any form ``parse_time`` reads: ``2025-12-15T17:25:19Z``, ``end-5m``,
``start+3m``); without it the server's default time is used. Every request needs the bearer
token. Only GET (and HEAD) are served: any other method is ``405 MethodNotAllowed``, and
``exec``, ``attach``, ``portforward`` and ``proxy`` are ``403 Forbidden``, each with a ``Status``
body as a real server sends. Handlers are synchronous and run in Starlette's thread pool, so
requests are served concurrently; each uses its own DuckDB cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from itbench_server.analysis.timeparse import MAX_DISTANCE, parse_time
from itbench_server.errors import QueryError, quoted
from itbench_server.kube.catalog import METRICS_GROUP_VERSION, METRICS_TYPES, ResourceType
from itbench_server.kube.events import to_core, to_events_v1
from itbench_server.kube.printers import build_table, parse_timestamp, printer_for
from itbench_server.kube.selectors import (
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from itbench_server.kube.store import ClusterRecording, resource_version_of, rfc3339, rfc3339_nano

Object = dict[str, Any]

TIME_PREFIX = "at"
"""``/at/<time>/...`` selects the viewed time."""

FORBIDDEN_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})
WATCH_LIMIT = timedelta(minutes=10)
TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class ApiError(Exception):
    """An error answered with a Kubernetes ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def response(self) -> JSONResponse:
        return status_response(self.code, self.reason, self.message, self.details)


def status_response(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }
    return JSONResponse(body, status_code=code)


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


class KubeApi:
    """The read-only API over one recording; ``app`` is the ASGI application."""

    def __init__(
        self, recording: ClusterRecording, *, token: str, default_at: datetime | None = None
    ) -> None:
        self.recording = recording
        self.token = token
        self.default_at = default_at or recording.window.end
        self.closing = threading.Event()
        self._types: dict[tuple[str, str], dict[str, ResourceType]] = {}
        for resource_type in (*recording.catalog, *METRICS_TYPES):
            self._types.setdefault((resource_type.group, resource_type.version), {})[resource_type.plural] = (
                resource_type
            )
        self._version = self._read_version()
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)])

    # --- entry point -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not secrets.compare_digest(header.encode(), f"Bearer {self.token}".encode()):
            return status_response(401, "Unauthorized", "Unauthorized")
        try:
            at, parts = self._split_time(request.url.path)
            if request.method not in ("GET", "HEAD"):
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource: {request.method} is "
                    "refused because this API serves a recorded incident and is read-only",
                )
            return self._route(request, at, parts)
        except ApiError as error:
            return error.response()
        except QueryError as error:
            return status_response(400, "BadRequest", str(error))

    def _split_time(self, path: str) -> tuple[datetime, list[str]]:
        parts = [unquote(part) for part in path.split("/") if part]
        if len(parts) >= 2 and parts[0] == TIME_PREFIX:
            try:
                return parse_time(parts[1], self.recording.window, what="time in the URL"), parts[2:]
            except QueryError as error:
                raise ApiError(400, "BadRequest", str(error)) from None
        return self.default_at, parts

    def _route(self, request: Request, at: datetime, parts: list[str]) -> Response:
        if not parts:
            return JSONResponse({"paths": ["/api", "/api/v1", "/apis", "/version"]})
        head = parts[0]
        if parts == ["version"]:
            return JSONResponse(self._version)
        if head in ("healthz", "livez", "readyz") and len(parts) == 1:
            return PlainTextResponse("ok")
        if head == "api":
            if len(parts) == 1:
                return JSONResponse(
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": request.url.netloc}
                        ],
                    }
                )
            if parts[1] != "v1":
                raise _not_found_path()
            if len(parts) == 2:
                return JSONResponse(self._resource_list("", "v1"))
            return self._resource_request(request, at, "", "v1", parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
            group = parts[1]
            groups = {g["name"]: g for g in self._groups()}
            if group not in groups:
                raise _not_found_path()
            if len(parts) == 2:
                return JSONResponse({"kind": "APIGroup", "apiVersion": "v1", **groups[group]})
            version = parts[2]
            if (group, version) not in self._types:
                raise _not_found_path()
            if len(parts) == 3:
                return JSONResponse(self._resource_list(group, version))
            return self._resource_request(request, at, group, version, parts[3:])
        raise _not_found_path()

    # --- discovery -------------------------------------------------------------------------

    def _read_version(self) -> dict[str, str]:
        kubelet = ""
        for resource_type in self.recording.catalog:
            if resource_type.kind == "Node" and not resource_type.group:
                for node in self.recording.objects(resource_type, self.recording.window.end):
                    kubelet = str((node.get("status") or {}).get("nodeInfo", {}).get("kubeletVersion") or "")
                    if kubelet:
                        break
        numbers = kubelet.lstrip("v").split(".")
        return {
            "major": numbers[0] if len(numbers) > 1 else "",
            "minor": numbers[1] if len(numbers) > 1 else "",
            "gitVersion": kubelet or "unknown",
            "gitCommit": "",
            "gitTreeState": "",
            "buildDate": "",
            "goVersion": "",
            "compiler": "",
            "platform": "recording/read-only",
        }

    def _groups(self) -> list[dict[str, Any]]:
        versions: dict[str, list[str]] = {}
        for group, version in self._types:
            if group:
                versions.setdefault(group, []).append(version)
        groups = []
        for group in sorted(versions):
            entries = [
                {"groupVersion": f"{group}/{v}", "version": v} for v in sorted(versions[group], reverse=True)
            ]
            groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
        return groups

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for plural in sorted(self._types.get((group, version), {})):
            resources.extend(self._types[(group, version)][plural].discovery())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # --- resources -------------------------------------------------------------------------

    def _resource_request(
        self, request: Request, at: datetime, group: str, version: str, parts: list[str]
    ) -> Response:
        types = self._types.get((group, version), {})
        namespace: str | None = None
        if parts[0] == "namespaces" and len(parts) >= 3 and parts[2] in types and types[parts[2]].namespaced:
            namespace, parts = parts[1], parts[2:]
        if len(parts) >= 3 and parts[2] in FORBIDDEN_SUBRESOURCES:
            raise ApiError(
                403,
                "Forbidden",
                f"{parts[0]}/{parts[2]} is not allowed: this API serves a recorded incident and is read-only",
            )
        if len(parts) > 3 or parts[0] not in types:
            raise _not_found_path()
        resource_type = types[parts[0]]
        if namespace is not None and not resource_type.namespaced:
            raise _not_found_path()
        name = parts[1] if len(parts) > 1 else None
        subresource = parts[2] if len(parts) > 2 else None
        if resource_type.group_version == METRICS_GROUP_VERSION:
            if subresource:
                raise _not_found_path()
            return self._metrics(request, at, resource_type, namespace, name)
        if subresource == "log" and resource_type.kind == "Pod" and not resource_type.group:
            assert name is not None
            return self._logs(request, at, namespace or "default", name)
        if subresource not in (None, "status"):
            raise _not_found_path()
        objects = self._objects(resource_type, at)
        if name is not None:
            if resource_type.namespaced and namespace is None:
                raise _not_found_path()
            found = next(
                (
                    obj
                    for obj in objects
                    if obj["metadata"].get("name") == name
                    and (not resource_type.namespaced or obj["metadata"].get("namespace") == namespace)
                ),
                None,
            )
            if found is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f'{resource_type.qualified} "{name}" not found',
                    {"name": name, "group": group, "kind": resource_type.plural},
                )
            return self._render(request, at, resource_type, [found], single=True)
        return self._list(request, at, resource_type, namespace, objects)

    def _objects(self, resource_type: ResourceType, at: datetime) -> list[Object]:
        if resource_type.kind == "Event" and resource_type.group in ("", "events.k8s.io"):
            convert = to_core if not resource_type.group else to_events_v1
            return [convert(event) for event in self.recording.events(at)]
        return self.recording.objects(resource_type, at)

    def _list(
        self,
        request: Request,
        at: datetime,
        resource_type: ResourceType,
        namespace: str | None,
        objects: list[Object],
    ) -> Response:
        query = request.query_params
        selected = [
            obj for obj in objects if namespace is None or obj["metadata"].get("namespace") == namespace
        ]
        if query.get("labelSelector"):
            requirements = parse_label_selector(query["labelSelector"])
            selected = [obj for obj in selected if labels_match(requirements, obj)]
        if query.get("fieldSelector"):
            field_requirements = parse_field_selector(query["fieldSelector"])
            events_v1 = resource_type.group == "events.k8s.io"
            selected = [
                obj
                for obj in selected
                if fields_match(field_requirements, obj, resource_type.kind, events_v1=events_v1)
            ]
        if query.get("watch") in ("true", "1"):
            return self._watch(query, selected)
        offset = _decode_continue(query.get("continue"))
        limit = _positive_int(query.get("limit"), "limit")
        page = selected[offset:]
        continue_token, remaining = "", 0
        if limit and len(page) > limit:
            remaining = len(page) - limit
            page = page[:limit]
            continue_token = base64.urlsafe_b64encode(
                json.dumps({"offset": offset + limit}).encode()
            ).decode()
        return self._render(
            request, at, resource_type, page, single=False, continue_token=continue_token, remaining=remaining
        )

    def _render(
        self,
        request: Request,
        at: datetime,
        resource_type: ResourceType,
        objects: Sequence[Object],
        *,
        single: bool,
        continue_token: str = "",
        remaining: int = 0,
    ) -> Response:
        accept = request.headers.get("accept", "")
        resource_version = resource_version_of(at)
        if "as=Table" in accept:
            columns, printer = printer_for(resource_type.kind, resource_type.printer_columns)
            if resource_type.group == "events.k8s.io":
                table_objects: Sequence[Object] = [to_core(obj) for obj in objects]
            else:
                table_objects = objects
            table = build_table(
                table_objects,
                columns,
                printer,
                at,
                include_object=request.query_params.get("includeObject", "Metadata"),
                resource_version=resource_version,
                continue_token=continue_token,
                remaining=remaining,
            )
            if (
                request.query_params.get("includeObject") == "Object"
                and resource_type.group == "events.k8s.io"
            ):
                for row, obj in zip(table["rows"], objects, strict=True):
                    row["object"] = obj
            return JSONResponse(table, media_type=TABLE_CONTENT_TYPE)
        if "as=PartialObjectMetadata" in accept:
            items = [
                {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata", {}),
                }
                for obj in objects
            ]
            if single:
                return JSONResponse(items[0])
            return JSONResponse(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": _list_metadata(resource_version, continue_token, remaining),
                    "items": items,
                }
            )
        if single:
            return JSONResponse(objects[0])
        return JSONResponse(
            {
                "kind": f"{resource_type.kind}List",
                "apiVersion": resource_type.group_version,
                "metadata": _list_metadata(resource_version, continue_token, remaining),
                "items": list(objects),
            }
        )

    def _watch(self, query: Any, objects: list[Object]) -> Response:
        """A watch on a frozen moment: the current objects (from resourceVersion 0) and no change."""
        seconds = _positive_int(query.get("timeoutSeconds"), "timeoutSeconds") or int(
            WATCH_LIMIT.total_seconds()
        )
        seconds = min(seconds, int(WATCH_LIMIT.total_seconds()))
        initial = objects if query.get("resourceVersion") in (None, "", "0") else []
        closing = self.closing

        async def stream() -> AsyncIterator[bytes]:
            for obj in initial:
                yield (json.dumps({"type": "ADDED", "object": obj}) + "\n").encode()
            with anyio.move_on_after(seconds):
                while not closing.is_set():
                    await anyio.sleep(0.5)

        return StreamingResponse(stream(), media_type="application/json")

    # --- pods/log --------------------------------------------------------------------------

    def _logs(self, request: Request, at: datetime, namespace: str, name: str) -> Response:
        pod_type = self._types[("", "v1")]["pods"]
        pod = next(
            (
                obj
                for obj in self.recording.objects(pod_type, at)
                if obj["metadata"].get("namespace") == namespace and obj["metadata"].get("name") == name
            ),
            None,
        )
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
        spec = pod.get("spec") or {}
        containers = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict)]
        init_containers = [
            str(c.get("name")) for c in spec.get("initContainers") or [] if isinstance(c, dict)
        ]
        query = request.query_params
        container = query.get("container") or ""
        if not container:
            if len(containers) != 1:
                message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
                if init_containers:
                    message += f" or one of the init containers: [{' '.join(init_containers)}]"
                raise ApiError(400, "BadRequest", message)
            container = containers[0]
        if container not in containers and container not in init_containers:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")

        since: datetime | None = None
        if query.get("sinceSeconds"):
            seconds = _positive_int(query.get("sinceSeconds"), "sinceSeconds")
            longest = int(MAX_DISTANCE.total_seconds())
            if seconds > longest:  # beyond it, at - sinceSeconds can leave the years a datetime holds
                raise ApiError(
                    400,
                    "BadRequest",
                    f"sinceSeconds: {seconds} is out of range; at most {longest} ({MAX_DISTANCE.days} days)",
                )
            since = at - timedelta(seconds=seconds)
        elif query.get("sinceTime"):
            since = parse_timestamp(query["sinceTime"])
            if since is None:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"sinceTime: cannot read {quoted(query['sinceTime'])} as an RFC 3339 time",
                )

        instances = self.recording.container_restart_counts(namespace, name, container, at)
        instance: int | None = instances[-1] if instances else None
        if query.get("previous") in ("true", "1"):
            if instance is None or instance - 1 not in instances:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'previous terminated container "{container}" in pod "{name}" not found',
                )
            instance -= 1
        lines = self.recording.log_lines(
            namespace,
            name,
            container,
            default_container=bool(containers) and container == containers[0],
            since=since,
            at=at,
            restart_count=instance,
        )
        tail = query.get("tailLines")
        if tail is not None and tail != "-1":
            count = _positive_int(tail, "tailLines")
            lines = lines[-count:] if count else []
        if query.get("timestamps") in ("true", "1"):
            text = "".join(f"{rfc3339_nano(line.ts)} {line.body}\n" for line in lines)
        else:
            text = "".join(f"{line.body}\n" for line in lines)
        if query.get("limitBytes"):
            text = text.encode()[: _positive_int(query["limitBytes"], "limitBytes")].decode(errors="ignore")
        return PlainTextResponse(text)

    # --- metrics.k8s.io ---------------------------------------------------------------------

    def _metrics(
        self,
        request: Request,
        at: datetime,
        resource_type: ResourceType,
        namespace: str | None,
        name: str | None,
    ) -> Response:
        usage = self.recording.container_usage(at)
        pod_type = self._types[("", "v1")]["pods"]
        pods = self.recording.objects(pod_type, at)
        window = "5m0s"
        items: list[Object] = []
        if resource_type.kind == "PodMetrics":
            selector = parse_label_selector(request.query_params.get("labelSelector", ""))
            for pod in pods:
                metadata = pod["metadata"]
                key = (metadata.get("namespace", ""), metadata.get("name", ""))
                if (namespace is not None and key[0] != namespace) or (name is not None and key[1] != name):
                    continue
                if key not in usage or not labels_match(selector, pod):
                    continue
                items.append(
                    {
                        "kind": "PodMetrics",
                        "apiVersion": METRICS_GROUP_VERSION,
                        "metadata": {
                            "name": key[1],
                            "namespace": key[0],
                            "labels": metadata.get("labels") or {},
                            "creationTimestamp": rfc3339(at),
                        },
                        "timestamp": rfc3339(at),
                        "window": window,
                        "containers": [
                            {"name": container, "usage": _usage(cpu, memory)}
                            for container, (cpu, memory) in sorted(usage[key].items())
                        ],
                    }
                )
        else:
            node_type = self._types[("", "v1")]["nodes"]
            for node in self.recording.objects(node_type, at):
                node_name = node["metadata"].get("name", "")
                if name is not None and node_name != name:
                    continue
                cpu = memory = 0.0
                seen = False
                for pod in pods:
                    key = (pod["metadata"].get("namespace", ""), pod["metadata"].get("name", ""))
                    if (pod.get("spec") or {}).get("nodeName") == node_name and key in usage:
                        seen = True
                        for pod_cpu, pod_memory in usage[key].values():
                            cpu += pod_cpu
                            memory += pod_memory
                if not seen:
                    continue
                items.append(
                    {
                        "kind": "NodeMetrics",
                        "apiVersion": METRICS_GROUP_VERSION,
                        "metadata": {
                            "name": node_name,
                            "labels": node["metadata"].get("labels") or {},
                            "creationTimestamp": rfc3339(at),
                        },
                        "timestamp": rfc3339(at),
                        "window": window,
                        "usage": _usage(cpu, memory),
                    }
                )
        if name is not None:
            if not items:
                raise ApiError(
                    404,
                    "NotFound",
                    f'{resource_type.qualified} "{name}" not found',
                    {"name": name, "group": "metrics.k8s.io", "kind": resource_type.plural},
                )
            return self._render(request, at, resource_type, items, single=True)
        return self._render(request, at, resource_type, items, single=False)


def _usage(cpu_cores: float, memory_bytes: float) -> dict[str, str]:
    return {"cpu": f"{round(cpu_cores * 1e9)}n", "memory": f"{round(memory_bytes / 1024)}Ki"}


def _list_metadata(resource_version: str, continue_token: str, remaining: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining:
        metadata["remainingItemCount"] = remaining
    return metadata


def _positive_int(text: str | None, what: str) -> int:
    if text is None or text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, "BadRequest", f"{what}: {quoted(text)} is not a whole number") from None
    if value < 0:
        raise ApiError(400, "BadRequest", f"{what}: must not be negative, got {value}")
    return value


def _decode_continue(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "BadRequest", "continue: the token is not one this server issued") from None
    if not isinstance(offset, int) or offset < 0:
        raise ApiError(400, "BadRequest", "continue: the token is not one this server issued")
    return offset
