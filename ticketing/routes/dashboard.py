"""The auditors' dashboard, served by the service itself at /audit/: one page and its plain ES modules.

The page is a client of the audit API like any other (docs/audit.md, The dashboard): its files are public and
hold no data; every figure it shows comes from `/v1/audit/...` with the auditor's token, which the page keeps
in the tab's session storage. Only the files listed here are served, each revalidated on every visit.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Response

from ticketing.errors import NotFound

__all__ = ["DASHBOARD_ASSETS", "router"]

router = APIRouter(include_in_schema=False)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
DASHBOARD_ASSETS = ("dash.css", "app.js", "api.js", "dom.js", "chart.js", "i18n.js", "views.js", "icon.svg")
_REVALIDATE = {"cache-control": "no-cache"}
# Read once when the service starts: the files are part of the release, like the code.
_FILES = {
    name: resources.files("ticketing.dashboard").joinpath(name).read_bytes()
    for name in ("index.html", *DASHBOARD_ASSETS)
}


def _file(name: str) -> Response:
    return Response(_FILES[name], media_type=_TYPES[name[name.rfind(".") :]], headers=_REVALIDATE)


@router.get("/audit/")
def page() -> Response:
    return _file("index.html")


@router.get("/audit/{name}")
def asset(name: str) -> Response:
    if name not in DASHBOARD_ASSETS:
        raise NotFound("no such file", code="not_found")
    return _file(name)
