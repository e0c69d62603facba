"""The HTTP error contract in one place: every failure is `{"error": {"code", "message"}}` with a 4xx status.

Domain errors carry their own stable code; validation, malformed JSON, unknown routes and methods get theirs
here. Anything unexpected is logged and answered 500 `internal_error` (a bug to fix, never a design).
Text with NUL, which PostgreSQL cannot store, is refused here too, before any route runs."""

from __future__ import annotations

import email.message
import json
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sportsbook.core.errors import DomainError, InvalidRequest, RateLimited

log = structlog.get_logger("sportsbook.http")


class FastJSONResponse(JSONResponse):
    """JSON through orjson, written as pydantic writes it (UTC as `Z`): for hot routes that build their answer
    as plain data instead of validating a response model once more."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status)


def _media_type(request: Request) -> str:
    """The request's media type, without parameters and cut short: for a message, not to be trusted."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not media_type:
        return "no Content-Type"
    return media_type if len(media_type) <= 100 else media_type[:100] + "..."


def _describe(errors: list[Any]) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": e.get("msg", "")}
        for e in errors
    ]


def domain_error_response(exc: DomainError) -> JSONResponse:
    response = error_response(exc.status, exc.code, exc.message, **exc.extra)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


class TextWithNul(InvalidRequest):
    """Text must not contain the NUL character (U+0000)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__("text must not contain the NUL character (U+0000)")
        self.fields = fields

    @property
    def extra(self) -> dict[str, object]:
        return {"details": [{"field": f, "problem": "contains the NUL character (U+0000)"} for f in self.fields]}


_NUL = "\x00"


def _field_name(key: str) -> str:
    return key.replace(_NUL, "\\u0000")


def _nul_fields(document: Any) -> list[str]:
    """The dotted path of every string (value or key) in a parsed JSON document that holds NUL."""
    found: list[str] = []
    # A stack, not recursion: the document nests as deep as the JSON parser allowed.
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _NUL in value:
                found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{_field_name(key)}" if path else _field_name(key)
                if _NUL in key:
                    found.append(name)
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    return sorted(found)


def _is_json(content_type: str | None) -> bool:
    """Whether the framework parses a body of this Content-Type as JSON (its own test, repeated)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _content_type(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1"))
    return None


def _nul_in_request(scope: Scope, body: bytes) -> list[str]:
    """The fields of the path, the query and the JSON body whose text holds NUL."""
    fields = ["path"] if _NUL in scope["path"] else []
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)  # as the framework reads a query
        fields += [f"query.{_field_name(name)}" for name, value in pairs if _NUL in name or _NUL in value]
    # In JSON text a NUL is the escape \u0000 (a raw one is malformed JSON); a raw zero byte means a UTF-16 or
    # UTF-32 body, which json.loads reads too. Only then is the body parsed again and walked.
    if (b"\\u0000" in body or b"\x00" in body) and _is_json(_content_type(scope)):
        try:
            document = json.loads(body)  # as the framework parses it
        except (ValueError, RecursionError):
            pass  # the framework refuses it as malformed JSON
        else:
            fields += _nul_fields(document)
    return fields


async def buffered_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read a request's whole body (the framework reads it whole too); the body, or None if the client left
    mid-body, and a `receive` that hands the same messages again to whoever reads the request next."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    if messages[-1]["type"] != "http.request":
        return None, replay
    return b"".join(m.get("body", b"") for m in messages), replay


class NulTextGuard:
    """Pure ASGI: refuses a request whose path, query or JSON body holds NUL with 422 `invalid_request`,
    before any route runs, so no route can forget to and nothing is half-written. A middleware, not a
    dependency: it costs a request a few microseconds where an app-wide dependency costs several times that."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, replay = await buffered_body(receive)
        if body is not None:  # else the client left mid-body: the app sees that
            fields = _nul_in_request(scope, body)
            if fields:
                await domain_error_response(TextWithNul(fields))(scope, replay, send)
                return
        await self.app(scope, replay, send)


def install_error_handlers(app: FastAPI) -> None:
    """Map every kind of failure to the error contract, and refuse text with NUL before any route runs."""
    app.add_middleware(NulTextGuard)

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        if isinstance(exc.body, bytes):
            # The framework hands a route its body as raw bytes when the Content-Type is not JSON (or is
            # missing), and the route's JSON model then refuses bytes in terms that name neither.
            return error_response(
                415,
                "unsupported_media_type",
                f"the body must be JSON sent as Content-Type: application/json; got {_media_type(request)}",
            )
        return error_response(422, "invalid_request", "the request is not valid", details=_describe(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_exception", exc_info=exc)
        return error_response(500, "internal_error", "an unexpected error occurred")
