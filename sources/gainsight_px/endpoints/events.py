"""The published API's event streams (GET /events/*, /survey/responses) as data.

Fields follow the Swagger's `*Event` definitions. Every stream:

- is keyed on `eventId` and filtered, sorted and windowed on `date` (epoch ms);
- answers at most `max_range_days` (190) per request: a wider `date` range is a
  400 "Exceeded date range190days", and no date filter means the last day;
- pages by scroll, up to 1000 events per page;
- keeps its records under its own response key (`featureMatchEvents` for
  segment matches too, as the Swagger says);
- has `globalContext` (and custom events `attributes`), objects whose keys
  become columns `global_context__<key>` / `attributes__<key>`.

`event_endpoints()` is merged into `PUBLISHED` by published.py; it takes the
location shape and the custom-event write endpoint from there, so that
`/events/custom` stays one endpoint that is both read and written.
"""

from __future__ import annotations

from dataclasses import replace

from gainsight_px.endpoints.model import Endpoint, Field, FieldType

MAX_RANGE_DAYS = 190
DEFAULT_RANGE_DAYS = 1
EVENT_PAGE_LIMIT = 1000
EVENT_DEFAULT_PAGE = 25
DATE_FIELD = "date"
EVENT_KEY = "eventId"
USER_TYPES = ("LEAD", "USER", "VISITOR", "EMPTY_USER_TYPE")
STATES = ("VIEWED", "COMPLETED")


def _f(name: str, type_: FieldType, **kw: object) -> Field:
    return Field(name, type_, **kw)  # type: ignore[arg-type]


def _common(session: bool = True) -> tuple[Field, ...]:
    out = [
        _f("eventId", "string"),
        _f("identifyId", "string"),
        _f("propertyKey", "string"),
        _f("date", "timestamp"),
        _f("eventType", "string"),
    ]
    if session:
        out.append(_f("sessionId", "string"))
    out += [
        _f("userType", "string", enum=USER_TYPES),
        _f("accountId", "string"),
        _f("globalContext", "object"),
    ]
    if not session:  # EmailEvent has no sessionId nor accountId
        out = [f for f in out if f.name != "accountId"]
    return tuple(out)


_PAGE = (
    _f("scheme", "string"),
    _f("host", "string"),
    _f("path", "string"),
    _f("queryString", "string"),
    _f("hash", "string"),
    _f("queryParams", "object"),
    _f("remoteHost", "string"),
    _f("referrer", "string"),
    _f("screenHeight", "integer"),
    _f("screenWidth", "integer"),
    _f("languages", "array"),
    _f("pageTitle", "string"),
)

_ENGAGEMENT_VIEW = (
    _f("engagementId", "string"),
    _f("engagementTrackType", "string", enum=("ENGAGEMENT_VIEW", "ENGAGEMENT_CLICK")),
    _f("contentId", "string"),
    _f("contentType", "string", enum=(
        "IN_APP_DIALOG", "IN_APP_GUIDE", "IN_APP_CAROUSEL", "IN_APP_SURVEY_NPS", "IN_APP_SURVEY_CES",
        "IN_APP_SURVEY_BOOLEAN", "IN_APP_SURVEY_RATING")),
    _f("executionDate", "timestamp"),
    _f("executionId", "string"),
    _f("viewEventId", "string"),
    _f("carouselState", "string", enum=STATES),
    _f("slideId", "string"),
    _f("sequenceNumber", "integer"),
    _f("linkUrl", "string"),
    _f("guideState", "string", enum=STATES),
    _f("stepId", "string"),
    _f("surveyState", "string", enum=STATES),
    _f("contactMeAllowed", "boolean"),
    _f("score", "integer"),
    _f("comment", "string"),
    _f("questionType", "string"),
    _f("selectionIds", "array"),
    _f("path", "string"),
)

_EMAIL = (
    _f("engagementId", "string"),
    _f("email", "string"),
    _f("emailTrackType", "string"),
    _f("status", "string"),
    _f("reason", "string"),
    _f("bounceType", "string"),
    _f("mtaResponse", "string"),
    _f("attempt", "string"),
    _f("linkIndex", "integer"),
    _f("linkType", "string"),
    _f("linkUrl", "string"),
)

# Resource name -> (path, response key, fields after the common ones).
_STREAMS: dict[str, tuple[str, str, tuple[Field, ...]]] = {
    "session_events": ("/events/session", "sessionInitializedEvents", (_f("remoteHost", "string"),)),
    "page_view_events": ("/events/pageView", "results", _PAGE),
    "feature_match_events": ("/events/feature_match", "featureMatchEvents", (_f("featureId", "string"),)),
    "identify_events": ("/events/identify", "identifyEvents", (_f("email", "string"),)),
    "engagement_view_events": ("/events/engagementView", "results", _ENGAGEMENT_VIEW),
    "email_events": ("/events/email", "results", _EMAIL),
    "form_submit_events": ("/events/formSubmit", "results", (*_PAGE, _f("formData", "object"))),
    "lead_events": ("/events/lead", "results", (_f("email", "string"),)),
    # Sic: the Swagger's SegmentMatchEventsPage keeps them under featureMatchEvents.
    "segment_match_events": ("/events/segment_match", "featureMatchEvents", (_f("segmentId", "string"),)),
    "survey_responses": ("/survey/responses", "results", _ENGAGEMENT_VIEW),
}
# Streams whose records carry an inferred location (an object with known children).
_LOCATED = frozenset({"session_events", "email_events"})

_WINDOWED: dict[str, object] = dict(
    primary_key=EVENT_KEY,
    cursor=DATE_FIELD,
    filterable=True,
    sortable=True,
    paging="scroll",
    max_page_size=EVENT_PAGE_LIMIT,
    default_page_size=EVENT_DEFAULT_PAGE,
    max_range_days=MAX_RANGE_DAYS,
    default_range_days=DEFAULT_RANGE_DAYS,
)


def event_endpoints(location: tuple[Field, ...], custom_write: Endpoint) -> dict[str, Endpoint]:
    """Every event stream; `custom_events` is `custom_write` made readable too."""
    out: dict[str, Endpoint] = {}
    for name, (path, key, extra) in _STREAMS.items():
        fields = _common(session=name != "email_events") + extra
        if name in _LOCATED:
            fields += (_f("inferredLocation", "object", children=location),)
        out[name] = Endpoint(name=name, path=path, response_key=key, fields=fields,
                             attributes_field="globalContext", **_WINDOWED)  # type: ignore[arg-type]
    out["custom_events"] = replace(
        custom_write,
        methods=custom_write.methods | {"GET"},
        response_key="customEvents",
        more_attributes_fields=("globalContext",),
        **_WINDOWED,  # type: ignore[arg-type]
    )
    return out
