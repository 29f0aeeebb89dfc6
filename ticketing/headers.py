"""Security headers on every response, errors and refusals by the outer middlewares included."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_CSP", "DOCS_CSP", "DOCS_PATHS", "WEB_CSP", "SecurityHeaders", "is_web_path"]

# The API answers JSON, images and SVG, never a page: nothing may load, run, frame or submit. An SVG opened
# straight in a browser is a document, and this CSP keeps any script in it from running.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from jsDelivr and start them with an inline
# script; they fetch /openapi.json from here. Still no framing (clickjacking) and no plugins.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
# The riders' web app (ticketing/web): its own scripts, styles and images only, no inline script or style;
# QR images are blob: URLs of SVGs the app fetched (and keeps for offline use); it talks to this service only.
WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


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
        csp = DOCS_CSP if path in DOCS_PATHS else WEB_CSP if is_web_path(path) else API_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS:
                    headers[name] = value
                headers["content-security-policy"] = csp
                headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
