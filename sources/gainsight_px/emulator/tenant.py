"""A synthetic Gainsight PX tenant, deterministic per seed.

`generate(spec, now_ms)` returns the records of every listable resource, in API
field names; `generate(spec, now_ms, PUBLISHED)` shapes them as the published
API's Swagger does (propertyKeys, createDate/lastModifiedDate, locations,
segments; no subscriptions) from a second random stream, so the contract
tenant of a seed stays exactly what it was. The same spec and `now_ms` always give the same records; with the
real clock only the timestamps move. The shape follows what real tenants look
like (docs/api-behaviour.md "Sizes to expect"): skewed account sizes, ~10%
never-seen users (lastSeenDate 0), ids with `@`, `/`, `+`, spaces and a pair
that differs only by case, and customAttributes of mixed types with gaps.

Generation is a tight loop over `random.Random(seed)`; 1M users take a few
seconds. Records are plain dicts the store never mutates (copy-on-write).
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass

from gainsight_px.endpoints import CONTRACT, ENGAGEMENT_STATES, ENGAGEMENT_TYPES, Dialect
from gainsight_px.endpoints import published as _published

DAY_MS = 86_400_000

FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger",
    "Radia", "Tim", "Katherine", "John", "Hedy", "Guido", "Sophie", "Yukihiro", "Anita", "Bjarne",
    "Shafi", "Donald", "Karen", "Niklaus", "Lynn", "Vint", "Mary", "Brian", "Jean", "Leslie",
    "Zoë", "José", "Chloé", "Søren", "Ana-María", "O'Neil", "Li", "Mei", "Raj", "Fatima",
)
LAST_NAMES = (
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
    "Dijkstra", "Perlman", "Berners-Lee", "Johnson", "McCarthy", "Lamarr", "van Rossum", "Wilson",
    "Matsumoto", "Borg", "Stroustrup", "Goldwasser", "Knuth", "Spärck Jones", "Wirth", "Conway", "Cerf",
    "Kenneth", "Kernighan", "Sammet", "Lamport", "O'Brien", "García", "Müller", "Øster", "Nguyen",
    "Kim", "Patel", "Chen", "Okafor", "Smith",
)
TITLES = (
    "Engineer", "Senior Engineer", "Product Manager", "Designer", "Data Analyst", "CTO", "VP Sales",
    "Customer Success Manager", "Support Agent", "Marketing Lead", "Director of Ops", "Intern",
    None,
)
ROLES = ("admin", "member", "viewer", "owner", "billing", None)
GENDERS = ("MALE", "FEMALE", "OTHER", None)
USER_TYPES = ("USER",) * 17 + ("LEAD",) * 2 + ("VISITOR",)
PLANS = ("Free", "Starter", "Pro", "Enterprise")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
INDUSTRIES = ("Software", "Finance", "Healthcare", "Retail", "Manufacturing", "Education", "Media")
CSMS = ("Dana Scully", "Fox Mulder", "Walter Skinner", "Monica Reyes", "John Doggett")
DOMAINS = ("example.com", "example.org", "acme.test", "globex.test", "initech.test", "umbrella.test")
COMPANY_A = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell",
             "Cyberdyne", "Soylent", "Aperture", "Vandelay", "Pied Piper", "Monsters")
COMPANY_B = ("Corp", "Inc", "Labs", "Systems", "Industries", "GmbH", "& Sons", "Holdings", "Ltd")
FEATURE_TYPES = ("PAGE", "CLICK", "FEATURE", "FORM")
FEATURE_WORDS = ("Dashboard", "Reports", "Settings", "Billing", "Export", "Search", "Invite", "Profile",
                 "Checkout", "Onboarding", "Editor", "Calendar", "Inbox", "Analytics", "Admin")
EVENT_TYPES = ("USER_CREATED", "USER_UPDATED", "ACCOUNT_CREATED", "ENGAGEMENT_VIEWED", "CUSTOM_EVENT")
# The emulated tenant's product (tag) key: what propertyKeys / propertyKey carry.
PRODUCT_KEY = "AP-EMULATOR0001-2"
CITIES = (
    ("United States", "USA", "California", "CA", "San Mateo", "NA", "America/Los_Angeles", 37.5630, -122.3255),
    ("United States", "USA", "New York", "NY", "New York", "NA", "America/New_York", 40.7128, -74.0060),
    ("Germany", "DEU", "Berlin", "BE", "Berlin", "EU", "Europe/Berlin", 52.5200, 13.4050),
    ("France", "FRA", "Île-de-France", "IDF", "Paris", "EU", "Europe/Paris", 48.8566, 2.3522),
    ("Japan", "JPN", "Tokyo", "13", "Tokyo", "AS", "Asia/Tokyo", 35.6762, 139.6503),
    ("Brazil", "BRA", "São Paulo", "SP", "São Paulo", "SA", "America/Sao_Paulo", -23.5505, -46.6333),
    ("India", "IND", "Karnataka", "KA", "Bengaluru", "AS", "Asia/Kolkata", 12.9716, 77.5946),
)
BROWSERS = ("CHROME", "FIREFOX", "SAFARI", "EDGE")
SEGMENT_WORDS = ("Active", "Trial", "Churn risk", "Champions", "New", "Dormant", "Power users", "Admins",
                 "EMEA", "APAC", "Enterprise", "Beta testers")


@dataclass(frozen=True)
class TenantSpec:
    """Sizes and seed of a synthetic tenant.

    `accounts=None` means `max(1, users // 10)`. `extra_attributes` adds that many
    more customAttributes keys per user (mixed types), to test wide tables.
    """

    users: int = 1000
    accounts: int | None = None
    features: int = 40
    engagements: int = 30
    subscriptions: int = 3
    seed: int = 42
    extra_attributes: int = 0
    segments: int = 36  # the published dialect only

    @property
    def account_count(self) -> int:
        return self.accounts if self.accounts is not None else max(1, self.users // 10)


def uuid_like(bits: int) -> str:
    """A uuid-shaped string from 128 random bits (cheaper than uuid.UUID)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def user_identify_id(i: int, first: str, last: str, domain: str) -> str:
    """Mostly `u-000123`; a few percent carry `@`, `/`, `+`, spaces or upper case."""
    m = i % 25
    if m == 7:
        return f"{first.lower()}.{last.lower().replace(' ', '')}{i}@{domain}"
    if m == 13:
        return f"team/ops+{i}"
    if m == 19:
        return f"{first} {last} {i}"
    if i % 200 == 101:
        # Case twin of the previous user's id ("u-000100" / "U-000100"): ids are case-sensitive.
        return f"U-{i - 1:06d}"
    return f"u-{i:06d}"


def generate(spec: TenantSpec, now_ms: int, dialect: Dialect = CONTRACT) -> dict[str, list[dict]]:
    """Every listable resource's records for `spec`, relative to `now_ms`, shaped for `dialect`."""
    rng = random.Random(spec.seed)
    # Millions of new dicts would trigger repeated full cyclic-GC passes (2x slower);
    # none of them is in a cycle, so pause the collector while building them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        accounts = _accounts(rng, spec.account_count, now_ms)
        users = _users(rng, spec, accounts, now_ms)
    finally:
        if gc_was_enabled:
            gc.enable()
    if spec.users >= 50_000:
        # Keep later GC passes from rescanning millions of long-lived records.
        gc.freeze()
    seen = sum(1 for u in users if u["lastSeenDate"])
    data = {
        "users": users,
        "accounts": accounts,
        "features": _features(rng, spec.features, seen),
        "engagements": _engagements(rng, spec.engagements, now_ms),
        "subscriptions": _subscriptions(spec.subscriptions),
    }
    if dialect.name == _published.PUBLISHED.name:
        return _as_published(data, spec, now_ms)
    return data


def _location(rng: random.Random) -> dict:
    country, code, state, state_code, city, continent, tz, lat, lon = rng.choice(CITIES)
    return {"countryName": country, "countryCode": code, "stateName": state, "stateCode": state_code,
            "city": city, "street": None, "postalCode": None, "continent": continent, "regionName": None,
            "timeZone": tz, "coordinates": {"latitude": lat, "longitude": lon}}


def _dates(rng: random.Random, earliest: int, now_ms: int) -> tuple[int, int]:
    """(createDate, lastModifiedDate): created by `earliest`; a third never modified since."""
    created = earliest - int(rng.random() * DAY_MS)
    if rng.random() < 0.33:
        return created, created
    return created, created + int((now_ms - 1 - created) * rng.random() ** 3)


def _as_published(data: dict[str, list[dict]], spec: TenantSpec, now_ms: int) -> dict[str, list[dict]]:
    """The contract-shaped records reshaped as the published Swagger's User, Account, ..."""
    rng = random.Random(f"{spec.seed}:published")
    keys = [PRODUCT_KEY]
    users = []
    for u in data["users"]:
        created, modified = _dates(rng, min(d for d in (u["signUpDate"], u["firstVisitDate"]) if d)
                                   if u["firstVisitDate"] else u["signUpDate"], now_ms)
        seen = bool(u["lastSeenDate"])
        users.append({
            **u,
            "subscriptionId": None,
            "location": _location(rng) if rng.random() < 0.6 else None,
            "propertyKeys": keys,
            "createDate": created,
            "lastModifiedDate": modified,
            "globalUnsubscribe": rng.random() < 0.05,
            "sfdcContactId": f"003{rng.getrandbits(60):015X}" if rng.random() < 0.5 else None,
            "channelMetricList": [{"groupId": None, "channel": 1, "environment": 0,
                                   "firstSeenDate": u["firstVisitDate"], "lastSeenDate": u["lastSeenDate"]}]
            if seen else [],
            "lastVisitedUserAgentData": [{"propertyKey": PRODUCT_KEY, "userAgent": {
                "rawUserAgent": None, "device": "DESKTOP", "platformType": "WEB", "platformVersion": None,
                "browserType": rng.choice(BROWSERS), "browserVersion": str(100 + rng.randrange(30))}}]
            if seen else [],
            "id": u["identifyId"],
            "lastInferredLocation": _location(rng) if seen else None,
            "globalId": None,
        })
    accounts = []
    for a in data["accounts"]:
        ca = a["customAttributes"]
        rest = {k: v for k, v in a.items() if k not in ("dupisBuyer", "numberOfVisits")}
        created, modified = _dates(rng, now_ms - int(rng.random() * 700 * DAY_MS), now_ms)
        accounts.append({
            **rest,
            "dunsNumber": f"{rng.randrange(10**9):09d}" if rng.random() < 0.4 else None,
            "industry": ca.get("industry"),
            "numberOfEmployees": rng.randrange(1, 50_000),
            "sicCode": str(rng.randrange(100, 9999)) if rng.random() < 0.5 else None,
            "website": f"https://www.{a['id']}.example.com",
            "naicsCode": None,
            "location": _location(rng) if rng.random() < 0.7 else None,
            "propertyKeys": keys,
            "createDate": created,
            "lastModifiedDate": modified,
            "parentGroupId": None,
            "renewalDate": now_ms + int(rng.random() * 365 * DAY_MS) if rng.random() < 0.6 else None,
            "healthScore": rng.randrange(101) if rng.random() < 0.8 else None,
            "gsId": None,
            "nps": round(rng.random() * 10, 1) if rng.random() < 0.5 else None,
            "csm": ca.get("csm"),
        })
    features = []
    for i, f in enumerate(data["features"]):
        module = i % 5 == 0
        features.append({
            "id": f["id"], "name": f["name"], "type": "MODULE" if module else "FEATURE",
            "parentFeatureId": None if module else data["features"][i - i % 5]["id"],
            "propertyKey": PRODUCT_KEY, "status": "DELETED" if i % 17 == 16 else "ACTIVATED",
            "featureLabels": [],
        })
    types, states = _published.ENGAGEMENT_TYPES, _published.ENGAGEMENT_STATES
    engagements = []
    for i, e in enumerate(data["engagements"]):
        etype, state = types[i % len(types)], states[(i + i // len(types)) % len(states)]
        engagements.append({
            "id": e["id"], "name": f"{etype.replace('_', ' ').title()} #{i}",
            "description": None if i % 3 else f"Engagement {i}", "type": etype, "state": state,
            "defaultLanguage": "en", "translationState": None, "languages": [],
            "propertyKeys": keys, "envs": ["Production"] if i % 4 else ["Production", "Staging"],
        })
    segments = [{"id": f"seg-{i:04d}", "name": f"{SEGMENT_WORDS[i % len(SEGMENT_WORDS)]} {i}"}
                for i in range(spec.segments)]
    return {"users": users, "accounts": accounts, "features": features, "engagements": engagements,
            "segments": segments}


def _accounts(rng: random.Random, n: int, now_ms: int) -> list[dict]:
    out = []
    for i in range(n):
        ca: dict = {"industry": rng.choice(INDUSTRIES), "tier": rng.randint(1, 4)}
        if rng.random() < 0.9:
            ca["arr"] = round(rng.uniform(1_000, 2_000_000), 2)
        if rng.random() < 0.8:
            ca["csm"] = rng.choice(CSMS)
        out.append({
            "id": f"acc-{i:05d}",
            "name": f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} {i}",
            "trackedSubscriptionId": f"tsub-{rng.getrandbits(32):08x}" if rng.random() < 0.7 else None,
            "sfdcId": f"001{rng.getrandbits(60):015X}" if rng.random() < 0.8 else None,
            "lastSeenDate": 0,  # set from the users below
            "dupisBuyer": rng.random() < 0.3,
            "numberOfUsers": 0,
            "numberOfVisits": 0,
            "plan": rng.choice(PLANS),
            "customAttributes": ca,
        })
    return out


def _users(rng: random.Random, spec: TenantSpec, accounts: list[dict], now_ms: int) -> list[dict]:
    rnd = rng.random
    getrandbits = rng.getrandbits
    n_acc = len(accounts)
    acc_ids = [a["id"] for a in accounts]
    acc_last = [0] * n_acc
    acc_users = [0] * n_acc
    acc_visits = [0] * n_acc
    nf, nl, nt, nr, ng, nd = len(FIRST_NAMES), len(LAST_NAMES), len(TITLES), len(ROLES), len(GENDERS), len(DOMAINS)
    n_types, n_plans, n_regions = len(USER_TYPES), len(PLANS), len(REGIONS)
    window = 120 * DAY_MS
    extra = [f"attr{j:03d}" for j in range(spec.extra_attributes)]
    users = []
    append = users.append
    for i in range(spec.users):
        first = FIRST_NAMES[int(rnd() * nf)]
        last = LAST_NAMES[int(rnd() * nl)]
        domain = DOMAINS[int(rnd() * nd)]
        # Skewed account sizes: low indices get most users; ~2% of users have no account.
        acc = -1 if rnd() < 0.02 or not n_acc else int(n_acc * rnd() ** 2.5)
        if rnd() < 0.1:
            last_seen = first_visit = visits = 0
            signup = now_ms - int(rnd() * (400 * DAY_MS))
        else:
            last_seen = now_ms - int(window * rnd() ** 2) - int(rnd() * DAY_MS)  # recent is likelier
            first_visit = last_seen - int(rnd() * (365 * DAY_MS))
            signup = first_visit - int(rnd() * (30 * DAY_MS))
            visits = 1 + int(400 * rnd() ** 3)
        ca: dict = {}
        if rnd() < 0.9:
            ca["plan"] = PLANS[int(rnd() * n_plans)]
        if rnd() < 0.7:
            ca["seats"] = 1 + int(rnd() * 499)
        if rnd() < 0.6:
            ca["nps"] = round(rnd() * 10, 1)
        if rnd() < 0.8:
            ca["beta"] = rnd() < 0.25
        if rnd() < 0.5:
            ca["renewalDate"] = now_ms - 90 * DAY_MS + int(rnd() * 455 * DAY_MS)
        if rnd() < 0.85:
            ca["region"] = REGIONS[int(rnd() * n_regions)]
        for j, key in enumerate(extra):
            kind = j % 4
            ca[key] = (int(rnd() * 1000), round(rnd(), 3), rnd() < 0.5, f"v{int(rnd() * 100)}")[kind]
        if acc >= 0:
            acc_users[acc] += 1
            acc_visits[acc] += visits
            if last_seen > acc_last[acc]:
                acc_last[acc] = last_seen
        append({
            "aptrinsicId": uuid_like(getrandbits(128)),
            "identifyId": user_identify_id(i, first, last, domain),
            "type": USER_TYPES[int(rnd() * n_types)],
            "gender": GENDERS[int(rnd() * ng)],
            "email": f"{first.lower()}.{last.lower().replace(' ', '')}{i}@{domain}",
            "firstName": first,
            "lastName": last,
            "title": TITLES[int(rnd() * nt)],
            "phone": f"+1-555-{int(rnd() * 10_000_000):07d}",
            "score": int(rnd() * 101),
            "role": ROLES[int(rnd() * nr)],
            "accountId": acc_ids[acc] if acc >= 0 else None,
            "numberOfVisits": visits,
            "lastSeenDate": last_seen,
            "firstVisitDate": first_visit,
            "signUpDate": signup,
            "customAttributes": ca,
        })
    for k, a in enumerate(accounts):
        a["lastSeenDate"] = acc_last[k]
        a["numberOfUsers"] = acc_users[k]
        a["numberOfVisits"] = acc_visits[k]
    return users


def _features(rng: random.Random, n: int, seen_users: int) -> list[dict]:
    out = []
    for i in range(n):
        # Popularity falls off with the index; counts never exceed the users ever seen.
        users = int(seen_users * rng.random() / (1 + i * 0.2))
        out.append({
            "id": f"feat-{i:04d}",
            "name": f"{FEATURE_WORDS[i % len(FEATURE_WORDS)]} {i}",
            "type": FEATURE_TYPES[i % len(FEATURE_TYPES)],
            "url": f"/app/{FEATURE_WORDS[i % len(FEATURE_WORDS)].lower()}/{i}",
            "totalUserCount": users,
            "totalEventCount": users * rng.randint(1, 40),
        })
    return out


def _engagements(rng: random.Random, n: int, now_ms: int) -> list[dict]:
    # Index i -> (type i%6, state (i + i//6)%4): the first 6 cover every type and
    # every state, the first 24 cover every (type, state) pair.
    nt, ns = len(ENGAGEMENT_TYPES), len(ENGAGEMENT_STATES)
    out = []
    for i in range(n):
        etype = ENGAGEMENT_TYPES[i % nt]
        state = ENGAGEMENT_STATES[(i + i // nt) % ns]
        out.append({
            "id": f"eng-{i:04d}",
            "name": f"{etype} {state.lower()} #{i}",
            "type": etype,
            "state": state,
            "createdDate": now_ms - rng.randrange(720 * DAY_MS),
        })
    return out


def _subscriptions(n: int) -> list[dict]:
    return [
        {
            "id": f"sub-{i + 1:04d}",
            "name": f"Webhook {i + 1}",
            "callbackUrl": f"https://hooks.example.com/px/{i + 1}",
            "eventType": EVENT_TYPES[i % len(EVENT_TYPES)],
            "active": i % 3 != 2,
        }
        for i in range(n)
    ]
