"""`CONTRACT`: the seed OpenAPI contract (spec/gainsight-px-openapi.yml), the emulator's default.

Field names here are the API's own (camelCase). Column names in the warehouse
are derived from them by dlt's snake_case naming convention.
"""

from __future__ import annotations

from gainsight_px.endpoints.model import Dialect, Endpoint, Field, FieldType


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
            update_method="PATCH",
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
            update_method="PATCH",
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

