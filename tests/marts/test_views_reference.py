"""The analyst views on a generated, demo-like tenant, against a plain-Python reference.

`marts_reference` recomputes every view's numbers from the emulator's own
records (API field names, epoch milliseconds), so these tests cover the
generator's awkward shapes: ids with `/`, `+`, `@` and spaces, case twins,
never-seen users, users without an account, attributes with gaps.
"""

from __future__ import annotations

import marts_reference as ref
from marts_helpers import rows


def test_every_record_is_in_the_views(demo_load):
    users, accounts = demo_load.records["users"], demo_load.records["accounts"]
    [counts] = rows(demo_load.path, """
        SELECT (SELECT count(*) FROM gainsight_px_marts.user_activity) AS users,
               (SELECT count(*) FROM gainsight_px_marts.account_health) AS accounts,
               (SELECT count(*) FROM gainsight_px_marts.dormant_accounts) AS dormant,
               (SELECT count(*) FROM gainsight_px_marts.feature_adoption) AS features""")
    assert counts == {"users": len(users), "accounts": len(accounts), "dormant": len(accounts),
                      "features": len(demo_load.records["features"])}
    # the tenant really has the shapes this module is about
    assert any(not u["lastSeenDate"] for u in users)
    assert any(not u["accountId"] for u in users)


def test_active_users_daily(demo_load):
    got = [tuple(r.values()) for r in rows(
        demo_load.path, "SELECT day, dau, wau, mau, is_lower_bound FROM gainsight_px_marts.active_users_daily")]
    expected = ref.active_users_daily(demo_load.records["users"], demo_load.as_of_us)
    assert len(got) > 120  # first visits reach far back
    assert got == expected


def test_user_activity(demo_load):
    got = {r.pop("aptrinsic_id"): r for r in rows(demo_load.path, """
        SELECT aptrinsic_id, identify_id, account_name, days_since_last_seen, active_7d, active_30d
        FROM gainsight_px_marts.user_activity""")}
    assert got == ref.user_activity(demo_load.records["users"], demo_load.records["accounts"],
                                    demo_load.as_of_us)


def test_account_health(demo_load):
    got = {r.pop("account_id"): r for r in rows(demo_load.path, """
        SELECT account_id, name, plan, users, active_users_7d, active_users_30d, never_seen_users,
               px_number_of_users, days_since_last_seen
        FROM gainsight_px_marts.account_health""")}
    assert got == ref.account_health(demo_load.records["users"], demo_load.records["accounts"],
                                     demo_load.as_of_us)


def test_account_health_carries_every_custom_attribute(demo_load):
    attrs = {k for a in demo_load.records["accounts"] for k in a["customAttributes"]}
    [row] = rows(demo_load.path, "SELECT * FROM gainsight_px_marts.account_health LIMIT 1")
    assert {c.removeprefix("custom_attributes__") for c in row if c.startswith("custom_attributes__")} == attrs
    by_id = {a["id"]: a for a in demo_load.records["accounts"]}
    for r in rows(demo_load.path, "SELECT account_id, custom_attributes__industry FROM gainsight_px_marts.account_health"):
        assert r["custom_attributes__industry"] == by_id[r["account_id"]]["customAttributes"]["industry"]


def test_dormant_accounts(demo_load):
    got = rows(demo_load.path, """
        SELECT account_id, users, days_since_last_seen, never_seen, quiet_for, last_seen_identify_id
        FROM gainsight_px_marts.dormant_accounts""")
    expected = ref.dormant_accounts(demo_load.records["users"], demo_load.records["accounts"],
                                    demo_load.as_of_us)
    assert {r.pop("account_id"): r for r in got} == expected
    # quietest first: never-seen accounts, then the longest quiet
    order = [(r["days_since_last_seen"] is not None, -(r["days_since_last_seen"] or 0)) for r in got]
    assert order == sorted(order)


def test_feature_adoption(demo_load):
    got = {r.pop("feature_id"): r for r in rows(demo_load.path, """
        SELECT feature_id, users, events, events_per_user, share_of_users, adoption_rank
        FROM gainsight_px_marts.feature_adoption""")}
    assert got == ref.feature_adoption(demo_load.records["users"], demo_load.records["features"])


def test_engagements_by_state(demo_load):
    got = {(r["type"], r["state"]): r["engagements"] for r in rows(
        demo_load.path, "SELECT type, state, engagements FROM gainsight_px_marts.engagements_by_state")}
    assert got == ref.engagements_by_state(demo_load.records["engagements"])
    assert len(got) == 24  # 30 generated engagements cover every (type, state) pair
