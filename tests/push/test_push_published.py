"""`gainsight-px push` against the emulator in the published dialect: verbs, paths, statuses and
required fields, as the emulator's request log saw them. Tests that hold in both dialects run in both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gainsight_px.emulator import Emulator
from gainsight_px.emulator.tenant import PRODUCT_KEY
from gainsight_px.endpoints import DIALECTS, PUBLISHED
from gainsight_px.push.ledger import LEDGER_ENV
from gainsight_px.settings import API_KEY_ENV, BASE_URL_ENV, DIALECT_ENV, EMULATOR_API_KEY, PROPERTY_KEY_ENV
from push_helpers import PushHarness


def _harness(emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             dialect: str | None) -> PushHarness:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(API_KEY_ENV, EMULATOR_API_KEY)
    monkeypatch.setenv(BASE_URL_ENV, emu.base_url)
    monkeypatch.setenv(LEDGER_ENV, str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv(PROPERTY_KEY_ENV, PRODUCT_KEY)
    if dialect is None:
        monkeypatch.delenv(DIALECT_ENV, raising=False)
    else:
        monkeypatch.setenv(DIALECT_ENV, dialect)
    return PushHarness(emu, tmp_path, capsys)


@pytest.fixture
def pub(make_emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> PushHarness:
    """The push CLI against a published-dialect emulator, dialect and product key set."""
    return _harness(make_emulator(dialect=PUBLISHED), tmp_path, monkeypatch, capsys, "published")


@pytest.fixture(params=sorted(DIALECTS))
def both(request: pytest.FixtureRequest, make_emulator: Callable[..., Emulator], tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> PushHarness:
    """The same, once per dialect (the emulator's and the push's)."""
    return _harness(make_emulator(dialect=DIALECTS[request.param]), tmp_path, monkeypatch, capsys, request.param)


def sent(px: PushHarness) -> list[tuple[str, str, int]]:
    return [(w["method"], w["path"], w["status"]) for w in px.writes()]


def by_id(px: PushHarness, identify_id: str) -> dict | None:
    return px.emulator.store.get_by_write_key("users", identify_id)


def test_upsert_puts_then_posts_when_the_record_is_missing(pub: PushHarness) -> None:
    path = pub.csv("users.csv", ["identifyId", "title", "customAttributes.plan"],
                   [["u-000001", "Lead", "Pro"], ["brand-new", "Intern", ""]])
    run = pub.push("users", path)

    assert run.code == 0, run.err
    assert "dialect: published (set)" in run.out
    assert sorted(sent(pub)) == sorted([("PUT", "/v1/users/u-000001", 204), ("PUT", "/v1/users/brand-new", 404),
                                        ("POST", "/v1/users", 201)])
    assert all(w["body"]["propertyKeys"] == [PRODUCT_KEY] for w in pub.writes())  # required by the Swagger
    assert by_id(pub, "u-000001")["title"] == "Lead"
    assert by_id(pub, "u-000001")["customAttributes"]["plan"] == "Pro"
    assert by_id(pub, "brand-new")["title"] == "Intern"
    assert run.count("created/updated") == 2


def test_update_mode_puts_only_and_never_creates(pub: PushHarness) -> None:
    users_before = pub.emulator.store.count("users")
    path = pub.csv("accounts.csv", ["id", "plan"], [["acc-00001", "Enterprise"], ["acc-ghost", "Free"]])
    run = pub.push("accounts", path, "--mode", "update")

    assert run.code == 2
    assert sorted(sent(pub)) == [("PUT", "/v1/accounts/acc-00001", 204), ("PUT", "/v1/accounts/acc-ghost", 404)]
    assert pub.emulator.store.get("accounts", "acc-ghost") is None
    assert pub.emulator.store.get("accounts", "acc-00001")["plan"] == "Enterprise"
    assert pub.emulator.store.count("users") == users_before
    rejects = (pub.workdir / "accounts.rejects.csv").read_text()
    assert "acc-ghost" in rejects and "never creates" in rejects


def test_ids_that_cannot_travel_in_a_path_use_the_update_path(pub: PushHarness) -> None:
    odd = next(u["identifyId"] for u in pub.control.records("users") if "/" in u["identifyId"])
    ids = [odd, "..", ".", "semi;colon", "100%", "update"]
    path = pub.csv("users.csv", ["identifyId", "title"], [[i, f"t{n}"] for n, i in enumerate(ids)])
    run = pub.push("users", path)

    assert run.code == 0, run.err
    puts = [w for w in pub.writes() if w["method"] == "PUT"]
    assert {w["path"] for w in puts} == {"/v1/users/update"}  # the id travels in the body
    assert sorted(w["body"]["identifyId"] for w in puts) == sorted(ids)
    assert [w["status"] for w in puts if w["body"]["identifyId"] == odd] == [204]
    assert len([w for w in pub.writes() if w["method"] == "POST"]) == len(ids) - 1  # the rest were created
    assert all(by_id(pub, i)["title"] == f"t{n}" for n, i in enumerate(ids))


def test_a_lost_create_answer_then_possible_duplicate_counts_as_delivered(pub: PushHarness) -> None:
    # The first POST is applied, then its answer is lost (TCP reset before a byte): the retry meets the record.
    pub.control.inject("drop_answer", path="/users", method="POST")
    path = pub.csv("users.csv", ["identifyId", "title"], [["lost-answer", "Once"]])
    run = pub.push("users", path)

    assert run.code == 0, run.out + run.err
    assert sent(pub) == [("PUT", "/v1/users/lost-answer", 404), ("POST", "/v1/users", 201),
                         ("POST", "/v1/users", 400)]
    assert run.count("created/updated") == 1 and run.count("rejected") == 0
    assert [u["identifyId"] for u in pub.control.records("users")].count("lost-answer") == 1
    assert pub.ledger_rows() == [("lost-answer", "delivered", False)]


def test_a_record_created_meanwhile_is_updated_instead(pub: PushHarness) -> None:
    # PUT says 404, then someone else creates the user before our POST: it is updated, not rejected.
    path = pub.csv("users.csv", ["identifyId", "title"], [["race-1", "Mine"]])
    original = pub.emulator.store.update

    def update_then_recreate(resource: str, wkey: str | None, body: object) -> dict:
        try:
            return original(resource, wkey, body)
        finally:
            if pub.emulator.store.get_by_write_key("users", "race-1") is None:
                pub.emulator.store.create("users", {"identifyId": "race-1", "propertyKeys": [PRODUCT_KEY]})

    pub.emulator.store.update = update_then_recreate  # type: ignore[method-assign]
    run = pub.push("users", path)
    assert run.code == 0, run.err
    assert [m for m, _, _ in sent(pub)] == ["PUT", "POST", "PUT"]
    assert by_id(pub, "race-1")["title"] == "Mine"


def test_a_405_is_a_configuration_error_naming_the_dialect(make_emulator: Callable[..., Emulator],
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    px = _harness(make_emulator(), tmp_path, monkeypatch, capsys, "published")  # a contract server
    path = px.csv("users.csv", ["identifyId", "title"], [["u-000001", "x"], ["u-000002", "y"]])
    run = px.push("users", path, "--concurrency", "1")

    assert run.code == 1
    assert "published dialect" in run.err and DIALECT_ENV in run.err
    assert [m for m, _, s in sent(px)] == ["PUT"]  # stopped at the first answer
    assert not (px.workdir / "users.rejects.csv").exists()  # not a per-row reject


@pytest.mark.parametrize("entity,header,row", [
    ("users", ["identifyId", "title"], ["u-000001", "x"]),
    ("accounts", ["id", "name"], ["acc-new", "New"]),
    ("events", ["identifyId", "eventName"], ["u-000001", "Exported"]),
])
def test_a_missing_property_key_stops_before_any_request(pub: PushHarness, monkeypatch: pytest.MonkeyPatch,
                                                        entity: str, header: list[str], row: list[str]) -> None:
    monkeypatch.delenv(PROPERTY_KEY_ENV)
    run = pub.push(entity, pub.csv(f"{entity}.csv", header, [row]))

    assert run.code == 1
    assert PROPERTY_KEY_ENV in run.err and "Nothing was sent" in run.err
    assert pub.control.requests() == []
    assert not pub.ledger.exists()


def test_events_post_to_events_custom_with_property_key_and_user_type(pub: PushHarness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROPERTY_KEY_ENV)  # the column supplies it
    path = pub.csv("events.csv", ["identifyId", "eventName", "propertyKey", "userType", "attributes.n"],
                   [["u-000001", "Exported", "AP-OTHER-1", "", "3"], ["u-000002", "Shared", "AP-OTHER-1", "LEAD", ""]])
    run = pub.push("events", path)

    assert run.code == 0, run.err
    assert sent(pub) == [("POST", "/v1/events/custom", 201)] * 2
    events = sorted(pub.control.events(), key=lambda e: e["identifyId"])
    assert [(e["propertyKey"], e["userType"]) for e in events] == [("AP-OTHER-1", "USER"), ("AP-OTHER-1", "LEAD")]
    assert events[0]["attributes"] == {"n": 3}


def test_auto_detects_the_dialect_once_and_remembers_it(make_emulator: Callable[..., Emulator], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    px = _harness(make_emulator(dialect=PUBLISHED), tmp_path, monkeypatch, capsys, None)
    path = px.csv("users.csv", ["identifyId", "title"], [["u-000001", "A"]])
    first = px.push("users", path)
    assert first.code == 0 and "dialect: published (detected)" in first.out
    assert [r["method"] for r in px.control.requests()] == ["GET", "PUT"]  # one read to ask, then the write

    px.control.reset_log()
    second = px.push("users", px.csv("users.csv", ["identifyId", "title"], [["u-000001", "B"]]))
    assert second.code == 0 and "dialect: published (remembered)" in second.out
    assert [r["method"] for r in px.control.requests()] == ["PUT"]


def test_rejects_and_diff_sync_are_the_same_in_both_dialects(both: PushHarness) -> None:
    header = ["identifyId", "email", "customAttributes.plan"]
    rows = [[f"d-{i:02d}", f"d{i}@example.com", "Starter"] for i in range(10)] + [["bad", "not-an-email", ""]]
    path = both.csv("users.csv", header, rows)
    first = both.push("users", path)
    assert first.code == 2 and first.count("created/updated") == 10 and first.count("rejected") == 1
    assert all(by_id(both, f"d-{i:02d}")["customAttributes"]["plan"] == "Starter" for i in range(10))

    both.control.reset_log()
    assert both.push("users", path).count("unchanged") == 10
    assert both.write_requests() == []
    rows[4][2] = "Enterprise"
    both.csv("users.csv", header, rows)
    assert both.push("users", path).count("unchanged") == 9
    assert {w["body"]["identifyId"] if w["body"] else w["key"] for w in both.writes()} == {"d-04"}
    assert by_id(both, "d-04")["customAttributes"]["plan"] == "Enterprise"


def test_identical_events_go_once_each_in_both_dialects(both: PushHarness) -> None:
    path = both.csv("events.csv", ["identifyId", "eventName", "date"],
                    [["u-000001", "export", "2024-05-01"], ["u-000001", "export", "2024-05-01"]])
    assert both.push("events", path).count("created") == 2
    assert len(both.control.events()) == 2
    assert both.push("events", path).count("already sent") == 2
    assert len(both.control.events()) == 2


def test_push_against_the_published_emulator_cli(tmp_path: Path) -> None:
    """Done-when, as a user runs it: `gainsight-px emulator --dialect published`, then push all three."""
    import os
    import signal
    import subprocess
    import sys

    from gainsight_px.emulator import RemoteControl

    emu = subprocess.Popen([sys.executable, "-m", "gainsight_px.cli", "emulator", "--port", "0", "--users", "40",
                            "--dialect", "published"], stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert emu.stdout is not None
        lines = []
        while not (lines and lines[-1].startswith("Press Ctrl-C")):
            line = emu.stdout.readline()
            assert line, f"emulator did not start: {lines}"
            lines.append(line.strip())
        base = next(x for x in lines if x.startswith("base URL")).split(":", 1)[1].strip()
        control = RemoteControl(next(x for x in lines if x.startswith("control URL")).split(":", 1)[1].strip())
        assert next(x for x in lines if x.startswith("product key")).split()[2] == PRODUCT_KEY
        env = {k: v for k, v in os.environ.items() if k != DIALECT_ENV}  # auto: detected
        env.update({API_KEY_ENV: EMULATOR_API_KEY, BASE_URL_ENV: base, PROPERTY_KEY_ENV: PRODUCT_KEY,
                    LEDGER_ENV: str(tmp_path / "ledger.sqlite"), "RUNTIME__DLTHUB_TELEMETRY": "false"})
        files = {"users": ("identifyId,title\nu-000001,Lead\nnew-user,Intern\n", ["PUT", "PUT", "POST"]),
                 "accounts": ("id,name,plan\nacc-00001,Renamed,Pro\nacc-new,New Co,Free\n", ["PUT", "PUT", "POST"]),
                 "events": ("identifyId,eventName\nu-000001,Exported\n", ["POST"])}
        for entity, (text, verbs) in files.items():
            (tmp_path / f"{entity}.csv").write_text(text, encoding="utf-8")
            control.reset_log()
            proc = subprocess.run([sys.executable, "-m", "gainsight_px.cli", "push", entity, f"{entity}.csv"],
                                  cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert "dialect: published" in proc.stdout
            writes = control.writes()
            assert sorted(w["method"] for w in writes) == sorted(verbs)
            assert all(200 <= w["status"] < 300 or (w["method"] == "PUT" and w["status"] == 404) for w in writes)
            for w in writes:
                assert (w["body"].get("propertyKeys") == [PRODUCT_KEY] if entity != "events"
                        else (w["body"]["propertyKey"], w["body"]["userType"]) == (PRODUCT_KEY, "USER"))
        assert control.record("accounts", "acc-new")["name"] == "New Co"
        assert len(control.events()) == 1
    finally:
        emu.send_signal(signal.SIGINT)
        emu.wait(timeout=30)


def test_dry_run_in_update_mode_asks_with_gets_where_an_id_can_go_in_a_path(pub: PushHarness) -> None:
    odd = next(u["identifyId"] for u in pub.control.records("users") if "/" in u["identifyId"])
    path = pub.csv("users.csv", ["identifyId", "title"], [["u-000001", "A"], ["ghost", "B"], [odd, "C"]])
    run = pub.push("users", path, "--mode", "update", "--dry-run")

    assert run.code == 2  # the ghost would be rejected
    assert sorted((r["method"], r["path"]) for r in pub.control.requests()) == [
        ("GET", "/v1/users/ghost"), ("GET", "/v1/users/u-000001")]
    assert run.count("to update") == 2 and "1 id(s) cannot be looked up by path" in run.out
    assert not pub.ledger.exists()
