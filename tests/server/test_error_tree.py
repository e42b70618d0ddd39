"""Every error the server raises on purpose sits under ``ItbenchError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import itbench_server
from itbench_server.diagnosis import SubmissionFormatError
from itbench_server.errors import ItbenchError
from itbench_server.kube.api import ApiError


def _server_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(itbench_server.__path__, prefix="itbench_server."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("itbench_server.")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def test_every_exception_class_of_the_server_derives_from_itbench_error() -> None:
    exceptions = _server_exceptions()
    assert {"QueryError", "SnapshotFileError", "ApiError", "SubmissionFormatError"} <= {
        cls.__name__ for cls in exceptions
    }
    assert [cls.__name__ for cls in exceptions if not issubclass(cls, ItbenchError)] == []


def test_a_submission_format_error_is_still_a_value_error() -> None:
    assert issubclass(SubmissionFormatError, ValueError)


def test_an_api_error_keeps_its_status_fields_under_the_base() -> None:
    error = ApiError(404, "NotFound", 'pods "x" not found', {"kind": "pods"})
    assert isinstance(error, ItbenchError)
    assert (error.code, error.reason, str(error), error.details) == (
        404,
        "NotFound",
        'pods "x" not found',
        {"kind": "pods"},
    )
