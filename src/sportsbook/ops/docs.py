"""`GET /docs`, Swagger UI served by the platform itself, so the API's docs work where no CDN can be reached.

Swagger UI's files come from the swagger-ui-bundle-v2 package (the maintained fork of swagger-ui-bundle:
that one ships Swagger UI 4, which cannot read the OpenAPI 3.1 the app writes) under `/docs/assets`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"
_SWAGGER_UI = Path(str(swagger_ui_path))


def install(app: FastAPI) -> None:
    """Serve `/docs` and its files. Build the app with `docs_url=None, redoc_url=None`: FastAPI's own pages
    load their files from a CDN (ReDoc is not served at all)."""
    openapi_url = app.openapi_url
    assert openapi_url is not None, "the docs page reads the schema"
    app.mount(ASSETS, StaticFiles(directory=_SWAGGER_UI), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # behind a proxy that serves the API under a prefix
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            # Swagger UI's default would show a badge fetched from an online validator, with our schema's URL
            swagger_ui_parameters={"validatorUrl": None},
        )
