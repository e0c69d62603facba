"""FastAPI dependencies that turn a bearer token into a Principal and guard routes by role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sportsbook.core.errors import Forbidden, Unauthorized
from sportsbook.ops.openapi import raises
from sportsbook.platform import Platform, get_platform
from sportsbook.players.model import Principal, Role

# auto_error=False: a missing or odd header must answer our 401 `unauthorized`, not Starlette's 403.
_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/sessions")


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("send Authorization: Bearer <token> from POST /api/v1/sessions")
    return credentials.credentials


@raises(Unauthorized)
async def bearer_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
    """The token of an `Authorization: Bearer <token>` header, else 401 `unauthorized`."""
    return _token(credentials)


# The two below take the header themselves rather than through `bearer_token`: every dependency level costs
# each request (bet placement is the hot path), and the OpenAPI security scheme stays the same.


@raises(Unauthorized)
async def current_user(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer), platform: Platform = Depends(get_platform)
) -> Principal:
    """The authenticated user (player or staff), else 401 `unauthorized`."""
    return await platform.players.authenticate(_token(credentials))


@raises(Unauthorized, Forbidden)
async def current_player(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer), platform: Platform = Depends(get_platform)
) -> Principal:
    """The authenticated player; staff get 403 `forbidden` (they hold no wallet and place no bets)."""
    return await player_of(platform, _token(credentials))


async def player_of(platform: Platform, token: str) -> Principal:
    """The player behind a bearer token: 401 `unauthorized`, or 403 `forbidden` for staff."""
    user = await platform.players.authenticate(token)
    if user.role is not Role.PLAYER:
        raise Forbidden("this is for players only")
    return user


def bearer_token_of(authorization: bytes | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value as HTTPBearer reads it, or None when the
    value is not plainly one (the dependencies above then answer it)."""
    if authorization is None or not authorization.startswith(b"Bearer "):
        return None
    return authorization[7:].decode("latin-1").strip() or None


def require_role(*roles: Role | str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting staff of one of `roles`, and admins always; anyone else gets 403."""
    allowed = frozenset(Role(r) for r in roles) | {Role.ADMIN}

    @raises(Forbidden)
    async def dependency(user: Principal = Depends(current_user)) -> Principal:
        if user.role not in allowed:
            raise Forbidden(f"this needs one of the roles: {', '.join(sorted(allowed))}")
        return user

    return dependency
