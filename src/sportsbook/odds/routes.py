"""`GET /ws/odds`: live odds over WebSocket, public (no login). The wire format is docs/odds.md's
"Distribution: /ws/odds"; the hub (service.py) runs the connection, this only adapts the ASGI server's.

An idle subscriber costs memory for as long as it stays connected, and a node holds thousands, so the endpoint is a
plain ASGI app and `OddsLane` (a middleware beside ops/fastlane.py's) hands it the connection before Starlette's
exception middleware, FastAPI's exit stack and the router: every one of those layers stays suspended, with what it
allocated, for the connection's whole life. Measured with 1,000 connections watching 20 events each
(docs/performance.md): a FastAPI WebSocket route 35 KB a connection, a Starlette route to this ASGI app 30 KB, the
lane 24-25 KB. The route stays the reference, and serves what the lane passes on (an app mounted under a root path)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from sportsbook.platform import Platform


class AsgiSocket:
    """The hub's `Socket` on the ASGI server's WebSocket messages (spec: asgi.readthedocs.io, "WebSocket")."""

    __slots__ = ("_receive", "_send", "subprotocols")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.subprotocols: Sequence[str] = scope.get("subprotocols", ())

    async def accept(self, subprotocol: str | None = None) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise ConnectionError(f"expected websocket.connect, got {message['type']}")
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol})

    async def receive(self) -> str | bytes | None:
        message = await self._receive()
        if message["type"] != "websocket.receive":  # websocket.disconnect
            return None
        text: str | None = message.get("text")
        if text is not None:
            return text
        data: bytes | None = message.get("bytes")
        return data if data is not None else b""

    async def send(self, frame: str) -> None:
        await self._send({"type": "websocket.send", "text": frame})

    async def close(self, code: int, reason: str) -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})


class OddsEndpoint:
    """`GET /ws/odds` as an ASGI app object (Starlette runs a class instance as-is, where it would wrap a function
    in its `WebSocket` session). Send `{"op": "subscribe", "events": [ids]}` to receive each event's snapshot, then
    its odds frames; `{"op": "unsubscribe", "events": [ids]}` to stop. Heartbeats at least every 10 s."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform: Platform = scope["app"].state.platform
        await platform.odds.serve(AsgiSocket(scope, receive, send))


PATH = "/ws/odds"


class OddsLane:
    """Pure ASGI middleware: a WebSocket to `/ws/odds` goes straight to the endpoint; anything else passes on."""

    __slots__ = ("_endpoint", "app")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._endpoint = OddsEndpoint()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == PATH and not scope.get("root_path"):
            await self._endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)


router = APIRouter(tags=["odds"])
router.routes.append(WebSocketRoute(PATH, OddsEndpoint(), name="ws_odds"))
