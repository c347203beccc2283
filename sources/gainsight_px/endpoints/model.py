"""The shape of an API description: `Field`, `Endpoint`, `Dialect`.

A dialect is data; code asks it for paths, parameter names, response keys,
limits and spellings (e.g. `dialect.sort("lastSeenDate")`), never writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# "object": a JSON object (JSON text in the warehouse unless it has `children`,
# whose values become columns `<field>__<child>`); "array": a JSON array.
FieldType = Literal["string", "integer", "number", "boolean", "timestamp", "object", "array"]
# scroll: scrollId continuation; page_number: pageNumber from 0 until isLastPage;
# none: one request answers everything.
Paging = Literal["scroll", "page_number", "none"]


@dataclass(frozen=True)
class Field:
    """One field of a record as the API sends and accepts it."""

    name: str
    type: FieldType
    # Accepted in write bodies. Read-only fields are ignored on write.
    writable: bool = False
    # Required in a create/upsert body.
    required: bool = False
    # "email" and "uri" are checked by the push validator and the emulator.
    format: str | None = None
    # Allowed values, for enums (engagement type and state).
    enum: tuple[str, ...] = ()
    # The known keys of a nested object (e.g. location.city).
    children: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """A resource of the API: how to list it, key it, and write to it."""

    name: str  # resource / table name, e.g. "users"
    path: str  # list/create path, e.g. "/users"
    fields: tuple[Field, ...]
    primary_key: str  # key of the read record (merge key in the warehouse)
    paging: Paging = "scroll"
    response_key: str = "results"  # where a list answer keeps its records
    # Page sizes for this endpoint; None means the dialect's.
    max_page_size: int | None = None
    default_page_size: int | None = None
    item_path: str | None = None  # e.g. "/users/{identifyId}" for GET/PUT/PATCH/DELETE
    write_key: str | None = None  # body field that identifies the record on writes
    # Incremental cursors, when the API can filter and sort on them: `cursor` moves
    # with activity (lastSeenDate); `modified_cursor` with attribute writes.
    cursor: str | None = None
    modified_cursor: str | None = None
    filterable: bool = False  # accepts the dialect's filter parameter
    sortable: bool = False  # accepts the dialect's sort parameter
    methods: frozenset[str] = frozenset({"GET"})  # methods on `path`
    item_methods: frozenset[str] = frozenset()  # methods on `item_path`
    # Nested object whose keys become their own columns / dotted CSV headers.
    attributes_field: str | None = None
    # More such objects (event streams: `globalContext` next to `attributes`).
    more_attributes_fields: tuple[str, ...] = ()
    # Historical event streams: the largest date range one request may ask for
    # (PX: 190 days, else 400), and what the server answers with no date filter.
    max_range_days: int | None = None
    default_range_days: int | None = None

    # -- write side ---------------------------------------------------------------
    create_method: str = "POST"  # on `path`
    create_status: int = 200
    # Does a create of an existing id update it (contract) or get duplicate_status (published)?
    create_upserts: bool = True
    duplicate_status: int | None = None  # answer to a create of an existing id, if any
    # Text in that answer that tells it from other 400s (compared case-insensitively).
    duplicate_message: str | None = None
    update_method: str | None = None  # on `item_update_path`; None: no update call
    update_status: int = 200
    item_update_path: str | None = None  # None: `item_path`
    # Update with the id in the body, for ids that cannot travel in a path.
    id_in_body_update_path: str | None = None
    # Body field filled from the property-key setting (propertyKeys: a list; propertyKey: one).
    property_key_field: str | None = None
    # Body defaults a column can override (e.g. userType USER).
    write_defaults: tuple[tuple[str, Any], ...] = ()

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

    @property
    def update_path(self) -> str | None:
        return self.item_update_path or self.item_path

    @property
    def is_event_stream(self) -> bool:
        """Read in date windows (`max_range_days`), not as a snapshot."""
        return self.max_range_days is not None

    @property
    def all_attributes_fields(self) -> tuple[str, ...]:
        return ((self.attributes_field,) if self.attributes_field else ()) + self.more_attributes_fields

    @property
    def incremental(self) -> bool:
        """Listed by cursor (merge) rather than read whole each run (replace)."""
        return bool(self.cursor and self.filterable and self.sortable and self.paging == "scroll")


@dataclass(frozen=True)
class Dialect:
    """A complete description of one flavour of the PX API."""

    name: str
    endpoints: dict[str, Endpoint]
    max_page_size: int  # the largest any endpoint allows (see `page_limit`)
    default_page_size: int  # what the server uses when no page size is sent
    api_key_header: str = "X-APTRINSIC-API-KEY"
    # Endpoint names by role, so callers never hard-code paths.
    events_endpoint: str = "custom_events"
    regions: dict[str, str] = field(default_factory=dict)

    # -- paging parameters and response keys --------------------------------------
    page_size_param: str = "pageSize"
    scroll_param: str = "scrollId"  # sent back to continue; also the response key
    total_key: str = "totalHits"  # scroll answers: matches of the whole query
    page_number_param: str = "pageNumber"
    first_page_number: int = 0
    last_page_key: str = "isLastPage"

    # -- filter grammar: {field}{op}{value}; terms joined by `filter_and`; repeated param = OR
    filter_param: str = "filter"
    filter_and: str = ";"
    filter_operators: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "~", "!~")

    # -- sort grammar: fields joined by `sort_separator`, each spelled by a template
    sort_param: str = "sort"
    sort_separator: str = ";"
    sort_ascending: str = "{field}:asc"
    sort_descending: str = "{field}:desc"

    # -- write answers common to every endpoint
    read_method: str = "GET"  # reads a record on its item path (a dry run's existence check)
    not_found_status: int = 404  # an update of a record that does not exist
    wrong_method_status: int = 405  # the path exists, the method does not: the wrong dialect
    # Ids that cannot travel in a path segment even URL-encoded (a strict HTTP
    # firewall refuses them): any of these characters, or one of these whole ids.
    path_id_refused_chars: str = ""
    path_id_refused: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Endpoint:
        return self.endpoints[name]

    def id_fits_path(self, key: str, endpoint: Endpoint | None = None) -> bool:
        """Can `key` be sent as the id segment of an item path? Not if the server refuses it,
        and not if it would read as a literal sibling path (`/users/update`)."""
        if not key or key in self.path_id_refused or not key.isprintable():
            return False
        if any(c in key for c in self.path_id_refused_chars):
            return False
        literal = endpoint.id_in_body_update_path if endpoint is not None else None
        return not (literal and key == literal.rsplit("/", 1)[-1])

    @property
    def list_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints.values() if "GET" in e.methods)

    def page_limit(self, endpoint: Endpoint) -> int:
        """The largest page `endpoint` accepts."""
        return endpoint.max_page_size or self.max_page_size

    def page_default(self, endpoint: Endpoint) -> int:
        """The page size `endpoint` answers with when none is sent."""
        return endpoint.default_page_size or self.default_page_size

    def sort(self, *fields: str) -> str:
        """A sort value: `sort("lastSeenDate", "-id")`, a leading `-` meaning descending."""
        out = []
        for name in fields:
            desc = name.startswith("-")
            template = self.sort_descending if desc else self.sort_ascending
            out.append(template.format(field=name[1:] if desc else name))
        return self.sort_separator.join(out)

    def term(self, name: str, op: str, value: Any) -> str:
        """One filter term, `lastSeenDate>=1732579200000`."""
        if op not in self.filter_operators:
            raise ValueError(f"{self.name}: unknown filter operator {op!r}")
        return f"{name}{op}{value}"

    def filters(self, *groups: str | tuple[str, ...]) -> list[tuple[str, str]]:
        """Query parameters ORing `groups`; a group is one term or a tuple of ANDed terms."""
        return [(self.filter_param, g if isinstance(g, str) else self.filter_and.join(g)) for g in groups]
