"""The web app (player app and back office, built from `web/` into `web/dist`) served by every API node at `/`.

Its hashed files under `/assets` are cached for good; any other GET that no route of the API answers is one of
the app's own routes (`/events/...`, `/wallet`, `/admin/...`), answered with `index.html` so a reload or a shared
link works. It takes the router's "no route" fallback, not a catch-all route: a wrong method on an API path stays
405, and the API's, the docs' and the operations' unknown paths stay JSON 404s. Without a build the API runs
alone (the README's commands build it)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

# paths that belong to the API and the operations endpoints, never to the app
_NOT_THE_APPS = ("/api/", "/ws/", "/health/", "/metrics", "/docs", "/openapi.json", "/assets/")


def install(app: FastAPI, directory: Path) -> bool:
    """Serve the build in `directory` if there is one; True when it is served."""
    index = directory / "index.html"
    if not index.is_file():
        return False
    assets = directory / "assets"
    if assets.is_dir():
        app.mount("/assets", _ImmutableFiles(directory=assets), name="web-assets")
    # favicon, robots.txt and the like: the build's own files beside index.html, listed once
    root_files = {f"/{f.name}": f for f in directory.iterdir() if f.is_file() and f.name != "index.html"}
    no_route = app.router.default

    async def web_app(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or path.startswith(_NOT_THE_APPS):
            await no_route(scope, receive, send)
            return
        file = root_files.get(path)
        response = FileResponse(file) if file else FileResponse(index, headers={"Cache-Control": "no-cache"})
        await response(scope, receive, send)

    app.router.default = web_app
    return True


class _ImmutableFiles(StaticFiles):
    """Static files whose names carry their content's hash: a browser keeps them a year without asking again."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
