"""Out-of-range times and numbers in API requests are bad requests (400) that say what is allowed,
never a server error (500)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from itbench_server.kube.facade import KubeFacade

LOG = "/api/v1/namespaces/otel-demo/pods/frontend-7c9f-abcde/log"


@pytest.fixture(scope="module")
def http(facade: KubeFacade) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cadata=facade.ca_pem.decode())
    headers = {"Authorization": f"Bearer {facade.token}"}
    with httpx.Client(base_url=facade.url, verify=context, headers=headers, timeout=30) as connected:
        yield connected


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/at/start+99999999h/api/v1/pods", {}, "time in the URL: the duration '99999999h' is too long"),
        (
            "/at/9999-12-31T23:59:59Z/api/v1/pods",
            {},
            "time in the URL: 9999-12-31T23:59:59Z is more than 366 days",
        ),
        (
            "/at/0001-01-01T00:00:00Z/api/v1/pods",
            {},
            "time in the URL: 0001-01-01T00:00:00Z is more than 366 days",
        ),
        (
            "/at/0001-01-01T00:00:00+01:00/api/v1/pods",
            {},
            "time in the URL: cannot read '0001-01-01T00:00:00+01:00' as a time",
        ),
        (
            LOG,
            {"container": "envoy", "sinceSeconds": "359999996400"},
            "sinceSeconds: 359999996400 is out of range",
        ),
        (
            LOG,
            {"container": "envoy", "sinceSeconds": str(2**63)},
            "sinceSeconds: 9223372036854775808 is out of range",
        ),
        (LOG, {"container": "envoy", "sinceSeconds": "9" * 5000}, "sinceSeconds: '99999"),
        (
            LOG,
            {"container": "envoy", "sinceTime": "0001-01-01T00:00:00+01:00"},
            "sinceTime: cannot read '0001-01-01T00:00:00+01:00' as an RFC 3339 time",
        ),
    ],
)
def test_out_of_range_times_and_since_seconds_are_bad_requests(
    http: httpx.Client, path: str, params: dict[str, str], message: str
) -> None:
    response = http.get(path, params=params)

    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert response.json()["message"].startswith(message)
    assert len(response.json()["message"]) < 1_000


@pytest.mark.parametrize("since_time", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_a_since_time_far_from_the_recording_is_served_as_a_real_server_would(
    http: httpx.Client, since_time: str
) -> None:
    response = http.get(LOG, params={"container": "envoy", "sinceTime": since_time})

    assert response.status_code == 200
