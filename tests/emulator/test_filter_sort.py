"""filter and sort on /users and /accounts, checked against the records themselves."""

from __future__ import annotations

import fnmatch
import operator

import pytest
from emu_helpers import NOW_MS, api_status, scan

OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}


@pytest.fixture
def emu(make_emulator):
    return make_emulator(now_ms=NOW_MS)


def ids(records):
    return [r["aptrinsicId"] for r in records]


def users_where(emu, pred):
    return [u for u in emu.store.records("users") if pred(u)]


@pytest.mark.parametrize("op", list(OPS))
def test_every_comparison_operator_on_a_timestamp(emu, px_session, op):
    users = emu.store.records("users")
    pivot = sorted(u["lastSeenDate"] for u in users)[125]
    got = scan(px_session, f"{emu.base_url}/users", filter=f"lastSeenDate{op}{pivot}")
    want = users_where(emu, lambda u: OPS[op](u["lastSeenDate"], pivot))
    assert ids(got) == ids(want)
    assert 0 < len(got) <= 250


def test_numbers_compare_as_numbers_not_strings(emu, px_session):
    got = scan(px_session, f"{emu.base_url}/users", filter="numberOfVisits>9")
    want = users_where(emu, lambda u: u["numberOfVisits"] > 9)
    assert ids(got) == ids(want)
    # As strings "10" < "9"; the numeric answer includes two-digit counts.
    assert any(10 <= u["numberOfVisits"] < 90 for u in got)


def test_strings_compare_as_strings(emu, px_session):
    got = scan(px_session, f"{emu.base_url}/users", filter="lastName>=M")
    assert ids(got) == ids(users_where(emu, lambda u: u["lastName"] >= "M"))


def test_wildcard_match_and_negation(emu, px_session):
    url = f"{emu.base_url}/users"
    star = scan(px_session, url, filter="identifyId~team/ops+*")
    assert ids(star) == ids(users_where(emu, lambda u: u["identifyId"].startswith("team/ops+")))
    assert len(star) == 10
    q = scan(px_session, url, filter="identifyId~u-00000?")
    assert [u["identifyId"] for u in q] == [f"u-00000{i}" for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]
    neg = scan(px_session, url, filter="email!~*@example.com")
    assert ids(neg) == ids(users_where(emu, lambda u: not fnmatch.fnmatchcase(u["email"], "*@example.com")))
    assert 0 < len(neg) < 250


def test_wildcard_is_case_sensitive_full_match(emu, px_session):
    url = f"{emu.base_url}/users"
    assert [u["identifyId"] for u in scan(px_session, url, filter="identifyId~U-*")] == ["U-000100"]
    assert scan(px_session, url, filter="identifyId~team") == []


def test_not_equal_is_not_parsed_as_wildcard_and_le_not_as_lt(emu, px_session):
    url = f"{emu.base_url}/users"
    users = emu.store.records("users")
    v = users[3]["lastSeenDate"]
    assert users[3]["aptrinsicId"] in ids(scan(px_session, url, filter=f"lastSeenDate<={v}"))
    assert users[3]["aptrinsicId"] not in ids(scan(px_session, url, filter=f"lastSeenDate<{v}"))
    got = scan(px_session, url, filter="type!=USER")
    assert ids(got) == ids(users_where(emu, lambda u: u["type"] != "USER"))


def test_nested_custom_attribute_filters(emu, px_session):
    url = f"{emu.base_url}/users"
    pro = scan(px_session, url, filter="customAttributes.plan==Pro")
    assert ids(pro) == ids(users_where(emu, lambda u: u["customAttributes"].get("plan") == "Pro"))
    seats = scan(px_session, url, filter="customAttributes.seats>=100")
    assert ids(seats) == ids(users_where(emu, lambda u: u["customAttributes"].get("seats", -1) >= 100))
    beta = scan(px_session, url, filter="customAttributes.beta==true")
    assert ids(beta) == ids(users_where(emu, lambda u: u["customAttributes"].get("beta") is True))
    assert beta and all(u["customAttributes"]["beta"] is True for u in beta)
    nps = scan(px_session, url, filter="customAttributes.nps>7.5")
    assert ids(nps) == ids(users_where(emu, lambda u: u["customAttributes"].get("nps", -1) > 7.5))


def test_missing_values_match_only_negative_operators(emu, px_session):
    url = f"{emu.base_url}/users"
    no_nps = users_where(emu, lambda u: "nps" not in u["customAttributes"])
    assert no_nps
    ne = ids(scan(px_session, url, filter="customAttributes.nps!=5"))
    assert all(u["aptrinsicId"] in ne for u in no_nps)
    ge = ids(scan(px_session, url, filter="customAttributes.nps>=0"))
    assert not any(u["aptrinsicId"] in ge for u in no_nps)


def test_semicolon_ands_and_repeated_filter_ors(emu, px_session):
    url = f"{emu.base_url}/users"
    both = scan(px_session, url, filter="customAttributes.plan==Pro;lastSeenDate>0")
    assert ids(both) == ids(users_where(
        emu, lambda u: u["customAttributes"].get("plan") == "Pro" and u["lastSeenDate"] > 0))
    either = scan(px_session, url, filter=["customAttributes.plan==Pro", "lastSeenDate==0"])
    assert ids(either) == ids(users_where(
        emu, lambda u: u["customAttributes"].get("plan") == "Pro" or u["lastSeenDate"] == 0))
    pro = scan(px_session, url, filter="customAttributes.plan==Pro")
    assert 0 < len(both) < len(pro) < len(either)


def test_filter_total_hits_counts_matches(emu, px_session):
    r = px_session.get(f"{emu.base_url}/users", params={"filter": "lastSeenDate==0", "pageSize": 5}).json()
    assert r["totalHits"] == len(users_where(emu, lambda u: u["lastSeenDate"] == 0))
    assert 10 <= r["totalHits"] <= 45  # ~10% never seen


def test_account_filters(emu, px_session):
    url = f"{emu.base_url}/accounts"
    accounts = emu.store.records("accounts")
    got = scan(px_session, url, filter="dupisBuyer==true;customAttributes.tier>=2")
    got_ids = [a["id"] for a in got]
    assert got_ids
    assert got_ids == [a["id"] for a in accounts if a["dupisBuyer"] and a["customAttributes"]["tier"] >= 2]
    got = scan(px_session, url, filter="id==acc-00007")
    assert [a["id"] for a in got] == ["acc-00007"]


@pytest.mark.parametrize("flt", [
    "nope==1",                 # unknown field
    "customAttributes==x",     # the object itself is not a field
    "lastSeenDate",            # no operator
    "==5",                     # no field
    "lastSeenDate>=abc",       # numeric field, non-numeric value
    "dupisBuyer==maybe",       # not on users; unknown field
    "",                        # empty
])
def test_bad_filters_are_400(emu, px_session, flt):
    r = px_session.get(f"{emu.base_url}/users", params={"filter": flt})
    assert r.status_code == 400
    assert api_status(r) == "BAD_REQUEST"


def test_bad_boolean_filter_on_accounts_is_400(emu, px_session):
    r = px_session.get(f"{emu.base_url}/accounts", params={"filter": "dupisBuyer>true"})
    assert r.status_code == 400


def test_filter_with_url_special_characters_in_value(emu, px_session):
    got = scan(px_session, f"{emu.base_url}/users", filter="identifyId==team/ops+13")
    assert [u["identifyId"] for u in got] == ["team/ops+13"]
    spaced = users_where(emu, lambda u: " " in u["identifyId"])[0]["identifyId"]
    assert [u["identifyId"] for u in scan(px_session, f"{emu.base_url}/users", filter=f"identifyId=={spaced}")] \
        == [spaced]


# ------------------------------------------------------------------ sort


def test_both_sort_spellings_agree_and_sort_descending(emu, px_session):
    url = f"{emu.base_url}/users"
    a = scan(px_session, url, sort="lastSeenDate:desc")
    b = scan(px_session, url, sort="-lastSeenDate")
    assert ids(a) == ids(b)
    seen = [u["lastSeenDate"] for u in a]
    assert seen == sorted(seen, reverse=True)


def test_ascending_sort_is_stable(emu, px_session):
    url = f"{emu.base_url}/users"
    got = scan(px_session, url, sort="type")
    want = sorted(emu.store.records("users"), key=lambda u: u["type"])  # Python's sort is stable
    assert ids(got) == ids(want)
    assert ids(scan(px_session, url, sort="type:asc")) == ids(want)


def test_multi_field_sort(emu, px_session):
    got = scan(px_session, f"{emu.base_url}/users", sort="type;-numberOfVisits;identifyId")
    keys = [(u["type"], -u["numberOfVisits"], u["identifyId"]) for u in got]
    assert keys == sorted(keys)


def test_sort_on_custom_attribute_puts_missing_last_both_ways(emu, px_session):
    url = f"{emu.base_url}/users"
    for spec, rev in (("customAttributes.nps", False), ("customAttributes.nps:desc", True)):
        got = scan(px_session, url, sort=spec)
        vals = [u["customAttributes"].get("nps") for u in got]
        present = [v for v in vals if v is not None]
        assert vals == present + [None] * (len(vals) - len(present))
        assert present == sorted(present, reverse=rev)


def test_sort_and_filter_together(emu, px_session):
    got = scan(px_session, f"{emu.base_url}/users", filter="lastSeenDate>0", sort="-lastSeenDate")
    want = sorted(users_where(emu, lambda u: u["lastSeenDate"] > 0), key=lambda u: -u["lastSeenDate"])
    assert ids(got) == ids(want)


@pytest.mark.parametrize("sort", ["nope", "lastSeenDate:sideways", "customAttributes", ";"])
def test_bad_sort_is_400(emu, px_session, sort):
    r = px_session.get(f"{emu.base_url}/users", params={"sort": sort})
    assert r.status_code == 400
    assert api_status(r) == "BAD_REQUEST"


def test_account_sort(emu, px_session):
    got = scan(px_session, f"{emu.base_url}/accounts", sort="-numberOfUsers;id")
    keys = [(-a["numberOfUsers"], a["id"]) for a in got]
    assert keys == sorted(keys) and len(got) == 25


@pytest.mark.parametrize("flt", ["identifyId==__import__('os').getcwd()", "identifyId==x')or(True",
                                 "customAttributes.a')or(True==1", "customAttributes.x\")or(1==1==1",
                                 "email~*') or True or ('"])
def test_code_like_filters_are_plain_values(emu, px_session, flt):
    r = px_session.get(f"{emu.base_url}/users", params={"filter": flt})
    assert r.status_code == 200
    assert r.json()["totalHits"] == 0
