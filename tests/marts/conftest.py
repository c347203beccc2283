"""Loaded DuckDB files for the marts tests: one load per module, shared by its tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gainsight_px.emulator import Emulator, TenantSpec
from marts_helpers import DB_FILE, EMPTY_TENANT, Loaded, add_hand_tenant, load, now_ms, snapshot

# Small but with every shape the generator makes (ids with / + @ and spaces,
# never-seen users, users without an account, mixed custom attributes).
DEMO_LIKE_TENANT = TenantSpec(users=300, accounts=30, features=25, engagements=30, subscriptions=3, seed=7)


@pytest.fixture(scope="module")
def hand_load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The hand-made tenant of test_views_expected.py, loaded once."""
    with Emulator(tenant=EMPTY_TENANT) as emu:
        now = now_ms()
        add_hand_tenant(emu, now)
        workdir = tmp_path_factory.mktemp("hand")
        load(emu, workdir)
        yield snapshot(emu, workdir / DB_FILE, now)


@pytest.fixture(scope="module")
def demo_load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A generated, demo-like tenant, loaded once."""
    with Emulator(tenant=DEMO_LIKE_TENANT) as emu:
        now = now_ms()
        workdir = tmp_path_factory.mktemp("demo")
        load(emu, workdir)
        yield snapshot(emu, workdir / DB_FILE, now)
