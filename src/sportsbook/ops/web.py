"""The web app (player app and back office, built from `web/` into `web/dist`) served by every API node at `/`.

Its hashed files under `/assets` are cached for good; any other path that is not the API's is the app's own
route (`/events/...`, `/wallet`, `/admin/...`), answered with `index.html` so a reload or a shared link works.
The API's paths keep their JSON 404s. Without a build the API runs alone (the README's commands build it)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

# paths that belong to the API and the operations endpoints, never to the app
_NOT_THE_APPS = ("api/", "ws/", "health/", "metrics", "docs", "openapi.json")


def install(app: FastAPI, directory: Path) -> bool:
    """Serve the build in `directory` if there is one; True when it is served. Call after every other route:
    the app's catch-all route must come last."""
    index = directory / "index.html"
    if not index.is_file():
        return False
    assets = directory / "assets"
    if assets.is_dir():
        app.mount("/assets", _ImmutableFiles(directory=assets), name="web-assets")

    # favicon, robots.txt and the like: the build's own files beside index.html, read once
    root_files = {f.name: f for f in directory.iterdir() if f.is_file() and f.name != "index.html"}

    @app.get("/{path:path}", include_in_schema=False)
    async def web_app(path: str, request: Request) -> Response:
        if path.startswith(_NOT_THE_APPS):
            raise HTTPException(404, f"no route {request.url.path}")
        file = root_files.get(path)
        if file is not None:
            return FileResponse(file)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return True


class _ImmutableFiles(StaticFiles):
    """Static files whose names carry their content's hash: a browser keeps them a year without asking again."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
