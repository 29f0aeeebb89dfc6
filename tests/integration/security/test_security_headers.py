"""Security headers on every answer: success, refusal, error and the middlewares' own refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.issuing import Api, bearer, single
from support.security import app_routes, call, credentials

from ticketing.headers import API_CSP, DASHBOARD_CSP, DOCS_CSP, WEB_CSP
from ticketing.routes.web import SHELL_VERSION

_COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _security_headers(answer: object) -> dict[str, str]:
    headers = answer.headers  # type: ignore[attr-defined]
    return {name: headers.get(name) for name in [*_COMMON, "content-security-policy"]}


def test_every_route_answers_with_the_security_headers_and_a_strict_csp(api: Api, tmp_path: Path) -> None:
    creds = credentials(api, tmp_path)
    docs = {"/docs", "/docs/oauth2-redirect", "/redoc"}

    got = {
        f"{m} {p}": _security_headers(call(api, m, p, creds, creds.tokens["own_order"]))
        for m, p in app_routes(api.client.app)
    }

    assert got == {
        f"{m} {p}": _COMMON | {"content-security-policy": _csp(p, docs)}
        for m, p in app_routes(api.client.app)
    }


def _csp(path: str, docs: set[str]) -> str:
    if path in {"/audit/", "/audit/{name}"}:
        return DASHBOARD_CSP
    return DOCS_CSP if path in docs else WEB_CSP if path in {"/", "/sw.js", "/app/{name}"} else API_CSP


def test_the_web_app_pages_run_only_their_own_scripts_and_styles(api: Api) -> None:
    page = api.client.get("/")
    script = api.client.get("/app/app.js")
    directives = dict(d.strip().split(" ", 1) for d in WEB_CSP.split(";"))

    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert page.headers["content-security-policy"] == WEB_CSP
    assert (directives["script-src"], directives["style-src"], directives["default-src"]) == (
        "'self'",
        "'self'",
        "'none'",
    )
    assert "unsafe" not in WEB_CSP
    assert "<script>" not in page.text
    assert "style=" not in page.text
    assert api.client.get("/app/../settings.py").status_code == 404


def test_api_csp_lets_nothing_load_run_or_frame() -> None:
    directives = dict(d.strip().split(" ", 1) for d in API_CSP.split(";"))

    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/v1/nothing-here", {}, 404),
        (
            "POST",
            "/v1/orders",
            {"content": b"x" * 70_000, "headers": {"content-type": "application/json"}},
            413,
        ),
        ("POST", "/v1/orders", {"json": {"items": []}}, 422),
        ("DELETE", "/v1/network", {}, 405),
    ],
)
def test_refusals_carry_the_security_headers_too(
    api: Api, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    answer = api.client.request(method, path, **kwargs)  # type: ignore[arg-type]

    assert answer.status_code == status
    assert _security_headers(answer) == _COMMON | {"content-security-policy": API_CSP}
    assert answer.headers["cache-control"] == "no-store"


def test_answers_with_an_access_token_are_never_stored_by_a_cache(api: Api) -> None:
    created = api.order(single())
    read = api.client.get(
        f"/v1/orders/{created.json()['id']}", headers=bearer(created.json()["access_token"])
    )

    assert (created.status_code, created.headers["cache-control"]) == (201, "no-store")
    assert (read.status_code, read.headers["cache-control"]) == (200, "no-store")


def test_a_qr_image_keeps_its_own_private_cache_policy(api: Api) -> None:
    order = api.paid_order(single())

    image = api.client.get(
        f"/v1/tickets/{order['tickets'][0]['id']}/qr.png", headers=bearer(order["access_token"])
    )

    assert image.headers["cache-control"] == "private, max-age=86400"
    assert image.headers["content-security-policy"] == API_CSP


def test_the_service_worker_names_the_release_of_the_shell_it_caches(api: Api) -> None:
    worker = api.client.get("/sw.js")

    assert worker.headers["cache-control"] == "no-cache"  # the browser sees a new release at once
    assert f'const VERSION = "{SHELL_VERSION}";' in worker.text
    assert len(SHELL_VERSION) == 16
