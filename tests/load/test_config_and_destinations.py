"""Configuration the dlt way, secrets kept out of everything written, and a second destination."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dlt
import duckdb
import pytest
from gainsight_px.emulator import Emulator
from gainsight_px.settings import EMULATOR_API_KEY
from gainsight_px.source import gainsight_px_source
from load_helpers import Loader, cli_env

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "pipelines" / "load_gainsight_px.py"


def test_env_vars_configure_the_source(emulator: Emulator, tmp_path: Path, monkeypatch) -> None:
    from gainsight_px import gainsight_px_source

    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__API_KEY", EMULATOR_API_KEY)
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__BASE_URL", emulator.base_url)
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__PAGE_SIZE", "100")
    pipeline = dlt.pipeline("env_config", pipelines_dir=str(tmp_path / "p"),
                            destination=dlt.destinations.duckdb(str(tmp_path / "env.duckdb")),
                            dataset_name="gainsight_px")

    pipeline.run(gainsight_px_source().with_resources("users"))

    assert pipeline.last_trace.last_normalize_info.row_counts["users"] == 250
    assert {r["query"]["pageSize"][0] for r in emulator.control.requests()} == {"100"}


def test_the_pipeline_script_reads_dot_dlt_toml_files(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        f'[sources.gainsight_px]\nbase_url = "{emulator.base_url}"\npage_size = 60\n')
    (tmp_path / ".dlt" / "secrets.toml").write_text(f'[sources.gainsight_px]\napi_key = "{EMULATOR_API_KEY}"\n')
    env = cli_env(None, tmp_path)

    result = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    con = duckdb.connect(str(tmp_path / "gainsight.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM gainsight_px.users").fetchone() == (250,)
    con.close()
    assert {r["query"]["pageSize"][0] for r in emulator.control.requests() if r["path"] == "/v1/users"} == {"60"}
    # Its reconcile flag works too.
    emulator.control.delete_record("users", emulator.control.records("users")[0]["aptrinsicId"])
    again = subprocess.run([sys.executable, str(SCRIPT), "--full-refresh"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    con = duckdb.connect(str(tmp_path / "gainsight.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM gainsight_px.users").fetchone() == (249,)
    con.close()


def test_the_api_key_is_never_written_anywhere(make_emulator, make_loader, tmp_path: Path) -> None:
    secret = "px-live-0123456789abcdef-do-not-leak"
    emulator = make_emulator(api_key=secret)
    loader: Loader = make_loader(emulator)

    first = loader.run(api_key=secret)
    emulator.control.simulate_activity(count=3)
    second = loader.run(api_key=secret, resources="users")
    emulator.control.revoke_auth()
    with pytest.raises(Exception) as failure:
        loader.run(api_key=secret)

    assert secret not in str(failure.value)
    assert secret not in "\n".join(first.lines() + second.lines())
    pipeline = dlt.attach(loader.pipeline_name, pipelines_dir=str(loader.pipelines_dir))
    assert secret not in str(pipeline.last_trace)
    assert secret not in str(pipeline.state)
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == []


def test_filesystem_destination_gets_the_same_data_as_duckdb(loader: Loader, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    loader.run()
    fs = loader.run(destination=dlt.destinations.filesystem(bucket_url=bucket.as_uri()),
                    pipeline_name="to_files", dataset_name="gainsight_px")

    assert fs.destination == "filesystem"
    con = duckdb.connect()
    for table, key in (("users", "aptrinsic_id"), ("accounts", "id"), ("features", "id"),
                       ("engagements", "id"), ("subscriptions", "id")):
        files = sorted((bucket / "gainsight_px" / table).glob("*.parquet"))
        assert files, table
        cur = con.execute(f"SELECT * FROM read_parquet({[str(f) for f in files]!r})")
        names = [d[0] for d in cur.description]
        from_files = {row[names.index(key)]: {c: v for c, v in zip(names, row, strict=True)
                                              if not c.startswith("_dlt")} for row in cur.fetchall()}
        from_duckdb = {k: {c: v for c, v in row.items() if not c.startswith("_dlt")}
                       for k, row in loader.rows(table, key=key).items()}
        assert from_files == from_duckdb, table


def _duckdb_settings(destination, tmp_path: Path, name: str) -> dict[str, str]:
    """The settings a load's DuckDB connection runs with."""
    pipeline = dlt.pipeline(name, pipelines_dir=str(tmp_path / name), destination=destination,
                            dataset_name="gainsight_px")
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', 'preserve_insertion_order')")
    return dict(rows)


def test_default_duckdb_caps_memory_and_config_overrides_it(tmp_path: Path, monkeypatch) -> None:
    from gainsight_px.load import default_destination, default_memory_limit

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS", raising=False)
    defaults = _duckdb_settings(default_destination(), tmp_path, "defaults")
    # A configured file path keeps the settings; a configured global_config wins over them.
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "configured.duckdb"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "1GB"}')
    configured = _duckdb_settings(default_destination(), tmp_path, "configured")

    assert defaults["preserve_insertion_order"] == "false"
    # The default cap is 120 MB on one thread, less on small machines (load.default_memory_limit).
    cap_mib = int(default_memory_limit().removesuffix("MB")) * 10**6 / 2**20
    assert defaults["memory_limit"].replace(" ", "") in (f"{cap_mib:.1f}MiB", f"{cap_mib / 1024:.1f}GiB")
    assert (tmp_path / "gainsight.duckdb").exists()
    assert configured["preserve_insertion_order"] == "false"
    assert configured["memory_limit"].replace(" ", "") in ("953.6MiB", "1.0GB", "1GB")
    assert (tmp_path / "configured.duckdb").exists()


def test_the_client_never_sends_loopback_requests_through_a_proxy(emulator: Emulator, monkeypatch) -> None:
    # The key must not travel to a proxy for the emulator; real hosts honour proxies
    # (tests/security/test_transport_hardening.py proves both with a listening proxy).
    from gainsight_px.client import PXClient

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = PXClient(emulator.base_url, EMULATOR_API_KEY)

    assert client.transport.proxy is None
    assert len(client.get_json("/users", {"pageSize": 1})["results"]) == 1


def test_another_pipelines_naming_does_not_leak_into_the_load(loader: Loader, tmp_path: Path) -> None:
    # dlt gives a new source the naming of the active pipeline. A process that first
    # ran a "direct"-naming pipeline (e.g. a push through px_destination) must still
    # get snake_case warehouse columns.
    @dlt.destination(naming_convention="direct")
    def discard(items, table) -> None:
        pass

    dlt.pipeline("other", destination=discard, pipelines_dir=str(tmp_path / "other")).run(
        [{"someField": 1}], table_name="things"
    )

    loader.run(resources="users")

    columns = {row[0] for row in loader.query("SELECT column_name FROM information_schema.columns "
                                               "WHERE table_schema = 'gainsight_px' AND table_name = 'users'")}
    assert {"aptrinsic_id", "last_seen_date", "number_of_visits"} <= columns
    assert "aptrinsicId" not in columns


def test_a_source_built_before_its_pipeline_names_columns_for_the_warehouse(loader: Loader,
                                                                             tmp_path: Path) -> None:
    # Library use: the source is built while another ("direct"-naming) pipeline is still the active
    # one, and only then is its own pipeline created and run.
    @dlt.destination(naming_convention="direct")
    def discard(items, table) -> None:
        pass

    dlt.pipeline("other", destination=discard, pipelines_dir=str(tmp_path / "other")).run(
        [{"someField": 1}], table_name="things"
    )
    source = gainsight_px_source(api_key=EMULATOR_API_KEY, base_url=loader.emulator.base_url,
                                 dialect="contract").with_resources("users")
    pipeline = dlt.pipeline("library", destination=dlt.destinations.duckdb(str(loader.db_path)),
                            pipelines_dir=str(tmp_path / "library"), dataset_name="gainsight_px")
    pipeline.run(source)

    columns = {row[0] for row in loader.query("SELECT column_name FROM information_schema.columns "
                                               "WHERE table_schema = 'gainsight_px' AND table_name = 'users'")}
    assert {"aptrinsic_id", "last_seen_date", "custom_attributes__plan"} <= columns
    assert not {c for c in columns if any(ch.isupper() for ch in c)}


def test_a_duckdb_url_and_a_file_path_both_name_the_database_file(tmp_path: Path) -> None:
    # A file path is set as the database directly (parsing it as a URL first imports SQLAlchemy,
    # a third of a run with nothing to load); a duckdb:/// URL is still parsed as one.
    code = (
        "import sys, dlt\n"
        "from gainsight_px.load import duckdb_destination\n"
        f"d = duckdb_destination({str(tmp_path / 'file.duckdb')!r})\n"
        "print('sqlalchemy' in sys.modules)\n"
        f"u = duckdb_destination('duckdb:///' + {str(tmp_path / 'url.duckdb')!r})\n"
        "for name, dest in (('f', d), ('u', u)):\n"
        f"    p = dlt.pipeline('p' + name, pipelines_dir={str(tmp_path / 'pipelines')!r}, destination=dest,\n"
        "                     dataset_name='d')\n"
        "    p.run([{'a': 1}], table_name='t')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "False"
    for name in ("file.duckdb", "url.duckdb"):
        with duckdb.connect(str(tmp_path / name), read_only=True) as con:
            assert con.execute("SELECT a FROM d.t").fetchall() == [(1,)]
