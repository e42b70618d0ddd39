"""Serve recorded Kubernetes incidents as read-only MCP investigation tools.

Layers, data flowing one way: ``snapshot`` (find, parse and index a scenario directory)
-> ``analysis`` (typed queries over the index) -> ``kube`` (a read-only Kubernetes API over
the recording) and ``mcp`` (the MCP server and its tools).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("itbench-server")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
