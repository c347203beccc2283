"""The Gainsight PX API as data.

One `Dialect` holds everything the source, the push validator and the emulator
need to know about the API: paths, response keys, paging style, keys, cursors
and field types. `CONTRACT` is the OpenAPI contract in ../shared/spec; a second
dialect (Gainsight's published v1 API) would be a second table, not new code.

Field names here are the API's own (camelCase). Column names in the warehouse
are derived from them by dlt's snake_case naming convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["string", "integer", "number", "boolean", "timestamp", "object"]
Paging = Literal["scroll", "none"]


@dataclass(frozen=True)
class Field:
    """One field of a record as the API sends and accepts it."""

    name: str
    type: FieldType
    # Accepted in write bodies (POST/PATCH). Read-only fields are ignored on write.
    writable: bool = False
    # Required in a create/upsert body.
    required: bool = False
    # "email" and "uri" are checked by the push validator and the emulator.
    format: str | None = None
    # Allowed values, for enums (engagement type and state).
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """A resource of the API: how to list it, key it, and write to it."""

    name: str  # resource / table name, e.g. "users"
    path: str  # list/create path, e.g. "/users"
    fields: tuple[Field, ...]
    primary_key: str  # key of the read record (merge key in the warehouse)
    paging: Paging = "scroll"
    response_key: str = "results"
    item_path: str | None = None  # e.g. "/users/{identifyId}" for GET/PATCH/DELETE
    write_key: str | None = None  # body field that identifies the record on writes
    cursor: str | None = None  # incremental cursor field, when the API can filter on it
    filterable: bool = False  # accepts `filter`
    sortable: bool = False  # accepts `sort`
    methods: frozenset[str] = frozenset({"GET"})  # methods on `path`
    item_methods: frozenset[str] = frozenset()  # methods on `item_path`
    create_status: int = 200
    # Nested object whose keys become their own columns / dotted CSV headers.
    attributes_field: str | None = None

    @property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def timestamp_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.type == "timestamp")

    @property
    def writable_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.writable)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


@dataclass(frozen=True)
class Dialect:
    """A complete description of one flavour of the PX API."""

    name: str
    endpoints: dict[str, Endpoint]
    max_page_size: int
    default_page_size: int
    api_key_header: str = "X-APTRINSIC-API-KEY"
    # Endpoint names by role, so callers never hard-code paths.
    events_endpoint: str = "custom_events"
    regions: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Endpoint:
        return self.endpoints[name]

    @property
    def list_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints.values() if "GET" in e.methods)


def _f(name: str, type_: FieldType, **kw: object) -> Field:
    return Field(name, type_, **kw)  # type: ignore[arg-type]


_USER_FIELDS = (
    _f("aptrinsicId", "string"),
    _f("identifyId", "string", writable=True, required=True),
    _f("type", "string"),
    _f("gender", "string"),
    _f("email", "string", writable=True, format="email"),
    _f("firstName", "string", writable=True),
    _f("lastName", "string", writable=True),
    _f("title", "string", writable=True),
    _f("phone", "string", writable=True),
    _f("score", "integer"),
    _f("role", "string", writable=True),
    _f("accountId", "string", writable=True),
    _f("numberOfVisits", "integer"),
    _f("lastSeenDate", "timestamp"),
    _f("firstVisitDate", "timestamp"),
    _f("signUpDate", "timestamp", writable=True),
    _f("customAttributes", "object", writable=True),
)

_ACCOUNT_FIELDS = (
    _f("id", "string", writable=True, required=True),
    _f("name", "string", writable=True, required=True),
    _f("trackedSubscriptionId", "string", writable=True),
    _f("sfdcId", "string", writable=True),
    _f("lastSeenDate", "timestamp"),
    _f("dupisBuyer", "boolean"),
    _f("numberOfUsers", "integer"),
    _f("numberOfVisits", "integer"),
    _f("plan", "string", writable=True),
    _f("customAttributes", "object", writable=True),
)

_FEATURE_FIELDS = (
    _f("id", "string"),
    _f("name", "string"),
    _f("type", "string"),
    _f("url", "string"),
    _f("totalUserCount", "integer"),
    _f("totalEventCount", "integer"),
)

ENGAGEMENT_TYPES = ("Dialog", "Slider", "Guide", "Tooltip", "Hotspot", "Badge")
ENGAGEMENT_STATES = ("DRAFT", "LIVE", "PAUSED", "STAGED")

_ENGAGEMENT_FIELDS = (
    _f("id", "string"),
    _f("name", "string"),
    _f("type", "string", enum=ENGAGEMENT_TYPES),
    _f("state", "string", enum=ENGAGEMENT_STATES),
    _f("createdDate", "timestamp"),
)

_CUSTOM_EVENT_FIELDS = (
    _f("identifyId", "string", writable=True, required=True),
    _f("accountId", "string", writable=True),
    _f("eventName", "string", writable=True, required=True),
    _f("date", "timestamp", writable=True),
    _f("attributes", "object", writable=True),
    _f("url", "string", writable=True),
    _f("referrer", "string", writable=True),
)

_SUBSCRIPTION_FIELDS = (
    _f("id", "string"),
    _f("name", "string", writable=True, required=True),
    _f("callbackUrl", "string", writable=True, required=True, format="uri"),
    _f("eventType", "string", writable=True, required=True),
    _f("active", "boolean"),
)

CONTRACT = Dialect(
    name="contract",
    max_page_size=500,
    default_page_size=20,
    regions={
        "us": "https://api.aptrinsic.com/v1",
        "eu": "https://api-eu.aptrinsic.com/v1",
        "us2": "https://api-us2.aptrinsic.com/v1",
    },
    endpoints={
        "users": Endpoint(
            name="users",
            path="/users",
            item_path="/users/{identifyId}",
            fields=_USER_FIELDS,
            primary_key="aptrinsicId",
            write_key="identifyId",
            cursor="lastSeenDate",
            filterable=True,
            sortable=True,
            methods=frozenset({"GET", "POST"}),
            item_methods=frozenset({"GET", "PATCH", "DELETE"}),
            attributes_field="customAttributes",
        ),
        "accounts": Endpoint(
            name="accounts",
            path="/accounts",
            item_path="/accounts/{id}",
            fields=_ACCOUNT_FIELDS,
            primary_key="id",
            write_key="id",
            cursor="lastSeenDate",
            filterable=True,
            sortable=True,
            methods=frozenset({"GET", "POST"}),
            item_methods=frozenset({"GET", "PATCH", "DELETE"}),
            attributes_field="customAttributes",
        ),
        "features": Endpoint(
            name="features",
            path="/feature_match",
            fields=_FEATURE_FIELDS,
            primary_key="id",
        ),
        "engagements": Endpoint(
            name="engagements",
            path="/engagements",
            fields=_ENGAGEMENT_FIELDS,
            primary_key="id",
        ),
        "subscriptions": Endpoint(
            name="subscriptions",
            path="/subscriptions",
            fields=_SUBSCRIPTION_FIELDS,
            primary_key="id",
            paging="none",
            methods=frozenset({"GET", "POST"}),
            create_status=201,
        ),
        "custom_events": Endpoint(
            name="custom_events",
            path="/custom_events",
            fields=_CUSTOM_EVENT_FIELDS,
            primary_key="identifyId",  # events have no id of their own
            paging="none",
            methods=frozenset({"POST"}),
            attributes_field="attributes",
        ),
    },
)

# The dialect everything uses unless told otherwise.
DEFAULT_DIALECT = CONTRACT
