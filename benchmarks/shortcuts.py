"""How often a one-signal shortcut names a root cause, over generated incidents.

    python benchmarks/shortcuts.py DIR [DIR ...]      # each DIR a scenario or a suite of them
    python benchmarks/shortcuts.py --suite aa          # writes the look-alike suite first (cache)

Reads only the incidents' files and answer keys (no tool of the server): for each scenario, each
shortcut below names one object, and the evaluator's matcher says whether that object is in a
root-cause alias set of the key.

* ``warnings``: the object with the most Warning events (summed ``count``, last record of each event);
* ``first-change``: the first object created, changed or deleted after the first listing;
* ``first-alert``: the entity of the alert that became active first (Watchdog aside);
* ``error-logs``: the service with the most ERROR (or worse) log records;
* ``newest-rollout``: the Deployment owning the newest ReplicaSet.

Prints a Markdown table (one row per shortcut: how many scenarios it solves) and, with
``--per-scenario``, what each shortcut named in each scenario.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from itbench_eval.groundtruth import GroundTruth, load_ground_truth
from itbench_eval.matching import match_names

csv.field_size_limit(1 << 30)
SHORTCUTS = ("warnings", "first-change", "first-alert", "error-logs", "newest-rollout")
_CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "CustomResourceDefinition",
}


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _find(scenario: Path, name: str) -> Path:
    direct = scenario / name
    if direct.is_file():
        return direct
    found = sorted(scenario.rglob(name))
    return found[0] if found else direct


def _entity(namespace: str | None, kind: str, name: str) -> str:
    return f"{namespace or '_'}/{kind}/{name}"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def warnings(scenario: Path) -> str | None:
    latest: dict[str, tuple[str, int]] = {}
    for row in _rows(_find(scenario, "k8s_events_raw.tsv")):
        body = _json(row["Body"])
        event = body.get("object", body) if isinstance(body, dict) else None
        if not isinstance(event, dict) or event.get("type") != "Warning":
            continue
        involved = event.get("involvedObject") or {}
        meta = event.get("metadata") or {}
        uid = meta.get("uid") or meta.get("name") or json.dumps(involved, sort_keys=True)
        key = _entity(involved.get("namespace"), involved.get("kind", ""), involved.get("name", ""))
        latest[uid] = (key, int(event.get("count") or 1))
    totals: Counter[str] = Counter()
    for key, count in latest.values():
        totals[key] += count
    return totals.most_common(1)[0][0] if totals else None


def _object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    kind = obj.get("kind", "")
    namespace = None if kind in _CLUSTER_SCOPED else meta.get("namespace")
    return _entity(namespace, kind, meta.get("name", ""))


def _listings(scenario: Path) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    snapshots: dict[str, dict[str, dict[str, Any]]] = {}
    for row in _rows(_find(scenario, "k8s_objects_raw.tsv")):
        obj = _json(row["Body"])
        if isinstance(obj, dict) and isinstance(obj.get("object"), dict):
            obj = obj["object"]
        if not isinstance(obj, dict):
            continue
        stamp = row["Timestamp"][:16]  # one listing: the same minute
        snapshots.setdefault(stamp, {})[_object_key(obj)] = obj
    return sorted(snapshots.items())


def _content(obj: dict[str, Any]) -> str:
    """What get_changes compares: the object without its status and metadata bookkeeping."""
    meta = obj.get("metadata") or {}
    kept = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
    kept["metadata"] = {k: meta.get(k) for k in ("labels", "annotations", "ownerReferences") if k in meta}
    return json.dumps(kept, sort_keys=True)


def first_change(scenario: Path) -> str | None:
    """The earliest object that appeared, disappeared or changed between two listings (Endpoints
    aside), dated by its creation or last managed-fields time when it has one."""
    listings = _listings(scenario)
    found: list[tuple[str, int, str]] = []
    order = 0
    for (stamp, before), (after_stamp, after) in itertools.pairwise(listings):
        for key, obj in after.items():
            if obj.get("kind") in ("Endpoints", "EndpointSlice"):
                continue
            meta = obj.get("metadata") or {}
            if key not in before:
                when = meta.get("creationTimestamp") or after_stamp
            elif _content(obj) != _content(before[key]):
                times = [f.get("time") or "" for f in meta.get("managedFields") or []]
                when = max(times) if times and max(times) > stamp.replace(" ", "T") else after_stamp
            else:
                continue
            found.append((when.replace(" ", "T"), order, key))
            order += 1
        for key, obj in before.items():
            if key not in after and obj.get("kind") not in ("Endpoints", "EndpointSlice"):
                when = (obj.get("metadata") or {}).get("deletionTimestamp") or after_stamp
                found.append((when.replace(" ", "T"), order, key))
                order += 1
    return min(found)[2] if found else None


def newest_rollout(scenario: Path) -> str | None:
    listings = _listings(scenario)
    best: tuple[str, str] | None = None
    for _, objects in listings:
        for obj in objects.values():
            if obj.get("kind") != "ReplicaSet":
                continue
            meta = obj.get("metadata") or {}
            owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "Deployment"]
            if not owners:
                continue
            stamp = meta.get("creationTimestamp") or ""
            key = _entity(meta.get("namespace"), "Deployment", owners[0]["name"])
            if best is None or stamp > best[0]:
                best = (stamp, key)
    return best[1] if best else None


def first_alert(scenario: Path) -> str | None:
    best: tuple[str, str] | None = None
    for path in sorted(scenario.rglob("alerts_at_*.json")):
        data = _json(path.read_text(encoding="utf-8"))
        alerts = data.get("data", {}).get("alerts", []) if isinstance(data, dict) else data or []
        for alert in alerts:
            labels = alert.get("labels") or {}
            if labels.get("alertname") in ("Watchdog", "InfoInhibitor"):
                continue
            namespace = labels.get("namespace")
            if labels.get("service_name"):
                key = _entity(namespace, "Service", labels["service_name"])
            elif labels.get("pod"):
                key = _entity(namespace, "Pod", labels["pod"])
            elif labels.get("deployment"):
                key = _entity(namespace, "Deployment", labels["deployment"])
            elif labels.get("horizontalpodautoscaler"):
                key = _entity(namespace, "HorizontalPodAutoscaler", labels["horizontalpodautoscaler"])
            elif labels.get("node"):
                key = _entity(None, "Node", labels["node"])
            elif namespace:
                key = _entity(None, "Namespace", namespace)
            else:
                continue
            stamp = alert.get("activeAt") or ""
            if best is None or stamp < best[0]:
                best = (stamp, key)
    return best[1] if best else None


def error_logs(scenario: Path) -> str | None:
    counts: Counter[str] = Counter()
    namespaces: dict[str, str] = {}
    for row in _rows(_find(scenario, "otel_logs_raw.tsv")):
        severity = row.get("SeverityText", "").upper()
        number = int(row.get("SeverityNumber") or 0)
        if severity in ("ERROR", "FATAL", "CRITICAL") or number >= 17:
            counts[row["ServiceName"]] += 1
            namespaces.setdefault(row["ServiceName"], "otel-demo")
    if not counts:
        return None
    service = counts.most_common(1)[0][0]
    return _entity(namespaces[service], "Service", service)


FUNCTIONS = {
    "warnings": warnings,
    "first-change": first_change,
    "first-alert": first_alert,
    "error-logs": error_logs,
    "newest-rollout": newest_rollout,
}


def names_root(ground_truth: GroundTruth, name: str | None) -> bool:
    if name is None:
        return False
    roots = {ground_truth.set_ids[group.id] for group in ground_truth.root_cause_groups}
    match = match_names(ground_truth, [name])[0]
    return match.group_id is not None and ground_truth.set_ids.get(match.group_id) in roots


def scenario_dirs(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if (path / "ground_truth.yaml").is_file():
            found.append(path)
        else:
            found.extend(sorted(p.parent for p in path.glob("*/ground_truth.yaml")))
    return found


def measure(scenario: Path) -> dict[str, tuple[str | None, bool]]:
    ground_truth = load_ground_truth(scenario / "ground_truth.yaml")
    out: dict[str, tuple[str | None, bool]] = {}
    for shortcut, function in FUNCTIONS.items():
        name = function(scenario)
        out[shortcut] = (name, names_root(ground_truth, name))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="How often each one-signal shortcut names a root cause.")
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--suite", help="a look-alike suite (written into the cache when missing)")
    parser.add_argument("--per-scenario", action="store_true")
    args = parser.parse_args(argv)
    dirs = list(args.dirs)
    if args.suite:
        from itbench_server.synth.generator import cached_suite

        dirs.append(Path(cached_suite(args.suite)))
    scenarios = scenario_dirs(dirs)
    if not scenarios:
        parser.error("no scenario (a directory with ground_truth.yaml) found")
    solved: Counter[str] = Counter()
    for scenario in scenarios:
        result = measure(scenario)
        for shortcut, (name, hit) in result.items():
            solved[shortcut] += hit
            if args.per_scenario:
                print(f"{scenario.name}\t{shortcut}\t{'ROOT' if hit else '-'}\t{name}")
    total = len(scenarios)
    print("\n| shortcut | names a root cause | share |\n| --- | ---: | ---: |")
    for shortcut in SHORTCUTS:
        print(f"| {shortcut} | {solved[shortcut]} of {total} | {solved[shortcut] / total:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
