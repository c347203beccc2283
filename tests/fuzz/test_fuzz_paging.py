"""Fuzz the load's reading path end to end over HTTP: client -> scroll paging -> decoder.

A scripted server on loopback answers each request with the next scripted
page. Scripts are well-formed scroll scans (any size, page size, constant or
rotating scrollIds, a last page that still carries a scrollId, a final empty
page) with, half the time, one defect outside the schema: a body that is not
an object, `results` missing or not a list, a record that is not an object or
has no key, invalid JSON, a full page without a scrollId, the same page twice,
a key repeated across pages, a wrong `totalHits`, an error status.

Acceptable outcomes only:
- a well-formed scan yields every record exactly once, in order, and decodes;
- any scan ends (no hang) with records that were served, each key once (unless
  the server itself repeated a key within one page: merge keeps one row), or
  with a `GainsightPXError`.
Never another exception type.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dlt
import orjson
import pytest
from fuzz_helpers import fuzz_settings, outcome
from gainsight_px.client import PXClient
from gainsight_px.columns import PageConverter
from gainsight_px.endpoints import CONTRACT
from gainsight_px.errors import GainsightPXError
from gainsight_px.paging import Scan
from hypothesis import event, given
from hypothesis import strategies as st

NAMING = dlt.Schema("fuzz").naming
ENDPOINT = CONTRACT["features"]  # scroll-paged, no cursor: the server needs no filter logic
DEFECTS = ["body_not_object", "results_missing", "results_not_list", "record_not_object", "record_without_key",
           "invalid_json", "full_page_without_scroll_id", "page_twice", "key_repeated", "total_hits_wrong",
           "status_500", "status_404"]


@dataclass
class Reply:
    status: int
    body: bytes


@dataclass
class ScriptedServer:
    """Answers the n-th request with the n-th scripted reply; `{"results": []}` after the script."""

    replies: list[Reply] = field(default_factory=list)
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> Reply:
        with self.lock:
            self.served += 1
            return self.replies.pop(0) if self.replies else Reply(200, b'{"results": []}')


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ScriptedServer, str]]:
    script = ScriptedServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            reply = script.next()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield script, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


RECORD = st.fixed_dictionaries(
    {"name": st.text(max_size=6), "totalUserCount": st.integers(0, 10**6)},
    optional={"type": st.sampled_from(["page", "button", None]), "url": st.text(max_size=6),
              "brandNew": st.integers(-(2**63), 2**63 - 1) | st.text(max_size=3)},
)
INT64 = st.integers(-(2**63), 2**63 - 1)
ODD_SCALARS = st.one_of(st.none(), st.booleans(), INT64, st.text(max_size=5))
ODD_OBJECTS = st.dictionaries(st.text(max_size=3), INT64, max_size=2)
ODD_JSON = st.one_of(ODD_SCALARS, st.lists(INT64, max_size=2), ODD_OBJECTS)


@dataclass
class Scenario:
    records: list[dict[str, Any]]
    page_size: int
    defect: str | None
    replies: list[Reply]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    page_size = draw(st.integers(1, 6))
    records = [{"id": f"f{i}", **r} for i, r in enumerate(draw(st.lists(RECORD, max_size=20)))]
    rotate = draw(st.booleans())
    pages = [records[i:i + page_size] for i in range(0, len(records), page_size)]
    if not pages or len(pages[-1]) == page_size:
        pages.append([])  # a final empty page: the scan must stop on it, scrollId or not
    bodies: list[Any] = [
        {"results": page, "scrollId": f"scroll-{i}" if rotate else "scroll", "totalHits": len(records)}
        for i, page in enumerate(pages)
    ]
    defect = draw(st.sampled_from([None] * len(DEFECTS) + DEFECTS))
    at = draw(st.integers(0, len(bodies) - 1))
    replies = [Reply(200, orjson.dumps(b)) for b in bodies]
    body = bodies[at]
    if defect == "body_not_object":
        replies[at] = Reply(200, orjson.dumps(draw(st.lists(ODD_JSON, max_size=2) | ODD_SCALARS)))
    elif defect == "results_missing":
        replies[at] = Reply(200, orjson.dumps({k: v for k, v in body.items() if k != "results"}))
    elif defect == "results_not_list":
        replies[at] = Reply(200, orjson.dumps({**body, "results": draw(ODD_SCALARS | ODD_OBJECTS)}))
    elif defect == "record_not_object":
        replies[at] = Reply(200, orjson.dumps({**body, "results": [*body["results"], draw(
            ODD_SCALARS | st.lists(INT64, max_size=2))]}))
    elif defect == "record_without_key" and body["results"]:
        broken = [dict(r) for r in body["results"]]
        broken[0].pop("id")
        replies[at] = Reply(200, orjson.dumps({**body, "results": broken}))
    elif defect == "invalid_json":
        data = orjson.dumps(body)
        replies[at] = Reply(200, data[: draw(st.integers(0, max(0, len(data) - 1)))])
    elif defect == "full_page_without_scroll_id" and len(body["results"]) == page_size:
        replies[at] = Reply(200, orjson.dumps({**body, "scrollId": draw(st.sampled_from([None, "", 7]))}))
    elif defect == "page_twice":
        replies.insert(at, replies[at])
    elif defect == "key_repeated" and len(records) > 1 and body["results"]:
        repeated = [dict(r) for r in body["results"]]
        repeated[-1]["id"] = records[0]["id"]
        replies[at] = Reply(200, orjson.dumps({**body, "results": repeated}))
    elif defect == "total_hits_wrong":
        replies[at] = Reply(200, orjson.dumps({**body, "totalHits": draw(st.sampled_from([0, -1, "many", None]))}))
    elif defect in ("status_500", "status_404"):
        status = 500 if defect == "status_500" else 404
        err = {"externalapierror": {"status": "INTERNAL_SERVER_ERROR" if status == 500 else "NOT_FOUND",
                                    "message": "scripted"}}
        replies.insert(at, Reply(status, orjson.dumps(err)))
    else:
        defect = None  # the drawn defect does not apply to this script
    return Scenario(records, page_size, defect, replies)


def read_all(client: PXClient, scenario: Scenario) -> list[dict[str, Any]]:
    scan = Scan(client, ENDPOINT, page_size=scenario.page_size, max_restarts=3)
    converter = PageConverter(ENDPOINT, NAMING)
    out: list[dict[str, Any]] = []
    for records in scan.pages():
        table = converter.convert(records)
        assert table.num_rows == len(records)
        out.extend(records)
    return out


@fuzz_settings(default=250, slow=4000)
@given(scenario=scenarios())
def test_paging_reads_every_record_once_or_fails_cleanly(server: tuple[ScriptedServer, str],
                                                         scenario: Scenario) -> None:
    script, base_url = server
    script.replies = list(scenario.replies)
    # Few, fast retries: the scripted errors are one-offs, and the test must stay quick.
    client = PXClient(base_url, "fuzz-key", max_attempts=2, backoff_factor=0.01, max_retry_delay=0.05)
    result = outcome(lambda: read_all(client, scenario), hang_after_s=60)
    event(f"{scenario.defect or 'well-formed'} -> {type(result).__name__}")
    if isinstance(result, GainsightPXError):
        assert scenario.defect is not None, f"a well-formed scan failed: {result}"
        assert str(result).strip()
        return
    keys = [r.get("id") for r in result]
    if scenario.defect != "key_repeated":  # a key twice in one page: merge keeps one row
        assert len(keys) == len(set(keys)), "a record was yielded twice"
    assert set(keys) <= {r["id"] for r in scenario.records}
    if scenario.defect is None:
        assert result == scenario.records
