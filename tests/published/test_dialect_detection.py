"""`auto`: one probe decides the dialect; odd answers stop with a message naming the setting."""

from __future__ import annotations

import pytest
from gainsight_px import dialects
from gainsight_px.client import PXClient
from gainsight_px.endpoints import CONTRACT, PUBLISHED
from gainsight_px.errors import AuthError, ConfigError
from hostile_server import HostileServer, json_reply


def resolve(server: HostileServer, setting: str = "auto", remembered: dict | None = None) -> dialects.Choice:
    return dialects.resolve(setting, server.base_url, "test-key", remembered=remembered,
                            client=PXClient(server.base_url, "test-key", max_attempts=1))


@pytest.mark.parametrize(("answer", "dialect"), [
    (json_reply({"segments": [{"id": "s", "name": "S"}], "pageNumber": 0, "isLastPage": True}), PUBLISHED),
    (json_reply({"results": [], "scrollId": None, "totalHits": 0}), CONTRACT),  # answers any path
    (None, CONTRACT),  # no such path: the fallback 404
])
def test_the_probe_answer_decides(hostile: HostileServer, answer, dialect) -> None:
    if answer is not None:
        hostile.on("GET", "/segment", answer)

    choice = resolve(hostile)

    assert choice.dialect is dialect and choice.how == "detected"
    (probe,) = hostile.log
    assert (probe.path, probe.params) == ("/v1/segment", [("pageSize", "1")])


def test_an_answer_of_neither_dialect_names_the_setting(hostile: HostileServer) -> None:
    hostile.on("GET", "/segment", json_reply({"items": []}))

    with pytest.raises(ConfigError, match="SOURCES__GAINSIGHT_PX__DIALECT.*contract, published"):
        resolve(hostile)


def test_a_bad_key_stops_detection_as_auth(hostile: HostileServer) -> None:
    hostile.on("GET", "/segment", json_reply({"externalapierror": {"status": "UNAUTHORIZED"}}, status=401))

    with pytest.raises(AuthError):
        resolve(hostile)


def test_a_set_or_remembered_dialect_sends_nothing(hostile: HostileServer) -> None:
    assert resolve(hostile, "published").how == "set"
    remembered = {"name": "published", "base_url": hostile.base_url}
    assert resolve(hostile, "auto", remembered).describe() == "published (remembered)"
    # Remembered for another base URL: asks.
    assert resolve(hostile, "auto", {"name": "published", "base_url": "https://elsewhere/v1"}).how == "detected"
    assert len(hostile.log) == 1


def test_a_bad_setting_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="expected one of auto, contract, published, got 'publishd'"):
        dialects.parse_setting("publishd")
