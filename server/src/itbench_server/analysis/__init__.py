"""Layer 2: plain, typed functions over an opened snapshot's index.

Each module answers one kind of question and pushes the work into DuckDB SQL, so that only the
rows shown come back to Python:

- ``timeparse``: user times (RFC 3339 or relative to the window) and durations;
- ``entities``: ``namespace/Kind/name`` references and their resolution, short forms included;
- ``alerts``: the alert timeline and the default pivot time of an incident;
- ``logs``: log lines, log templates and counts;
- ``metrics``: metric listings, series (rates, histogram quantiles) and anomaly ranking;
- ``traces``: per-operation summaries, error traces and trace trees;
- ``events``: Kubernetes events grouped by object, reason and message;
- ``topology``: the service call graph and the Kubernetes object graph;
- ``changes``: field-level changes of objects between listings, and one object at two times;
- ``cluster``: the cluster as of a time T (the listing rounds), shared by kubectl and the overview;
- ``overview``: namespaces, workloads, alerts and the data a recording holds;
- ``errors`` and ``minutes``: each service's first error and error onset, counts per minute;
- ``timeline``: changes, appearances, warnings, alerts and error onsets in one time order;
- ``addresses``: the Pod, Service or Node behind an IP, a host name or a host:port.
"""

__all__: list[str] = []
