"""`gainsight-px load` and `gainsight-px demo` as a user runs them: a subprocess, env vars, exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from gainsight_px.emulator import Emulator
from gainsight_px.settings import EMULATOR_API_KEY
from load_helpers import cli_env, run_cli


def table_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'gainsight_px' "
            "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'").fetchall()]
        return {t: con.execute(f"SELECT count(*) FROM gainsight_px.{t}").fetchone()[0] for t in tables}
    finally:
        con.close()


def test_load_writes_gainsight_duckdb_in_the_working_dir_and_reports_rows(emulator: Emulator,
                                                                         tmp_path: Path) -> None:
    result = run_cli(["load", "--progress", "log"], cli_env(emulator, tmp_path), tmp_path)

    assert result.returncode == 0, result.stderr
    db = tmp_path / "gainsight.duckdb"
    counts = table_counts(db)
    assert counts == {"users": 250, "accounts": 25, "features": 40, "engagements": 30, "subscriptions": 3}
    out = result.stdout
    assert "Load finished in" in out and str(db) in out
    for table, count in counts.items():
        assert any(line.split() == [table, f"{count:,}"] for line in out.splitlines()), (table, out)
    assert "fetching from PX" in result.stderr and "users rows" in result.stderr  # progress goes to stderr
    assert " in 1" not in result.stderr and "|[WARNING]|" not in result.stderr  # no raw load ids, no dlt log lines
    assert EMULATOR_API_KEY not in out + result.stderr


def test_second_run_reports_zero_rows_and_full_refresh_reconciles(emulator: Emulator, tmp_path: Path) -> None:
    env = cli_env(emulator, tmp_path)
    assert run_cli(["load"], env, tmp_path).returncode == 0
    emulator.control.delete_record("accounts", emulator.control.records("accounts")[0]["id"])

    again = run_cli(["load", "--resources", "users,accounts"], env, tmp_path)
    reconcile = run_cli(["load", "--resources", "users,accounts", "--full-refresh"], env, tmp_path)

    assert again.returncode == 0 and reconcile.returncode == 0
    assert any(line.split() == ["users", "0"] for line in again.stdout.splitlines())
    assert "Reconcile (full refresh)" in reconcile.stdout
    assert table_counts(tmp_path / "gainsight.duckdb")["accounts"] == 24


def test_destination_credentials_and_dataset_can_be_overridden(emulator: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "px.duckdb"
    target.parent.mkdir()
    env = cli_env(emulator, tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(target))

    result = run_cli(["load", "--resources", "features", "--dataset", "px_raw"], env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "gainsight.duckdb").exists()
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("SELECT count(*) FROM px_raw.features").fetchone() == (40,)
    con.close()
    # dlt keeps the pipeline state where DLT_DATA_DIR says.
    assert (tmp_path / "dlt_data" / "pipelines" / "gainsight_px").is_dir()


def test_a_wrong_api_key_exits_1_naming_the_setting_not_the_key(emulator: Emulator, tmp_path: Path) -> None:
    wrong = "px-not-the-right-key-31337"
    env = cli_env(emulator, tmp_path, SOURCES__GAINSIGHT_PX__API_KEY=wrong)

    result = run_cli(["load"], env, tmp_path)

    assert result.returncode == 1
    assert "error:" in result.stderr and "401" in result.stderr
    assert "SOURCES__GAINSIGHT_PX__API_KEY" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was loaded.
    db = tmp_path / "gainsight.duckdb"
    assert not db.exists() or table_counts(db) == {}


def test_a_missing_api_key_exits_1_with_what_to_set(tmp_path: Path) -> None:
    env = cli_env(None, tmp_path)

    result = run_cli(["load"], env, tmp_path)

    assert result.returncode == 1
    assert "SOURCES__GAINSIGHT_PX__API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments_exit_1_with_a_clear_message_and_write_nothing(emulator: Emulator, tmp_path: Path) -> None:
    env = cli_env(emulator, tmp_path)
    cases = {
        ("--resources", "users,no_such_table"): "Valid names: users, accounts, features, engagements",
        ("--page-size", "0"): "--page-size: must be between 1 and 1000",
        ("--page-size", "1001"): "--page-size: must be between 1 and 1000",
        ("--initial", "last tuesday"): "initial: expected an ISO date",
        ("--destination", "nosuchdest"): "nosuchdest",
    }
    for args, message in cases.items():
        result = run_cli(["load", *args], env, tmp_path)
        assert result.returncode == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "gainsight.duckdb").exists()
    assert emulator.control.requests() == []


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    env = cli_env(None, tmp_path, SOURCES__GAINSIGHT_PX__API_KEY="k",
                  SOURCES__GAINSIGHT_PX__BASE_URL="http://api.example.com/v1")

    result = run_cli(["load"], env, tmp_path)

    assert result.returncode == 1
    assert "SOURCES__GAINSIGHT_PX__BASE_URL" in result.stderr and "https" in result.stderr


def test_a_duckdb_file_named_like_the_dataset_is_refused_up_front(emulator: Emulator, tmp_path: Path) -> None:
    env = cli_env(emulator, tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(tmp_path / "gainsight_px.duckdb"))

    result = run_cli(["load"], env, tmp_path)

    assert result.returncode == 1
    assert "named like the dataset" in result.stderr
    assert emulator.control.requests() == []


def test_demo_runs_with_zero_configuration(tmp_path: Path) -> None:
    env = cli_env(None, tmp_path)

    result = run_cli(["demo", "--users", "2000", "--accounts", "200"], env, tmp_path)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    fetched = re.search(r"Incremental load: ([\d,]+) users \(20 active, ([\d,]+) re-read from the lookback", out)
    assert fetched, out
    assert int(fetched[1].replace(",", "")) == 20 + int(fetched[2].replace(",", ""))
    # One request asks whether the window changed, one reads it (the 2,000-user tenant fits one page).
    assert "2 request(s) to /users" in out
    assert "SELECT" in out and "gainsight_demo.duckdb" in out
    counts = table_counts(tmp_path / "gainsight_demo.duckdb")
    assert counts["users"] == 2000 and counts["accounts"] == 200
    assert not (tmp_path / "gainsight.duckdb").exists()  # kept apart from a real load's file
    # A rerun starts over and works too.
    assert run_cli(["demo", "--users", "500"], env, tmp_path).returncode == 0
    assert table_counts(tmp_path / "gainsight_demo.duckdb")["users"] == 500


def test_demo_will_not_overwrite_a_real_load(emulator: Emulator, tmp_path: Path) -> None:
    assert run_cli(["load", "--resources", "users"], cli_env(emulator, tmp_path), tmp_path).returncode == 0

    result = run_cli(["demo", "--users", "100", "--db", "gainsight.duckdb"], cli_env(None, tmp_path), tmp_path)

    assert result.returncode == 1
    assert "--db" in result.stderr and "gainsight_px" in result.stderr
    assert table_counts(tmp_path / "gainsight.duckdb")["users"] == 250


@pytest.mark.parametrize("setting", ["FULL_REFRESH", "DEV_MODE"])
def test_dlts_dev_mode_in_the_environment_does_not_move_the_load_to_a_new_dataset(
        emulator: Emulator, tmp_path: Path, setting: str) -> None:
    # dlt reads these for its own dev mode, which would load each run into a new timestamped dataset.
    env = cli_env(emulator, tmp_path, **{setting: "true"})

    results = [run_cli(["load", "--resources", "users"], env, tmp_path) for _ in range(2)]

    assert [r.returncode for r in results] == [0, 0], results[-1].stderr
    assert re.search(r"^\s*users\s+0\s*$", results[1].stdout, re.MULTILINE), results[1].stdout
    con = duckdb.connect(str(tmp_path / "gainsight.duckdb"), read_only=True)
    try:
        datasets = {s for (s,) in con.execute("SELECT schema_name FROM information_schema.schemata "
                                              "WHERE schema_name LIKE 'gainsight%'").fetchall()}
    finally:
        con.close()
    assert "gainsight_px" in datasets
    assert not [d for d in datasets if re.fullmatch(r"gainsight_px_\d+(_staging)?", d)], datasets  # dev mode's
