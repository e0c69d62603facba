"""GET /docs works offline: Swagger UI's files come from the platform itself, never from another host."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx

from tests.http.conftest import Api


async def _docs(api: Api) -> httpx.Response:
    page = await api.client.get("/docs")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    return page


def _references(page: httpx.Response) -> list[str]:
    """Every URL the page loads: stylesheets, icons, scripts and the schema Swagger UI fetches."""
    return re.findall(r'(?:href|src)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)


async def test_the_docs_page_names_no_other_host(api: Api) -> None:
    page = await _docs(api)
    hosts = {urlsplit(url).hostname for url in re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", page.text)}
    assert hosts == set()
    assert all(not urlsplit(ref).netloc for ref in _references(page))
    # Swagger UI's own default would show a badge fetched from an online validator
    assert '"validatorUrl": null' in page.text


async def test_every_file_the_docs_page_loads_is_served_by_the_app(api: Api) -> None:
    page = await _docs(api)
    references = _references(page)
    kinds = {"text/css": 0, "text/javascript": 0, "image/png": 0, "application/json": 0}
    for reference in references:
        response = await api.client.get(urljoin(str(page.url), reference))
        assert response.status_code == 200, reference
        assert response.content, reference
        kind = response.headers["content-type"].split(";")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"text/css": 1, "text/javascript": 1, "image/png": 1, "application/json": 1}, references


async def test_the_bundled_swagger_ui_renders_the_openapi_version_the_app_writes(api: Api) -> None:
    # Swagger UI before 5 says "Unable to render this definition" for OpenAPI 3.1, which the app writes
    page = await _docs(api)
    script = next(ref for ref in _references(page) if ref.endswith(".js"))
    bundle = (await api.client.get(urljoin(str(page.url), script))).text
    built = re.search(r'PACKAGE_VERSION:"(\d+)\.(\d+)\.(\d+)"', bundle)
    assert built is not None
    openapi = (await api.client.get("/openapi.json")).json()["openapi"]
    assert openapi.startswith("3.1.")
    assert int(built.group(1)) >= 5


async def test_redoc_is_not_served_from_a_cdn_either(api: Api) -> None:
    response = await api.client.get("/redoc")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


async def test_a_missing_docs_file_is_404_in_the_error_shape(api: Api) -> None:
    page = await _docs(api)
    script = next(ref for ref in _references(page) if ref.endswith(".js"))
    response = await api.client.get(urljoin(str(page.url), script.rsplit("/", 1)[0] + "/no-such-file.js"))
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
