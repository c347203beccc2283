"""A dataset belongs to one tenant (identity.py): another tenant is refused before any request,
spellings of the same base URL are the same tenant, and a rotated key re-binds with --rekey."""

from __future__ import annotations

from pathlib import Path

import pytest
from gainsight_px.emulator import TenantSpec
from gainsight_px.errors import ConfigError
from gainsight_px.settings import EMULATOR_READ_ONLY_KEY
from load_helpers import Loader

A = TenantSpec(users=60, accounts=6, seed=1)
B = TenantSpec(users=45, accounts=5, seed=2)


def _list_requests(emulator) -> int:
    return sum(1 for r in emulator.control.requests() if r["method"] == "GET")


def test_a_tenant_switch_on_one_pipeline_is_refused_before_any_request(make_emulator, tmp_path: Path) -> None:
    emu_a, emu_b = make_emulator(tenant=A), make_emulator(tenant=B)
    loader = Loader(emu_a, tmp_path)
    loader.run(dialect="contract")
    assert loader.count("users") == 60

    with pytest.raises(ConfigError) as refused:
        loader.run(dialect="contract", base_url=emu_b.base_url)
    message = str(refused.value)
    assert "--dataset" in message and "--full-refresh" in message and "Nothing was loaded" in message
    assert emu_b.base_url.split("//")[1].split("/")[0] in message
    assert _list_requests(emu_b) == 0
    assert loader.count("users") == 60

    # --full-refresh replaces the data with the new tenant's, and binds the dataset to it.
    loader.run(dialect="contract", base_url=emu_b.base_url, full_refresh=True)
    assert loader.count("users") == 45
    loader.run(dialect="contract", base_url=emu_b.base_url)
    with pytest.raises(ConfigError):
        loader.run(dialect="contract")  # tenant A is now the other one


def test_the_binding_travels_with_the_dataset(make_emulator, tmp_path: Path) -> None:
    emu_a, emu_b = make_emulator(tenant=A), make_emulator(tenant=B)
    first = Loader(emu_a, tmp_path / "machine1")
    first.run(dialect="contract")
    # Another machine (empty pipeline folder) pointed at the same warehouse, with tenant B.
    second = Loader(emu_b, tmp_path / "machine2")
    second.db_path = first.db_path
    with pytest.raises(ConfigError, match="--full-refresh"):
        second.run(dialect="contract")
    assert _list_requests(emu_b) == 0


def test_two_tenants_on_one_host_and_a_rotated_key(make_emulator, tmp_path: Path) -> None:
    emulator = make_emulator(tenant=A)
    loader = Loader(emulator, tmp_path)
    loader.run(dialect="contract")
    emulator.control.reset_log()
    # Same host, another key: another tenant, or this one's rotated key. The load cannot tell: it asks.
    with pytest.raises(ConfigError, match="--rekey"):
        loader.run(dialect="contract", api_key=EMULATOR_READ_ONLY_KEY)
    assert _list_requests(emulator) == 0
    loader.run(dialect="contract", api_key=EMULATOR_READ_ONLY_KEY, rekey=True)
    loader.run(dialect="contract", api_key=EMULATOR_READ_ONLY_KEY)  # bound to the new key now
    with pytest.raises(ConfigError, match="--rekey"):
        loader.run(dialect="contract")  # the old key is the stranger now
    assert loader.count("users") == 60


@pytest.mark.parametrize("spelling", ["{url}/", "{url}//", "{scheme}://{HOST}:{port}/v1"])
def test_spellings_of_the_base_url_are_one_tenant(make_emulator, tmp_path: Path, spelling: str) -> None:
    emulator = make_emulator(tenant=A)
    loader = Loader(emulator, tmp_path)
    loader.run(dialect="contract")
    url = emulator.base_url
    scheme, rest = url.split("://")
    host, port = rest.split("/")[0].split(":")
    variant = spelling.format(url=url, scheme=scheme, HOST=host.upper(), port=port)
    summary = loader.run(dialect="contract", base_url=variant)
    assert summary.rows["users"] == 0  # the same tenant: an incremental run with nothing new
    assert loader.count("users") == 60


def test_a_tenant_id_survives_a_key_rotation(make_emulator, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__TENANT_ID", "acme-prod")
    emulator = make_emulator(tenant=A)
    loader = Loader(emulator, tmp_path)
    loader.run(dialect="contract")
    loader.run(dialect="contract", api_key=EMULATOR_READ_ONLY_KEY)  # rotated: same tenant id
    monkeypatch.setenv("SOURCES__GAINSIGHT_PX__TENANT_ID", "globex-prod")
    with pytest.raises(ConfigError, match="acme-prod"):
        loader.run(dialect="contract")
