"""Proves every route of a service in the one shape answers with a schema: its success answer in the OpenAPI
document is a named model (a view, an event, a page of views) or a list of them, or a file of a declared media
type, never a free-form object; and its refusals are documented with the one error body."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from tests.support import token_settings

SHAPED = ("invoicing",)   # the services converted to the one shape (`services/<svc>/api/`)
FILES = {"application/pdf", "text/csv", "application/zip"}


def own_operations(name: str):
    """(path, method, operation) of the service's own routes (not the health, metrics and dead-letter ones
    every service shares)."""
    module = __import__(f"services.{name}.app", fromlist=["build", "Settings"])
    service = module.build(module.Settings(tokens=token_settings()))
    own = {(route.path, method.lower()) for router in service.definition.routers for route in router.routes
           if isinstance(route, APIRoute) for method in route.methods}
    document = service.app.openapi()
    return [(path, method, operation) for path, methods in document["paths"].items()
            for method, operation in methods.items() if (path, method) in own]


def named(schema: dict) -> bool:
    """A reference to a model, a list of such, or a choice among them."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return named(schema["items"])
    if "anyOf" in schema:
        return all(named(choice) for choice in schema["anyOf"])
    return False


@pytest.mark.parametrize("name", SHAPED)
def test_every_route_of_a_shaped_service_answers_with_a_named_schema(name):
    operations = own_operations(name)
    assert len(operations) >= 10, "the walk over the routes found too few of them to prove anything"
    for path, method, operation in operations:
        answers = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
        assert answers, f"{method} {path} documents no success answer"
        for code, answer in answers.items():
            content = answer.get("content", {})
            if FILES & set(content):
                continue
            schema = content.get("application/json", {}).get("schema", {})
            assert named(schema), f"{method} {path} {code} answers a free-form {schema}"


@pytest.mark.parametrize("name", SHAPED)
def test_every_route_of_a_shaped_service_documents_its_refusals(name):
    for path, method, operation in own_operations(name):
        for code in ("401", "403", "422"):
            refusal = operation["responses"].get(code, {}).get("content", {}).get("application/json", {})
            assert refusal.get("schema") == {"$ref": "#/components/schemas/ErrorBody"}, f"{method} {path} {code}"
