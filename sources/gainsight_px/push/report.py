"""What a push tells its user: the summary, the rejects CSV, the progress bar.

Rejects CSV: the input's columns, then `row_number` and `reason`; written to a
temporary file beside the target and renamed, so a reader never sees half of
it. It is written only when there are rejects. A run without rejects removes a
rejects file left at the same path by an earlier run (recognised by its last
two columns, `row_number,reason`), so a rejects file on disk always belongs to
the latest run; any other file at that path is left alone. A dry run writes
it too (validation rejects, and in update mode the records PX does not have).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from gainsight_px.errors import ConfigError
from gainsight_px.push.validate import Reject

REJECT_COLUMNS = ("row_number", "reason")

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_REJECTED = 2
EXIT_INTERRUPTED = 130


@dataclass
class PushSummary:
    """Counts of one push (or dry run). `exit_code` is what the CLI returns."""

    entity: str
    mode: str
    source: str
    dry_run: bool = False
    rows_read: int = 0
    to_send: int = 0  # valid rows the ledger did not skip
    sent: int = 0  # rows that got an answer from the API in this run
    delivered: int = 0  # created or updated (events: created); dry run: would be
    new: int = 0  # of the rows to send, never delivered before (per the ledger)
    changed: int = 0  # of the rows to send, delivered before with other content
    unchanged: int = 0  # skipped: the ledger has this exact content as delivered
    rejected_invalid: int = 0
    rejected_api: int = 0
    retried: int = 0  # attempts repeated after a 429, 5xx, timeout or reset
    throttled: int = 0  # 429 answers
    requests: int = 0  # HTTP requests made
    lost_answers: int = 0  # attempts whose answer was lost after the request went out
    in_doubt: int = 0  # rows left in flight by an earlier run that died
    in_doubt_resent: int = 0  # ... of which this input holds and sent again
    not_sent: int = 0  # valid rows not sent because the run stopped early
    left_in_doubt: int = 0  # rows this run leaves in doubt (abandoned, or failing when it stopped)
    interrupted: bool = False
    error: str | None = None
    elapsed_s: float = 0.0
    rejects_path: Path | None = None
    ledger_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    dialect: str | None = None  # "published (detected)": which API the push spoke, and how it was chosen

    @property
    def rejected(self) -> int:
        return self.rejected_invalid + self.rejected_api

    @property
    def rows_per_s(self) -> float:
        """Rows sent per second (a dry run: rows checked per second)."""
        rows = self.rows_read if self.dry_run else self.sent
        return rows / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.error:
            return EXIT_FATAL
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_REJECTED if self.rejected else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "notes"}
        out.update(rejected=self.rejected, rows_per_s=round(self.rows_per_s, 1), exit_code=self.exit_code,
                   rejects_path=str(self.rejects_path) if self.rejects_path else None,
                   ledger_path=str(self.ledger_path) if self.ledger_path else None, notes=list(self.notes))
        return out


def format_summary(s: PushSummary) -> str:
    """The end-of-run summary, one fact per line."""
    lines: list[str] = []

    def add(label: str, value: int, note: str = "") -> None:
        lines.append(f"  {label:<20}{value:>9,}" + (f"   ({note})" if note else ""))

    records = s.entity != "events"
    title = f"push {s.entity}" + (f" --mode {s.mode}" if records else "")
    lines.append(f"{'DRY RUN: ' if s.dry_run else ''}{title} from {s.source}"
                 + (f" (dialect: {s.dialect})" if s.dialect else ""))
    add("rows read", s.rows_read)
    # What the ledger made of the rows to send; what happened to them follows on its own lines.
    split = f"{s.new:,} new to the ledger, {s.changed:,} changed since last delivered" if records else ""
    if s.dry_run:
        verb = "to create" if not records else ("to update" if s.mode == "update" else "to create or update")
        add(verb, s.delivered, split)
    else:
        add("to send", s.to_send, split)
        add("sent", s.sent, "answered by PX" if s.sent == s.to_send else f"answered by PX, of {s.to_send:,}")
        add("created" if not records else ("updated" if s.mode == "update" else "created/updated"),
            s.delivered)
    add("already sent" if not records else "unchanged", s.unchanged, "skipped: the ledger has them as delivered")
    add("to reject" if s.dry_run else "rejected", s.rejected,
        f"{s.rejected_invalid:,} invalid, {s.rejected_api:,} refused by the API")
    if not s.dry_run:
        add("retried", s.retried, f"429s: {s.throttled:,}, requests: {s.requests:,}")
    add("in doubt", s.in_doubt, f"left in flight by an interrupted run; {s.in_doubt_resent:,} of them resent")
    if not records and s.lost_answers:
        add("lost answers", s.lost_answers, "resent after the answer was lost: each may be a duplicate event")
    if s.not_sent:
        add("not sent", s.not_sent, "the run stopped first; rerun to send them")
    if s.left_in_doubt:
        add("left in doubt", s.left_in_doubt, "in flight when the run stopped; the rerun resends and reports them")
    rate = "rows checked/s" if s.dry_run else "rows sent/s"
    lines.append(f"  {'elapsed':<20}{s.elapsed_s:>9.1f} s  ({s.rows_per_s:,.0f} {rate}, "
                 f"{s.requests_per_s:,.0f} requests/s)")
    if s.rejects_path is not None:
        lines.append(f"  {'rejects file':<20}{s.rejects_path}")
    lines.extend(f"  note: {note}" for note in s.notes)
    if s.dry_run:
        lines.append("  nothing was written to PX and the ledger was not changed")
    if s.interrupted:
        lines.append("  interrupted: rerun the same command to send the rest")
    return "\n".join(lines)


def default_rejects_path(input_path: Path | None, entity: str) -> Path:
    """`users.csv` -> `users.rejects.csv` beside it; from DuckDB: `<entity>.rejects.csv` in the CWD."""
    if input_path is None:
        return Path(f"{entity}.rejects.csv")
    return input_path.with_name(f"{input_path.stem}.rejects.csv")


def write_rejects(path: Path, columns: Sequence[str], rejects: Sequence[Reject]) -> Path | None:
    """Write (atomically) or clear the rejects file; return its path when written."""
    if not rejects:
        _remove_stale(path)
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([*columns, *REJECT_COLUMNS])
            for reject in sorted(rejects, key=lambda r: r.row_number):
                writer.writerow([*(_cell(v) for v in reject.values), reject.row_number, reject.reason])
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the rejects file {path} ({exc.strerror or exc}); "
                          "pass another --rejects PATH") from None
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _remove_stale(path: Path) -> None:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return
    if tuple(header[-2:]) == REJECT_COLUMNS:
        path.unlink(missing_ok=True)


def progress_bar(total: int, *, enabled: bool | None, desc: str, stream: TextIO | None = None) -> tqdm:
    """rows/s and ETA on stderr; `enabled=None` shows it only on a terminal."""
    return tqdm(total=total, desc=desc, unit="row", file=stream or sys.stderr,
                disable=None if enabled is None else not enabled,
                dynamic_ncols=True, smoothing=0.1, mininterval=0.5)
