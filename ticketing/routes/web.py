"""The riders' web app, served by the service itself: one page, its modules and styles, the service worker.

Plain files, no build step (docs/rider-app.md says why). Only the files listed here are served; each answer
says how long it may be kept: the page and the service worker are revalidated on every visit (a new release
reaches riders at once), the assets too, since their names carry no version; offline, the service worker
answers from its own cache.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Response

from ticketing.errors import NotFound

__all__ = ["ASSETS", "router"]

router = APIRouter(include_in_schema=False)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}
ASSETS = (
    "app.css", "app.js", "api.js", "i18n.js", "wallet.js", "views.js", "icon.svg", "manifest.webmanifest",
)  # fmt: skip
_REVALIDATE = {"cache-control": "no-cache"}


def _file(name: str) -> Response:
    text = resources.files("ticketing.web").joinpath(name).read_bytes()
    kind = _TYPES[name[name.rfind(".") :]]
    return Response(text, media_type=kind, headers=_REVALIDATE)


@router.get("/")
def page() -> Response:
    return _file("index.html")


@router.get("/sw.js")
def service_worker() -> Response:
    # At the root, so its scope is the whole app.
    return _file("sw.js")


@router.get("/app/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound("no such file", code="not_found")
    return _file(name)
