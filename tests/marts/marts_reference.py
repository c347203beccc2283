"""What each analyst view should say, computed in plain Python from the emulator's records.

Written independently of the SQL (sets and loops over API records in epoch
milliseconds, no DuckDB), so a test that compares the two checks the SQL's
logic, not a copy of it. `as_of_us` is the load time the views use, read from
the loaded file, in epoch microseconds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

DAY_US = 86_400_000_000


def utc_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def days_since(ms: int | None, as_of_us: int) -> int | None:
    """Whole elapsed days between a visit (epoch ms; 0/None = never) and the load."""
    if not ms:
        return None
    return (as_of_us - ms * 1000) // DAY_US


def seen_within(ms: int | None, days: int, as_of_us: int) -> bool:
    return bool(ms) and as_of_us - ms * 1000 < days * DAY_US


def active_users_daily(users: list[dict], as_of_us: int) -> list[tuple[date, int, int, int, bool]]:
    """(day, dau, wau, mau, is_lower_bound) from each user's first and last visit."""
    active_on: dict[date, set[str]] = defaultdict(set)
    for u in users:
        for field in ("firstVisitDate", "lastSeenDate"):
            if u.get(field):
                active_on[utc_day(u[field])].add(u["aptrinsicId"])
    if not active_on:
        return []
    as_of_day = utc_day(as_of_us // 1000)
    day, last = min(active_on), max(max(active_on), as_of_day)
    rows = []
    while day <= last:
        def window(n: int, end: date = day) -> int:
            return len(set().union(*(active_on.get(end - timedelta(days=k), set()) for k in range(n))))
        rows.append((day, len(active_on.get(day, ())), window(7), window(30), day < as_of_day))
        day += timedelta(days=1)
    return rows


def account_last_seen(account: dict, members: list[dict]) -> int | None:
    """The later of the account's lastSeenDate and its users' (epoch ms), None if never."""
    seen = [account.get("lastSeenDate") or 0] + [u.get("lastSeenDate") or 0 for u in members]
    return max(seen) or None


def members_by_account(users: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for u in users:
        if u.get("accountId"):
            out[u["accountId"]].append(u)
    return out


def account_health(users: list[dict], accounts: list[dict], as_of_us: int) -> dict[str, dict]:
    members = members_by_account(users)
    out = {}
    for a in accounts:
        mine = members.get(a["id"], [])
        out[a["id"]] = {
            "name": a.get("name"),
            "plan": a.get("plan"),
            "users": len(mine),
            "active_users_7d": sum(seen_within(u.get("lastSeenDate"), 7, as_of_us) for u in mine),
            "active_users_30d": sum(seen_within(u.get("lastSeenDate"), 30, as_of_us) for u in mine),
            "never_seen_users": sum(not u.get("lastSeenDate") for u in mine),
            "px_number_of_users": a.get("numberOfUsers"),
            "days_since_last_seen": days_since(account_last_seen(a, mine), as_of_us),
        }
    return out


def quiet_for(days: int | None) -> str:
    if days is None:
        return "never seen"
    if days < 7:
        return "0-6 days"
    if days < 30:
        return "7-29 days"
    if days < 90:
        return "30-89 days"
    return "90+ days"


def dormant_accounts(users: list[dict], accounts: list[dict], as_of_us: int) -> dict[str, dict]:
    members = members_by_account(users)
    out = {}
    for a in accounts:
        mine = members.get(a["id"], [])
        seen = [u for u in mine if u.get("lastSeenDate")]
        last_user = max(seen, key=lambda u: u["lastSeenDate"]) if seen else None
        days = days_since(account_last_seen(a, mine), as_of_us)
        out[a["id"]] = {
            "users": len(mine),
            "days_since_last_seen": days,
            "never_seen": days is None,
            "quiet_for": quiet_for(days),
            "last_seen_identify_id": last_user["identifyId"] if last_user else None,
        }
    return out


def feature_adoption(users: list[dict], features: list[dict]) -> dict[str, dict]:
    seen = sum(1 for u in users if u.get("lastSeenDate"))
    ranked = sorted(features, key=lambda f: -f["totalUserCount"])
    out = {}
    for f in features:
        n, events = f["totalUserCount"], f["totalEventCount"]
        out[f["id"]] = {
            "users": n,
            "events": events,
            "events_per_user": events / n if n else None,
            "share_of_users": n / seen if seen else None,
            # rank() semantics: 1 + number of features with strictly more users
            "adoption_rank": 1 + sum(1 for g in ranked if g["totalUserCount"] > n),
        }
    return out


def engagements_by_state(engagements: list[dict]) -> dict[tuple[str, str], int]:
    return dict(Counter((e["type"], e["state"]) for e in engagements))


def user_activity(users: list[dict], accounts: list[dict], as_of_us: int) -> dict[str, dict]:
    names = {a["id"]: a.get("name") for a in accounts}
    return {
        u["aptrinsicId"]: {
            "identify_id": u["identifyId"],
            "account_name": names.get(u.get("accountId")),
            "days_since_last_seen": days_since(u.get("lastSeenDate"), as_of_us),
            "active_7d": seen_within(u.get("lastSeenDate"), 7, as_of_us),
            "active_30d": seen_within(u.get("lastSeenDate"), 30, as_of_us),
        }
        for u in users
    }
