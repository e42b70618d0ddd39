"""The recording of ``kube_recording`` with what the misleading kubectl cases need added.

- ``email``: a Deployment whose only pod, ``email-5c7d9-fghjk``, is listed at 17:20 and 17:25
  and gone from the 17:30 listing on (no pod replaces it). The pod had restarted three times, but
  its log records do not say which container instance wrote them; one record is a stack trace of
  three lines.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from incident_index import WINDOW_START, build_index
from kube_recording import (
    LISTING_MINUTES,
    cluster_events,
    cluster_objects,
    container_logs,
    object_row,
    stamp,
    usage_samples,
)

from itbench_server.snapshot.snapshot import Snapshot

EMAIL_POD = "email-5c7d9-fghjk"
STACK_TRACE = "java.lang.IllegalStateException: no SMTP relay\n\tat Mailer.send(Mailer.java:42)\n\tat Main.run(Main.java:7)"


def email_objects() -> list[dict[str, Any]]:
    labels = {"app": "email"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "email", "image": "demo:email"}]},
    }
    rows = []
    for minute in LISTING_MINUTES:
        rows.append(
            object_row(
                minute,
                "Deployment",
                "otel-demo",
                "email",
                {
                    "apiVersion": "apps/v1",
                    "metadata": {"labels": labels},
                    "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
                    "status": {"replicas": 1, "readyReplicas": 0},
                },
                "deployments",
            )
        )
        if minute > 5:
            continue
        rows.append(
            object_row(
                minute,
                "Pod",
                "otel-demo",
                EMAIL_POD,
                {
                    "metadata": {
                        "labels": labels,
                        "ownerReferences": [
                            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "email-5c7d9"}
                        ],
                    },
                    "spec": {
                        "nodeName": "worker-1",
                        "containers": [{"name": "email", "image": "demo:email"}],
                    },
                    "status": {
                        "phase": "Running",
                        "podIP": "10.244.1.20",
                        "startTime": stamp(-30),
                        "containerStatuses": [
                            {
                                "name": "email",
                                "image": "demo:email",
                                "ready": False,
                                "restartCount": 3,
                                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                            }
                        ],
                    },
                },
                "pods",
            )
        )
    return rows


def email_logs() -> list[dict[str, Any]]:
    bodies = ["starting email service", "connecting to smtp-relay:25", STACK_TRACE]
    return [
        {
            "ts": WINDOW_START + timedelta(minutes=index + 1),
            "service": "email",
            "namespace": "otel-demo",
            "pod": EMAIL_POD,
            "container": "email",
            "severity": "ERROR" if "Exception" in body else "INFO",
            "body": body,
            "resource_attributes": "{}",
            "log_attributes": "{}",
        }
        for index, body in enumerate(bodies)
    ]


def build_cases_index(directory: Path) -> Snapshot:
    """The recording of ``kube_recording`` and the cases above, as a DuckDB index."""
    tables = {
        "objects": cluster_objects() + email_objects(),
        "events": cluster_events(),
        "logs": container_logs() + email_logs(),
        "samples": usage_samples(),
    }
    return build_index(directory, tables)
