"""`PUBLISHED`: Gainsight's published REST API v1 (spec/gainsight-px-rest-v1-published.yml).

Every live tenant answers in this dialect. Differences from the contract that
the table carries (see spec/README.md and docs/api-behaviour.md):

- list answers name their array after the resource (`users`, `accounts`, ...);
- `/feature`, `/engagement` and `/segment` page by `pageNumber` (from 0) and
  `isLastPage`, with their own page-size limits (200, 500, 200);
- sort is spelled `field` / `-field`;
- users and accounts carry `createDate` and `lastModifiedDate`;
- updates are PUT (204/404), POST only creates (201, or 400 "possible
  duplicate"), and writes need `propertyKeys` / `propertyKey` (+ `userType`).

Field lists follow the Swagger's definitions (User, Account, Feature,
Engagement, Segment, CustomEvent).
"""

from __future__ import annotations

from gainsight_px.endpoints.events import event_endpoints
from gainsight_px.endpoints.model import Dialect, Endpoint, Field, FieldType


def _f(name: str, type_: FieldType, **kw: object) -> Field:
    return Field(name, type_, **kw)  # type: ignore[arg-type]


_COORDINATES = (_f("latitude", "number"), _f("longitude", "number"))
_LOCATION = (
    _f("countryName", "string"),
    _f("countryCode", "string"),
    _f("stateName", "string"),
    _f("stateCode", "string"),
    _f("city", "string"),
    _f("street", "string"),
    _f("postalCode", "string"),
    _f("continent", "string"),
    _f("regionName", "string"),
    _f("timeZone", "string"),
    _f("coordinates", "object", children=_COORDINATES),
)

USER_TYPES = ("LEAD", "USER", "VISITOR", "EMPTY_USER_TYPE")

_USER_FIELDS = (
    _f("aptrinsicId", "string"),
    _f("identifyId", "string", writable=True, required=True),
    _f("type", "string", writable=True, enum=USER_TYPES),
    _f("gender", "string", writable=True, enum=("MALE", "FEMALE", "OTHER", "EMPTY_GENDER")),
    _f("email", "string", writable=True, format="email"),
    _f("firstName", "string", writable=True),
    _f("lastName", "string", writable=True),
    _f("lastSeenDate", "timestamp"),
    _f("signUpDate", "timestamp", writable=True),
    _f("firstVisitDate", "timestamp", writable=True),
    _f("title", "string", writable=True),
    _f("phone", "string", writable=True),
    _f("score", "integer", writable=True),
    _f("role", "string", writable=True),
    _f("subscriptionId", "string", writable=True),
    _f("accountId", "string", writable=True),
    _f("numberOfVisits", "integer"),
    _f("location", "object", writable=True, children=_LOCATION),
    # Required on create; filled from the property-key setting when a CSV has no column.
    _f("propertyKeys", "array", writable=True, required=True),
    _f("createDate", "timestamp"),
    _f("lastModifiedDate", "timestamp"),
    _f("customAttributes", "object", writable=True),
    _f("globalUnsubscribe", "boolean", writable=True),
    _f("sfdcContactId", "string", writable=True),
    _f("channelMetricList", "array"),
    _f("lastVisitedUserAgentData", "array"),
    _f("id", "string"),  # a synonym for identifyId, output only
    _f("lastInferredLocation", "object", children=_LOCATION),
    _f("globalId", "string"),
)

_ACCOUNT_FIELDS = (
    _f("id", "string", writable=True, required=True),
    _f("name", "string", writable=True, required=True),
    _f("trackedSubscriptionId", "string", writable=True),
    _f("sfdcId", "string", writable=True),
    _f("lastSeenDate", "timestamp"),
    _f("dunsNumber", "string", writable=True),
    _f("industry", "string", writable=True),
    _f("numberOfEmployees", "integer", writable=True),
    _f("sicCode", "string", writable=True),
    _f("website", "string", writable=True),
    _f("naicsCode", "string", writable=True),
    _f("plan", "string", writable=True),
    _f("location", "object", writable=True, children=_LOCATION),
    _f("numberOfUsers", "integer"),
    _f("propertyKeys", "array", writable=True, required=True),
    _f("createDate", "timestamp"),
    _f("lastModifiedDate", "timestamp"),
    _f("customAttributes", "object", writable=True),
    _f("parentGroupId", "string", writable=True),
    _f("renewalDate", "timestamp", writable=True),
    _f("healthScore", "integer", writable=True),
    _f("gsId", "string", writable=True),
    _f("nps", "number", writable=True),
    _f("csm", "string", writable=True),
)

_FEATURE_FIELDS = (
    _f("id", "string"),
    _f("name", "string"),
    _f("type", "string", enum=("FEATURE", "MODULE")),
    _f("parentFeatureId", "string"),
    _f("propertyKey", "string"),
    _f("status", "string", enum=("ACTIVATED", "DELETED")),
    _f("featureLabels", "array"),
)

ENGAGEMENT_TYPES = (
    "EMAIL", "IN_APP_DIALOG", "IN_APP_CAROUSEL", "IN_APP_GUIDE", "IN_APP_NOTIFICATION",
    "OUT_BOUND_EMAIL", "IN_APP_NPS_SURVEY", "IN_APP_CES_SURVEY", "IN_APP_RATING_SURVEY",
    "IN_APP_BOOLEAN_SURVEY", "IN_APP_MULTIPLE_QUESTION_SURVEY",
)
ENGAGEMENT_STATES = ("IN_PROGRESS", "STARTED", "PAUSED", "FAILED", "EDITING", "COMPLETED")

_ENGAGEMENT_FIELDS = (
    _f("id", "string"),
    _f("name", "string"),
    _f("description", "string"),
    _f("type", "string", enum=ENGAGEMENT_TYPES),
    _f("state", "string", enum=ENGAGEMENT_STATES),
    _f("defaultLanguage", "string"),
    _f("translationState", "string"),
    _f("languages", "array"),
    _f("propertyKeys", "array"),
    _f("envs", "array"),
)

_SEGMENT_FIELDS = (
    _f("id", "string"),
    _f("name", "string"),
)

_CUSTOM_EVENT_FIELDS = (
    _f("eventId", "string"),
    _f("identifyId", "string", writable=True, required=True),
    _f("propertyKey", "string", writable=True, required=True),
    _f("userType", "string", writable=True, required=True, enum=USER_TYPES),
    _f("accountId", "string", writable=True),
    _f("eventName", "string", writable=True, required=True),
    _f("date", "timestamp", writable=True),
    _f("eventType", "string"),
    _f("sessionId", "string", writable=True),
    _f("globalContext", "object", writable=True),
    _f("attributes", "object", writable=True),
    _f("url", "string", writable=True),
    _f("referrer", "string", writable=True),
    _f("remoteHost", "string", writable=True),
)

# Writes common to users and accounts: PUT updates (204, 404 when missing),
# POST only creates (201; 400 "possible duplicate" for an existing id).
_ENTITY_WRITES: dict[str, object] = dict(
    methods=frozenset({"GET", "POST"}),
    item_methods=frozenset({"GET", "PUT", "DELETE"}),
    create_status=201,
    create_upserts=False,
    duplicate_status=400,
    duplicate_message="possible duplicate",
    update_method="PUT",
    update_status=204,
    property_key_field="propertyKeys",
)

_ENDPOINTS: dict[str, Endpoint] = {
    "users": Endpoint(
        name="users",
        path="/users",
        response_key="users",
        max_page_size=1000,
        default_page_size=25,
        item_path="/users/{identifyId}",
        id_in_body_update_path="/users/update",
        fields=_USER_FIELDS,
        primary_key="aptrinsicId",
        write_key="identifyId",
        cursor="lastSeenDate",
        modified_cursor="lastModifiedDate",
        filterable=True,
        sortable=True,
        attributes_field="customAttributes",
        # Nested objects: one column per key (location__city), like customAttributes.
        more_attributes_fields=("location", "lastInferredLocation"),
        **_ENTITY_WRITES,  # type: ignore[arg-type]
    ),
    "accounts": Endpoint(
        name="accounts",
        path="/accounts",
        response_key="accounts",
        max_page_size=1000,
        default_page_size=25,
        item_path="/accounts/{accountId}",
        id_in_body_update_path="/accounts/update",
        fields=_ACCOUNT_FIELDS,
        primary_key="id",
        write_key="id",
        cursor="lastSeenDate",
        modified_cursor="lastModifiedDate",
        filterable=True,
        sortable=True,
        attributes_field="customAttributes",
        more_attributes_fields=("location",),
        **_ENTITY_WRITES,  # type: ignore[arg-type]
    ),
    "features": Endpoint(
        name="features",
        path="/feature",
        response_key="features",
        paging="page_number",
        max_page_size=200,
        default_page_size=25,
        fields=_FEATURE_FIELDS,
        primary_key="id",
    ),
    "engagements": Endpoint(
        name="engagements",
        path="/engagement",
        response_key="engagements",
        paging="page_number",
        max_page_size=500,
        default_page_size=200,
        fields=_ENGAGEMENT_FIELDS,
        primary_key="id",
    ),
    "segments": Endpoint(
        name="segments",
        path="/segment",
        response_key="segments",
        paging="page_number",
        max_page_size=200,
        default_page_size=25,
        fields=_SEGMENT_FIELDS,
        primary_key="id",
    ),
    # Writing custom events (POST only; one event per request).
    "custom_events": Endpoint(
        name="custom_events",
        path="/events/custom",
        fields=_CUSTOM_EVENT_FIELDS,
        primary_key="eventId",
        paging="none",
        methods=frozenset({"POST"}),
        attributes_field="attributes",
        create_status=201,
        property_key_field="propertyKey",
        write_defaults=(("userType", "USER"),),
    ),
}

# ---------------------------------------------------------------------------
# Event streams (GET /events/*): their own block, merged into PUBLISHED below.
# Keyed by resource name; list answers keep records under per-endpoint keys.
# ---------------------------------------------------------------------------
EVENT_ENDPOINTS: dict[str, Endpoint] = event_endpoints(_LOCATION, _ENDPOINTS["custom_events"])

PUBLISHED = Dialect(
    name="published",
    max_page_size=1000,
    default_page_size=25,
    regions={
        "us": "https://api.aptrinsic.com/v1",
        "eu": "https://api-eu.aptrinsic.com/v1",
        "us2": "https://api-us2.aptrinsic.com/v1",
    },
    sort_ascending="{field}",
    sort_descending="-{field}",
    # Encoded slashes and backslashes, semicolons, percent signs and dot segments.
    path_id_refused_chars="/\\;%",
    path_id_refused=(".", ".."),
    endpoints={**_ENDPOINTS, **EVENT_ENDPOINTS},
)
