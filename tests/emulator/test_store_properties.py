"""Properties of filter and sort over the store, for any value (hypothesis)."""

from __future__ import annotations

import pytest
from emu_helpers import NOW_MS
from gainsight_px.emulator.store import APIError, Store, compile_filter, parse_sort, sort_records
from gainsight_px.emulator.tenant import TenantSpec, generate
from gainsight_px.endpoints import CONTRACT
from hypothesis import given, settings
from hypothesis import strategies as st

USERS = CONTRACT["users"]
STORE = Store(generate(TenantSpec(users=300, seed=11), NOW_MS))
RECORDS = STORE.records("users")
NUMERIC = ["lastSeenDate", "firstVisitDate", "signUpDate", "numberOfVisits", "score",
           "customAttributes.seats", "customAttributes.nps", "customAttributes.renewalDate"]
STRINGS = ["identifyId", "email", "firstName", "lastName", "title", "accountId", "customAttributes.plan"]
SORTABLE = NUMERIC + STRINGS + ["customAttributes.beta"]


def keys(pred) -> list[str]:
    return [r["aptrinsicId"] for r in RECORDS if pred(r)]


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(NUMERIC), value=st.integers(min_value=-10, max_value=NOW_MS * 2)
       | st.floats(min_value=-10, max_value=1000, allow_nan=False))
def test_numeric_operators_partition_the_present_values(field, value):
    lt, ge = (compile_filter(USERS, [f"{field}{op}{value}"]) for op in ("<", ">="))
    le, gt = (compile_filter(USERS, [f"{field}{op}{value}"]) for op in ("<=", ">"))
    eq, ne = (compile_filter(USERS, [f"{field}{op}{value}"]) for op in ("==", "!="))
    present = compile_filter(USERS, [f"{field}>=-1e300"])
    for r in RECORDS:
        if present(r):
            assert lt(r) != ge(r) and le(r) != gt(r) and eq(r) != ne(r)
            assert le(r) == (lt(r) or eq(r))
        else:  # missing: only the negative operators match
            assert ne(r) and not (lt(r) or ge(r) or le(r) or gt(r) or eq(r))


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(STRINGS), index=st.integers(0, len(RECORDS) - 1))
def test_equality_wildcard_and_negation_agree(field, index):
    head, _, tail = field.partition(".")
    value = RECORDS[index][head].get(tail) if tail else RECORDS[index][head]
    if not isinstance(value, str) or any(c in value for c in "*?;"):
        return
    eq, ne, like, unlike = (compile_filter(USERS, [f"{field}{op}{value}"]) for op in ("==", "!=", "~", "!~"))
    assert RECORDS[index]["aptrinsicId"] in keys(eq)
    assert keys(eq) == keys(like)
    assert keys(ne) == keys(unlike)
    assert sorted(keys(eq) + keys(ne)) == sorted(r["aptrinsicId"] for r in RECORDS)


@settings(max_examples=40, deadline=None)
@given(a=st.sampled_from(NUMERIC), b=st.sampled_from(STRINGS), x=st.integers(0, NOW_MS), y=st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789", max_size=4))
def test_and_is_intersection_or_is_union(a, b, x, y):
    p, q = f"{a}>={x}", f"{b}>={y}" if y else f"{b}!=zzz"
    left, right = keys(compile_filter(USERS, [p])), keys(compile_filter(USERS, [q]))
    both = keys(compile_filter(USERS, [f"{p};{q}"]))
    either = keys(compile_filter(USERS, [p, q]))
    assert both == [k for k in left if k in set(right)]
    assert set(either) == set(left) | set(right)
    assert either == [r["aptrinsicId"] for r in RECORDS if r["aptrinsicId"] in set(either)]  # order kept


@settings(max_examples=60, deadline=None)
@given(spec=st.lists(st.tuples(st.sampled_from(SORTABLE), st.booleans()), min_size=1, max_size=3, unique_by=lambda t: t[0]))
def test_sort_orders_by_each_key_in_turn_and_is_stable(spec):
    text = ";".join(f"-{f}" if d else f"{f}:asc" for f, d in spec)
    assert parse_sort(USERS, text) == spec
    out = sort_records(RECORDS, spec)
    assert sorted(r["aptrinsicId"] for r in out) == sorted(r["aptrinsicId"] for r in RECORDS)

    def value(r, f):
        head, _, tail = f.partition(".")
        return r[head].get(tail) if tail else r[head]

    for prev, cur in zip(out, out[1:], strict=False):
        for f, desc in spec:
            pv, cv = value(prev, f), value(cur, f)
            if pv == cv:
                continue
            if cv is None:
                break  # missing sorts last
            assert pv is not None
            assert (pv > cv) if desc else (pv < cv), (f, pv, cv)
            break
        else:  # every key equal: insertion order kept
            assert RECORDS.index(prev) < RECORDS.index(cur)


@pytest.mark.parametrize("term", ["lastSeenDate=<5", "lastSeenDate=5", "lastSeenDate<>5", "1abc==2",
                                  "customAttributes.==x", "lastSeenDate==1e999"])
def test_malformed_terms_raise_400(term):
    with pytest.raises(APIError) as err:
        compile_filter(USERS, [term])
    assert err.value.status == 400
