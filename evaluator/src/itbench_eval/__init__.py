"""Drive MCP-capable agents through recorded Kubernetes incidents and score their diagnoses.

Scoring (``groundtruth``, ``matching``, ``scoring``, ``metrics``, ``judge``) follows ITBench-AA's
"average precision at full recall" and also computes IBM ITBench's older metrics.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("itbench-eval")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
