"""Security headers on every response, errors and refusals by the outer middlewares included."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "API_CSP",
    "DASHBOARD_CSP",
    "DOCS_CSP",
    "DOCS_PATHS",
    "WEB_CSP",
    "SecurityHeaders",
    "is_dashboard_path",
    "is_web_path",
]

# The API answers JSON, images and SVG, never a page: nothing may load, run, frame or submit. An SVG opened
# straight in a browser is a document, and this CSP keeps any script in it from running.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The /docs and /redoc pages (ticketing.routes.api_docs) load Swagger UI / ReDoc from this service and start
# them with an inline script (FastAPI writes it); they fetch /openapi.json from here, and ReDoc runs a blob:
# worker. Nothing from another origin; still no framing (clickjacking) and no plugins.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
# The riders' web app (ticketing/web): its own scripts, styles and images only, no inline script or style;
# QR images are blob: URLs of SVGs the app fetched (and keeps for offline use); it talks to this service only.
WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


# The auditors' dashboard (ticketing/dashboard): the same, with no worker or manifest; its charts are SVG
# elements it builds, and a CSV download is a blob: URL of the API's answer.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def is_dashboard_path(path: str) -> bool:
    """The dashboard's page and files (ticketing.routes.dashboard)."""
    return path.startswith("/audit/")


def is_web_path(path: str) -> bool:
    """The web app's page, assets and service worker (ticketing.routes.web)."""
    return path in {"/", "/sw.js"} or path.startswith("/app/")


_ALWAYS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
)


class SecurityHeaders:
    """Adds nosniff, no framing, no referrer and a CSP to every HTTP response; `Cache-Control: no-store`
    unless the route chose its own (answers carry access tokens, tickets and personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = API_CSP
        if path in DOCS_PATHS:
            csp = DOCS_CSP
        elif is_web_path(path):
            csp = WEB_CSP
        elif is_dashboard_path(path):
            csp = DASHBOARD_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS:
                    headers[name] = value
                headers["content-security-policy"] = csp
                headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
