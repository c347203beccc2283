"""Published-dialect scans that break off: restarts spelled the published way, on either cursor."""

from __future__ import annotations

import pytest
from gainsight_px.client import PXClient
from gainsight_px.emulator import Emulator
from gainsight_px.endpoints import PUBLISHED
from gainsight_px.paging import Position, Scan
from gainsight_px.settings import EMULATOR_API_KEY

USERS = PUBLISHED["users"]


def client_for(emulator: Emulator) -> PXClient:
    return PXClient(emulator.base_url, EMULATOR_API_KEY, dialect=PUBLISHED, max_attempts=3, backoff_factor=0.01)


def first_pages(emulator: Emulator, path: str) -> list[dict]:
    return [r["query"] for r in emulator.control.requests() if r["path"] == path and "scrollId" not in r["query"]]


def read_with(scan: Scan, after_page: int, action) -> list[str]:
    keys: list[str] = []
    for n, records in enumerate(scan.pages(), start=1):
        keys.extend(r[scan.key_field] for r in records)
        if n == after_page:
            action()
    return keys


@pytest.mark.parametrize("fault", ["expire_scrolls", "reset", "503"])
def test_a_modified_scan_resumes_from_the_last_modification_reached(published: Emulator, fault: str) -> None:
    users = published.control.records("users")
    start = sorted(u["lastModifiedDate"] for u in users)[100]
    expected = sorted(u["aptrinsicId"] for u in users if u["lastModifiedDate"] >= start)
    scan = Scan(client_for(published), USERS, page_size=25, start=Position(start), cursor_field="lastModifiedDate")
    reached: list[int] = []

    def break_it() -> None:
        reached.append(scan.position.cursor)
        published.control.inject(fault, path="/v1/users")

    keys = read_with(scan, 2, break_it)

    assert sorted(keys) == expected  # each once
    assert scan.stats.restarts == 1
    firsts = first_pages(published, "/v1/users")
    assert firsts[0]["filter"] == [f"lastModifiedDate>={start}"]
    assert firsts[1]["filter"][0] == f"lastModifiedDate>{reached[0]}"
    assert firsts[1]["sort"] == ["lastModifiedDate;aptrinsicId"]  # the published spelling
    assert scan.position.cursor == max(u["lastModifiedDate"] for u in users)


def test_a_full_scan_restarts_sorted_in_the_published_spelling(published: Emulator) -> None:
    scan = Scan(client_for(published), USERS, page_size=40)

    keys = read_with(scan, 2, lambda: published.control.expire_scrolls())

    assert sorted(keys) == sorted(u["aptrinsicId"] for u in published.control.records("users"))
    assert first_pages(published, "/v1/users") == [
        {"pageSize": ["40"]}, {"pageSize": ["40"], "sort": ["lastSeenDate;aptrinsicId"]}]
    assert all(r["status"] != 400 for r in published.control.requests())


def test_a_page_number_request_that_fails_is_retried_alone(published: Emulator) -> None:
    pages = Scan(client_for(published), PUBLISHED["features"]).pages()
    keys = [r["id"] for r in next(pages)]
    published.control.inject("503", path="/v1/feature")
    keys += [r["id"] for page in pages for r in page]

    assert sorted(keys) == sorted(f["id"] for f in published.control.records("features"))
    numbers = [r["query"]["pageNumber"][0] for r in published.control.requests() if r["path"] == "/v1/feature"]
    assert numbers == ["0", "1", "1", "2"]  # page 1 again after its 503, not a rescan from page 0
