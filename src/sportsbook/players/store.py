"""The players' tables and the only code that reads or writes them (SQLAlchemy Core)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Uuid,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.core.clock import utc
from sportsbook.db.metadata import metadata
from sportsbook.players.model import EmailTaken, Kyc, LoginState, Principal, Role, Status

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("date_of_birth", Date, nullable=True),  # staff have none
    Column("country", String(2), nullable=True),  # staff have none
    Column("currency", String(3), nullable=True),  # staff hold no wallet
    Column("status", String(16), nullable=False),
    Column("kyc_status", String(16), nullable=False, server_default="unverified"),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("failed_logins >= 0", name="failed_logins_non_negative"),
    CheckConstraint("role IN ('player', 'admin', 'trader', 'risk', 'payments', 'support')", name="role_known"),
    CheckConstraint("status IN ('active', 'disabled')", name="status_known"),
    CheckConstraint("kyc_status IN ('unverified', 'pending', 'verified', 'rejected')", name="kyc_status_known"),
    # A player always has a wallet currency, a country and a date of birth; staff never need them.
    CheckConstraint(
        "role <> 'player' OR (currency IS NOT NULL AND country IS NOT NULL AND date_of_birth IS NOT NULL)",
        name="player_profile_complete",
    ),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    # SHA-256 of the bearer token, hex: a stolen copy of the table grants no session.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_sessions_user_id", "user_id"),
)


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One row of `users`, with times as aware UTC."""

    id: UUID
    email: str
    password_hash: str
    role: Role
    date_of_birth: date | None
    country: str | None
    currency: str | None
    status: Status
    login: LoginState
    created_at: datetime
    kyc_status: Kyc = Kyc.UNVERIFIED

    def principal(self) -> Principal:
        return Principal(id=self.id, email=self.email, role=self.role, currency=self.currency)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One row of `sessions` joined with its user."""

    id: UUID
    user: UserRecord
    expires_at: datetime
    revoked_at: datetime | None


def _uuid(value: UUID) -> UUID:
    # asyncpg hands back its own UUID subclass, which orjson and friends do not know: make it plain.
    return value if type(value) is UUID else UUID(bytes=value.bytes)


def _parse_uuid(text: str) -> UUID | None:
    try:
        return UUID(text.strip())
    except ValueError:
        return None


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _user(m: RowMapping) -> UserRecord:
    return UserRecord(
        id=_uuid(m["id"]),
        email=m["email"],
        password_hash=m["password_hash"],
        role=Role(m["role"]),
        date_of_birth=m["date_of_birth"],
        country=m["country"],
        currency=m["currency"],
        status=Status(m["status"]),
        login=LoginState(failed_logins=m["failed_logins"], locked_until=_aware(m["locked_until"])),
        created_at=utc(m["created_at"]),
        kyc_status=Kyc(m["kyc_status"]),
    )


class PlayerStore:
    """The players' tables (accounts, sessions) in one transaction, a unit of work's: SQLAlchemy Core, any backend."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def insert_user(self, user: UserRecord) -> None:
        """Insert a new account; `email_taken` if the email exists, even when a concurrent insert won."""
        conn = self.conn
        try:
            # A savepoint keeps the caller's transaction usable on PostgreSQL after the violation.
            async with conn.begin_nested():
                await conn.execute(
                    insert(users).values(
                        id=user.id,
                        email=user.email,
                        password_hash=user.password_hash,
                        role=user.role.value,
                        date_of_birth=user.date_of_birth,
                        country=user.country,
                        currency=user.currency,
                        status=user.status.value,
                        failed_logins=user.login.failed_logins,
                        locked_until=user.login.locked_until,
                        created_at=user.created_at,
                    )
                )
        except IntegrityError as exc:
            if await self.email_exists(user.email):
                raise EmailTaken() from exc
            raise

    async def email_exists(self, email: str) -> bool:
        conn = self.conn
        row = (await conn.execute(select(users.c.id).where(users.c.email == email))).first()
        return row is not None

    async def user_by_email(self, email: str) -> UserRecord | None:
        conn = self.conn
        row = (await conn.execute(select(users).where(users.c.email == email))).mappings().first()
        return None if row is None else _user(row)

    async def set_kyc(self, user_id: UUID, status: Kyc) -> bool:
        """Set a player's KYC status; False if no player has this id."""
        result = await self.conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.role == Role.PLAYER.value)
            .values(kyc_status=status.value)
        )
        return bool(result.rowcount == 1)

    async def search_players(
        self, text: str | None, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[UserRecord]:
        """Players (never staff), newest first: those whose email contains `text` or whose id it is."""
        query = select(users).where(users.c.role == Role.PLAYER.value)
        if text:
            clause = users.c.email.contains(text.lower(), autoescape=True)
            as_id = _parse_uuid(text)
            if as_id is not None:
                clause = clause | (users.c.id == as_id)
            query = query.where(clause)
        if after is not None:
            at, last_id = after
            query = query.where((users.c.created_at < at) | ((users.c.created_at == at) & (users.c.id < last_id)))
        query = query.order_by(users.c.created_at.desc(), users.c.id.desc()).limit(limit)
        rows = (await self.conn.execute(query)).mappings().all()
        return [_user(row) for row in rows]

    async def user_by_id(self, user_id: UUID) -> UserRecord | None:
        conn = self.conn
        row = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()
        return None if row is None else _user(row)

    async def login_state_for_update(self, user_id: UUID) -> LoginState:
        """The lockout state, row-locked on PostgreSQL so concurrent failures all count (SQLite's write
        transaction already serialises them)."""
        conn = self.conn
        row = (
            await conn.execute(
                select(users.c.failed_logins, users.c.locked_until).where(users.c.id == user_id).with_for_update()
            )
        ).one()
        return LoginState(failed_logins=row.failed_logins, locked_until=_aware(row.locked_until))

    async def set_login_state(self, user_id: UUID, state: LoginState) -> None:
        conn = self.conn
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(failed_logins=state.failed_logins, locked_until=state.locked_until)
        )

    async def set_password_hash(self, user_id: UUID, password_hash: str) -> None:
        conn = self.conn
        await conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    async def set_status(self, user_id: UUID, status: Status) -> None:
        conn = self.conn
        await conn.execute(update(users).where(users.c.id == user_id).values(status=status.value))

    async def insert_session(
        self,
        *,
        session_id: UUID,
        token_hash: str,
        user_id: UUID,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        conn = self.conn
        await conn.execute(
            insert(sessions).values(
                id=session_id,
                token_hash=token_hash,
                user_id=user_id,
                created_at=created_at,
                expires_at=expires_at,
                revoked_at=None,
            )
        )

    async def session_by_token_hash(self, token_hash: str) -> SessionRecord | None:
        """The session with this token hash and its user, live or not (the caller judges expiry)."""
        conn = self.conn
        query = (
            select(
                sessions.c.id.label("session_id"),
                sessions.c.expires_at.label("session_expires_at"),
                sessions.c.revoked_at.label("session_revoked_at"),
                users,
            )
            .select_from(sessions.join(users, sessions.c.user_id == users.c.id))
            .where(sessions.c.token_hash == token_hash)
        )
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return SessionRecord(
            id=_uuid(row["session_id"]),
            user=_user(row),
            expires_at=utc(row["session_expires_at"]),
            revoked_at=_aware(row["session_revoked_at"]),
        )

    async def revoke_session(self, session_id: UUID, now: datetime) -> bool:
        """Revoke a session; False if it was already revoked."""
        conn = self.conn
        result = await conn.execute(
            update(sessions).where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        return bool(result.rowcount)
