"""Run a write at most once per (scope, Idempotency-Key), answering replays with the first answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Header
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.core.clock import Clock
from sportsbook.core.errors import DomainError, IdempotencyKeyMissing, IdempotencyKeyReused
from sportsbook.db.engine import Database
from sportsbook.idempotency import store
from sportsbook.idempotency.store import StoredAnswer
from sportsbook.ops.openapi import raises

Action = Callable[[AsyncConnection], Awaitable[tuple[int, dict[str, Any]]]]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 of the request's method, path and canonical JSON body."""
    try:
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits: the route refuses it, but only after the key is checked
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


@raises(IdempotencyKeyMissing, IdempotencyKeyReused)
async def idempotency_key(
    idempotency_key: str | None = Header(default=None, description="1 to 255 printable ASCII characters"),
) -> str:
    """FastAPI dependency: the Idempotency-Key header, 1 to 255 printable ASCII characters (space to tilde)."""
    # ASCII as HTTP header values are: the server reads any other byte as Latin-1, so a key sent as "é" in
    # UTF-8 arrives as "Ã©", which isprintable() alone would take.
    key = idempotency_key
    if key is None or not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyMissing()
    return key


class Idempotency:
    """Runs an action in a transaction that also records its answer under the key."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def run(self, scope: str, key: str, fingerprint: str, action: Action) -> tuple[int, dict[str, Any]]:
        """The action's (status, body), or the first answer's if this key was answered before.

        A domain refusal is an answer too: it is recorded, so a replay is refused the same way."""
        for _ in range(3):
            try:
                return await self._run_once(scope, key, fingerprint, action)
            except IntegrityError:
                # A concurrent request with the same key committed first; its answer is ours.
                continue
        raise IdempotencyKeyReused("this key is being used by a concurrent request; retry")

    async def _run_once(self, scope: str, key: str, fingerprint: str, action: Action) -> tuple[int, dict[str, Any]]:
        async with self.db.transaction() as conn:
            found = await store.lookup(conn, scope, key)
            if found is not None:
                if found.request_hash != fingerprint:
                    raise IdempotencyKeyReused()
                return found.status, found.body
            try:
                async with conn.begin_nested():
                    status, body = await action(conn)
            except DomainError as exc:
                status = exc.status
                body = {"error": {"code": exc.code, "message": exc.message, **exc.extra}}  # as ops/http.py answers
            await store.save(conn, scope, key, StoredAnswer(fingerprint, status, body), self.clock.now())
            return status, body
