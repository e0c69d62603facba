"""A fast lane for the hottest routes: a pure ASGI handler answers the common, well-formed request without
the framework's routing, dependency solving and request validation machinery, and hands anything else to the
route itself, which stays the reference (its OpenAPI, its checks, its error answers).

A lane's handler returns a Response, or None to say "not mine": the request then goes on, body and all, to
the application as if the lane were not there. So a handler only ever has to get the common case right; every
odd one (a missing header, a body the model refuses, another Content-Type) is answered by the route. A domain
error it raises is answered here in the error contract, as the route's would be."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sportsbook.core.errors import DomainError
from sportsbook.ops.http import buffered_body, domain_error_response

Headers = Mapping[bytes, bytes]
"""A request's headers by lower-case name (the lane only runs when no name repeats)."""

LaneHandler = Callable[[Scope, Headers, bytes], Awaitable[Response | None]]
"""(scope, headers, whole body) -> the answer, or None to let the route answer."""


@dataclass(frozen=True, slots=True)
class LaneRoute:
    """What the lane leaves in the scope as its route, for the access log's and the metrics' route label."""

    path_format: str


class FastLane:
    """Pure ASGI: serves (method, exact path) pairs through their lane handlers, everything else untouched."""

    __slots__ = ("_lanes", "app")

    def __init__(self, app: ASGIApp, lanes: Mapping[tuple[str, str], LaneHandler]) -> None:
        self.app = app
        self._lanes = {key: (LaneRoute(key[1]), handler) for key, handler in lanes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        lane = self._lanes.get((scope["method"], scope["path"]))
        if lane is None:
            await self.app(scope, receive, send)
            return
        body, replay = await buffered_body(receive)
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = dict(raw_headers)
        response: Response | None = None
        if body is not None and len(headers) == len(raw_headers):
            try:
                response = await lane[1](scope, headers, body)
            except DomainError as exc:
                response = domain_error_response(exc)
        if response is None:
            await self.app(scope, replay, send)
            return
        scope["route"] = lane[0]
        await response(scope, replay, send)
