"""The `@dlt.destination` adapter: same validation and ledger, inside a user's dlt pipeline."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from gainsight_px.push.destination import px_destination
from push_helpers import PushHarness


def run_pipeline(tmp_path: Path, rows: list[dict], name: str = "px_push", **kwargs) -> None:
    pipeline = dlt.pipeline(name, destination=px_destination("users", rejects_dir=tmp_path, **kwargs),
                            pipelines_dir=str(tmp_path / "pipelines"))
    pipeline.run(rows, table_name="users")


def test_dlt_pipeline_pushes_users_and_a_rerun_sends_nothing(px: PushHarness, tmp_path: Path) -> None:
    rows = [{"identifyId": f"dlt-{i}", "email": f"dlt{i}@example.com", "signUpDate": "2024-05-01",
             "customAttributes": {"plan": "Pro", "seats": i}} for i in range(5)]
    run_pipeline(tmp_path, rows)
    bodies = {w["key"]: w["body"] for w in px.writes("users")}
    assert bodies["dlt-3"] == {"identifyId": "dlt-3", "email": "dlt3@example.com", "signUpDate": 1714521600000,
                               "customAttributes": {"plan": "Pro", "seats": 3}}
    assert len(bodies) == 5

    px.control.reset_log()
    run_pipeline(tmp_path, rows)  # a replay: the ledger has every row as delivered
    assert px.control.requests() == []


def test_dlt_pipeline_fails_the_job_on_rejected_rows(px: PushHarness, tmp_path: Path) -> None:
    with pytest.raises(PipelineStepFailed, match="rejected"):
        run_pipeline(tmp_path, [{"identifyId": "dlt-ok"}, {"identifyId": "dlt-bad", "email": "nope"}])
    assert [w["key"] for w in px.writes("users")] == ["dlt-ok"]
    assert "nope" in (tmp_path / "users.rejects.csv").read_text()


def test_identical_events_in_one_file_are_each_sent_once_whatever_the_batch_size(
        px: PushHarness, tmp_path: Path) -> None:
    events = [{"identifyId": "dlt-ev", "eventName": "exported", "date": 1_732_579_200_000}] * 3 + \
             [{"identifyId": "dlt-ev", "eventName": "imported", "date": 1_732_579_201_000}]

    def push() -> None:
        pipeline = dlt.pipeline("px_events", destination=px_destination("events", rejects_dir=tmp_path,
                                                                         batch_size=1),
                                pipelines_dir=str(tmp_path / "pipelines"))
        pipeline.run(events, table_name="events")

    push()
    sent = [(e["eventName"], e["date"]) for e in px.control.events()]
    assert sorted(sent) == sorted((e["eventName"], e["date"]) for e in events)  # three identical: three
    px.control.reset_log()
    push()  # the same rows again (a replay): every identity is already delivered
    assert len(px.control.events()) == 4
