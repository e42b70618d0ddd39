"""Which resource types the API serves, from the built-in list and the recording."""

from __future__ import annotations

import json

from itbench_server.kube.catalog import RecordedKind, build_catalog
from itbench_server.kube.printers import PrinterColumn


def test_recorded_kinds_are_served_under_their_group_with_the_fitting_table() -> None:
    crd = {
        "spec": {
            "group": "chaos-mesh.org",
            "names": {
                "kind": "StressChaos",
                "plural": "stresschaos",
                "singular": "stresschaos",
                "shortNames": ["sc2"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "additionalPrinterColumns": [
                        {"name": "duration", "type": "string", "jsonPath": ".spec.duration"}
                    ],
                },
                {"name": "v1alpha0", "served": False},
            ],
        }
    }
    recorded = [
        RecordedKind("chaos-mesh.org/v1alpha1", "PodChaos", "podchaos", namespaced=True),
        RecordedKind("chaos-mesh.org/v1alpha1", "StressChaos", "stresschaos", namespaced=True),
        RecordedKind("storage.k8s.io/v1", "CSIStorageCapacity", "", namespaced=True),
        RecordedKind("v1", "Pod", "pods", namespaced=True),
    ]
    served = {(t.group_version, t.plural): t for t in build_catalog([json.dumps(crd)], recorded)}

    stress = served[("chaos-mesh.org/v1alpha1", "stresschaos")]
    assert (stress.short_names, stress.printer_columns) == (
        ("sc2",),
        (PrinterColumn("duration", "string", ".spec.duration"),),
    )
    assert ("chaos-mesh.org/v1alpha0", "stresschaos") not in served
    assert served[("chaos-mesh.org/v1alpha1", "podchaos")].printer_columns == ()
    capacities = served[("storage.k8s.io/v1", "csistoragecapacities")]
    assert (capacities.kind, capacities.namespaced, capacities.printer_columns) == (
        "CSIStorageCapacity",
        True,
        None,
    )
    assert [t.kind for t in served.values() if t.plural == "pods"] == ["Pod"]
