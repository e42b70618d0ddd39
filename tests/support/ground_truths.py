"""Ground truths and paths shared by the scoring tests."""

from __future__ import annotations

from pathlib import Path

from itbench_eval.groundtruth import GroundTruth, ground_truth_from_yaml

SHARED_GROUND_TRUTH_DIR = Path(__file__).resolve().parents[3] / "shared" / "itbench" / "ground_truth"


def real_ground_truth_files() -> list[Path]:
    """The published v1 ground truths, when the shared data is present."""
    return sorted(SHARED_GROUND_TRUTH_DIR.glob("*/groundtruth_v1.yaml"))


# The shape of a real quota incident: the namespace is the root cause, the ad workload and the
# frontends are symptoms; the ad Service, Pods, Deployment and ReplicaSet are one alias set.
QUOTA_INCIDENT_YAML = """
apiVersion: itbench.io/v1
kind: GroundTruth
metadata: {name: quota}
spec:
  groups:
    - {id: otel-demo-namespace-1, kind: Namespace, filter: [otel-demo], root_cause: true}
    - {id: ad-pod-1, kind: Pod, namespace: otel-demo, filter: [ad-.*]}
    - {id: ad-service-1, kind: Service, namespace: otel-demo, filter: ['ad\\b']}
    - {id: ad-deployment-1, kind: Deployment, namespace: otel-demo, filter: ['ad\\b']}
    - {id: frontend-service-1, kind: Service, namespace: otel-demo, filter: ['frontend\\b']}
    - {id: frontend-pod-1, kind: Pod, namespace: otel-demo, filter: [frontend-.*]}
    - {id: frontend-proxy-service-1, kind: Service, namespace: otel-demo, filter: ['frontend-proxy\\b']}
    - {id: frontend-proxy-pod-1, kind: Pod, namespace: otel-demo, filter: [frontend-proxy-.*]}
  aliases:
    - [ad-service-1, ad-pod-1, ad-deployment-1]
    - [frontend-service-1, frontend-pod-1]
    - [frontend-proxy-service-1, frontend-proxy-pod-1]
  propagations:
    - {source: otel-demo-namespace-1, target: ad-deployment-1}
    - {source: ad-deployment-1, target: ad-pod-1}
    - {source: ad-pod-1, target: ad-service-1}
    - {source: ad-service-1, target: frontend-service-1}
    - {source: frontend-service-1, target: frontend-proxy-service-1}
"""

# Two independent root causes: a bad feature flag and a chaos experiment.
TWO_ROOT_CAUSES_YAML = """
groups:
  - {id: flagd-config-1, kind: ConfigMap, namespace: otel-demo, name: flagd-config, root_cause: true}
  - {id: delay-product-catalog-1, kind: NetworkChaos, namespace: chaos-mesh,
     filter: ['.*product-catalog'], root_cause: true}
  - {id: product-catalog-service-1, kind: Service, namespace: otel-demo, filter: ['product-catalog\\b']}
  - {id: checkout-service-1, kind: Service, namespace: otel-demo, filter: ['checkout\\b']}
propagations:
  - {source: delay-product-catalog-1, target: product-catalog-service-1}
  - {source: product-catalog-service-1, target: checkout-service-1}
  - {source: flagd-config-1, target: checkout-service-1}
"""


def quota_incident() -> GroundTruth:
    return ground_truth_from_yaml(QUOTA_INCIDENT_YAML, "quota.yaml")


def two_root_causes() -> GroundTruth:
    return ground_truth_from_yaml(TWO_ROOT_CAUSES_YAML, "two.yaml")


# The worked example of docs/scoring.md, verbatim.
WORKED_EXAMPLE_YAML = """
groups:
  - {id: otel-demo-namespace-1, kind: Namespace, filter: [otel-demo], root_cause: true}
  - {id: ad-pod-1, kind: Pod, namespace: otel-demo, filter: [ad-.*]}
  - {id: ad-service-1, kind: Service, namespace: otel-demo, filter: ['ad\\b']}
  - {id: ad-deployment-1, kind: Deployment, namespace: otel-demo, filter: ['ad\\b']}
  - {id: frontend-service-1, kind: Service, namespace: otel-demo, filter: ['frontend\\b']}
  - {id: frontend-proxy-service-1, kind: Service, namespace: otel-demo, filter: ['frontend-proxy\\b']}
aliases:
  - [ad-service-1, ad-pod-1, ad-deployment-1]
propagations:
  - {source: otel-demo-namespace-1, target: ad-deployment-1}
  - {source: ad-deployment-1, target: ad-pod-1}
  - {source: ad-pod-1, target: ad-service-1}
  - {source: ad-service-1, target: frontend-service-1}
  - {source: frontend-service-1, target: frontend-proxy-service-1}
"""
