"""The delivery ledger: what was sent to which tenant, surviving kill -9.

One SQLite file (stdlib sqlite3), default `.gainsight-px/ledger.sqlite` in the
working directory, overridable with `--ledger PATH` or `GAINSIGHT_PX_LEDGER`.
Rows are scoped by (tenant, entity), so one ledger serves several tenants. A
tenant is an identity (`identity.py`): the normalised base URL plus the
configured tenant id or a salted hash of the API key, kept in the `tenants`
table under a random id that scopes its rows. So spellings of one URL
(`LOCALHOST`, `:443`, a trailing slash) share their rows, and two tenants on
one host keep theirs apart. A rotated key is a new tenant unless the push
runs with `--rekey` (or a tenant id is set), which re-binds the one tenant
known on that URL to the new key. The file is opened, locked and written by
its resolved path, so a symlink reaches the same ledger and the same lock.

Per row the state machine is:

    (none) --mark_pending, committed BEFORE the request--> pending
    pending --API answered 2xx--> delivered (digest = hash of the payload sent)
    pending --API answered 4xx--> rejected  (last delivered digest kept)
    pending --never reached the server (429, refused, Ctrl-C)--> back to what it was

A row still `pending` when a run starts was in flight when a previous run died:
it is "in doubt", reported, and sent again (idempotent for users/accounts,
at-least-once for events). The engine writes `pending` for at most
`concurrency` rows at a time, so at most that many rows can be in doubt.

Durability: WAL with synchronous=NORMAL. A commit is written to the OS before
`commit()` returns, so it survives the death of the process (kill -9, a crash);
only a power loss or kernel panic can lose the last commits, and the rows they
covered would then be resent (users/accounts) or, for events, reported neither
delivered nor in doubt. Full fsync per commit would cap the push at a few
hundred rows/s on ordinary disks for a failure the tool cannot otherwise survive.

Keys: users/accounts use the record key (identifyId / id), so the ledger holds
the last payload delivered per record (the diff sync). Events have no key; the
engine derives one from the content and its occurrence index in the input.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gainsight_px.errors import ConfigError
from gainsight_px.identity import Tenant, normalise_base_url
from gainsight_px.timestamps import now_ms

LEDGER_ENV = "GAINSIGHT_PX_LEDGER"
DEFAULT_LEDGER = Path(".gainsight-px") / "ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    scope      TEXT NOT NULL,   -- base URL + entity
    key        TEXT NOT NULL,   -- record key, or the event identity
    digest     BLOB,            -- hash of the last payload the API accepted (NULL: never)
    pending    BLOB,            -- hash of the payload in flight (NULL: none)
    status     TEXT NOT NULL,   -- pending | delivered | rejected
    reason     TEXT,            -- the API's message for a rejected row
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (scope) WHERE pending IS NOT NULL;
CREATE TABLE IF NOT EXISTS tenants (
    uid        TEXT PRIMARY KEY, -- scopes this tenant's rows
    base_url   TEXT NOT NULL,    -- normalised
    tenant_id  TEXT,             -- configured tenant id, if any
    salt       TEXT NOT NULL,
    key_hash   TEXT NOT NULL     -- sha256(salt + key); never the key
);
"""
_LOOKUP_CHUNK = 500  # SQLite's default limit on host parameters is 999+


def ledger_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--ledger PATH, else $GAINSIGHT_PX_LEDGER, else .gainsight-px/ledger.sqlite."""
    chosen = explicit or os.environ.get(LEDGER_ENV) or DEFAULT_LEDGER
    return Path(chosen)


@dataclass(frozen=True)
class Entry:
    digest: bytes | None
    pending: bytes | None
    status: str


class Ledger:
    """One scope of the ledger file. Not thread-safe: the engine's main thread owns it."""

    def __init__(self, path: str | os.PathLike[str], scope: str, *, read_only: bool = False,
                 tenant: Tenant | None = None, rekey: bool = False) -> None:
        # One file, one lock, one WAL whatever the spelling: SQLite names its -wal and -shm
        # files after the path it is given, so a symlink would get its own.
        self.path = Path(path).expanduser().resolve()
        self.scope = scope
        self.read_only = read_only
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        try:
            if read_only:
                # A dry run must not create or change the ledger: a missing file is an empty ledger.
                if self.path.exists():
                    self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._take_lock()
                self._conn = sqlite3.connect(self.path, isolation_level=None)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.execute("PRAGMA busy_timeout=10000")
                self._conn.executescript(_SCHEMA)
            if tenant is not None:
                self.scope = f"{self._tenant_uid(tenant, rekey)}|{scope}"
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"ledger {self.path}: cannot open it ({exc}); pass another --ledger "
                              f"PATH or set {LEDGER_ENV}") from None
        except OSError as exc:
            self.close()
            raise ConfigError(f"ledger {self.path}: cannot create it ({exc.strerror or exc}); pass "
                              f"another --ledger PATH or set {LEDGER_ENV}") from None

    def _tenant_uid(self, tenant: Tenant, rekey: bool) -> str:
        """The id scoping `tenant`'s rows: found, re-keyed, adopted from a legacy scope, or new."""
        rows: list[tuple[str, str | None, str, str]] = []
        if self._conn is not None:
            try:
                rows = self._conn.execute("SELECT uid, tenant_id, salt, key_hash FROM tenants WHERE base_url = ?",
                                          (tenant.base_url,)).fetchall()
            except sqlite3.OperationalError:  # a read-only ledger from before tenants existed
                rows = []
        changed = []
        for uid, tenant_id, salt, stored_hash in rows:
            match = tenant.match({"base_url": tenant.base_url, "tenant_id": tenant_id, "salt": salt,
                                  "key_hash": stored_hash})
            if match == "same":
                return uid
            if match == "key-changed":
                changed.append(uid)
        binding = tenant.binding()
        if self.read_only or self._conn is None:
            return "unknown-tenant"  # a dry run for a tenant this ledger never saw: nothing delivered
        with self._transaction() as conn:
            if rekey and len(changed) == 1:
                conn.execute("UPDATE tenants SET salt = ?, key_hash = ?, tenant_id = coalesce(?, tenant_id) "
                             "WHERE uid = ?", (binding["salt"], binding["key_hash"], tenant.tenant_id, changed[0]))
                return changed[0]
            if rekey and len(changed) > 1:
                raise ConfigError(f"ledger {self.path}: --rekey cannot tell which of {len(changed)} tenants on "
                                  f"{tenant.base_url} the new key belongs to; set a tenant id instead")
            uid = uuid.uuid4().hex
            conn.execute("INSERT INTO tenants (uid, base_url, tenant_id, salt, key_hash) VALUES (?, ?, ?, ?, ?)",
                         (uid, tenant.base_url, tenant.tenant_id, binding["salt"], binding["key_hash"]))
            if not rows:  # rows from before tenants, scoped "<base URL>|<entity>": the first tenant takes them
                for (legacy,) in conn.execute("SELECT DISTINCT scope FROM deliveries").fetchall():
                    url, sep, entity = legacy.rpartition("|")
                    if sep and "://" in url and normalise_base_url(url) == tenant.base_url:
                        conn.execute("UPDATE deliveries SET scope = ? WHERE scope = ?", (f"{uid}|{entity}", legacy))
        return uid

    def _take_lock(self) -> None:
        """One push per ledger file at a time: two would both send the same rows."""
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; documented
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"ledger {self.path} is in use by another push; wait for it to finish "
                              f"(or use another --ledger PATH)") from None
        self._lock_fd = fd  # released by close(), or by the OS if the process dies

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only or self._conn is None:
            raise RuntimeError("the ledger is open read-only")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # Rows whose answers were not recorded stay pending: the next run reports and resends them.
            raise ConfigError(f"ledger {self.path}: cannot write to it ({exc}); the push stopped. "
                              "Free disk space or pass another --ledger PATH, then rerun") from None

    def lookup(self, keys: Sequence[str]) -> dict[str, Entry]:
        """The ledger's entries for these keys (missing keys: never seen)."""
        found: dict[str, Entry] = {}
        if self._conn is None:
            return found
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, digest, pending, status in self._conn.execute(
                f"SELECT key, digest, pending, status FROM deliveries WHERE scope = ? AND key IN ({marks})",
                (self.scope, *chunk),
            ):
                found[key] = Entry(digest, pending, status)
        return found

    def in_doubt(self) -> int:
        """Rows left pending by a run that died with their requests in flight."""
        if self._conn is None:
            return 0
        (count,) = self._conn.execute(
            "SELECT count(*) FROM deliveries WHERE scope = ? AND pending IS NOT NULL", (self.scope,)
        ).fetchone()
        return int(count)

    def mark_pending(self, rows: Iterable[tuple[str, bytes]]) -> None:
        """Commit (key, digest) as in flight. Must return before their requests go out."""
        now = now_ms()
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO deliveries (scope, key, pending, status, updated_ms) VALUES (?, ?, ?, 'pending', ?) "
                "ON CONFLICT (scope, key) DO UPDATE SET pending = excluded.pending, status = 'pending', "
                "updated_ms = excluded.updated_ms",
                [(self.scope, key, digest, now) for key, digest in rows],
            )

    def record(self, delivered: Iterable[tuple[str, bytes]] = (),
               rejected: Iterable[tuple[str, str]] = (), not_sent: Iterable[str] = ()) -> None:
        """Commit the API's answers: delivered (key, digest), rejected (key, reason), and
        rows that never reached the server (their pending mark is withdrawn)."""
        now = now_ms()
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE deliveries SET digest = ?, pending = NULL, status = 'delivered', reason = NULL, "
                "updated_ms = ? WHERE scope = ? AND key = ?",
                [(digest, now, self.scope, key) for key, digest in delivered],
            )
            conn.executemany(
                "UPDATE deliveries SET pending = NULL, status = 'rejected', reason = ?, updated_ms = ? "
                "WHERE scope = ? AND key = ?",
                [(reason, now, self.scope, key) for key, reason in rejected],
            )
            # Back to the previous state; a row that had never been delivered disappears.
            keys = [(self.scope, key) for key in not_sent]
            conn.executemany("DELETE FROM deliveries WHERE scope = ? AND key = ? AND digest IS NULL "
                             "AND status = 'pending'", keys)
            conn.executemany(
                "UPDATE deliveries SET pending = NULL, status = CASE WHEN digest IS NULL THEN 'rejected' "
                "ELSE 'delivered' END, updated_ms = ? WHERE scope = ? AND key = ?",
                [(now, scope, key) for scope, key in keys],
            )

    def counts(self) -> dict[str, int]:
        """Rows per status in this scope (for reports and tests)."""
        if self._conn is None:
            return {}
        return dict(self._conn.execute(
            "SELECT status, count(*) FROM deliveries WHERE scope = ? GROUP BY status", (self.scope,)
        ).fetchall())


