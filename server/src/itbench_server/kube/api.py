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
import anyio.from_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from itbench_server.analysis.timeparse import MAX_DISTANCE, check_in_recording, parse_time
from itbench_server.errors import ItbenchError, QueryError, quoted
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

__all__ = [
    "FORBIDDEN_SUBRESOURCES",
    "READ_VERBS",
    "TABLE_CONTENT_TYPE",
    "TIME_PREFIX",
    "WATCH_LIMIT",
    "ApiError",
    "KubeApi",
    "status_response",
]

Object = dict[str, Any]

TIME_PREFIX = "at"
"""``/at/<time>/...`` selects the viewed time."""

FORBIDDEN_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})
READ_VERBS = ("get", "list", "watch")
_ACCESS_REVIEWS = [
    ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"],
    ["apis", "authorization.k8s.io", "v1", "selfsubjectrulesreviews"],
]

WATCH_LIMIT = timedelta(minutes=10)
TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class ApiError(ItbenchError):
    """An error answered with a Kubernetes ``Status`` body (its HTTP code, reason and message)."""

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
            if request.method == "POST" and parts in _ACCESS_REVIEWS:
                return self._access_review(request, parts[3:])
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
        if head == "openapi":
            return self._openapi(parts[1:])
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

    # --- schemas (kubectl explain) -------------------------------------------------------------

    def _openapi(self, parts: list[str]) -> Response:
        """OpenAPI v3 documents that say, for every served kind, that the recording holds no schema
        and how to see the fields instead; ``kubectl explain`` prints that. (v2 is not served.)"""
        if parts[:1] != ["v3"]:
            raise _not_found_path()
        rest = parts[1:]
        if not rest:
            paths = {
                (f"apis/{group}/{version}" if group else f"api/{version}"): {
                    "serverRelativeURL": f"/openapi/v3/{'apis/' + group if group else 'api'}/{version}"
                }
                for group, version in sorted(self._types)
            }
            return JSONResponse({"paths": paths})
        if rest[0] == "api" and len(rest) == 2:
            group, version = "", rest[1]
        elif rest[0] == "apis" and len(rest) == 3:
            group, version = rest[1], rest[2]
        else:
            raise _not_found_path()
        if (group, version) not in self._types:
            raise _not_found_path()
        schemas: dict[str, Any] = {}
        operations: dict[str, Any] = {}
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for resource_type in self._types[(group, version)].values():
            name = f"{group or 'core'}.{version}.{resource_type.kind}"
            schemas[name] = _schema_of(resource_type)
            scope = "/namespaces/{namespace}" if resource_type.namespaced else ""
            # explain finds a resource's kind through the GET operation of its path
            operation = {
                "get": {
                    "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": {
                        "group": group,
                        "version": version,
                        "kind": resource_type.kind,
                    },
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                            },
                        }
                    },
                }
            }
            operations[f"{prefix}{scope}/{resource_type.plural}/{{name}}"] = operation
        document = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes (recorded incident)", "version": self._version["gitVersion"]},
            "paths": operations,
            "components": {"schemas": schemas},
        }
        return JSONResponse(document)

    # --- permissions -----------------------------------------------------------------------

    def _access_review(self, request: Request, kind: list[str]) -> Response:
        """Answer a SelfSubjectAccessReview (``kubectl auth can-i``) or SelfSubjectRulesReview as a
        read-only server would: get, list and watch are allowed on everything but Secrets; nothing
        else is. Nothing is stored."""
        body = _request_body(request, rules=kind == ["selfsubjectrulesreviews"])
        found = body.get("spec")
        spec: dict[str, Any] = found if isinstance(found, dict) else {}
        if kind == ["selfsubjectrulesreviews"]:
            status: dict[str, Any] = {
                "resourceRules": [{"verbs": list(READ_VERBS), "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}],
                "incomplete": False,
            }
            answer_kind = "SelfSubjectRulesReview"
        else:
            attributes = spec.get("resourceAttributes")
            attributes = attributes if isinstance(attributes, dict) else {}
            non_resource = spec.get("nonResourceAttributes")
            non_resource = non_resource if isinstance(non_resource, dict) else {}
            verb = str(attributes.get("verb") or non_resource.get("verb") or "")
            resource = str(attributes.get("resource") or "")
            subresource = str(attributes.get("subresource") or "")
            allowed = (
                verb in READ_VERBS and resource != "secrets" and subresource not in FORBIDDEN_SUBRESOURCES
            )
            status = {"allowed": allowed}
            if not allowed:
                status["reason"] = (
                    "this API serves a recorded incident and is read-only: only get, list and watch are "
                    "allowed, and Secrets are never served"
                )
            answer_kind = "SelfSubjectAccessReview"
        answer = {
            "kind": answer_kind,
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        return JSONResponse(answer, status_code=201)

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
        try:  # discovery answers at any time; the recorded cluster only inside the recording
            check_in_recording(at, self.recording.window, what="the viewed time")
        except QueryError as error:
            raise ApiError(400, "BadRequest", str(error)) from None
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
                raise ApiError(400, "BadRequest", _no_previous_message(pod, container, instances))
            instance -= 1
        tail = query.get("tailLines")
        count = _positive_int(tail, "tailLines") if tail is not None and tail != "-1" else None
        records = self.recording.log_lines(
            namespace,
            name,
            container,
            default_container=bool(containers) and container == containers[0],
            since=since,
            at=at,
            restart_count=instance,
            last=count,  # every record holds one line at least, so the last N records hold the last N lines
        )
        # A record may hold several lines (a stack trace); the kubelet stores, counts (--tail) and
        # stamps (--timestamps) each line.
        lines = [(record.ts, line) for record in records for line in record.body.split("\n")]
        if count is not None:
            lines = lines[-count:] if count else []
        if query.get("timestamps") in ("true", "1"):
            text = "".join(f"{rfc3339_nano(ts)} {line}\n" for ts, line in lines)
        else:
            text = "".join(f"{line}\n" for _, line in lines)
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


def _schema_of(resource_type: ResourceType) -> dict[str, Any]:
    """The schema ``kubectl explain`` shows for a kind: no fields documented, and how to see them."""
    read = f"kubectl get {resource_type.plural} <name>{' -n <namespace>' if resource_type.namespaced else ''} -o yaml"
    note = (
        f"The API schemas (OpenAPI) are not in the recording, so the fields of {resource_type.kind} are not "
        f"documented here. To see the fields a recorded {resource_type.kind} really has, read one: {read}"
    )
    see = f"Its fields are not documented here (no schemas are recorded); to see them, read a {resource_type.kind}: {read}"
    fields = {
        "apiVersion": ("string", "the API version of the object"),
        "kind": ("string", "the kind of the object"),
        "metadata": ("object", "the object's name, namespace, labels, annotations and owners"),
        "spec": ("object", f"The desired state. {see}"),
        "status": ("object", f"The observed state. {see}"),
    }
    return {
        "type": "object",
        "description": note,
        "properties": {name: {"type": kind, "description": text} for name, (kind, text) in fields.items()},
        "x-kubernetes-group-version-kind": [
            {"group": resource_type.group, "version": resource_type.version, "kind": resource_type.kind}
        ],
    }


def _no_previous_message(pod: Object, container: str, instances: list[int]) -> str:
    """Why ``logs --previous`` has nothing: the container never restarted (a real server's words),
    or it did but the recording does not hold its earlier instance's lines."""
    name = pod["metadata"].get("name", "")
    status = pod.get("status") or {}
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    restarts = next(
        (
            int(item.get("restartCount") or 0)
            for item in statuses
            if isinstance(item, dict) and item.get("name") == container
        ),
        0,
    )
    if not restarts:
        return f'previous terminated container "{container}" in pod "{name}" not found'
    if instances:
        recorded = ", ".join(str(number) for number in instances)
        why = f"its recorded lines belong to instance {recorded} only (k8s.container.restart_count)"
    else:
        why = (
            "its log records do not say which instance wrote them (no k8s.container.restart_count), so all "
            f"of them are shown without --previous: kubectl logs {name} -c {container}"
        )
    return (
        f'the previous instance of container "{container}" in pod "{name}" was not recorded: the pod says '
        f"it restarted {restarts} times, but {why}; describe pod {name} shows its last state"
    )


def _usage(cpu_cores: float, memory_bytes: float) -> dict[str, str]:
    return {"cpu": f"{round(cpu_cores * 1e9)}n", "memory": f"{round(memory_bytes / 1024)}Ki"}


def _list_metadata(resource_version: str, continue_token: str, remaining: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining:
        metadata["remainingItemCount"] = remaining
    return metadata


def _request_body(request: Request, *, rules: bool = False) -> dict[str, Any]:
    """The object a request carries, JSON or Kubernetes protobuf (at most 64 KiB), as a dict; called
    from a handler's worker thread. Protobuf bodies are read as far as an access review needs:
    the spec's resource and non-resource attributes (kubectl sends its reviews that way)."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > 65536:
        raise ApiError(
            413, "RequestEntityTooLarge", "the request body must declare a length of at most 64 KiB"
        )

    async def read() -> bytes:
        return await request.body()

    raw = anyio.from_thread.run(read)
    if "protobuf" in request.headers.get("content-type", ""):
        try:
            return _access_review_from_protobuf(raw, rules=rules)
        except (ValueError, IndexError):
            raise ApiError(
                400, "BadRequest", "the request body is not a Kubernetes protobuf object"
            ) from None
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "BadRequest", "the request body is not JSON") from None
    return value if isinstance(value, dict) else {}


def _protobuf_fields(data: bytes) -> dict[int, list[bytes | int]]:
    """The fields of one protobuf message: number -> values (bytes for length-delimited fields)."""
    fields: dict[int, list[bytes | int]] = {}
    position = 0

    def varint() -> int:
        nonlocal position
        value = shift = 0
        while True:
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
            if shift > 63:
                raise ValueError("varint too long")

    while position < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.setdefault(number, []).append(varint())
        elif wire == 2:
            size = varint()
            if position + size > len(data):
                raise ValueError("field past the end")
            fields.setdefault(number, []).append(data[position : position + size])
            position += size
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire}")
    return fields


def _protobuf_strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    fields = _protobuf_fields(data)
    return {
        name: value.decode("utf-8", "replace")
        for number, name in names.items()
        if isinstance(value := (fields.get(number) or [b""])[-1], bytes) and value
    }


def _access_review_from_protobuf(raw: bytes, *, rules: bool) -> dict[str, Any]:
    """The spec of a SelfSubjectAccessReview or SelfSubjectRulesReview sent as Kubernetes protobuf
    (the ``k8s\\0`` envelope around a ``runtime.Unknown``)."""
    if not raw.startswith(b"k8s\x00"):
        raise ValueError("no envelope")
    unknown = _protobuf_fields(raw[4:])
    message = unknown.get(2, [b""])[-1]
    if not isinstance(message, bytes):
        raise ValueError("no object")
    spec = _protobuf_fields(message).get(2, [b""])[-1]
    if not isinstance(spec, bytes):
        raise ValueError("no spec")
    if rules:  # SelfSubjectRulesReviewSpec: the namespace
        return {"spec": _protobuf_strings(spec, {1: "namespace"})}
    spec_fields = _protobuf_fields(spec)
    resource = spec_fields.get(1, [b""])[-1]
    non_resource = spec_fields.get(2, [b""])[-1]
    result: dict[str, Any] = {}
    if isinstance(resource, bytes) and resource:
        result["resourceAttributes"] = _protobuf_strings(
            resource,
            {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"},
        )
    if isinstance(non_resource, bytes) and non_resource:
        result["nonResourceAttributes"] = _protobuf_strings(non_resource, {1: "path", 2: "verb"})
    return {"spec": result}


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
