"""Prometheus metrics: HTTP requests and latency by route template, and `GET /metrics` to scrape them.

Metrics live in prometheus_client's default registry, so each feature defines its own next to its code
(the ledger's transfer counters, for one) and they all appear on the same `/metrics`."""

from __future__ import annotations

from time import perf_counter

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sportsbook.ops.logging import route_template, wrap_outermost

HTTP_REQUESTS = Counter(
    "sportsbook_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "route", "status"),
)
HTTP_REQUEST_DURATION = Histogram(
    "sportsbook_http_request_duration_seconds",
    "Time from receiving an HTTP request to the end of its response, by method and route template.",
    ("method", "route"),
    # From half a millisecond (a price read from memory) to ten seconds (something is badly wrong).
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# A client may send any method token; labelling with it raw would let one client mint series at will.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request by method, route template and status."""

    __slots__ = ("_children", "app")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled children, found once per label set: `labels()` validates and locks on every call.
        # Bounded: methods, route templates and status codes are all finite.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket's lifetime is not a request latency
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        status = 500  # what the server answers if the app fails or returns without a response

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = perf_counter() - started
            method = scope["method"]
            key = (method if method in _METHODS else "other", route_template(scope, root_path), status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    HTTP_REQUESTS.labels(key[0], key[1], str(status)),
                    HTTP_REQUEST_DURATION.labels(key[0], key[1]),
                )
            children[0].inc()
            children[1].observe(elapsed)


async def metrics_endpoint() -> Response:
    """Every metric of this process in the Prometheus text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Count and time every HTTP request, and serve `GET /metrics`. /metrics counts itself like any route."""
    # `*_created` series double what every counter and histogram exposes, and Prometheus' text format
    # has no use for them: rate() needs no start time.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    # An API route, not a plain Starlette one: only API routes leave their template in the scope.
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    wrap_outermost(app, MetricsMiddleware)
