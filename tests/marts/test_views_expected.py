"""The analyst views on a small hand-made tenant, against values worked out by hand.

Every record of the tenant (marts_helpers.add_hand_tenant) is placed to hit one
rule: visits 0.5, 3.5, 7.5 and 20.5 days ago (either side of the 7- and 30-day
windows), accounts quiet for 30.5, 45.5 and 95.5 days (the dormancy buckets),
a never-seen account, an account without users, a user without an account.
The expected numbers are written out literally.
"""

from __future__ import annotations

from datetime import timedelta

import marts_reference as ref
import pytest
from marts_helpers import ago, rows

# ---------------------------------------------------------------- who is active


def test_user_activity_days_and_flags(hand_load):
    got = {r["identify_id"]: r for r in rows(hand_load.path, "SELECT * FROM gainsight_px_marts.user_activity")}
    assert len(got) == 8
    expected = {  # identify_id: (days_since_last_seen, active_7d, active_30d, account_name)
        "u-busy-1": (0, True, True, "Busy Co"),
        "u-busy-2": (3, True, True, "Busy Co"),
        "u-busy-3": (20, False, True, "Busy Co"),
        "u-busy-4": (7, False, True, "Busy Co"),
        "u-quiet-1": (45, False, False, "Quiet Ltd"),
        "u-quiet-2": (50, False, False, "Quiet Ltd"),
        "u-never": (None, False, False, "Never Inc"),
        "u-loner": (1, True, True, None),
    }
    assert {k: (r["days_since_last_seen"], r["active_7d"], r["active_30d"], r["account_name"])
            for k, r in got.items()} == expected
    # custom attributes come along as columns
    assert got["u-busy-1"]["custom_attributes__plan"] == "Pro"
    assert got["u-busy-2"]["custom_attributes__plan"] is None


def test_tenant_wide_active_counts(hand_load):
    [summary] = rows(hand_load.path, """
        SELECT count(*) AS users, count(last_seen_date) AS ever_seen,
               count(*) FILTER (WHERE active_7d) AS active_7d,
               count(*) FILTER (WHERE active_30d) AS active_30d
        FROM gainsight_px_marts.user_activity""")
    assert summary == {"users": 8, "ever_seen": 7, "active_7d": 3, "active_30d": 5}


def test_active_users_daily_load_day_is_exact(hand_load):
    days = rows(hand_load.path, "SELECT * FROM gainsight_px_marts.active_users_daily ORDER BY day")
    last = days[-1]
    assert last["day"] == hand_load.as_of_day
    # seen in the last 7 days: u-busy-1, u-busy-2, u-loner; in 30 days also u-busy-3, u-busy-4
    assert (last["wau"], last["mau"], last["is_lower_bound"]) == (3, 5, False)
    assert all(d["is_lower_bound"] for d in days[:-1])
    # the series starts at the oldest known visit (u-quiet-1's first visit) and has no gaps
    assert days[0]["day"] == ref.utc_day(ago(hand_load.now_ms, 200.5))
    assert (days[0]["dau"], days[0]["wau"], days[0]["mau"]) == (1, 1, 1)
    assert [d["day"] for d in days] == [days[0]["day"] + timedelta(days=i) for i in range(len(days))]


def test_active_users_daily_counts_a_user_once_per_window(hand_load):
    # u-quiet-2 visited first 60.5 and last 50.5 days ago: both fall in the 30 days
    # ending on the day of the last visit, and count as one user.
    day = ref.utc_day(ago(hand_load.now_ms, 50.5))
    [row] = rows(hand_load.path, "SELECT * FROM gainsight_px_marts.active_users_daily WHERE day = ?", [day])
    assert (row["dau"], row["wau"], row["mau"]) == (1, 1, 1)


def test_active_users_daily_matches_reference(hand_load):
    got = [tuple(r.values()) for r in rows(
        hand_load.path, "SELECT day, dau, wau, mau, is_lower_bound FROM gainsight_px_marts.active_users_daily")]
    assert got == ref.active_users_daily(hand_load.records["users"], hand_load.as_of_us)


# ---------------------------------------------------------------- accounts


def test_account_health(hand_load):
    got = {r["account_id"]: r for r in rows(hand_load.path, "SELECT * FROM gainsight_px_marts.account_health")}
    columns = ("users", "active_users_7d", "active_users_30d", "never_seen_users", "days_since_last_seen",
               "plan", "custom_attributes__csm", "custom_attributes__tier")
    assert {k: tuple(r[c] for c in columns) for k, r in got.items()} == {
        "acc-busy": (4, 2, 4, 0, 0, "Pro", "Dana Scully", 2.0),
        "acc-quiet": (2, 0, 0, 0, 45, "Free", "Fox Mulder", None),
        "acc-never": (1, 0, 0, 1, None, "Starter", None, None),
        "acc/empty one": (0, 0, 0, 0, None, None, None, None),
        "acc-month": (0, 0, 0, 0, 30, "Pro", None, None),
        "acc-old": (0, 0, 0, 0, 95, "Free", None, None),
    }
    assert got["acc-busy"]["px_number_of_users"] == 4


def test_dormant_accounts_quietest_first(hand_load):
    got = rows(hand_load.path, """
        SELECT account_id, days_since_last_seen, never_seen, quiet_for, last_seen_identify_id
        FROM gainsight_px_marts.dormant_accounts""")
    assert [tuple(r.values()) for r in got] == [
        ("acc-never", None, True, "never seen", None),
        ("acc/empty one", None, True, "never seen", None),
        ("acc-old", 95, False, "90+ days", None),
        ("acc-quiet", 45, False, "30-89 days", "u-quiet-1"),
        ("acc-month", 30, False, "30-89 days", None),
        ("acc-busy", 0, False, "0-6 days", "u-busy-1"),
    ]


@pytest.mark.parametrize(("days", "expected"), [
    (30, {"acc-never", "acc/empty one", "acc-old", "acc-quiet", "acc-month"}),
    (31, {"acc-never", "acc/empty one", "acc-old", "acc-quiet"}),
    (96, {"acc-never", "acc/empty one"}),
    (0, {"acc-never", "acc/empty one", "acc-old", "acc-quiet", "acc-month", "acc-busy"}),
])
def test_accounts_quiet_for_n_days_is_a_where_clause(hand_load, days, expected):
    got = rows(hand_load.path, "SELECT account_id FROM gainsight_px_marts.dormant_accounts"
                               " WHERE days_since_last_seen >= ? OR never_seen", [days])
    assert {r["account_id"] for r in got} == expected


# ---------------------------------------------------------------- features, engagements


def test_feature_adoption(hand_load):
    got = rows(hand_load.path, """
        SELECT feature_id, users, events, events_per_user, share_of_users, users_ever_seen, adoption_rank
        FROM gainsight_px_marts.feature_adoption""")
    assert [tuple(r.values()) for r in got] == [
        ("f-b", 7, 7, 1.0, 1.0, 7, 1),
        ("f-a", 3, 30, 10.0, 3 / 7, 7, 2),
        ("f-c", 0, 0, None, 0.0, 7, 3),
    ]


def test_engagements_by_state(hand_load):
    got = rows(hand_load.path, "SELECT type, state, engagements FROM gainsight_px_marts.engagements_by_state")
    assert [tuple(r.values()) for r in got] == [("Dialog", "LIVE", 2), ("Guide", "DRAFT", 1)]
