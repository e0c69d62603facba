"""Domain errors with stable machine-readable codes, mapped to HTTP in one place (ops/http.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the client can act on. `code` is part of the public contract; never rename one."""

    code: str = "domain_error"
    status: int = 400

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self)

    @property
    def extra(self) -> dict[str, object]:
        """Machine-readable fields the error body carries beside `code` and `message` (none by default)."""
        return {}

    @classmethod
    def meaning(cls) -> str:
        """What this refusal means, for the API's documents: the class's docstring on one line."""
        return " ".join((cls.__doc__ or cls.code).split())


class InvalidRequest(DomainError):
    """The request is not valid."""

    code = "invalid_request"
    status = 422


class InvalidCursor(InvalidRequest):
    """The cursor is not one this API gave out."""

    code = "invalid_cursor"


class NotFound(DomainError):
    """No such resource."""

    code = "not_found"
    status = 404


class Conflict(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409


class Unauthorized(DomainError):
    """No bearer token, or a bad, expired or revoked one: log in with POST /api/v1/sessions."""

    code = "unauthorized"
    status = 401


class Forbidden(DomainError):
    """This account may not do that (a staff route needs one of its roles; player routes are for players)."""

    code = "forbidden"
    status = 403


class InsufficientFunds(DomainError):
    """The balance does not cover the amount."""

    code = "insufficient_funds"
    status = 409


class IdempotencyKeyReused(DomainError):
    """This Idempotency-Key was already used with a different request."""

    code = "idempotency_key_reused"
    status = 409


class IdempotencyKeyMissing(DomainError):
    """This request needs an Idempotency-Key header of 1 to 255 printable ASCII characters."""

    code = "idempotency_key_required"
    status = 400


class RateLimited(DomainError):
    """Too many requests; retry later."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str = "", *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
