"""A tenant is an identity: which PX tenant a dataset or a ledger scope belongs to.

Used by the load (the dataset remembers its tenant in the pipeline state) and
by the push (the ledger scopes its rows by tenant); it imports neither flow.

**Identity** = the normalised base URL plus either

- the configured tenant id (`SOURCES__GAINSIGHT_PX__TENANT_ID`, any stable
  name the operator gives the tenant, e.g. its PX subscription id), or
- when no tenant id is set, a salted SHA-256 of the API key. The key itself
  is never stored: only `sha256(salt + key)` with a random per-binding salt.

**Normalising** the base URL: scheme and host lower-cased (`LOCALHOST` is
`localhost`), the default port dropped (`:443` for https, `:80` for http),
trailing slashes and empty path segments removed. Hosts are compared by
name, never resolved: `127.0.0.1` and `localhost` are two spellings DNS
could make different, so they count as two hosts (pick one and keep it).
The path keeps its case (`/v1`).

**Two tenants on one host** (every tenant of a region shares
`api.aptrinsic.com`) differ by key (or tenant id), so they are two.

**Key rotation.** A new key for the same tenant changes the key hash. With a
tenant id configured nothing else is needed: the id, not the key, is the
identity. Without one, the load refuses (exit 1) rather than guess, and
`--rekey` re-binds the dataset (or ledger) to the new key once; from then
on the new key is the tenant. The push treats an unknown key as another
tenant unless `--rekey` is given (two tenants on one host must both get
their rows), so rotate with `--rekey` or set a tenant id first.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

TENANT_ID_ENV = "SOURCES__GAINSIGHT_PX__TENANT_ID"
DEFAULT_PORTS = {"https": 443, "http": 80}

Match = Literal["same", "key-changed", "other"]


def normalise_base_url(url: str) -> str:
    """One spelling per base URL (see the module docstring)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = "/".join(segment for segment in parts.path.split("/") if segment)
    return urlunsplit((scheme, netloc, f"/{path}" if path else "", "", ""))


def key_hash(api_key: str, salt: str) -> str:
    """`sha256(salt + key)` as hex: what is stored instead of the key."""
    return hmac.new(bytes.fromhex(salt), api_key.encode("utf-8"), hashlib.sha256).hexdigest()


def new_salt() -> str:
    return os.urandom(16).hex()


@dataclass(frozen=True)
class Tenant:
    """The tenant a run talks to. Holds the key only to hash it; never shows it."""

    base_url: str  # normalised
    tenant_id: str | None = None
    _api_key: str = field(default="", repr=False, compare=False)

    @classmethod
    def of(cls, base_url: str, api_key: str | None, tenant_id: str | None = None) -> Tenant:
        if tenant_id is None:
            tenant_id = configured_tenant_id()
        return cls(normalise_base_url(base_url), (tenant_id or "").strip() or None, api_key or "")

    def binding(self, salt: str | None = None) -> dict[str, Any]:
        """What a dataset or ledger stores about this tenant (no key)."""
        salt = salt or new_salt()
        return {"base_url": self.base_url, "tenant_id": self.tenant_id, "salt": salt,
                "key_hash": key_hash(self._api_key, salt)}

    def match(self, binding: dict[str, Any]) -> Match:
        """How this tenant compares with a stored binding."""
        if binding.get("base_url") != self.base_url:
            return "other"
        stored_id = binding.get("tenant_id")
        if stored_id and self.tenant_id:
            return "same" if stored_id == self.tenant_id else "other"
        salt = binding.get("salt")
        if isinstance(salt, str) and binding.get("key_hash") == key_hash(self._api_key, salt):
            return "same"
        return "key-changed"

    def describe(self) -> str:
        """For messages: the URL and the tenant id or a short fingerprint, never the key."""
        if self.tenant_id:
            return f"{self.base_url} (tenant id {self.tenant_id})"
        return f"{self.base_url} (key fingerprint {key_hash(self._api_key, '00' * 16)[:8]})"


def describe_binding(binding: dict[str, Any]) -> str:
    url = binding.get("base_url") or "?"
    if binding.get("tenant_id"):
        return f"{url} (tenant id {binding['tenant_id']})"
    return f"{url} (another API key)"


def configured_tenant_id() -> str | None:
    """`SOURCES__GAINSIGHT_PX__TENANT_ID` or `tenant_id` under [sources.gainsight_px]."""
    value = os.environ.get(TENANT_ID_ENV)
    if value is None:
        try:
            import dlt

            value = dlt.config.get("sources.gainsight_px.tenant_id")
        except Exception:
            value = None
    return str(value).strip() or None if value is not None else None
