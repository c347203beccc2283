"""The ledger keeps tenants apart: two tenants on one host are two, spellings of one URL are one,
a rotated key re-binds with --rekey, and a symlinked ledger is the same ledger (identity.py)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from gainsight_px.identity import normalise_base_url
from gainsight_px.push.ledger import LEDGER_ENV
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV
from push_helpers import PushHarness

HEADER = ["identifyId", "email", "firstName"]
ROWS = [["tenant-u1", "u1@example.com", "Ada"], ["tenant-u2", "u2@example.com", "Grace"]]
EVENTS = ["identifyId", "eventName", "date"]
EVENT_ROWS = [["tenant-u1", "exported", "1732579200000"], ["tenant-u1", "exported", "1732579200000"],
              ["tenant-u2", "imported", "1732579201000"]]


def _ok_writes(px: PushHarness) -> int:
    return len(px.writes(ok=True))


def _serve_key(px: PushHarness, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """The host now answers for the tenant whose key is `key`; the operator configures it."""
    px.emulator.api_key = key
    monkeypatch.setenv(API_KEY_ENV, key)


def test_two_tenants_on_one_host_each_get_their_rows(px: PushHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    users = px.csv("users.csv", HEADER, ROWS)
    events = px.csv("events.csv", EVENTS, EVENT_ROWS)
    assert px.push("users", users, "--no-progress").code == 0
    assert px.push("events", events, "--no-progress").code == 0
    assert _ok_writes(px) == 2 + 3

    px.control.reset_log()
    _serve_key(px, monkeypatch, "tenant-B-key-0001")
    run = px.push("users", users, "--no-progress")
    assert run.code == 0, run.out + run.err
    assert run.count("unchanged") == 0
    assert px.push("events", events, "--no-progress").code == 0
    assert _ok_writes(px) == 2 + 3  # tenant B got every row, once
    assert "tenant-B-key-0001" not in Path(os.environ[LEDGER_ENV]).read_bytes().decode("latin-1")


def test_spellings_of_one_base_url_share_the_ledger(px: PushHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    events = px.csv("events.csv", EVENTS, EVENT_ROWS)
    assert px.push("events", events, "--no-progress").code == 0
    url = px.emulator.base_url  # http://127.0.0.1:PORT/v1
    for variant in (url + "/", url.replace("http://", "HTTP://") + "//", url.replace("/v1", "//v1/")):
        assert normalise_base_url(variant) == normalise_base_url(url)
        px.control.reset_log()
        monkeypatch.setenv(BASE_URL_ENV, variant)
        run = px.push("events", events, "--no-progress")
        assert run.code == 0, run.out + run.err
        assert _ok_writes(px) == 0, f"{variant}: events sent again"


def test_a_rotated_key_with_rekey_sends_nothing_again(px: PushHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    users = px.csv("users.csv", HEADER, ROWS)
    events = px.csv("events.csv", EVENTS, EVENT_ROWS)
    assert px.push("users", users, "--no-progress").code == 0
    assert px.push("events", events, "--no-progress").code == 0
    px.control.reset_log()
    _serve_key(px, monkeypatch, "rotated-key-0002")
    assert px.push("events", events, "--no-progress", "--rekey").code == 0
    assert px.push("users", users, "--no-progress").code == 0  # bound now: no --rekey needed
    assert _ok_writes(px) == 0


def test_a_tenant_id_makes_rotation_free(px: PushHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__TENANT_ID", "acme-prod")
    events = px.csv("events.csv", EVENTS, EVENT_ROWS)
    assert px.push("events", events, "--no-progress").code == 0
    px.control.reset_log()
    _serve_key(px, monkeypatch, "rotated-key-0003")
    assert px.push("events", events, "--no-progress").code == 0
    assert _ok_writes(px) == 0


def test_a_ledger_reached_through_a_symlink_is_the_same_ledger(px: PushHarness, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    events = px.csv("events.csv", EVENTS, EVENT_ROWS)
    assert px.push("events", events, "--no-progress").code == 0
    link = tmp_path / "elsewhere" / "ledger-link.sqlite"
    link.parent.mkdir()
    link.symlink_to(px.ledger)
    px.control.reset_log()
    monkeypatch.setenv(LEDGER_ENV, str(link))
    run = px.push("events", events, "--no-progress")
    assert run.code == 0, run.out + run.err
    assert _ok_writes(px) == 0
    assert not list(link.parent.glob("ledger-link.sqlite-*")), "a second WAL beside the symlink"
    # One lock too: while one push holds the ledger, the symlinked path is refused.
    from gainsight_px.push.ledger import Ledger

    with Ledger(px.ledger, "users"):
        blocked = px.push("events", events, "--no-progress")
    assert blocked.code == 1 and "in use by another push" in blocked.err


def test_the_ledger_stores_no_key(px: PushHarness) -> None:
    assert px.push("users", px.csv("users.csv", HEADER, ROWS), "--no-progress").code == 0
    with sqlite3.connect(px.ledger) as conn:
        tenants = conn.execute("SELECT base_url, tenant_id, salt, key_hash FROM tenants").fetchall()
    assert len(tenants) == 1 and tenants[0][0] == normalise_base_url(px.emulator.base_url)
    assert px.emulator.api_key not in repr(tenants)


def test_a_rejects_path_that_cannot_be_written_stops_the_push_before_any_request(px: PushHarness) -> None:
    users = px.csv("users.csv", HEADER, [*ROWS, ["tenant-bad", "not-an-email", "X"]])
    folder = px.workdir / "a-folder"
    folder.mkdir()
    run = px.push("users", users, "--no-progress", "--rejects", folder)
    assert run.code == 1 and "is a directory" in run.err and "--rejects" in run.err
    assert px.write_requests() == []
