"""One HTTP client for the PX API: auth header, timeouts, retries, errors.

Retries come from dlt's requests helper (`dlt.sources.helpers.requests.Client`):
exponential backoff on 429 and 5xx, `Retry-After` honoured, connection errors
and timeouts retried. Two retry policies exist because a scroll continuation
is not idempotent: the server-side cursor may already have moved when a body
is lost, so retrying it could silently skip a page. Such requests retry only
429 (the server refused before doing anything); anything else surfaces to
`paging.py`, which restarts the scan from the last cursor value.

The push engine does not use `PXClient` (see push/sender.py: it needs every
attempt visible, and urllib3 directly); it reuses the checks and error
helpers below, and `ratelimit.TokenBucket`.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import orjson
import requests
from dlt.sources.helpers.requests import Client as RetryingClient

from gainsight_px import settings
from gainsight_px.endpoints import DEFAULT_DIALECT, Dialect
from gainsight_px.errors import (
    APIError,
    AuthError,
    ConfigError,
    NotFoundError,
    ScrollExpiredError,
)

RetryPolicy = Literal["all", "throttle_only"]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """Validate a base URL and return it without a trailing slash.

    Plain http is refused unless the host is loopback (the emulator): the API
    key travels in a header and must not cross a network in clear text.
    """
    if not base_url or not isinstance(base_url, str):
        raise ConfigError(f"No PX base URL configured: set {settings.BASE_URL_ENV}.")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{settings.BASE_URL_ENV} must be an http(s) URL such as {settings.DEFAULT_BASE_URL}, "
            f"got {base_url!r}."
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{settings.BASE_URL_ENV}: plain http is only allowed for loopback hosts "
            f"(the emulator); use https for {parts.hostname}."
        )
    return base_url.strip().rstrip("/")


def check_api_key(api_key: str | None) -> str:
    if not api_key or not isinstance(api_key, str) or not api_key.strip():
        raise ConfigError(
            f"No PX API key configured: set {settings.API_KEY_ENV} or api_key under "
            "[sources.gainsight_px] in .dlt/secrets.toml."
        )
    return api_key.strip()


def item_path(template: str, key: str) -> str:
    """Fill `/users/{identifyId}` with a URL-encoded id (ids may hold @ / + and spaces)."""
    start, end = template.index("{"), template.index("}")
    return template[:start] + quote(str(key), safe="") + template[end + 1 :]


def api_error_message(response: requests.Response) -> tuple[str, str | None]:
    """A readable message and the API's status string, from a JSON or non-JSON error body."""
    status_text = None
    message = None
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        err = body.get("externalapierror", body)
        if isinstance(err, dict):
            status_text = err.get("status") if isinstance(err.get("status"), str) else None
            raw = err.get("message") or err.get("debugMessage")
            message = str(raw) if raw else None
    if message is None:
        ctype = response.headers.get("Content-Type", "")
        if "html" in ctype.lower() or response.content.lstrip()[:1] == b"<":
            message = f"non-JSON {ctype or 'HTML'} error page (likely from a proxy)"
        elif response.content:
            message = response.content[:200].decode("utf-8", "replace").strip()
        else:
            message = response.reason or "empty body"
    return message, status_text


def raise_for_api_error(response: requests.Response, method: str, path: str) -> None:
    """Turn an error response into the matching `APIError` subclass; never mentions the key."""
    if response.status_code < 400:
        return
    message, api_status = api_error_message(response)
    where = f"{method} {path}"
    kwargs: dict[str, Any] = dict(status=response.status_code, api_status=api_status, method=method, path=path)
    if response.status_code == 401:
        raise AuthError(
            f"{where}: 401 Unauthorized ({message}). The API key is missing, unknown or revoked: "
            f"check {settings.API_KEY_ENV}.",
            **kwargs,
        )
    if response.status_code == 403:
        raise AuthError(
            f"{where}: 403 Forbidden ({message}). The API key has no permission for this call "
            f"(a read-only key cannot write): check {settings.API_KEY_ENV}.",
            **kwargs,
        )
    if response.status_code == 404 and api_status == "SCROLL_EXPIRED":
        raise ScrollExpiredError(f"{where}: scroll expired ({message})", **kwargs)
    if response.status_code == 404:
        raise NotFoundError(f"{where}: 404 {message}", **kwargs)
    raise APIError(f"{where}: HTTP {response.status_code} {message}", **kwargs)


def environment_settings(base_url: str) -> dict[str, Any]:
    """Session attributes equal to what requests reads from the environment on each request.

    requests looks up proxies, CA bundle and netrc from the environment for every
    request (~0.1 ms of CPU here, ~0.2 s per million users loaded; more with a
    larger environment). Every request
    of a client goes to the one `base_url` host, so the answer is the same each
    time: resolve it once and switch the per-request lookup off.
    """
    session = requests.Session()  # requests' own merge, so the result is exactly its own
    merged = session.merge_environment_settings(base_url, {}, None, None, None)
    attrs: dict[str, Any] = {"trust_env": False, "proxies": merged["proxies"], "verify": merged["verify"]}
    netrc_auth = requests.utils.get_netrc_auth(base_url)
    if netrc_auth:  # requests applies netrc credentials when no other auth is set
        attrs["auth"] = netrc_auth
    session.close()
    return attrs


class PXClient:
    """A thread-safe client for one PX tenant.

    >>> client = PXClient("https://api.aptrinsic.com/v1", api_key)
    >>> page = client.get_json("/users", {"pageSize": 500})
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        dialect: Dialect = DEFAULT_DIALECT,
        timeout: float = settings.REQUEST_TIMEOUT_S,
        max_attempts: int = settings.MAX_ATTEMPTS,
        backoff_factor: float = settings.BACKOFF_FACTOR,
        max_retry_delay: float = settings.MAX_RETRY_DELAY_S,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.dialect = dialect
        self.timeout = timeout
        # The key lives only in session headers; it is never part of a URL or message.
        headers = {dialect.api_key_header: check_api_key(api_key), "Accept": "application/json"}
        common: dict[str, Any] = dict(
            request_timeout=timeout,
            raise_for_status=False,
            request_max_attempts=max_attempts,
            request_backoff_factor=backoff_factor,
            request_max_retry_delay=max_retry_delay,
            respect_retry_after_header=True,
            session_attrs={"headers": headers, **environment_settings(self.base_url)},
        )
        self._clients: dict[RetryPolicy, RetryingClient] = {
            "all": RetryingClient(**common),
            "throttle_only": RetryingClient(**common, status_codes=(429,), exceptions=()),
        }

    def url(self, path: str) -> str:
        return self.base_url + path

    def get_json(
        self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *, retry: RetryPolicy = "all",
    ) -> dict[str, Any]:
        """GET and decode JSON; errors become `APIError` subclasses after retries run out."""
        response = self._clients[retry].session.get(self.url(path), params=params)
        raise_for_api_error(response, "GET", path)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise APIError(
                f"GET {path}: HTTP {response.status_code} with a body that is not valid JSON "
                f"({len(response.content)} bytes; {exc})",
                status=response.status_code, method="GET", path=path,
            ) from None
        if not isinstance(body, dict):
            raise APIError(f"GET {path}: expected a JSON object, got {type(body).__name__}",
                           status=response.status_code, method="GET", path=path)
        return body
