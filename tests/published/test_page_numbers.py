"""Page-number paging (/feature, /engagement, /segment) against a scripted server: where it stops."""

from __future__ import annotations

import pytest
from gainsight_px.client import PXClient
from gainsight_px.endpoints import PUBLISHED
from gainsight_px.errors import PagingError
from gainsight_px.paging import Scan
from hostile_server import HostileServer, json_reply, sequence

FEATURES = PUBLISHED["features"]


def features(start: int, count: int) -> list[dict]:
    return [{"id": f"f-{i:04d}", "name": f"Feature {i}", "type": "FEATURE"} for i in range(start, start + count)]


def read_all(server: HostileServer, page_size: int | None = None) -> list[dict]:
    client = PXClient(server.base_url, "test-key", dialect=PUBLISHED)
    return [r for page in Scan(client, FEATURES, page_size=page_size).pages() for r in page]


def page_numbers(server: HostileServer) -> list[tuple[str | None, str | None]]:
    return [(r.param("pageNumber"), r.param("pageSize")) for r in server.log if r.path == "/v1/feature"]


def test_a_short_page_ends_the_scan_even_without_is_last_page(hostile: HostileServer) -> None:
    hostile.on("GET", "/feature", sequence(
        json_reply({"features": features(0, 200), "pageNumber": 0}),
        json_reply({"features": features(200, 50), "pageNumber": 1}),  # no isLastPage at all
        json_reply({"features": [], "pageNumber": 2}),
    ))

    got = read_all(hostile)

    assert [r["id"] for r in got] == [f"f-{i:04d}" for i in range(250)]
    assert page_numbers(hostile) == [("0", "200"), ("1", "200")]


def test_is_last_page_ends_the_scan_on_a_full_page(hostile: HostileServer) -> None:
    hostile.on("GET", "/feature", sequence(
        json_reply({"features": features(0, 10), "pageNumber": 0, "isLastPage": False}),
        json_reply({"features": features(10, 10), "pageNumber": 1, "isLastPage": True}),
        json_reply({"features": features(20, 10), "pageNumber": 2, "isLastPage": True}),
    ))

    got = read_all(hostile, page_size=10)

    assert len(got) == 20
    assert page_numbers(hostile) == [("0", "10"), ("1", "10")]


def test_a_record_shifted_onto_the_next_page_is_read_once(hostile: HostileServer) -> None:
    hostile.on("GET", "/feature", sequence(
        json_reply({"features": features(0, 10), "pageNumber": 0}),
        json_reply({"features": features(9, 10), "pageNumber": 1}),  # f-0009 again (a deletion shifted it)
        json_reply({"features": features(19, 3), "pageNumber": 2, "isLastPage": True}),
    ))

    got = read_all(hostile, page_size=10)

    assert [r["id"] for r in got] == [f"f-{i:04d}" for i in range(22)]


@pytest.mark.parametrize("second", [
    {"features": features(0, 10), "pageNumber": 1, "isLastPage": False},  # ignores pageNumber
    {"features": features(10, 10), "pageNumber": 0, "isLastPage": False},  # answers another page
])
def test_a_server_that_does_not_follow_page_numbers_is_stopped(hostile: HostileServer, second: dict) -> None:
    hostile.on("GET", "/feature", sequence(
        json_reply({"features": features(0, 10), "pageNumber": 0, "isLastPage": False}),
        json_reply(second),
    ))

    with pytest.raises(PagingError, match="pageNumber"):
        read_all(hostile, page_size=10)
    assert len(page_numbers(hostile)) == 2


def test_a_page_size_over_the_endpoint_limit_is_refused_before_any_request(hostile: HostileServer) -> None:
    with pytest.raises(ValueError, match="between 1 and 200"):
        read_all(hostile, page_size=201)
    assert hostile.log == []
