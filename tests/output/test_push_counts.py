"""The push summary says what was sent, what was skipped and why, and its rate counts rows sent."""

from __future__ import annotations

import re
from pathlib import Path

from gainsight_px.emulator import Emulator
from gainsight_px.push import push_csv
from gainsight_px.push.report import format_summary
from gainsight_px.settings import EMULATOR_API_KEY


def line(summary: str, label: str) -> str:
    match = re.search(rf"^  {re.escape(label)}\s+.*$", summary, re.MULTILINE)
    assert match, (label, summary)
    return match.group(0)


def test_rows_refused_by_px_are_not_counted_as_changed_or_delivered(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("identifyId,title\nnobody-1,Engineer\nnobody-2,Analyst\n")
    common = dict(base_url=emulator.base_url, api_key=EMULATOR_API_KEY, ledger=str(tmp_path / "l.sqlite"),
                  dialect="contract")

    summary = push_csv(path, "users", mode="update", **common)
    text = format_summary(summary)

    assert re.search(r"to send\s+2\s+\(2 new to the ledger", line(text, "to send"))
    assert re.search(r"sent\s+2\s+\(answered by PX\)", line(text, "sent"))
    assert re.search(r"updated\s+0$", line(text, "updated"))
    assert re.search(r"rejected\s+2\s+\(0 invalid, 2 refused by the API\)", line(text, "rejected"))


def test_a_rerun_with_nothing_to_send_says_so_and_its_rate_is_rows_sent(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("identifyId,title\nu-1,Engineer\nu-2,Analyst\nu-3,Lead\n")
    common = dict(base_url=emulator.base_url, api_key=EMULATOR_API_KEY, ledger=str(tmp_path / "l.sqlite"),
                  dialect="contract")
    push_csv(path, "users", **common)

    again = push_csv(path, "users", **common)
    text = format_summary(again)

    assert again.sent == 0 and again.rows_per_s == 0
    assert re.search(r"to send\s+0\s+\(0 new to the ledger, 0 changed", line(text, "to send"))
    assert re.search(r"unchanged\s+3\s+\(skipped: the ledger has them as delivered\)", line(text, "unchanged"))
    assert "(0 rows sent/s, 0 requests/s)" in line(text, "elapsed")
    assert len([w for w in emulator.control.writes("users")]) == 3  # the first run's only
