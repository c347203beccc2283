"""The `hostile` fixture: a started `HostileServer` (http), stopped after the test.

Tests elsewhere import the module by name after putting this folder on sys.path
(see tests/security/conftest.py): `from hostile_server import HostileServer, ...`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "faults"))  # the CLI harness (Workdir, Run)

from hostile_server import HostileServer  # noqa: E402


@pytest.fixture
def make_hostile() -> Iterator[Callable[..., HostileServer]]:
    """Factory: `make_hostile(tls=False)` -> a started server, stopped after the test."""
    started: list[HostileServer] = []

    def factory(**kwargs: Any) -> HostileServer:
        server = HostileServer(**kwargs).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def hostile(make_hostile: Callable[..., HostileServer]) -> HostileServer:
    return make_hostile()
