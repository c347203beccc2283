"""A Gainsight PX emulator: a real HTTP server for the contract, on a local port.

    from gainsight_px.emulator import Emulator, TenantSpec

    with Emulator(tenant=TenantSpec(users=1000, seed=42)) as emu:
        emu.base_url        # "http://127.0.0.1:PORT/v1"  (key: settings.EMULATOR_API_KEY)
        emu.control         # Control: change data behind the client's back, inject faults, read logs
        emu.control_url     # the same over HTTP; RemoteControl(control_url) from another process

It follows docs/api-behaviour.md point by point; where that page leaves a choice,
the module docstrings of server.py, store.py and faults.py say which way the
emulator goes. Stdlib + orjson only.
"""

from __future__ import annotations

from .control import Control, RemoteControl
from .faults import KINDS as FAULT_KINDS
from .server import Emulator
from .store import Store
from .tenant import TenantSpec

__all__ = ["FAULT_KINDS", "Control", "Emulator", "RemoteControl", "Store", "TenantSpec"]
