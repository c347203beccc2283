"""The synthetic tenant: deterministic per seed, shaped like a real one, typed like the contract."""

from __future__ import annotations

from collections import Counter

import pytest
from emu_helpers import NOW_MS
from gainsight_px.emulator import TenantSpec
from gainsight_px.emulator.tenant import DAY_MS, generate
from gainsight_px.endpoints import CONTRACT, ENGAGEMENT_STATES, ENGAGEMENT_TYPES

SPEC = TenantSpec(users=2000, seed=7)


@pytest.fixture(scope="module")
def tenant():
    return generate(SPEC, NOW_MS)


def test_same_seed_same_tenant_other_seed_other_tenant(tenant):
    assert generate(SPEC, NOW_MS) == tenant
    other = generate(TenantSpec(users=2000, seed=8), NOW_MS)
    assert other["users"] != tenant["users"]
    assert len(other["users"]) == 2000


def test_sizes_and_defaults(tenant):
    assert TenantSpec().account_count == 100
    assert TenantSpec(users=5).account_count == 1
    assert TenantSpec(users=50, accounts=7).account_count == 7
    assert {k: len(v) for k, v in tenant.items()} == {
        "users": 2000, "accounts": 200, "features": 40, "engagements": 30, "subscriptions": 3}


@pytest.mark.parametrize("resource", ["users", "accounts", "features", "engagements", "subscriptions"])
def test_every_record_has_every_field_with_the_table_type(tenant, resource):
    ep = CONTRACT[resource]
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "timestamp": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
    }
    for rec in tenant[resource]:
        assert set(rec) == {f.name for f in ep.fields}
        for f in ep.fields:
            v = rec[f.name]
            assert v is None or checks[f.type](v), (resource, f.name, v)
            if f.enum:
                assert v in f.enum
    keys = [r[ep.primary_key] for r in tenant[resource]]
    assert len(set(keys)) == len(keys)


def test_users_look_like_a_real_tenant(tenant):
    users = tenant["users"]
    never = [u for u in users if u["lastSeenDate"] == 0]
    assert 0.07 < len(never) / len(users) < 0.13
    assert all(u["firstVisitDate"] == 0 and u["numberOfVisits"] == 0 for u in never)
    seen = [u for u in users if u["lastSeenDate"]]
    assert all(NOW_MS - 121 * DAY_MS <= u["lastSeenDate"] <= NOW_MS for u in seen)
    assert all(0 < u["firstVisitDate"] <= u["lastSeenDate"] for u in seen)
    # recent activity is likelier than old activity
    recent = sum(u["lastSeenDate"] > NOW_MS - 30 * DAY_MS for u in seen)
    old = sum(u["lastSeenDate"] < NOW_MS - 90 * DAY_MS for u in seen)
    assert recent > 2 * old
    ids = [u["identifyId"] for u in users]
    assert len(set(ids)) == len(ids)
    for ch in "@/+ ":
        assert 0.02 < sum(ch in i for i in ids) / len(ids) < 0.1, ch
    assert "u-000100" in ids and "U-000100" in ids  # differ only by case
    assert all("@" in u["email"] for u in users)
    assert {u["type"] for u in users} >= {"USER", "LEAD"}


def test_custom_attributes_have_mixed_types_and_gaps(tenant):
    attrs = [u["customAttributes"] for u in tenant["users"]]
    types = {"plan": str, "seats": int, "nps": float, "beta": bool, "renewalDate": int, "region": str}
    for key, typ in types.items():
        present = [a[key] for a in attrs if key in a]
        assert 0.3 < len(present) / len(attrs) < 1.0, key  # not every user has every key
        assert all(type(v) is typ for v in present), key
    assert {a["plan"] for a in attrs if "plan" in a} == {"Free", "Starter", "Pro", "Enterprise"}


def test_accounts_are_consistent_with_their_users(tenant):
    users, accounts = tenant["users"], tenant["accounts"]
    by_account = Counter(u["accountId"] for u in users)
    assert by_account[None] > 0  # a few users have no account
    sizes = sorted((a["numberOfUsers"] for a in accounts), reverse=True)
    assert sizes[0] > 5 * max(1, sizes[len(sizes) // 2])  # skewed sizes
    for a in accounts:
        members = [u for u in users if u["accountId"] == a["id"]]
        assert a["numberOfUsers"] == len(members)
        assert a["lastSeenDate"] == max((u["lastSeenDate"] for u in members), default=0)
        assert a["numberOfVisits"] == sum(u["numberOfVisits"] for u in members)
        assert a["id"].startswith("acc-")
        assert {"industry", "tier"} <= set(a["customAttributes"])


def test_features_and_engagements(tenant):
    seen = sum(1 for u in tenant["users"] if u["lastSeenDate"])
    for f in tenant["features"]:
        assert 0 <= f["totalUserCount"] <= seen
        assert f["totalEventCount"] >= f["totalUserCount"]
    pairs = {(e["type"], e["state"]) for e in tenant["engagements"]}
    assert pairs == {(t, s) for t in ENGAGEMENT_TYPES for s in ENGAGEMENT_STATES}
    small = generate(TenantSpec(users=10, engagements=6), NOW_MS)["engagements"]
    assert {e["type"] for e in small} == set(ENGAGEMENT_TYPES)
    assert {e["state"] for e in small} == set(ENGAGEMENT_STATES)


def test_extra_attributes_widen_users():
    users = generate(TenantSpec(users=20, extra_attributes=100), NOW_MS)["users"]
    assert all(len(u["customAttributes"]) >= 100 for u in users)


def test_emulators_with_the_same_seed_serve_the_same_tenant(make_emulator):
    a = make_emulator(now_ms=NOW_MS)
    b = make_emulator(now_ms=NOW_MS)
    for resource in ("users", "accounts", "features", "engagements", "subscriptions"):
        assert a.store.records(resource) == b.store.records(resource)


def test_empty_and_accountless_tenants(make_emulator, px_session):
    empty = make_emulator(tenant=TenantSpec(users=0, accounts=0, features=0, engagements=0, subscriptions=0))
    for path in ("/users", "/accounts", "/feature_match", "/engagements"):
        r = px_session.get(empty.base_url + path).json()
        assert r["results"] == [] and r["totalHits"] == 0 and r["scrollId"]
    assert px_session.get(empty.base_url + "/subscriptions").json() == {"results": []}
    assert empty.control.simulate_activity(count=5) == []
    users = generate(TenantSpec(users=30, accounts=0), NOW_MS)["users"]
    assert len(users) == 30 and all(u["accountId"] is None for u in users)
