"""`GET /ws/odds`: live odds over WebSocket, public (no login). The wire format is docs/odds.md's
"Distribution: /ws/odds"; the hub (service.py) runs the connection, this only adapts the ASGI server's.

The endpoint is a plain ASGI app behind Starlette's `WebSocketRoute`, not a FastAPI WebSocket route: FastAPI's
route machinery (dependency solving, its exit stacks, the exception wrappers) held ~9 KB more of every idle
connection (34 against 25 KB, measured: docs/performance.md), and every frame sent went through Starlette's
`WebSocket` state checks; the ASGI messages are the whole interface the hub needs."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from sportsbook.platform import Platform


class AsgiSocket:
    """The hub's `Socket` on the ASGI server's WebSocket messages (spec: asgi.readthedocs.io, "WebSocket")."""

    __slots__ = ("_receive", "_send")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send

    async def accept(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise ConnectionError(f"expected websocket.connect, got {message['type']}")
        await self._send({"type": "websocket.accept"})

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
        await platform.odds.serve(AsgiSocket(receive, send))


router = APIRouter(tags=["odds"])
router.routes.append(WebSocketRoute("/ws/odds", OddsEndpoint(), name="ws_odds"))
