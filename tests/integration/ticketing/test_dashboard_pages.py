"""The pages the service serves for people reading the API: the auditors' dashboard at /audit/ and the API
docs at /docs and /redoc, each with every file it loads served here and a CSP that lets nothing else run."""

from __future__ import annotations

import re

import pytest
from support.issuing import Api

from ticketing.headers import DASHBOARD_CSP
from ticketing.routes.dashboard import DASHBOARD_ASSETS


def test_the_dashboard_runs_only_its_own_scripts_and_styles(api: Api) -> None:
    page = api.client.get("/audit/")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    directives = dict(d.strip().split(" ", 1) for d in DASHBOARD_CSP.split(";"))

    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert page.headers["content-security-policy"] == DASHBOARD_CSP
    assert (directives["default-src"], directives["script-src"], directives["connect-src"]) == (
        "'none'",
        "'self'",
        "'self'",
    )
    assert "unsafe" not in DASHBOARD_CSP
    assert "<script>" not in page.text
    assert "style=" not in page.text
    assert set(sources) - {"#main"} == {f"/audit/{name}" for name in DASHBOARD_ASSETS}
    for name in DASHBOARD_ASSETS:
        answer = api.client.get(f"/audit/{name}")
        assert (answer.status_code, answer.headers["cache-control"]) == (200, "no-cache"), name
    assert api.client.get("/audit/../settings.py").status_code == 404
    assert api.client.get("/audit/index.html.bak").status_code == 404


def test_the_dashboards_files_hold_no_data_only_its_calls_do(api: Api) -> None:
    unauthenticated = api.client.get("/v1/audit/gates")

    assert api.client.get("/audit/app.js").status_code == 200
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_their_scripts_and_styles_from_this_service(api: Api, page: str) -> None:
    html = api.client.get(page).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)

    assert sources
    assert [s for s in sources if not s.startswith("/")] == []
    for source in sources:
        if source != "/openapi.json":
            assert api.client.get(source).status_code == 200, source
    assert "https://" not in api.client.get("/docs").headers["content-security-policy"]
