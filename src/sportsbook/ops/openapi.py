"""The OpenAPI document tells the answers each route really gives, in the error contract's shape.

A route lists its own refusals with `responses=error_responses(...)` (the bet routes from the refusal
catalogue); a dependency says what it refuses with `@raises(...)` (a bearer token's 401, a role's 403, an
Idempotency-Key's 400 and 409), and every route that uses it documents those too. Validation (422), malformed
JSON (400) and a body that is not JSON (415) are documented on every route that reads a body or parameters.
FastAPI's own 422 `detail` shape never appears: the contract answers `{"error": {"code", "message"}}`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict

from sportsbook.core.errors import DomainError, InvalidRequest

F = TypeVar("F", bound=Callable[..., Any])
_RAISED_BY: dict[Callable[..., Any], tuple[type[DomainError], ...]] = {}


class ErrorDetail(BaseModel):
    """What went wrong: a stable `code` to act on, a `message` for people, and fields some codes add."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx answer of the API."""

    error: ErrorDetail


class MalformedJson(DomainError):
    """The body is not valid JSON."""

    code = "malformed_json"
    status = 400


class UnsupportedMediaType(DomainError):
    """The body is not sent as JSON (`Content-Type: application/json`)."""

    code = "unsupported_media_type"
    status = 415


class ValidationFailed(InvalidRequest):
    """A field is missing, of the wrong type, out of range or unknown (`details` names each)."""


def raises(*errors: type[DomainError]) -> Callable[[F], F]:
    """Declare what a FastAPI dependency refuses, so every route that depends on it documents it."""

    def mark(dependency: F) -> F:
        _RAISED_BY[dependency] = errors
        return dependency

    return mark


def error_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each status with the codes that answer it and what each means."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, described in _by_status(errors).items():
        out[status] = {"model": ErrorBody, "description": described}
    return out


def _by_status(errors: Iterable[type[DomainError]]) -> dict[int, str]:
    grouped: dict[int, list[type[DomainError]]] = {}
    for error in errors:
        codes = grouped.setdefault(error.status, [])
        if all(e.code != error.code for e in codes):
            codes.append(error)
    return {status: _describe(found) for status, found in sorted(grouped.items())}


def _describe(errors: Iterable[type[DomainError]]) -> str:
    return "\n".join(f"- `{e.code}`: {e.meaning()}" for e in errors)


def _dependency_errors(dependant: Dependant) -> list[type[DomainError]]:
    found: list[type[DomainError]] = []
    for sub in dependant.dependencies:
        if sub.call is not None and sub.call in _RAISED_BY:
            found.extend(_RAISED_BY[sub.call])
        found.extend(_dependency_errors(sub))
    return found


def _reads_input(route: RouteContext) -> bool:
    d = route.dependant
    return bool(route.body_field or d.query_params or d.path_params or d.header_params)


def _route_errors(route: RouteContext) -> list[type[DomainError]]:
    errors = _dependency_errors(route.dependant)
    if _reads_input(route):
        errors.append(ValidationFailed)
    if route.body_field is not None:
        errors += [MalformedJson, UnsupportedMediaType]
    return errors


def install_openapi(app: FastAPI) -> None:
    """Build the app's OpenAPI document once, with every route's error answers in the contract's shape."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ErrorDetail, ErrorBody):
            schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        body_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for route in iter_route_contexts(app.routes):  # included routers' routes with their prefixes
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            generic = _by_status(_route_errors(route))
            for method in route.methods or ():
                operation = schema["paths"][route.path_format].get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                if "HTTPValidationError" in str(responses.get("422", "")):  # FastAPI's `detail` shape
                    del responses["422"]
                for status, described in generic.items():
                    entry = responses.setdefault(str(status), {"description": ""})
                    entry["description"] = "\n".join(d for d in (entry["description"], described) if d)
                for status, entry in responses.items():
                    if status.startswith("4"):
                        entry["content"] = body_ref
                operation["responses"] = dict(sorted(responses.items()))
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
