"""The OpenAPI document tells the truth: who may call, which errors come back in which
shape, and what a 405 allows."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sapwood.schemas.notifications import HTTP_URL_PATTERN, RuleRequest
from sapwood.server.app import create_app
from sapwood.server.openapi import allowed_methods
from sapwood.server.settings import ControllerSettings, GatewaySettings, Settings
from sapwood.specs.base import NAME_PATTERN
from sapwood.specs.selectors import SELECTOR_PATTERN

ERROR = {"$ref": "#/components/schemas/ErrorBody"}


pytestmark = pytest.mark.anyio


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    # Neither the document nor routing needs the lifespan: nothing is opened here.
    settings = Settings(
        home=tmp_path / "home",
        controller=ControllerSettings(enabled=False),
        gateway=GatewaySettings(enabled=False),
    )
    return create_app(settings)


async def request(app: FastAPI, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sapwood") as client:
        return await client.request(method, path)


@pytest.fixture
async def doc(app: FastAPI) -> dict[str, Any]:
    document: dict[str, Any] = (await request(app, "GET", "/api/v1/openapi.json")).json()
    return document


def error_schema(doc: dict[str, Any], path: str, method: str, status: str) -> Any:
    return doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


async def test_every_operation_but_the_probes_needs_a_bearer_token(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz"):
                assert operation["security"] == [], (method, path)
            else:
                assert operation["security"] == [{"bearerToken": []}], (method, path)
                assert error_schema(doc, path, method, "401") == ERROR, (method, path)
                assert "503" in operation["responses"], (method, path)


async def test_validation_errors_are_declared_as_the_error_body_not_fastapis(
    doc: dict[str, Any],
) -> None:
    assert error_schema(doc, "/api/v1/apply", "post", "422") == ERROR
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


async def test_statuses_the_operations_really_return_are_declared(doc: dict[str, Any]) -> None:
    apply = doc["paths"]["/api/v1/apply"]["post"]["responses"]
    assert {"409", "413", "422"} <= set(apply)
    logs = doc["paths"]["/api/v1/{plural}/{name}/logs"]["get"]["responses"]
    assert "Retry-After" in logs["429"]["headers"]
    assert "text/plain" in logs["200"]["content"]
    records = doc["paths"]["/api/v1/feeds/{name}/records"]["post"]
    assert "text/csv" in records["requestBody"]["content"]


async def test_page_limits_and_kinds_are_in_the_document(doc: dict[str, Any]) -> None:
    params = {p["name"]: p for p in doc["paths"]["/api/v1/{plural}"]["get"]["parameters"]}
    limit = params["limit"]["schema"]["anyOf"][0]
    assert (limit["minimum"], limit["maximum"]) == (1, 1000)
    assert params["plural"]["schema"]["enum"] == ["feeds", "jobs", "services", "workspaces"]


async def test_a_wrong_method_gets_405_with_allow_naming_every_method_of_the_path(
    app: FastAPI,
) -> None:
    objects = await request(app, "PATCH", "/api/v1/jobs/train")
    teams = await request(app, "PUT", "/api/v1/teams")
    assert objects.status_code == 405
    assert objects.headers["allow"] == "DELETE, GET"
    assert objects.json()["error"]["code"] == "http_error"
    assert teams.headers["allow"] == "GET, POST"


def test_allowed_methods_takes_the_first_template_that_matches() -> None:
    doc: dict[str, Any] = {
        "paths": {"/a/{x}": {"delete": {}}, "/{p}/{x}": {"get": {}, "delete": {}}}
    }
    assert allowed_methods(doc, "/a/b") == "DELETE"
    assert allowed_methods(doc, "/c/b") == "DELETE, GET"
    assert allowed_methods(doc, "/ui/x/y") is None


async def test_get_on_apply_is_405_allowing_post_not_an_unknown_resource(app: FastAPI) -> None:
    answer = await request(app, "GET", "/api/v1/apply")
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "POST"


async def test_an_unknown_plural_is_404_offering_the_closest(app: FastAPI) -> None:
    close = await request(app, "GET", "/api/v1/jbos/train/events")
    assert close.status_code == 404
    assert close.json()["error"]["message"].endswith("; did you mean 'jobs'?")
    # A known first segment with an unknown rest is a plain 404.
    other = await request(app, "GET", "/api/v1/teams/a/nothing")
    assert other.json()["error"]["message"] == "Not Found"


def parameter(doc: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    found = [p for p in doc["paths"][path][method]["parameters"] if p["name"] == name]
    return dict(found[0]["schema"])


async def test_names_are_dns_label_patterns_in_bodies_and_paths(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for model, field in [("TeamRequest", "name"), ("UserRequest", "name"), ("Membership", "team")]:
        assert schemas[model]["properties"][field]["pattern"] == NAME_PATTERN, model
    assert schemas["TokenRequest"]["properties"]["user"]["anyOf"][0]["pattern"] == NAME_PATTERN
    named = 0
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] == "path" and param["name"] in ("name", "team"):
                    assert param["schema"]["pattern"] == NAME_PATTERN, (method, path)
                    named += 1
    assert named > 30


async def test_rules_quantities_urls_and_aliases_are_stated(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    rule = schemas["RuleRequest"]["properties"]
    assert rule["duration"]["default"] == "30m"  # was "PT30M", which the server refuses
    assert re.fullmatch(rule["duration"]["pattern"], "30m")
    assert not re.fullmatch(rule["duration"]["pattern"], "8d")
    assert rule["selector"]["pattern"] == SELECTOR_PATTERN
    shapes = {
        shape["properties"]["type"]["const"]: shape for shape in schemas["ChannelRequest"]["oneOf"]
    }
    assert set(shapes) == {"webhook", "slack", "slack-app", "slack-dm"}
    url = shapes["webhook"]["properties"]["url"]
    assert (url["format"], url["pattern"]) == ("uri", HTTP_URL_PATTERN)
    assert shapes["slack-app"]["required"] == ["type", "slackChannel"]
    assert not shapes["slack-dm"]["additionalProperties"]
    lifetime = schemas["TokenRequest"]["properties"]["expiresIn"]["anyOf"][0]["pattern"]
    assert not re.fullmatch(lifetime, "0s")
    cpu = schemas["Amounts-Input"]["properties"]["cpu"]["anyOf"]
    assert re.fullmatch(cpu[0]["pattern"], "500m")
    assert not re.fullmatch(cpu[0]["pattern"], "x")
    gpu = schemas["Amounts-Input"]["properties"]["gpu"]
    assert (gpu["minimum"], gpu["maximum"]) == (0, 1024)
    alias = parameter(doc, "/api/v1/teams/{team}/models/{name}/aliases/{alias}", "put", "alias")
    assert re.fullmatch(alias["pattern"], "prod")
    assert not re.fullmatch(alias["pattern"], "3")
    selector = parameter(doc, "/api/v1/{plural}", "get", "selector")
    assert selector["pattern"] == SELECTOR_PATTERN


async def test_the_documented_rule_default_is_accepted(doc: dict[str, Any]) -> None:
    default = doc["components"]["schemas"]["RuleRequest"]["properties"]["duration"]["default"]
    rule = RuleRequest.model_validate(
        {"channel": "c", "events": ["preempted"], "duration": default}
    )
    assert rule.duration == timedelta(minutes=30)


async def test_a_team_or_user_named_in_the_body_can_be_404(doc: dict[str, Any]) -> None:
    for path in ("/api/v1/users", "/api/v1/tokens"):
        assert "404" in doc["paths"][path]["post"]["responses"], path
