"""Every path and method of the OpenAPI contract is served, with a documented status."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from emu_helpers import seg

_REPO = Path(__file__).resolve().parents[2]
# The contract the project implements, kept in the repository (spec/).
CONTRACT_FILE = _REPO / "spec" / "gainsight-px-openapi.yml"

METHODS = ("get", "post", "put", "patch", "delete")


def load_contract() -> dict:
    if not CONTRACT_FILE.exists():
        # Failing, not skipping: a coverage test that silently skips proves nothing.
        pytest.fail(f"contract not found at {CONTRACT_FILE}; it belongs in the repository's spec/ folder")
    return yaml.safe_load(CONTRACT_FILE.read_text(encoding="utf-8"))


def resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations() -> list[tuple[str, str]]:
    doc = load_contract()
    return [(path, m) for path, item in doc["paths"].items() for m in METHODS if m in item]


def sample_body(doc: dict, schema: dict, keys: dict[str, str]) -> dict:
    """A valid body built from the contract's own schema."""
    schema = resolve(doc, schema)
    body: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(doc, prop)
        if name in keys:
            body[name] = keys[name]
        elif prop.get("format") == "email":
            body[name] = "coverage@example.com"
        elif prop.get("format") == "uri":
            body[name] = "https://hooks.example.com/coverage"
        elif prop.get("type") == "integer":
            body[name] = 1_700_000_000_000
        elif prop.get("type") == "object":
            body[name] = {"coverage": True}
        elif prop.get("type") == "boolean":
            body[name] = True
        else:
            body[name] = f"coverage-{name}"
    return body


@pytest.mark.parametrize("path,method", operations())
def test_every_operation_is_served_with_a_documented_status(emulator, px_session, path, method):
    doc = load_contract()
    op = doc["paths"][path][method]
    documented = {int(code) for code in op["responses"]}
    user_id = emulator.store.records("users")[13]["identifyId"]  # "team/ops+13": needs encoding
    values = {"userId": user_id, "accountId": "acc-00004"}
    url = emulator.base_url + re.sub(r"\{(\w+)\}", lambda m: seg(values[m.group(1)]), path)
    keys = {"identifyId": user_id, "id": "acc-00004"} if "{" in path else {"id": "acc-new"}
    body = None
    if "requestBody" in op:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        body = sample_body(doc, schema, keys)
    r = px_session.request(method.upper(), url, json=body)
    assert r.status_code in documented, (method, path, r.status_code, r.text)
    assert 200 <= r.status_code < 300, (method, path, r.status_code, r.text)
    if r.status_code != 204:
        r.json()
    # and without a key: 401, documented everywhere
    anon = requests.request(method.upper(), url, json=body)
    assert anon.status_code == 401 and 401 in documented


def test_routes_match_the_contract_exactly(emulator):
    doc = load_contract()
    routes = [*emulator.router.lists.values(), *(route for _, route in emulator.router.items)]
    served = {(re.sub(r"\{\w+\}", "{}", r.template.removeprefix("/v1")), m) for r in routes for m in r.methods}
    documented = {(re.sub(r"\{\w+\}", "{}", p), m.upper()) for p, m in operations()}
    assert served == documented
    assert len(doc["paths"]) == 8


@pytest.mark.parametrize("method,path", [("PUT", "/users"), ("DELETE", "/users"), ("POST", "/feature_match"),
                                         ("GET", "/custom_events"), ("PUT", "/users/u-000001"),
                                         ("DELETE", "/subscriptions")])
def test_undocumented_methods_are_405(emulator, px_session, method, path):
    r = px_session.request(method, emulator.base_url + path, json={})
    assert r.status_code == 405
    assert r.headers["Allow"]


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/", "/v1/nothing", "/users", "/v1/users/", "/v2/users",
                                  "/v1/feature_match/x"])
def test_unknown_paths_are_404(emulator, px_session, path):
    r = px_session.get(emulator.root_url + path)
    assert r.status_code == 404
