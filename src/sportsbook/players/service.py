"""The players' use cases: register, log in and out, authenticate a bearer token, create staff."""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from sportsbook.config import Settings
from sportsbook.core.clock import Clock
from sportsbook.core.errors import RateLimited, Unauthorized
from sportsbook.core.ids import new_id
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import reading, unit_of_work
from sportsbook.players import model, store
from sportsbook.players.events import KycChangedV1, PlayerRegisteredV1, SessionStartedV1
from sportsbook.players.model import (
    AccountDisabled,
    InvalidCredentials,
    InvalidEmail,
    Kyc,
    LockoutPolicy,
    LoginState,
    PlayerNotFound,
    Principal,
    Role,
    Status,
)
from sportsbook.players.revocation.channel import RevocationChannel
from sportsbook.players.revocation.memory import MemoryRevocations
from sportsbook.players.sessions import SessionCache
from sportsbook.players.store import PlayerStore

if TYPE_CHECKING:
    from sportsbook.ledger.service import Ledger, Wallet


@dataclass(frozen=True, slots=True)
class Registration:
    """What a client sends to open a player account."""

    email: str
    password: str
    date_of_birth: date
    country: str
    currency: str


@dataclass(frozen=True, slots=True)
class Profile:
    """An account as its owner sees it (`GET /api/v1/me`)."""

    id: UUID
    email: str
    role: Role
    country: str | None
    currency: str | None
    date_of_birth: date | None
    created_at: datetime
    kyc_status: Kyc = Kyc.UNVERIFIED


@dataclass(frozen=True, slots=True)
class PlayerPage:
    """One page of a staff search for players, newest first."""

    items: list[Profile]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PlayerDetail:
    """A player as staff see them: the profile, and the wallet the ledger keeps for them."""

    profile: Profile
    wallet: Wallet


def token_hash(token: str) -> str:
    """What the sessions table keeps instead of the token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class Players:
    """Accounts and sessions. Every write runs in one transaction with its outbox events."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        ledger: Ledger,
        settings: Settings,
        *,
        login_limit_per_email: str = "10/minute",
        login_limit_per_ip: str = "30/minute",
        rate_limit_storage: Storage | None = None,
        revocations: RevocationChannel | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ledger = ledger
        self._session_ttl = timedelta(seconds=settings.session_ttl_s)
        self._lockout = LockoutPolicy(settings.login_max_failures, settings.login_lock_s)
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None
        # Moving windows: a burst at a window's edge cannot double the allowance as with fixed windows.
        self._limiter = MovingWindowRateLimiter(rate_limit_storage or MemoryStorage())
        self._per_email: RateLimitItem = parse(login_limit_per_email)
        self._per_ip: RateLimitItem = parse(login_limit_per_ip)
        # Saves a database read on most requests; every node hears of a revocation through the channel.
        self._sessions = SessionCache(timedelta(seconds=settings.session_cache_s))
        self._revocations = revocations or MemoryRevocations()
        self._revocations.listen(self._sessions)

    async def start(self) -> None:
        """Start hearing revocations from other nodes (sessions are read from the database until then)."""
        await self._revocations.start()

    async def stop(self) -> None:
        await self._revocations.stop()

    async def register(self, registration: Registration) -> Principal:
        """Open a player account with its wallet accounts; `player.registered` goes out with it."""
        email = model.normalize_email(registration.email)
        country = model.check_country(registration.country)
        currency = model.check_player_currency(registration.currency)
        now = self._clock.now()
        date_of_birth = model.check_date_of_birth(registration.date_of_birth, now.date())
        model.check_password(registration.password, user_inputs=(email,))
        password_hash = await self._hash(registration.password)
        user = store.UserRecord(
            id=new_id(),
            email=email,
            password_hash=password_hash,
            role=Role.PLAYER,
            date_of_birth=date_of_birth,
            country=country,
            currency=currency,
            status=Status.ACTIVE,
            login=LoginState(),
            created_at=now,
        )
        event = PlayerRegisteredV1(user.id, email, country, currency, now)
        async with unit_of_work(self._db) as uow:
            await uow.store(PlayerStore).insert_user(user)
            await self._ledger.open_player_accounts(uow, user.id, currency)
            await uow.outbox.add([event])
        return user.principal()

    async def create_staff(self, email: str, password: str, role: str) -> UUID:
        """Create a member of staff with one back-office role (`sportsbook admin create`)."""
        normalized = model.normalize_email(email)
        staff_role = model.check_staff_role(role)
        model.check_password(password, user_inputs=(normalized,))
        user = store.UserRecord(
            id=new_id(),
            email=normalized,
            password_hash=await self._hash(password),
            role=staff_role,
            date_of_birth=None,
            country=None,
            currency=None,
            status=Status.ACTIVE,
            login=LoginState(),
            created_at=self._clock.now(),
        )
        async with unit_of_work(self._db) as uow:
            users = uow.store(PlayerStore)
            await users.insert_user(user)
        return user.id

    async def login(self, email: str, password: str, ip: str | None) -> tuple[str, datetime]:
        """Check the password and open a session: the bearer token (shown once) and when it expires."""
        try:
            normalized = model.normalize_email(email)
        except InvalidEmail:
            normalized = None
        await self._rate_limit(normalized or email.strip().lower(), ip or "unknown")
        if normalized is None:
            await self._verify_dummy(password)
            raise InvalidCredentials()
        async with reading(self._db) as uow:
            users = uow.store(PlayerStore)
            user = await users.user_by_email(normalized)
        if user is None:
            # Same Argon2 work as for a real account, so timing does not tell which emails exist.
            await self._verify_dummy(password)
            raise InvalidCredentials()
        self._lockout.check(user.login, self._clock.now())
        if not await self._verify(user.password_hash, password):
            await self._record_failure(user.id)
            raise InvalidCredentials()
        if user.status is not Status.ACTIVE:
            raise AccountDisabled()
        return await self._open_session(user, password)

    async def logout(self, token: str) -> None:
        """End the session of this token; `unauthorized` if it is not a live session. Every node stops
        trusting it at once (this one before the answer, the others as the revocation reaches them)."""
        now = self._clock.now()
        hashed = token_hash(token)
        self._sessions.forget(hashed)
        async with unit_of_work(self._db) as uow:
            users = uow.store(PlayerStore)
            session = await users.session_by_token_hash(hashed)
            if session is None or not _live(session, now) or not await users.revoke_session(session.id, now):
                raise Unauthorized("the session is not valid")
        await self._announce_revoked([hashed])

    async def authenticate(self, token: str) -> Principal:
        """The user behind a bearer token, else `unauthorized` (unknown, expired or revoked token)."""
        now = self._clock.now()
        hashed = token_hash(token)
        cached = self._sessions.get(hashed, now)
        if cached is not None:
            return cached
        ticket = self._sessions.ticket()
        async with reading(self._db) as uow:
            users = uow.store(PlayerStore)
            session = await users.session_by_token_hash(hashed)
        if session is None or not _live(session, now) or session.user.status is not Status.ACTIVE:
            raise Unauthorized("the session is not valid; log in again")
        principal = session.user.principal()
        self._sessions.put(ticket, hashed, principal, session.expires_at, now)
        return principal

    async def _announce_revoked(self, token_hashes: list[str]) -> None:
        """Every way a session ends goes through here once committed: this node's cache first, then the others
        through the channel (token hashes only, never tokens)."""
        self._sessions.revoked(token_hashes)
        await self._revocations.publish(token_hashes)

    async def profile(self, user_id: UUID) -> Profile:
        """The account of `user_id` as its owner sees it."""
        async with reading(self._db) as uow:
            users = uow.store(PlayerStore)
            user = await users.user_by_id(user_id)
        if user is None:
            raise Unauthorized("the account no longer exists")
        return _profile(user)

    async def search(self, text: str | None, limit: int, cursor: str | None) -> PlayerPage:
        """Players whose email contains `text` (or whose id it is), newest first, `limit` at a time (staff)."""
        after = model.after_player_cursor(cursor) if cursor is not None else None
        async with reading(self._db) as uow:
            found = await uow.store(PlayerStore).search_players(text, limit + 1, after)
        page = found[:limit]
        more = len(found) > limit
        next_cursor = model.player_cursor(page[-1].created_at, page[-1].id) if more and page else None
        return PlayerPage([_profile(user) for user in page], next_cursor)

    async def player_detail(self, player_id: UUID) -> PlayerDetail:
        """A player with their wallet, read from the ledger's service (staff); `player_not_found` for anyone
        else, staff included."""
        async with reading(self._db) as uow:
            user = await uow.store(PlayerStore).user_by_id(player_id)
        if user is None or user.role is not Role.PLAYER or user.currency is None:
            raise PlayerNotFound()
        wallet = await self._ledger.wallet(user.id, user.currency)
        return PlayerDetail(_profile(user), wallet)

    async def country_and_kyc(self, player_id: UUID) -> tuple[str | None, Kyc]:
        """A player's country and KYC status (payments ask before a withdrawal)."""
        profile = await self.profile(player_id)
        return profile.country, profile.kyc_status

    async def set_kyc(self, player_id: UUID, status: Kyc, staff_id: UUID) -> Profile:
        """Set a player's KYC status (staff), with `player.kyc_changed`; `player_not_found` for anyone else."""
        async with unit_of_work(self._db) as uow:
            if not await uow.store(PlayerStore).set_kyc(player_id, status):
                raise PlayerNotFound()
            await uow.outbox.add([KycChangedV1(player_id, status.value, staff_id, self._clock.now())])
        return await self.profile(player_id)

    async def _open_session(self, user: store.UserRecord, password: str) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(32)
        session_id = new_id()
        now = self._clock.now()
        expires_at = now + self._session_ttl
        rehashed = await self._hash(password) if self._hasher.check_needs_rehash(user.password_hash) else None
        async with unit_of_work(self._db) as uow:
            users = uow.store(PlayerStore)
            state = await users.login_state_for_update(user.id)
            # A lock set by a concurrent failure after our password check still holds.
            self._lockout.check(state, now)
            if state != self._lockout.after_success():
                await users.set_login_state(user.id, self._lockout.after_success())
            if rehashed is not None:  # the operator raised the Argon2 costs: upgrade on the way in
                await users.set_password_hash(user.id, rehashed)
            await users.insert_session(
                session_id=session_id,
                token_hash=token_hash(token),
                user_id=user.id,
                created_at=now,
                expires_at=expires_at,
            )
            if user.role is Role.PLAYER:
                await uow.outbox.add([SessionStartedV1(user.id, session_id, now)])
        return token, expires_at

    async def _record_failure(self, user_id: UUID) -> None:
        now = self._clock.now()
        async with unit_of_work(self._db) as uow:
            users = uow.store(PlayerStore)
            state = self._lockout.after_failure(await users.login_state_for_update(user_id), now)
            await users.set_login_state(user_id, state)
        # The failure that reaches the limit says so at once rather than on the next attempt.
        self._lockout.check(state, now)

    async def _rate_limit(self, email_key: str, ip: str) -> None:
        checks = ((self._per_email, "login-email", email_key), (self._per_ip, "login-ip", ip))
        for item, scope, key in checks:
            if not await self._limiter.test(item, scope, key):
                stats = await self._limiter.get_window_stats(item, scope, key)
                # The limiter's windows run on wall time (its storage's clock), not the injectable clock.
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited("too many login attempts; slow down", retry_after_s=retry_after)
        for item, scope, key in checks:
            await self._limiter.hit(item, scope, key)

    async def _hash(self, password: str) -> str:
        # Argon2 takes tens of milliseconds of CPU by design: off the event loop.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):  # a mismatch, or a hash we cannot read
            return False

    async def _verify_dummy(self, password: str) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
        await self._verify(self._dummy_hash, password)


def _profile(user: store.UserRecord) -> Profile:
    return Profile(
        id=user.id,
        email=user.email,
        role=user.role,
        country=user.country,
        currency=user.currency,
        date_of_birth=user.date_of_birth,
        created_at=user.created_at,
        kyc_status=user.kyc_status,
    )


def _live(session: store.SessionRecord, now: datetime) -> bool:
    return session.revoked_at is None and now < session.expires_at
