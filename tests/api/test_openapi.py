"""The OpenAPI document: every operation says how it fails (problem+json), needs a key (except /health), and
the request bodies carry examples that the API itself accepts."""

from __future__ import annotations

from tests.api.conftest import bearer


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_documents_its_problems(api_app):
    schema = api_app.openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"title", "status", "detail", "instance"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"404", "422", "500"} | ({"401", "403"} if path != "/health" else set())
        if "requestBody" in operation:
            expected |= {"400", "413"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected:
            assert list(responses[code]["content"]) == ["application/problem+json"], (method, path, code)
        assert operation.get("summary"), (method, path)
        if path.startswith("/v1/"):
            assert operation["security"] == [{"ApiKey": []}]
    scheme = schema["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and "keys create" in scheme["description"]


def test_the_documented_examples_are_accepted(api_app, api, keys):
    schema = api_app.openapi()
    score = schema["components"]["schemas"]["ScoreRequest"]["examples"][0]
    response = api.post("/v1/score", json=score, headers=bearer(keys["scorer"]))
    assert response.status_code == 200, response.text
    launch = schema["paths"]["/v1/materializations"]["post"]["requestBody"]["content"]["application/json"]
    assert {"refresh a company", "re-score everything", "retrain"} <= set(launch["examples"])
    company = schema["components"]["schemas"]["Company"]["properties"]["company_id"]["examples"][0]
    assert api.get(f"/v1/companies/{company}", headers=bearer(keys["reader"])).status_code == 200


def test_handlers_of_the_audited_routers_return_their_response_models():
    """The operations and alerts handlers are typed: each returns its response model (or a bare Response for a
    204), so a field the model lacks is an error where the handler is written, not a silently dropped key."""
    import typing

    from fastapi import Response
    from fastapi.routing import APIRoute

    from api.routers import alerts, operations

    for router in (operations.router, alerts.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            returned = typing.get_type_hints(route.endpoint)["return"]
            expected = route.response_model if route.status_code != 204 else Response
            assert returned is expected, (route.path, returned, expected)
