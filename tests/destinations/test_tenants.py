"""Many tenants: `--tenant LABEL` gives each PX tenant its own key, host, pipeline, dataset and ledger.

Two emulators stand for two PX subscriptions with different keys; the loads run
side by side as subprocesses, configured one from .dlt/secrets.toml and one
from the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from gainsight_px.emulator import TenantSpec

ACME_KEY = "px-acme-key-0a1b2c3d"
GLOBEX_KEY = "px-globex-key-9z8y7x6w"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(DLT_DATA_DIR=str(tmp_path / "dlt_data"), RUNTIME__DLTHUB_TELEMETRY="false", **extra)
    env.pop("GAINSIGHT_PX_LEDGER", None)
    return env


def _start(args: list[str], tmp_path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gainsight_px.cli", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out, err


def _count(db: Path, dataset: str, table: str = "users") -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {dataset}.{table}").fetchone()[0]


def test_two_tenants_load_side_by_side_with_nothing_shared(make_emulator, tmp_path: Path) -> None:
    acme = make_emulator(tenant=TenantSpec(users=120, accounts=12, seed=1), api_key=ACME_KEY)
    globex = make_emulator(tenant=TenantSpec(users=80, accounts=8, seed=2), api_key=GLOBEX_KEY)
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(
        f'[sources.gainsight_px.tenants.acme]\napi_key = "{ACME_KEY}"\nbase_url = "{acme.base_url}"\n')
    env = _env(tmp_path, SOURCES__GAINSIGHT_PX__TENANTS__GLOBEX__API_KEY=GLOBEX_KEY,
               SOURCES__GAINSIGHT_PX__TENANTS__GLOBEX__BASE_URL=globex.base_url)
    args = ["load", "--progress", "none"]

    runs = [_start([*args, "--tenant", label], tmp_path, env) for label in ("acme", "globex")]
    (code_a, out_a, err_a), (code_g, out_g, err_g) = (_finish(p) for p in runs)

    assert code_a == 0, err_a
    assert code_g == 0, err_g
    assert "dataset gainsight_px_acme" in out_a and "dataset gainsight_px_globex" in out_g
    assert _count(tmp_path / "gainsight-acme.duckdb", "gainsight_px_acme") == 120
    assert _count(tmp_path / "gainsight-globex.duckdb", "gainsight_px_globex") == 80
    assert not (tmp_path / "gainsight.duckdb").exists()
    pipelines = {p.name for p in (tmp_path / "dlt_data" / "pipelines").iterdir()}
    assert {"gainsight_px_acme", "gainsight_px_globex"} <= pipelines and "gainsight_px" not in pipelines
    assert ACME_KEY not in out_a + err_a + out_g + err_g and GLOBEX_KEY not in out_a + err_a + out_g + err_g

    # Each tenant keeps its own cursors: activity at acme is acme's alone.
    acme.control.simulate_activity(count=3)
    acme.control.reset_log()
    globex.control.reset_log()
    again = [_start([*args, "--tenant", label, "--resources", "users"], tmp_path, env) for label in ("acme", "globex")]
    (code_a, out_a, err_a), (code_g, out_g, err_g) = (_finish(p) for p in again)
    assert code_a == code_g == 0, err_a + err_g
    (acme_users,) = [line.split() for line in out_a.splitlines() if line.strip().startswith("users")]
    assert 3 <= int(acme_users[1]) < 120  # the active users (and the lookback window), not a full read
    assert [line.split() for line in out_g.splitlines() if line.strip().startswith("users")] == [["users", "0"]]

    # Pushes go to the tenant's own host, with its own ledger.
    csv_file = tmp_path / "users.csv"
    csv_file.write_text("identifyId,email\nu-tenant-1,t1@example.com\n")
    push = subprocess.run([sys.executable, "-m", "gainsight_px.cli", "push", "users", str(csv_file),
                           "--tenant", "globex"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert push.returncode == 0, push.stderr
    assert [w["key"] for w in globex.control.writes("users")] == ["u-tenant-1"]
    assert acme.control.writes("users") == []
    assert (tmp_path / ".gainsight-px" / "ledger-globex.sqlite").is_file()
    assert not (tmp_path / ".gainsight-px" / "ledger.sqlite").exists()


def test_unknown_or_malformed_tenant_is_one_clear_line(emulator, cli) -> None:
    missing = cli(["load", "--tenant", "nope"])
    malformed = cli(["load", "--tenant", "Acme Corp"])
    push = cli(["push", "users", "users.csv", "--tenant", "nope"])

    for code, _, err in (missing, malformed, push):
        assert code == 1
        assert len(err.strip().splitlines()) == 1, err
    assert "SOURCES__GAINSIGHT_PX__TENANTS__NOPE__API_KEY" in missing[2] and "NOPE__API_KEY" in push[2]
    assert "lowercase" in malformed[2]
    assert emulator.control.requests() == []


def test_configured_labels_come_from_toml_and_environment(tmp_path: Path) -> None:
    # In a fresh interpreter: dlt reads a project's .dlt/ folder once per process.
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(
        '[sources.gainsight_px.tenants.acme]\napi_key = "k1"\n[sources.gainsight_px.tenants.eu_west]\napi_key = "k2"\n')
    script = ("from gainsight_px import tenants; print(tenants.configured_labels()); "
              "print(tenants.tenant('eu_west').source_kwargs['api_key'], tenants.tenant('globex').base_url)")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, env=_env(tmp_path, SOURCES__GAINSIGHT_PX__TENANTS__GLOBEX__API_KEY="k3"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['acme', 'eu_west', 'globex']", "k2 https://api.aptrinsic.com/v1"]


def test_the_tenant_identity_check_applies_to_each_label(make_emulator, cli) -> None:
    acme = make_emulator(tenant=TenantSpec(users=20, accounts=2, seed=7), api_key=ACME_KEY)
    other = make_emulator(tenant=TenantSpec(users=20, accounts=2, seed=8), api_key=GLOBEX_KEY)
    args = ["load", "--tenant", "acme", "--resources", "users", "--progress", "none"]
    prefix = "SOURCES__GAINSIGHT_PX__TENANTS__ACME__"

    first = cli(args, **{prefix + "API_KEY": ACME_KEY, prefix + "BASE_URL": acme.base_url})
    # acme's settings now point at another tenant (a copy-paste slip): its dataset refuses it.
    slip = cli(args, **{prefix + "API_KEY": GLOBEX_KEY, prefix + "BASE_URL": other.base_url})

    assert first[0] == 0, first[2]
    assert slip[0] == 1 and len(slip[2].strip().splitlines()) == 1, slip[2]
    assert "gainsight_px_acme" in slip[2] or "tenant" in slip[2].lower()
    assert other.control.requests() == []  # refused before any request
    assert GLOBEX_KEY not in slip[2]
