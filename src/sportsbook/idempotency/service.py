"""Run a write at most once per (scope, Idempotency-Key), answering replays with the first answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Header
from sqlalchemy.exc import IntegrityError

from sportsbook.core.clock import Clock
from sportsbook.core.errors import DomainError, IdempotencyKeyMissing, IdempotencyKeyReused
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, unit_of_work
from sportsbook.idempotency.store import IdempotencyStore, StoredAnswer
from sportsbook.ops.openapi import raises

T = TypeVar("T")
Answer = tuple[int, dict[str, Any]]  # an HTTP status and the JSON body answered with it


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
    if idempotency_key is None or not is_idempotency_key(idempotency_key):
        raise IdempotencyKeyMissing()
    return idempotency_key


def is_idempotency_key(key: str) -> bool:
    """Whether a header value is a usable key: 1 to 255 printable ASCII characters (space to tilde)."""
    # ASCII as HTTP header values are: the server reads any other byte as Latin-1, so a key sent as "é" in
    # UTF-8 arrives as "Ã©", which isprintable() alone would take.
    return 1 <= len(key) <= 255 and key.isascii() and key.isprintable()


@dataclass(frozen=True, slots=True)
class Once:
    """A request to carry out at most once: who asks (`scope`), their Idempotency-Key, and the request's
    fingerprint (a replay must be the same request)."""

    scope: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, scope: str, key: str, method: str, path: str, body: Any) -> Once:
        return cls(scope, key, request_fingerprint(method, path, body))


class Idempotency:
    """Runs a use case in a unit of work that also records its answer under the key."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def run(
        self, once: Once, use_case: Callable[[UnitOfWork], Awaitable[T]], answer: Callable[[T], Answer]
    ) -> Answer:
        """What `answer` makes of the use case's result, or the first answer if this key was answered before.
        The use case runs in the unit of work that records the answer, so both commit or neither does.

        A domain refusal is an answer too: it is recorded, so a replay is refused the same way."""
        for _ in range(3):
            try:
                return await self._run_once(once, use_case, answer)
            except IntegrityError:
                # A concurrent request with the same key committed first; its answer is ours.
                continue
        raise IdempotencyKeyReused("this key is being used by a concurrent request; retry")

    async def _run_once(
        self, once: Once, use_case: Callable[[UnitOfWork], Awaitable[T]], answer: Callable[[T], Answer]
    ) -> Answer:
        async with unit_of_work(self.db) as uow:
            answers = uow.store(IdempotencyStore)
            found = await answers.lookup(once.scope, once.key)
            if found is not None:
                if found.request_hash != once.fingerprint:
                    raise IdempotencyKeyReused()
                return found.status, found.body
            try:
                async with uow.savepoint():
                    status, body = answer(await use_case(uow))
            except DomainError as exc:
                status = exc.status
                body = {"error": {"code": exc.code, "message": exc.message, **exc.extra}}  # as ops/http.py answers
            await answers.save(once.scope, once.key, StoredAnswer(once.fingerprint, status, body), self.clock.now())
            return status, body
