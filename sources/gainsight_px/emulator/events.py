"""The emulator's event history (published dialect): every /events/* stream.

The history is lazy: nothing is stored per event. Time is cut into one-hour
buckets; a bucket's events are generated on demand from (seed, stream, bucket),
so the same seed and window always give the same events, and 10M events cost
a few kilobytes until a page asks for them. The number of events per bucket is
precomputed (one int per stream and hour), so `totalHits` and any position in
a window are known without generating anything.

Consistent with the tenant:
- every event's user was seen, and not after their `lastSeenDate`; its account
  is the user's;
- feature matches name the tenant's features, segment matches its segments,
  engagement views, email events and survey responses its engagements (surveys
  only for survey responses), with scores 0-10 and comments;
- page views and feature matches carry the session id of the user's day.

Serving follows the endpoint table (`max_range_days`, `default_range_days`,
response keys, page limits): a `date` range wider than 190 days is a 400
"Exceeded date range190days", no date filter means the last day, `sort=date`
(or `-date`) is served lazily; other filters and sorts materialise the window.
Events of the same `date` come in a different order in every scroll (as a
search engine may), so a client cannot rely on tie order.

Added events (`add`, via the control interface) may be back-dated: they land in
their bucket, visible to scrolls opened after they were added.
"""

from __future__ import annotations

import base64
import bisect
import math
import random
import re
import secrets
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gainsight_px.endpoints import Dialect, Endpoint
from gainsight_px.timestamps import ms_to_datetime

from .store import Scroll, bad_request, compile_filter, parse_sort, sort_records
from .tenant import uuid_like

if TYPE_CHECKING:
    from .store import Store

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
PRODUCT_KEY = "AP-EMULATOR0001-2"

# Share of each stream in the default mix (sums to 1).
DEFAULT_MIX: tuple[tuple[str, float], ...] = (
    ("page_view_events", 0.27),
    ("feature_match_events", 0.25),
    ("session_events", 0.12),
    ("engagement_view_events", 0.09),
    ("custom_events", 0.06),
    ("identify_events", 0.04),
    ("survey_responses", 0.05),
    ("email_events", 0.04),
    ("form_submit_events", 0.03),
    ("segment_match_events", 0.03),
    ("lead_events", 0.02),
)


@dataclass(frozen=True)
class EventSpec:
    """Size of the history: `per_day` events a day over `days` days before the
    emulator's start, shared between streams by `mix` (stream, share)."""

    per_day: int = 500
    days: int = 90
    mix: tuple[tuple[str, float], ...] = DEFAULT_MIX
    seed: int | None = None  # None: the tenant's seed

    def rate(self, stream: str) -> float:
        return self.per_day * dict(self.mix).get(stream, 0.0)

    @classmethod
    def only(cls, stream: str, total: int, days: int = 90, seed: int | None = None) -> EventSpec:
        """`total` events of one stream, e.g. for the bench."""
        return cls(per_day=max(1, math.ceil(total / days)), days=days, mix=((stream, 1.0),), seed=seed)


_SURVEY_CONTENT = {
    "IN_APP_NPS_SURVEY": ("IN_APP_SURVEY_NPS", "NPS"),
    "IN_APP_CES_SURVEY": ("IN_APP_SURVEY_CES", "CES"),
    "IN_APP_RATING_SURVEY": ("IN_APP_SURVEY_RATING", "RATING"),
    "IN_APP_BOOLEAN_SURVEY": ("IN_APP_SURVEY_BOOLEAN", "BOOLEAN"),
    "IN_APP_MULTIPLE_QUESTION_SURVEY": ("IN_APP_SURVEY_NPS", "NPS"),
}
_VIEW_CONTENT = {
    "IN_APP_DIALOG": "IN_APP_DIALOG", "IN_APP_NOTIFICATION": "IN_APP_DIALOG",
    "IN_APP_GUIDE": "IN_APP_GUIDE", "IN_APP_CAROUSEL": "IN_APP_CAROUSEL",
    **{k: v[0] for k, v in _SURVEY_CONTENT.items()},
}
_STATE_FIELD = {"IN_APP_GUIDE": "guideState", "IN_APP_CAROUSEL": "carouselState"}
_PAGES = ("/app/dashboard", "/app/reports", "/app/settings", "/app/billing", "/app/search", "/app/editor",
          "/app/inbox", "/app/analytics", "/app/admin", "/signup", "/pricing")
_COMMENTS = ("Love it", "Too slow on big reports", "Great support", "Missing export to Excel",
             "Hard to find settings", "Works well", "Pricing is confusing", "Best tool we use", "", None)
_EVENT_NAMES = ("report_exported", "invite_sent", "plan_upgraded", "search", "file_uploaded")
_EMAIL_TRACK = ("EMAIL_TRACK_DELIVERED", "EMAIL_TRACK_OPEN", "EMAIL_TRACK_CLICK", "EMAIL_TRACK_BOUNCE")
_CITIES = (("United States", "US", "Portland"), ("Germany", "DE", "Berlin"), ("India", "IN", "Pune"),
           ("Brazil", "BR", "São Paulo"), ("Japan", "JP", "Osaka"))
EVENT_TYPE = {
    "session_events": "SESSION_INITIALIZED", "page_view_events": "PAGE_VIEW",
    "feature_match_events": "FEATURE_MATCH", "custom_events": "CUSTOM", "identify_events": "IDENTIFY",
    "engagement_view_events": "ENGAGEMENT_VIEW", "email_events": "EMAIL", "form_submit_events": "FORM_SUBMIT",
    "lead_events": "LEAD", "segment_match_events": "SEGMENT_MATCH", "survey_responses": "SURVEY_RESPONSE",
}


def _stable(*parts: object) -> int:
    """A hash that does not change between processes (str hash() does)."""
    return zlib.crc32(":".join(map(str, parts)).encode())


class _Tenant:
    """What events refer to: seen users by lastSeenDate, features, engagements, segments."""

    def __init__(self, tables: dict[str, dict[str, dict]]) -> None:
        users = [u for u in tables.get("users", {}).values() if u.get("lastSeenDate")]
        users.sort(key=lambda u: u["lastSeenDate"])
        self.users = [(u["identifyId"], u.get("accountId"), u.get("email")) for u in users]
        self.last_seen = [u["lastSeenDate"] for u in users]
        self.features = [f["id"] for f in tables.get("features", {}).values()
                         if f.get("status") != "DELETED"] or ["feat-0000"]
        engagements = list(tables.get("engagements", {}).values())
        self.views = [(e["id"], _VIEW_CONTENT[e["type"]]) for e in engagements
                      if e.get("type") in _VIEW_CONTENT] or [("eng-0000", "IN_APP_DIALOG")]
        self.surveys = [(e["id"], *_SURVEY_CONTENT[e["type"]]) for e in engagements
                        if e.get("type") in _SURVEY_CONTENT] or [("eng-0000", "IN_APP_SURVEY_NPS", "NPS")]
        self.emails = [e["id"] for e in engagements if "EMAIL" in str(e.get("type"))] or ["eng-0000"]
        self.segments = list(tables.get("segments", {})) or [f"seg-{i:04d}" for i in range(5)]

    def user_at(self, rnd: float, date: int) -> tuple[str, str | None, str | None]:
        """A user seen on or after `date` (else one of the most recently seen)."""
        n = len(self.users)
        if not n:
            return ("anonymous-0", None, None)
        lo = bisect.bisect_left(self.last_seen, date)
        if lo >= n:
            lo = max(0, n - max(1, n // 20))
        return self.users[lo + int(rnd * (n - lo))]


class EventHistory:
    """Every event stream of one emulated tenant. Thread-safe; see the module docstring."""

    def __init__(self, spec: EventSpec, tables: dict[str, dict[str, dict]], *, end_ms: int, seed: int,
                 dialect: Dialect) -> None:
        self.spec = spec
        self.seed = spec.seed if spec.seed is not None else seed
        self.dialect = dialect
        self.streams = {e.name: e for e in dialect.endpoints.values() if e.is_event_stream}
        self.end_ms = end_ms
        self.start_ms = end_ms - spec.days * DAY_MS
        self.first_bucket = self.start_ms // HOUR_MS
        self.last_bucket = end_ms // HOUR_MS
        self.tenant = _Tenant(tables)
        self.lock = threading.Lock()
        self._seq = 0
        # stream -> bucket -> [(seq, event)], added through the control interface
        self._added: dict[str, dict[int, list[tuple[int, dict]]]] = {s: {} for s in self.streams}
        # stream -> events per bucket as drawn (`_raw`), and of those, inside the history (`_counts`)
        self._raw: dict[str, list[int]] = {}
        self._counts = {s: self._bucket_counts(s) for s in self.streams}

    # -------------------------------------------------------------- generation

    def _bucket_counts(self, stream: str) -> list[int]:
        """Generated events per bucket, first_bucket..last_bucket (edges cut to the history)."""
        rate = self.spec.rate(stream) / 24
        rng = random.Random(f"{self.seed}:{stream}:counts")
        out = []
        for b in range(self.first_bucket, self.last_bucket + 1):
            hour = b % 24
            weekday = (b // 24 + 3) % 7  # epoch day 0 was a Thursday
            # Busier in working hours and on weekdays; both factors average 1 over a week.
            shape = (1 + 0.6 * math.sin((hour - 8) / 24 * 2 * math.pi)) * (0.5 if weekday >= 5 else 1.2)
            mean = rate * shape * (0.7 + 0.6 * rng.random())
            n = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
            out.append(n)
        self._raw[stream] = out
        counts = list(out)
        for b in {self.first_bucket, self.last_bucket}:  # the edges: only what lies inside the history
            counts[b - self.first_bucket] = len(self._generate(stream, b))
        return counts

    def _generated_count(self, stream: str, b: int) -> int:
        if not self.first_bucket <= b <= self.last_bucket:
            return 0
        return self._counts[stream][b - self.first_bucket]

    def _generate(self, stream: str, b: int) -> list[dict]:
        """The generated events of bucket `b`, cut to the history's time span."""
        if not self.first_bucket <= b <= self.last_bucket:
            return []
        n = self._raw[stream][b - self.first_bucket]
        if not n:
            return []
        rng = random.Random(f"{self.seed}:{stream}:{b}")
        rnd, bits = rng.random, rng.getrandbits
        base = b * HOUR_MS
        dates = sorted(base + int(rnd() * HOUR_MS) for _ in range(n))
        make = getattr(self, "_" + stream.removesuffix("_events").removesuffix("_responses"))
        etype = EVENT_TYPE[stream]
        tenant = self.tenant
        out = []
        for date in dates:
            if not self.start_ms <= date <= self.end_ms:
                continue
            ident, account, email = tenant.user_at(rnd(), date)
            event = {
                "eventId": uuid_like(bits(128)),
                "identifyId": ident,
                "propertyKey": PRODUCT_KEY,
                "date": date,
                "eventType": etype,
                "sessionId": f"sess-{_stable(ident, date // DAY_MS):08x}-{date // DAY_MS}",
                "userType": "USER",
                "accountId": account,
                "globalContext": {"appVersion": f"4.{int(rnd() * 3)}", "environment": "production"},
            }
            make(event, rng, email)
            out.append(event)
        return out

    # One filler per stream: the stream's own fields.
    def _session(self, e: dict, rng: random.Random, email: str | None) -> None:
        country, code, city = _CITIES[int(rng.random() * len(_CITIES))]
        e["remoteHost"] = f"203.0.113.{int(rng.random() * 254) + 1}"
        e["inferredLocation"] = {"countryName": country, "countryCode": code, "city": city}

    def _page_view(self, e: dict, rng: random.Random, email: str | None) -> None:
        path = _PAGES[int(rng.random() ** 1.5 * len(_PAGES))]
        e.update(scheme="https", host="app.example.com", path=path, queryString="", hash="",
                 queryParams={}, remoteHost="203.0.113.7", referrer=None, screenHeight=1080,
                 screenWidth=1920, languages=["en-US"], pageTitle=path.rsplit("/", 1)[-1].title())

    def _form_submit(self, e: dict, rng: random.Random, email: str | None) -> None:
        self._page_view(e, rng, email)
        e["formData"] = {"plan": ("Starter", "Pro", "Enterprise")[int(rng.random() * 3)]}

    def _feature_match(self, e: dict, rng: random.Random, email: str | None) -> None:
        features = self.tenant.features
        e["featureId"] = features[int(rng.random() ** 2 * len(features))]  # the first ones are popular

    def _segment_match(self, e: dict, rng: random.Random, email: str | None) -> None:
        e["segmentId"] = self.tenant.segments[int(rng.random() * len(self.tenant.segments))]

    def _custom(self, e: dict, rng: random.Random, email: str | None) -> None:
        e.update(eventName=_EVENT_NAMES[int(rng.random() * len(_EVENT_NAMES))],
                 attributes={"count": int(rng.random() * 10), "plan": ("Free", "Pro")[int(rng.random() * 2)]},
                 url="https://app.example.com/app", referrer=None, remoteHost="203.0.113.9")

    def _identify(self, e: dict, rng: random.Random, email: str | None) -> None:
        e["email"] = email

    def _lead(self, e: dict, rng: random.Random, email: str | None) -> None:
        e["userType"] = "LEAD"
        e["email"] = email

    def _email(self, e: dict, rng: random.Random, email: str | None) -> None:
        for k in ("sessionId", "accountId"):
            e.pop(k)
        e.update(engagementId=self.tenant.emails[int(rng.random() * len(self.tenant.emails))], email=email,
                 emailTrackType=_EMAIL_TRACK[int(rng.random() * len(_EMAIL_TRACK))], status="ok")

    def _engagement_view(self, e: dict, rng: random.Random, email: str | None) -> None:
        views = self.tenant.views
        engagement, content = views[int(rng.random() * len(views))]
        e.update(engagementId=engagement, contentType=content,
                 engagementTrackType="ENGAGEMENT_CLICK" if rng.random() < 0.15 else "ENGAGEMENT_VIEW",
                 executionId=f"x-{rng.getrandbits(48):012x}", executionDate=e["date"])
        state = "COMPLETED" if rng.random() < 0.4 else "VIEWED"
        if content.startswith("IN_APP_SURVEY"):
            e["surveyState"] = state
        elif content in _STATE_FIELD:
            e[_STATE_FIELD[content]] = state

    def _survey(self, e: dict, rng: random.Random, email: str | None) -> None:
        engagement, content, question = self.tenant.surveys[int(rng.random() * len(self.tenant.surveys))]
        # Skewed towards promoters, as NPS answers tend to be.
        score = min(10, int(11 * rng.random() ** 0.35))
        e.update(engagementId=engagement, contentType=content, questionType=question, score=score,
                 comment=_COMMENTS[int(rng.random() * len(_COMMENTS))], surveyState="COMPLETED",
                 engagementTrackType="ENGAGEMENT_VIEW", executionId=f"x-{rng.getrandbits(48):012x}",
                 executionDate=e["date"], contactMeAllowed=rng.random() < 0.3)

    # -------------------------------------------------------------- buckets

    def _bucket(self, stream: str, b: int, seq_limit: int, salt: int | None) -> list[dict]:
        events = self._generate(stream, b)
        with self.lock:
            added = [e for s, e in self._added[stream].get(b, ()) if s < seq_limit]
        if added:
            events = sorted(events + added, key=_date)
        if salt is not None and len(events) > 1:
            events.sort(key=lambda e: (e["date"], _stable(e["eventId"], salt)))
        return events

    def _count(self, stream: str, b: int, seq_limit: int) -> int:
        n = self._generated_count(stream, b)
        with self.lock:
            extra = self._added[stream].get(b)
            if extra:
                n += sum(1 for s, _ in extra if s < seq_limit)
        return n

    # -------------------------------------------------------------- control

    def add(self, stream: str, events: Iterable[dict] | None = None, *, count: int = 0,
            date: int | None = None, identify_id: str | None = None) -> list[dict]:
        """Add events (full records, or `count` generated ones at `date`), e.g. late and back-dated.

        Generated ones get a user, ids and the stream's fields; a given record
        gets an eventId and defaults for what it lacks.
        """
        if stream not in self.streams:
            raise KeyError(f"unknown event stream {stream!r}; streams: {', '.join(self.streams)}")
        rng = random.Random(f"{self.seed}:{stream}:added:{self._seq}")
        made: list[dict] = []
        when = date if date is not None else self.end_ms
        for _ in range(count):
            ident, account, email = self.tenant.user_at(rng.random(), when)
            if identify_id is not None:
                ident = identify_id
            e = {"eventId": uuid_like(rng.getrandbits(128)), "identifyId": ident, "propertyKey": PRODUCT_KEY,
                 "date": when, "eventType": EVENT_TYPE[stream],
                 "sessionId": f"sess-{_stable(ident, when // DAY_MS):08x}-{when // DAY_MS}",
                 "userType": "USER", "accountId": account, "globalContext": {"environment": "production"}}
            getattr(self, "_" + stream.removesuffix("_events").removesuffix("_responses"))(e, rng, email)
            made.append(e)
        for given in events or ():
            e = {"eventId": uuid_like(rng.getrandbits(128)), "propertyKey": PRODUCT_KEY,
                 "eventType": EVENT_TYPE[stream], "userType": "USER", "date": when, **given}
            if not isinstance(e["date"], int):
                raise ValueError(f"event date must be epoch milliseconds, got {e['date']!r}")
            made.append(e)
        with self.lock:
            for e in made:
                self._added[stream].setdefault(e["date"] // HOUR_MS, []).append((self._seq, e))
                self._seq += 1
        return made

    # -------------------------------------------------------------- ground truth

    def events(self, stream: str, start: int | None = None, end: int | None = None) -> Iterator[dict]:
        """Every event of `stream` with start <= date <= end, by date (all added ones included)."""
        lo = self.first_bucket if start is None else start // HOUR_MS
        with self.lock:
            added_buckets = list(self._added[stream])
        hi = max([self.last_bucket, *added_buckets]) if end is None else end // HOUR_MS
        lo = min([lo, *added_buckets]) if start is None and added_buckets else lo
        for b in range(lo, hi + 1):
            for e in self._bucket(stream, b, math.inf, None):  # type: ignore[arg-type]
                if (start is None or e["date"] >= start) and (end is None or e["date"] <= end):
                    yield e

    def count(self, stream: str, start: int | None = None, end: int | None = None) -> int:
        return sum(1 for _ in self.events(stream, start, end))

    def distinct_users_per_day(self, stream: str = "session_events") -> dict[str, int]:
        """UTC day (ISO) -> distinct identifyIds with an event that day."""
        days: dict[str, set[str]] = {}
        for e in self.events(stream):
            day = ms_to_datetime(e["date"]).date().isoformat()
            days.setdefault(day, set()).add(e["identifyId"])
        return {d: len(u) for d, u in sorted(days.items())}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            added = {s: sum(len(v) for v in b.values()) for s, b in self._added.items()}
        return {"start_ms": self.start_ms, "end_ms": self.end_ms,
                "generated": {s: sum(c) for s, c in self._counts.items()}, "added": added}

    # -------------------------------------------------------------- serving

    def date_range(self, ep: Endpoint, filters: list[str] | None, now_ms: int) -> tuple[int, int, bool]:
        """(start, end, only_dates) of a query: its `date` bounds, PX's defaults, the 190-day rule."""
        d = self.dialect
        date_term = re.compile(rf"^{re.escape(ep.cursor or 'date')}(==|<=|>=|<|>)(-?\d+)$")
        lows: list[int] = []
        highs: list[int] = []
        only_dates = len(filters or []) <= 1
        for group in filters or []:
            low = high = None
            for term in filter(None, (t.strip() for t in group.split(d.filter_and))):
                m = date_term.match(term)
                if m is None:
                    only_dates = False
                    continue
                op, value = m.group(1), int(m.group(2))
                if op in (">=", ">", "=="):
                    low = max(low, value + (op == ">")) if low is not None else value + (op == ">")
                if op in ("<=", "<", "=="):
                    high = min(high, value - (op == "<")) if high is not None else value - (op == "<")
            lows.append(low)  # type: ignore[arg-type]
            highs.append(high)  # type: ignore[arg-type]
        default_ms = (ep.default_range_days or 1) * DAY_MS
        low = None if not lows or None in lows else min(lows)
        high = None if not highs or None in highs else max(highs)
        if high is None:
            high = max(now_ms, low) if low is not None else now_ms
        if low is None:
            low = high - default_ms
        if ep.max_range_days is not None and high - low > ep.max_range_days * DAY_MS:
            raise bad_request(f"Exceeded date range{ep.max_range_days}days")
        return low, high, only_dates

    def open_scroll(self, store: Store, ep: Endpoint, page_size: int, filters: list[str] | None,
                    sort: str | None, now_ms: int) -> Scroll:
        """A scroll over the window the query asks for, registered with the store's scrolls
        (so expiry, TTL and rotating ids work as for every other endpoint)."""
        start, end, only_dates = self.date_range(ep, filters, now_ms)
        order = parse_sort(ep, sort, self.dialect) if sort else [("date", False)]
        with self.lock:
            seq = self._seq
        records: Any = _Window(self, ep.name, start, end, seq)
        if not only_dates:
            pred = compile_filter(ep, filters or [])
            records = list(records)
            if pred is not None:
                records = pred.select(records)
        if order == [("date", True)]:
            records = _Reversed(records)
        elif order != [("date", False)]:
            records = sort_records(list(records), order)
        sid = base64.urlsafe_b64encode(b"px-scroll:" + secrets.token_bytes(16)).decode()
        scroll = Scroll(sid, ep.name, records, page_size)
        with store.lock:
            store._sweep()  # the store's own registry: one expiry rule for every scroll
            store._scrolls[sid] = scroll
        return scroll


def _date(e: dict) -> int:
    return e["date"]


class _Window:
    """The events of one stream with start <= date <= end, as a lazy sequence
    (len and slices), generated bucket by bucket; tie order salted per scroll."""

    def __init__(self, history: EventHistory, stream: str, start: int, end: int, seq_limit: int) -> None:
        self.h, self.stream, self.start, self.end, self.seq = history, stream, start, end, seq_limit
        self.salt = secrets.randbits(32)
        self.buckets = list(range(start // HOUR_MS, end // HOUR_MS + 1))
        self._cache: tuple[int, list[dict]] | None = None
        cum = [0]
        for b in self.buckets:
            partial = b * HOUR_MS < start or (b + 1) * HOUR_MS - 1 > end
            n = len(self._events(b)) if partial else history._count(stream, b, seq_limit)
            cum.append(cum[-1] + n)
        self.cum = cum

    def _events(self, b: int) -> list[dict]:
        if self._cache is not None and self._cache[0] == b:
            return self._cache[1]
        events = self.h._bucket(self.stream, b, self.seq, self.salt)
        if events and (events[0]["date"] < self.start or events[-1]["date"] > self.end):
            events = [e for e in events if self.start <= e["date"] <= self.end]
        self._cache = (b, events)
        return events

    def __len__(self) -> int:
        return self.cum[-1]

    def __iter__(self) -> Iterator[dict]:
        for b in self.buckets:
            yield from self._events(b)

    def __getitem__(self, index: slice) -> list[dict]:
        start, stop, _ = index.indices(len(self))
        out: list[dict] = []
        pos = start
        while pos < stop:
            i = bisect.bisect_right(self.cum, pos) - 1
            events = self._events(self.buckets[i])
            offset = pos - self.cum[i]
            chunk = events[offset:offset + (stop - pos)]
            if not chunk:
                break
            out.extend(chunk)
            pos += len(chunk)
        return out


class _Reversed:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: slice) -> list[dict]:
        start, stop, _ = index.indices(len(self))
        n = len(self)
        return self.inner[n - stop:n - start][::-1]
