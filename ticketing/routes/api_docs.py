"""The API's documentation pages, `/docs` (Swagger UI) and `/redoc` (ReDoc), with every script and style
served by the service itself: the files come from the fastapi-offline package (README, Libraries), read once
at start.

FastAPI's own pages load those files from a CDN; a reader behind a firewall, or an auditor who must not reach
third parties, would get a blank page, and the CDN could change what runs next to the API. Two requests the
files themselves would make go too: ReDoc's sidebar shows Redocly's logo from their CDN (its address is
blanked in the served bundle, so the image fails at once without a request and ReDoc leaves it out; the link
text stays), and Swagger UI sends the spec to validator.swagger.io from a public host name (turned off).
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from ticketing.errors import NotFound

__all__ = ["ASSETS_PREFIX", "DOCS_ASSETS", "router"]

router = APIRouter(include_in_schema=False)
ASSETS_PREFIX = "/docs/assets"
_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
DOCS_ASSETS = tuple(_TYPES)
_STATIC = resources.files("fastapi_offline").joinpath("static")
# What a bundle would fetch from another host, and what it is served with instead.
_OFFSITE = {"redoc.standalone.js": ((b'"https://cdn.redoc.ly/redoc/logo-mini.svg"', b'""'),)}


def _served(name: str) -> bytes:
    content = _STATIC.joinpath(name).read_bytes()
    for offsite, local in _OFFSITE.get(name, ()):
        content = content.replace(offsite, local)
    return content


_FILES = {name: _served(name) for name in DOCS_ASSETS}
# The files change only with the package: a day of caching, revalidated after.
_CACHE = {"cache-control": "public, max-age=86400"}
_TITLE = "metro-qr issuing service"


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{_TITLE} - Swagger UI",
        swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PREFIX}/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{_TITLE} - ReDoc",
        redoc_js_url=f"{ASSETS_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_PREFIX}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSETS_PREFIX + "/{name}")
def asset(name: str) -> Response:
    if name not in _FILES:
        raise NotFound("no such file", code="not_found")
    return Response(_FILES[name], media_type=_TYPES[name], headers=_CACHE)
