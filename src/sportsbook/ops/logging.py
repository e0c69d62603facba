"""Structured logs: one JSON line per event on stdout (or a console view), and a request id on every line.

structlog and the standard library (uvicorn, SQLAlchemy, warnings) share one pipeline and one format, so
an operator's log shipper parses a single shape. `install_request_context` gives every HTTP request an id
(the client's `X-Request-ID` when sane), binds it to the log context and writes one access line per request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, MutableMapping
from time import perf_counter
from typing import Any

import orjson
import structlog
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, get_contextvars, merge_contextvars, reset_contextvars
from structlog.typing import EventDict, Processor, WrappedLogger

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = b"x-request-id"
# A client-supplied id is echoed into our logs and headers: accept only short, inert tokens.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")

# Marks the root handler configure_logging owns, so a second call replaces it instead of adding another.
_HANDLER_FLAG = "_sportsbook_log_handler"
_write_lock = threading.Lock()
_access_log = structlog.get_logger("sportsbook.access")
# Whether access lines pass the configured level: when they do not, the middleware skips building them.
_access_enabled = True
# Whether log lines are JSON: access lines are then rendered here directly (`_access_line`), not by structlog.
_access_json = False
_stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)


def _write_line(line: str) -> None:
    # sys.stdout is looked up per line, not captured once: a redirected stdout (daemons, test capture) is
    # honoured, and a stale stream is never written to. The lock keeps lines whole across threads.
    stream = sys.stdout
    with _write_lock:
        stream.write(line + "\n")
        stream.flush()


class _LineLogger:
    """structlog's destination: writes each rendered event as one line on stdout."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def msg(self, line: str) -> None:
        # stdout closed or gone: losing a line beats failing the request that logged it.
        with contextlib.suppress(OSError, ValueError):
            _write_line(line)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _LineLoggerFactory:
    """Gives `structlog.get_logger(name)` a named line logger; the name becomes the `logger` field."""

    def __init__(self) -> None:
        self._loggers: dict[str, _LineLogger] = {}

    def __call__(self, *args: Any) -> _LineLogger:
        name = args[0] if args and isinstance(args[0], str) else "sportsbook"
        logger = self._loggers.get(name)
        if logger is None:
            logger = self._loggers[name] = _LineLogger(name)
        return logger


class _StdoutHandler(logging.Handler):
    """Sends standard-library records through the structlog formatter to the same stdout writer."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write_line(self.format(record))
        except Exception:
            self.handleError(record)


def _json_default(value: object) -> str:
    return str(value)


def _render_json(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> str:
    # The fixed fields first, so a person tailing the log reads every line the same way.
    line = {
        "timestamp": event_dict.pop("timestamp", None),
        "level": event_dict.pop("level", None),
        "logger": event_dict.pop("logger", None),
        "event": event_dict.pop("event", None),
    }
    line.update(event_dict)
    return orjson.dumps(line, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def _level_number(level: str) -> int:
    # the standard levels only: a library may add its own to `logging` (uvicorn adds TRACE), which structlog
    # has no logger for
    number = _LEVELS.get(level.strip().upper())
    if number is None:
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return number


def configure_logging(level: str, *, json: bool) -> None:
    """Route structlog and stdlib logging to stdout: JSON lines when `json`, a readable console otherwise.

    Every line has timestamp (ISO 8601, UTC), level, logger, event and whatever is bound to the
    structlog context (the request id during a request). Safe to call again: the last call wins."""
    global _access_enabled, _access_json
    level_no = _level_number(level)
    _access_enabled = level_no <= logging.INFO
    _access_json = json
    shared: list[Processor] = [
        merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    render: list[Processor] = (
        [structlog.processors.format_exc_info, _render_json]
        if json
        else [structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())]
    )
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *render],
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=_LineLoggerFactory(),
        context_class=dict,
        # Not cached, so a later configure_logging (another level, json off) reaches every logger.
        cache_logger_on_first_use=False,
    )

    handler = _StdoutHandler()
    setattr(handler, _HANDLER_FLAG, True)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_FLAG, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level_no)
    # uvicorn's own handlers would print a second, differently shaped line: send its records to ours.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The request-context middleware writes the access line; uvicorn's would duplicate it.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    logging.captureWarnings(True)


def _access_line(fields: dict[str, Any]) -> None:
    """One access line. In JSON, the very line structlog's pipeline would write (`configure_logging`), made here
    directly: the pipeline's processors cost a request several times as much, every request."""
    if not _access_json:
        _access_log.info("request", **fields)
        return
    line = {
        "timestamp": _stamp(None, "info", {})["timestamp"],
        "level": "info",
        "logger": "sportsbook.access",
        "event": "request",
        **fields,
    }
    for key, value in get_contextvars().items():  # as merge_contextvars adds them: after the call's own
        line.setdefault(key, value)
    with contextlib.suppress(OSError, ValueError):  # as _LineLogger: losing a line beats failing the request
        _write_line(orjson.dumps(line, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode())


def request_id_from(scope: Scope) -> str:
    """The client's X-Request-ID when it is sane (≤ 128 of [A-Za-z0-9._-]), otherwise a fresh one."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == _REQUEST_ID_KEY:
            if _SANE_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()  # as unique as a UUID4, at a fifth of the cost


def route_template(scope: Scope, root_path: str = "") -> str:
    """The matched route's template (`/api/v1/bets/{id}`), or "unmatched"; call once the app has run.

    `root_path` is the scope's root path before routing: whatever a Mount appended since is its prefix."""
    mount: str = scope.get("root_path", "")[len(root_path) :]
    path_format = getattr(scope.get("route"), "path_format", None)
    if isinstance(path_format, str):
        return mount + path_format
    if mount:  # a mounted app without routes of its own (static files): one series for the whole mount
        return mount + "/{path}"
    return "unmatched"


def wrap_outermost(app: Starlette, middleware: Callable[[ASGIApp], ASGIApp]) -> None:
    """Wrap `middleware` around the whole application, outside Starlette's ServerErrorMiddleware.

    `add_middleware` would put it inside, where an unhandled exception's 500 answer is never seen: the
    500 would lack its X-Request-ID, be logged without the id bound, and be counted with no status.
    The last middleware wrapped is the outermost. Wrapping the same one twice does nothing."""
    if app.middleware_stack is not None:
        raise RuntimeError("Cannot add middleware after an application has started")
    wrapped: set[Callable[[ASGIApp], ASGIApp]] = app.__dict__.setdefault("_sportsbook_outer", set())
    if middleware in wrapped:
        return
    wrapped.add(middleware)
    build_inner = app.build_middleware_stack

    def build() -> ASGIApp:
        return middleware(build_inner())

    app.build_middleware_stack = build  # type: ignore[method-assign]


class RequestContextMiddleware:
    """Pure ASGI: a request id per HTTP request or WebSocket, bound to the log context; access lines."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            # Frames pass untouched: wrapping send would cost on every odds update fanned out.
            request_id = request_id_from(scope)
            _state(scope)["request_id"] = request_id
            tokens = bind_contextvars(request_id=request_id)
            try:
                await self.app(scope, receive, send)
            finally:
                reset_contextvars(**tokens)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_from(scope)
        header = (_REQUEST_ID_KEY, request_id.encode("ascii"))
        _state(scope)["request_id"] = request_id
        root_path = scope.get("root_path", "")
        # What the server answers if the app fails or returns without starting a response.
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: the response object's own header list must not grow on a resend.
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        tokens = bind_contextvars(request_id=request_id)
        started = perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if _access_enabled:
                _access_line(
                    {
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route_template(scope, root_path),
                        "status": status,
                        "duration_ms": round((perf_counter() - started) * 1000, 3),
                    }
                )
            reset_contextvars(**tokens)


def _state(scope: Scope) -> MutableMapping[str, Any]:
    # Starlette's `request.state` reads scope["state"], so handlers find `request.state.request_id`.
    state: MutableMapping[str, Any] = scope.setdefault("state", {})
    return state


def install_request_context(app: Starlette) -> None:
    """Give every request an id (header `X-Request-ID` in and out), bind it to logs, log each request."""
    wrap_outermost(app, RequestContextMiddleware)
