"""`gainsight-px push` end to end against the emulator: payloads, rejects, modes, diff sync,
event identity, dry run, DuckDB input, auth. What the emulator received is the truth."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from gainsight_px.push import push_csv
from gainsight_px.settings import API_KEY_ENV, EMULATOR_READ_ONLY_KEY
from push_helpers import PushHarness

MAY_1_MS = 1714521600000  # 2024-05-01T00:00:00Z


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def bodies_by_key(writes: list[dict]) -> dict[str, dict]:
    return {w["key"]: w["body"] for w in writes}


def test_valid_rows_are_delivered_once_with_coerced_nested_payloads(px: PushHarness) -> None:
    path = px.csv("users.csv",
                  ["identifyId", "email", "firstName", "lastName", "signUpDate", "accountId",
                   "customAttributes.plan", "customAttributes.seats", "customAttributes.ratio",
                   "customAttributes.beta", "customAttributes.zip", "customAttributes.note"],
                  [["new-1", "ada@example.com", "Ada", "Lovelace", "2024-05-01", "acc-00001",
                    "Pro", "12", "0.5", "true", "02134", "hello"],
                   ["new-2", " grace@example.com ", "", "Hopper", str(MAY_1_MS), "", "", "", "", "FALSE", "", ""],
                   ["team/ops+1 x@y", "ops@example.com", "Ops", "  ", "2024-05-01T10:00:00+02:00", "",
                    "Free", "-3", "", "", "", "a, b"]])
    run = px.push("users", path)

    assert run.code == 0, run.err
    writes = px.writes("users")
    assert [w["method"] for w in writes] == ["POST"] * 3  # once each, no retries
    assert bodies_by_key(writes) == {
        "new-1": {"identifyId": "new-1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                  "signUpDate": MAY_1_MS, "accountId": "acc-00001",
                  "customAttributes": {"plan": "Pro", "seats": 12, "ratio": 0.5, "beta": True, "zip": "02134",
                                       "note": "hello"}},
        # empty and blank cells are not sent; the email is trimmed
        "new-2": {"identifyId": "new-2", "email": "grace@example.com", "lastName": "Hopper",
                  "signUpDate": MAY_1_MS, "customAttributes": {"beta": False}},
        "team/ops+1 x@y": {"identifyId": "team/ops+1 x@y", "email": "ops@example.com", "firstName": "Ops",
                           "signUpDate": MAY_1_MS + 8 * 3600_000,
                           "customAttributes": {"plan": "Free", "seats": -3, "note": "a, b"}},
    }
    assert run.count("created/updated") == 3 and run.count("rejected") == 0
    assert not (px.workdir / "users.rejects.csv").exists()


def test_upsert_merges_into_existing_user_without_touching_unsent_fields(px: PushHarness) -> None:
    before = next(u for u in px.control.records("users") if u["identifyId"] == "u-000000")
    path = px.csv("users.csv", ["identifyId", "title", "customAttributes.plan"],
                  [["u-000000", "Chief Tinkerer", "Enterprise"]])
    assert px.push("users", path).code == 0
    after = next(u for u in px.control.records("users") if u["identifyId"] == "u-000000")
    assert after["title"] == "Chief Tinkerer"
    assert after["email"] == before["email"]  # not in the file: unchanged
    assert after["customAttributes"] == {**before["customAttributes"], "plan": "Enterprise"}


def test_invalid_rows_go_to_the_rejects_file_with_reasons_and_exit_2(px: PushHarness) -> None:
    header = ["identifyId", "email", "signUpDate", "customAttributes.plan"]
    path = px.csv("users.csv", header, [
        ["ok-1", "ok1@example.com", "2024-05-01", "Pro"],           # row 2
        ["bad-email", "not-an-email", "", ""],                      # row 3
        ["bad-date", "", "yesterday", ""],                          # row 4
        ["seconds", "", "1714521600", ""],                          # row 5: epoch seconds
        ["", "nokey@example.com", "", "Pro"],                       # row 6: key missing
        ["dup", "a@example.com", "", ""],                           # row 7
        ["ok-2", "ok2@example.com", "", ""],                        # row 8
        ["dup", "b@example.com", "", ""],                           # row 9
    ])
    run = px.push("users", path)

    assert run.code == 2
    rejects = read_rejects(px.workdir / "users.rejects.csv")
    assert list(rejects[0]) == [*header, "row_number", "reason"]
    reasons = {r["row_number"]: r["reason"] for r in rejects}
    assert set(reasons) == {"3", "4", "5", "6", "7", "9"}
    assert "email: 'not-an-email' is not an email address" in reasons["3"]
    assert "signUpDate: expected an ISO 8601 date" in reasons["4"]
    assert "epoch seconds" in reasons["5"]
    assert "identifyId: required, but the cell is empty" in reasons["6"]
    assert reasons["7"] == reasons["9"] == "identifyId 'dup' appears 2 times in this input (rows 7, 9)"
    by_row = {r["row_number"]: r for r in rejects}
    assert by_row["3"]["email"] == "not-an-email"  # original cells kept as written
    assert sorted(w["key"] for w in px.writes("users")) == ["ok-1", "ok-2"]
    assert run.count("rejected") == 6 and "users.rejects.csv" in run.err


def test_update_mode_patches_existing_records_and_never_creates(px: PushHarness) -> None:
    users_before = {u["identifyId"]: u for u in px.control.records("users")}
    odd_ids = [i for i in users_before if "/" in i or " " in i][:2]  # ids that need encoding
    path = px.csv("users.csv", ["identifyId", "title"],
                  [[odd_ids[0], "Ops lead"], [odd_ids[1], "Analyst"], ["no-such-user", "Ghost"]])
    run = px.push("users", path, "--mode", "update")

    assert run.code == 2
    writes = px.writes("users")
    assert {w["method"] for w in writes} == {"PATCH"}  # no POST: nothing can be created
    assert sorted(w["path"] for w in writes if w["status"] == 200) == sorted(
        "/v1/users/" + i.replace("/", "%2F").replace(" ", "%20").replace("+", "%2B").replace("@", "%40")
        for i in odd_ids)
    users_after = {u["identifyId"]: u for u in px.control.records("users")}
    assert set(users_after) == set(users_before)
    assert users_after[odd_ids[0]]["title"] == "Ops lead"
    (reject,) = read_rejects(px.workdir / "users.rejects.csv")
    assert reject["identifyId"] == "no-such-user" and reject["row_number"] == "4"
    assert "does not exist in PX" in reject["reason"] and "was not found" in reject["reason"]


def test_update_mode_for_accounts_needs_only_the_id(px: PushHarness) -> None:
    path = px.csv("accounts.csv", ["id", "plan"], [["acc-00001", "Enterprise"], ["acc-missing", "Pro"]])
    run = px.push("accounts", path, "--mode", "update")
    assert run.code == 2
    accounts = {a["id"]: a for a in px.control.records("accounts")}
    assert accounts["acc-00001"]["plan"] == "Enterprise" and "acc-missing" not in accounts


def test_accounts_upsert_requires_name(px: PushHarness) -> None:
    path = px.csv("accounts.csv", ["id", "plan"], [["acc-new", "Pro"]])
    run = px.push("accounts", path)
    assert run.code == 1 and "missing required column(s) 'name'" in run.err
    assert px.write_requests() == []


def test_second_push_sends_nothing_and_an_edited_file_sends_only_edited_rows(px: PushHarness) -> None:
    rows = [[f"diff-{i:03d}", f"d{i}@example.com", "Starter"] for i in range(40)]
    header = ["identifyId", "email", "customAttributes.plan"]
    path = px.csv("users.csv", header, rows)
    assert px.push("users", path).code == 0
    assert len(px.writes("users")) == 40

    px.control.reset_log()
    again = px.push("users", path)
    assert again.code == 0 and again.count("unchanged") == 40
    assert px.control.requests() == []  # not one request

    for i in (3, 17, 29):
        rows[i][2] = "Enterprise"
    px.csv("users.csv", header, rows)
    edited = px.push("users", path)
    assert edited.code == 0 and edited.count("unchanged") == 37
    assert sorted(w["key"] for w in px.writes("users")) == ["diff-003", "diff-017", "diff-029"]
    assert len(px.control.requests()) == 3


def test_identical_event_rows_are_distinct_events_each_sent_once(px: PushHarness) -> None:
    header = ["identifyId", "eventName", "date", "attributes.source", "attributes.count"]
    a = ["u-000001", "export", "2024-05-01T12:00:00Z", "csv", "3"]
    b = ["u-000002", "import", str(MAY_1_MS), "api", "1"]
    path = px.csv("events.csv", header, [a, b, a])
    first = px.push("events", path)
    assert first.code == 0 and first.count("created") == 3
    events = px.control.events()
    assert len(events) == 3
    assert events.count({"identifyId": "u-000001", "eventName": "export", "date": MAY_1_MS + 12 * 3600_000,
                         "attributes": {"source": "csv", "count": 3}}) == 2

    px.control.reset_log()
    assert px.push("events", path).count("already sent") == 3
    assert px.control.requests() == []

    c = ["u-000003", "share", "2024-05-02", "web", "2"]
    px.csv("events.csv", header, [a, b, a, a, c])  # one more copy of `a`, and a new event
    third = px.push("events", path)
    assert third.code == 0 and third.count("created") == 2
    assert len(px.control.events()) == 5


def test_dry_run_sends_no_write_changes_no_ledger_and_matches_the_real_run(px: PushHarness) -> None:
    header = ["identifyId", "email"]
    rows = [[f"dry-{i}", f"dry{i}@example.com"] for i in range(12)] + [["dry-bad", "nope"]]
    path = px.csv("users.csv", header, rows)
    run = px.push("users", path, "--dry-run")
    assert run.code == 2 and "DRY RUN" in run.out and "nothing was written" in run.out
    assert run.count("to create or update") == 12
    assert px.control.requests() == []
    assert not px.ledger.exists()

    dry = push_csv(path, "users", dry_run=True)
    real = push_csv(path, "users")
    assert (dry.delivered, dry.rejected, dry.unchanged) == (real.delivered, real.rejected, real.unchanged) \
        == (12, 1, 0)
    # After the real run, a dry run predicts "nothing to send" and is right again.
    assert (push_csv(path, "users", dry_run=True).unchanged, push_csv(path, "users").unchanged) == (12, 12)


def test_dry_run_in_update_mode_asks_with_gets_only(px: PushHarness) -> None:
    path = px.csv("users.csv", ["identifyId", "title"], [["u-000001", "A"], ["u-000002", "B"], ["ghost", "C"]])
    dry = push_csv(path, "users", mode="update", dry_run=True)
    assert {r["method"] for r in px.control.requests()} == {"GET"}
    assert not px.ledger.exists()
    real = push_csv(path, "users", mode="update")
    assert (dry.delivered, dry.rejected_api) == (real.delivered, real.rejected_api) == (2, 1)


def test_push_from_duckdb_query_and_table(px: PushHarness) -> None:
    db = px.workdir / "warehouse.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute("CREATE TABLE usage (uid VARCHAR, mail VARCHAR, seats INTEGER, signup TIMESTAMP, paid BOOLEAN)")
        conn.execute("INSERT INTO usage VALUES ('wh-1', 'w1@example.com', 7, '2024-05-01 00:00:00', true),"
                     " ('wh-2', 'broken', 2, NULL, false)")
        conn.execute('CREATE TABLE push_accounts AS SELECT \'acc-wh\' AS id, \'Warehouse Inc\' AS name, '
                     '42 AS "customAttributes.seats"')
    query = ('SELECT uid AS identifyId, mail AS email, seats AS "customAttributes.seats", '
             'paid AS "customAttributes.paid", signup AS signUpDate FROM usage ORDER BY uid')
    run = px.push("users", "--from-duckdb", db, "--query", query)
    assert run.code == 2
    assert bodies_by_key(px.writes("users")) == {"wh-1": {
        "identifyId": "wh-1", "email": "w1@example.com", "signUpDate": MAY_1_MS,
        "customAttributes": {"seats": 7, "paid": True}}}
    (reject,) = read_rejects(px.workdir / "users.rejects.csv")  # in the working directory
    assert reject["identifyId"] == "wh-2" and reject["row_number"] == "2" and "email" in reject["reason"]

    assert px.push("accounts", "--from-duckdb", db, "--table", "push_accounts").code == 0
    assert bodies_by_key(px.writes("accounts")) == {
        "acc-wh": {"id": "acc-wh", "name": "Warehouse Inc", "customAttributes": {"seats": 42}}}


def test_duckdb_errors_are_clear(px: PushHarness) -> None:
    db = px.workdir / "w.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute("CREATE TABLE t (identifyId VARCHAR)")
    run = px.push("users", "--from-duckdb", db, "--query", "SELECT nope FROM t")
    assert run.code == 1 and str(db) in run.err and "nope" in run.err
    run = px.push("users", "--from-duckdb", db, "--table", "missing_table")
    assert run.code == 1 and "missing_table" in run.err
    run = px.push("users", "--from-duckdb", db)
    assert run.code == 1 and "--query or --table" in run.err
    assert px.control.requests() == []


@pytest.mark.parametrize("key", ["px-wrong-key-7f3a9c", EMULATOR_READ_ONLY_KEY])
def test_bad_or_read_only_key_is_fatal_names_the_setting_and_never_the_key(
        px: PushHarness, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv(API_KEY_ENV, key)
    path = px.csv("users.csv", ["identifyId"], [[f"auth-{i}"] for i in range(30)])
    run = px.push("users", path)

    assert run.code == 1
    assert API_KEY_ENV in run.err and ("401" in run.err if "wrong" in key else "403" in run.err)
    assert key not in run.out + run.err
    assert px.writes("users", ok=True) == []
    assert len(px.write_requests()) <= 16  # stopped at once: at most the first wave went out
    assert px.ledger_rows() == []  # nothing delivered, nothing left in doubt
    assert key not in px.ledger.read_bytes().decode("latin-1")


def test_unreachable_api_is_fatal(px: PushHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    px.emulator.stop()
    path = px.csv("users.csv", ["identifyId"], [["nowhere-1"], ["nowhere-2"]])
    run = px.push("users", path)
    assert run.code == 1 and "cannot connect" in run.err
    assert px.ledger_rows() == []


def test_plain_http_to_a_remote_host_is_refused(px: PushHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__BASE_URL", "http://api.example.com/v1")
    path = px.csv("users.csv", ["identifyId"], [["x"]])
    run = px.push("users", path)
    assert run.code == 1 and "plain http" in run.err


def test_stale_rejects_file_is_removed_after_a_clean_run(px: PushHarness) -> None:
    header = ["identifyId", "email"]
    path = px.csv("users.csv", header, [["s-1", "bad"], ["s-2", "s2@example.com"]])
    assert px.push("users", path).code == 2
    assert (px.workdir / "users.rejects.csv").exists()
    px.csv("users.csv", header, [["s-1", "s1@example.com"], ["s-2", "s2@example.com"]])
    assert px.push("users", path).code == 0
    assert not (px.workdir / "users.rejects.csv").exists()


def test_custom_rejects_path_and_usage_errors(px: PushHarness) -> None:
    path = px.csv("events.csv", ["identifyId", "eventName"], [["u-000001", ""]])
    target = px.workdir / "out" / "bad-events.csv"
    target.parent.mkdir()
    run = px.push("events", path, "--rejects", target)
    assert run.code == 2 and read_rejects(target)[0]["reason"] == "eventName: required, but the cell is empty"
    assert px.push("events", path, "--mode", "update").code == 1
    assert px.push("widgets", path).code == 1
    assert px.push("events", path, "--force").code == 1


def test_recognisable_key_appears_nowhere(make_emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    secret = "px-SECRET-canary-5d1e0f"
    emu = make_emulator(api_key=secret)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(API_KEY_ENV, secret)
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__BASE_URL", emu.base_url)
    h = PushHarness(emu, tmp_path, capsys)
    users = h.csv("users.csv", ["identifyId", "email"], [["c-1", "c1@example.com"], ["c-2", "broken"]])
    events = h.csv("events.csv", ["identifyId", "eventName"], [["c-1", "x"]])
    outputs = [h.push("users", users), h.push("events", events),
               h.push("users", users, "--mode", "update", "--force")]
    assert [r.code for r in outputs] == [2, 0, 2]
    assert len(emu.control.writes()) == 3
    for run in outputs:
        assert secret not in run.out + run.err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_auth_revoked_mid_run_stops_cleanly_and_the_rerun_sends_the_rest_once(px: PushHarness) -> None:
    import threading

    rows = [["u-000001", "tick", f"2024-05-01T00:00:{i % 60:02d}Z", str(i)] for i in range(120)]
    path = px.csv("events.csv", ["identifyId", "eventName", "date", "attributes.seq"], rows)

    def revoke_after_some_events() -> None:
        px.wait_for(lambda: len(px.control.events()) >= 30)
        px.control.revoke_auth()

    watcher = threading.Thread(target=revoke_after_some_events)
    watcher.start()
    run = px.push("events", path, "--rate", "100")
    watcher.join()

    assert run.code == 1 and "401" in run.err and API_KEY_ENV in run.err
    assert "sent" in run.out  # the summary of what was done comes before the error
    assert px.pending() == 0  # every answered row recorded, nothing in doubt
    delivered_before = len(px.control.events())
    assert 30 <= delivered_before < 120
    px.control.restore_auth()
    again = px.push("events", path)
    assert again.code == 0 and again.count("already sent") == delivered_before
    assert sorted(e["attributes"]["seq"] for e in px.control.events()) == list(range(120))
