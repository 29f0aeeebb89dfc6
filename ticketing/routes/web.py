"""The riders' web app, served by the service itself: one page, its modules and styles, the service worker.

Plain files, no build step (docs/rider-app.md says why). Only the files listed here are served, each
revalidated on every visit. The service worker carries a hash of the shell's files (`SHELL_VERSION`): a
release changes it, the browser installs the new worker, and that worker caches the whole new shell at once.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from fastapi import APIRouter, Response

from ticketing.errors import NotFound

__all__ = ["ASSETS", "SHELL_VERSION", "router"]

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


def _kind(name: str) -> str:
    return _TYPES[name[name.rfind(".") :]]


# Read once when the service starts: the files are part of the release, like the code.
_WEB = resources.files("ticketing.web")
_FILES = {name: _WEB.joinpath(name).read_bytes() for name in ("index.html", "sw.js", *ASSETS)}
SHELL_VERSION = hashlib.sha256(b"".join(_FILES[n] for n in ("index.html", *ASSETS))).hexdigest()[:16]
_WORKER = _FILES["sw.js"].replace(b"__SHELL_VERSION__", SHELL_VERSION.encode())


def _file(name: str, content: bytes | None = None) -> Response:
    return Response(_FILES[name] if content is None else content, media_type=_kind(name), headers=_REVALIDATE)


@router.get("/")
def page() -> Response:
    return _file("index.html")


@router.get("/sw.js")
def service_worker() -> Response:
    return _file("sw.js", _WORKER)  # at the root, so its scope is the whole app


@router.get("/app/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound("no such file", code="not_found")
    return _file(name)
