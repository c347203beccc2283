"""Each failure a user can run into prints one or two lines, cause and fix, with a documented exit code.

The commands run as a user runs them (a subprocess against the emulator on
loopback, real DuckDB files, real locks, a real full disk); each test asserts
the exit code, the first line of the message and that no traceback shows.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from failure_helpers import assert_one_message
from gainsight_px.emulator import Emulator

LOAD = ["load", "--progress", "none"]


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen]:
    """Another process (an analyst's notebook, say) with gainsight.duckdb open for writing."""
    db = tmp_path / "gainsight.duckdb"
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); con.execute('CREATE TABLE t (x INT)'); "
            "print('ready', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=30)


def test_a_duckdb_file_held_by_another_process_names_its_pid_before_any_request(
        emulator: Emulator, run, holder: subprocess.Popen, tmp_path: Path) -> None:
    emulator.control.reset_log()

    result = run(LOAD, emulator)

    assert_one_message(result, 1, f"error: {tmp_path / 'gainsight.duckdb'} is in use by another process "
                                  f"(PID {holder.pid}: python -c import duckdb")
    assert "Close that notebook or query" in result.stderr
    assert emulator.control.requests() == []  # failed before fetching anything
    holder.stdin.close()
    holder.wait(timeout=30)
    assert run(LOAD, emulator).returncode == 0


def test_a_lock_error_from_duckdb_is_told_as_cause_and_fix(holder: subprocess.Popen, tmp_path: Path) -> None:
    """The same message when the conflict shows up inside dlt (wrapped, at the end of its text)."""
    from gainsight_px.failures import describe

    with pytest.raises(duckdb.Error) as caught:
        duckdb.connect(str(tmp_path / "gainsight.duckdb"))
    wrapped = RuntimeError("Connection with `client_type=DuckDbSqlClient` failed. Please check your credentials")
    wrapped.__cause__ = caught.value

    error = describe(wrapped)

    assert error is not None and error.exit_code == 1
    assert str(error).startswith(f"{tmp_path / 'gainsight.duckdb'} is in use by another process (PID {holder.pid}")


def test_debug_flag_and_env_var_add_the_traceback(emulator: Emulator, run, holder: subprocess.Popen) -> None:
    flag = run([*LOAD, "--debug"], emulator)
    env = run(LOAD, emulator, GAINSIGHT_PX_DEBUG="1")

    for result in (flag, env):
        assert result.returncode == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert "is in use by another process" in result.stderr.splitlines()[-2]


def test_a_second_load_of_the_same_pipeline_fails_at_once_naming_the_first(emulator: Emulator, run,
                                                                           start) -> None:
    emulator.control.inject("slow", path="/v1/users", seconds=20)
    first = start([*LOAD, "--resources", "users"], emulator)
    while emulator.control.faults():  # the first load is inside its fetch, holding the pipeline
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)

    second = run([*LOAD, "--resources", "users"], emulator)

    assert_one_message(second, 1, f"error: another load of pipeline gainsight_px is running (PID {first.pid})")
    first.kill()  # a run killed while holding the pipeline leaves no lock behind
    first.wait()
    assert run([*LOAD, "--resources", "users"], emulator).returncode == 0


def test_the_emulator_on_a_busy_port(run) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = run(["emulator", "--port", str(port), "--users", "10"])

    assert_one_message(result, 1, f"error: port {port} on 127.0.0.1 is already in use")
    assert "--port 0" in result.stderr


def test_the_load_script_without_a_key(run) -> None:
    result = run(["pipelines/load_gainsight_px.py"])

    assert_one_message(result, 1, "error: No PX API key configured: set SOURCES__GAINSIGHT_PX__API_KEY")


def test_an_unconfigured_postgres_destination(emulator: Emulator, run) -> None:
    result = run([*LOAD, "--destination", "postgres"], emulator)

    assert_one_message(result, 1, "error: ")
    assert "postgres" in result.stderr and "DESTINATION__POSTGRES__CREDENTIALS" in result.stderr


def test_the_load_script_is_the_cli_load(emulator: Emulator, run, tmp_path: Path) -> None:
    """Same summary, views refreshed, same naming guard: it goes through run_load."""
    script = run(["pipelines/load_gainsight_px.py"], emulator)

    assert script.returncode == 0, script.stderr
    assert "Load finished in" in script.stdout and "Views refreshed:" in script.stdout
    guarded = run(["pipelines/load_gainsight_px.py"], emulator,
                  DESTINATION__DUCKDB__CREDENTIALS=str(tmp_path / "gainsight_px.duckdb"))
    assert_one_message(guarded, 1, "error: The DuckDB file")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: too small for a load. Needs the right to mount (root in CI)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_and_the_run_after_space_is_freed(emulator: Emulator, run, small_disk: Path) -> None:
    env = {"DLT_DATA_DIR": str(small_disk / "dlt"), "DESTINATION__DUCKDB__CREDENTIALS": str(small_disk / "px.duckdb")}

    full = run(LOAD, emulator, **env)

    assert_one_message(full, 1, "error: no space left on the device")
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = run(LOAD, emulator, **env)
    assert again.returncode == 0, again.stderr
    con = duckdb.connect(str(small_disk / "px.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM gainsight_px.users").fetchone() == (250,)
    con.close()


def test_a_dry_run_without_a_key_says_what_it_could_not_check(run, tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("identifyId,title\nu-1,Engineer\nu-2,Analyst\n")

    auto = run(["push", "users", "users.csv", "--dry-run"])
    update = run(["push", "users", "users.csv", "--dry-run", "--dialect", "contract", "--mode", "update"])
    rows_only = run(["push", "users", "users.csv", "--dry-run", "--dialect", "contract"])

    assert_one_message(auto, 1, "error: --dry-run: no PX API key is configured, so PX could not be asked")
    assert_one_message(update, 1, "error: --dry-run --mode update asks PX whether each record exists")
    assert rows_only.returncode == 0, rows_only.stderr
    assert "note: not checked against PX: no API key is configured (SOURCES__GAINSIGHT_PX__API_KEY)" \
        in rows_only.stdout


def test_the_nightly_push_script_without_its_warehouse(emulator: Emulator, run) -> None:
    result = run(["pipelines/push_attributes_nightly.py", "--duckdb", "nothing.duckdb"], emulator)

    assert_one_message(result, 1, "error: nothing.duckdb: no such DuckDB file")
