"""Many PX tenants from one project: a label per tenant, and nothing shared between them.

A tenant is configured under its label, the dlt way:

    # .dlt/secrets.toml
    [sources.gainsight_px.tenants.acme]
    api_key = "..."
    # .dlt/config.toml (or beside the key)
    [sources.gainsight_px.tenants.acme]
    base_url = "https://api-eu.aptrinsic.com/v1"

or `SOURCES__GAINSIGHT_PX__TENANTS__ACME__API_KEY` / `..._BASE_URL` in the
environment. Keys not set for the tenant (page_size, dialect, ...) fall back
to the plain `[sources.gainsight_px]` ones, except the API key and the host:
those must be the tenant's own, so one tenant's key never reaches another's
host.

Each tenant gets its own dlt pipeline (`gainsight_px_acme`: state, cursors,
pending packages), its own dataset (`gainsight_px_acme`, views in
`gainsight_px_acme_marts`), its own default DuckDB file
(`gainsight-acme.duckdb`) and its own push ledger
(`.gainsight-px/ledger-acme.sqlite`), so two tenants can load side by side.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt

from gainsight_px import settings
from gainsight_px.errors import ConfigError, InputError

TENANTS_SECTION = "sources.gainsight_px.tenants"
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Per-tenant settings besides the key and host, passed to the source when set.
TENANT_SETTINGS = ("page_size", "dialect", "initial", "event_lookback_s", "event_window_days")


@dataclass(frozen=True)
class Tenant:
    """Where one tenant's data, state and ledger live, and how to reach it."""

    label: str
    base_url: str
    source_kwargs: dict[str, Any] = field(repr=False)  # includes the API key

    @property
    def pipeline_name(self) -> str:
        return f"{settings.DEFAULT_PIPELINE_NAME}_{self.label}"

    @property
    def dataset_name(self) -> str:
        return f"{settings.DEFAULT_DATASET}_{self.label}"

    @property
    def duckdb_file(self) -> str:
        return f"gainsight-{self.label}.duckdb"

    @property
    def ledger(self) -> Path:
        return Path(".gainsight-px") / f"ledger-{self.label}.sqlite"

    @property
    def env_prefix(self) -> str:
        return f"SOURCES__GAINSIGHT_PX__TENANTS__{self.label.upper()}__"


def check_label(label: str) -> str:
    if not _LABEL.match(label or ""):
        raise InputError(f"--tenant {label!r}: a tenant label is lowercase letters, digits and _ "
                         "(starting with a letter, at most 40), e.g. acme or eu_west.")
    return label


def _setting(label: str, key: str) -> Any:
    name = f"{TENANTS_SECTION}.{label}.{key}"
    value = dlt.secrets.get(name)
    return value if value not in (None, "") else dlt.config.get(name)


def tenant(label: str) -> Tenant:
    """The configured tenant `label`; ConfigError naming the missing key otherwise."""
    check_label(label)
    prefix = f"SOURCES__GAINSIGHT_PX__TENANTS__{label.upper()}__"
    api_key = _setting(label, "api_key")
    if not api_key:
        raise ConfigError(f"Tenant {label!r} has no API key: set {prefix}API_KEY or api_key under "
                          f"[{TENANTS_SECTION}.{label}] in .dlt/secrets.toml.")
    base_url = _setting(label, "base_url") or settings.DEFAULT_BASE_URL
    kwargs: dict[str, Any] = {"api_key": str(api_key), "base_url": str(base_url)}
    for key in TENANT_SETTINGS:
        value = _setting(label, key)
        if value not in (None, ""):
            kwargs[key] = value
    return Tenant(label=label, base_url=str(base_url), source_kwargs=kwargs)


def configured_labels() -> list[str]:
    """Tenant labels found in .dlt/*.toml and the environment, sorted."""
    labels: set[str] = set()
    for getter in (dlt.secrets.get, dlt.config.get):
        try:
            section = getter(TENANTS_SECTION)
        except Exception:
            section = None
        if isinstance(section, dict):
            labels.update(str(k) for k in section)
    env = re.compile(r"^SOURCES__GAINSIGHT_PX__TENANTS__([A-Z0-9_]+?)__API_KEY$")
    for name in os.environ:
        match = env.match(name)
        if match:
            labels.add(match.group(1).lower())
    return sorted(label for label in labels if _LABEL.match(label))


def destination_for(t: Tenant, destination: str | Any = "duckdb") -> Any:
    """The tenant's destination: DuckDB gets the tenant's own file unless a file is configured."""
    from gainsight_px import load  # the load flow only when loading

    if destination != "duckdb":
        return destination
    configured = dlt.secrets.get(load.DUCKDB_CREDENTIALS_KEY) or dlt.config.get(load.DUCKDB_CREDENTIALS_KEY)
    if configured:
        return load.default_destination("duckdb")
    return load.duckdb_destination(os.path.abspath(t.duckdb_file))


def load_tenant(label: str, destination: str | Any = "duckdb", **kwargs: Any) -> Any:
    """`run_load` for one tenant: its key and host, pipeline, dataset and DuckDB file.

    `kwargs` go to `run_load` (resources, full_refresh, progress, pipelines_dir,
    table_format, ...); `dataset_name` overrides the tenant's dataset.
    """
    from gainsight_px.load import run_load

    t = tenant(label)
    kwargs.setdefault("dataset_name", t.dataset_name)
    kwargs.setdefault("pipeline_name", t.pipeline_name)
    return run_load(destination=destination_for(t, destination), **{**t.source_kwargs, **kwargs})
