"""The API docs' own files send no reader to another host: the ReDoc bundle served here names no CDN image,
and Swagger UI is started with its online validator off. (The browser test records every request the pages
make: tests/e2e/test_audit_dashboard.py.)"""

from __future__ import annotations

from importlib import resources

from support.issuing import Api

_REDOC = "/docs/assets/redoc.standalone.js"


def test_the_redoc_bundle_served_here_names_no_cdn_image(api: Api) -> None:
    packaged = resources.files("fastapi_offline").joinpath("static", "redoc.standalone.js").read_bytes()

    served = api.client.get(_REDOC)

    assert served.status_code == 200
    assert b"cdn.redoc.ly" in packaged  # what the package would load, so this test still means something
    assert b"cdn.redoc.ly" not in served.content
    assert len(served.content) == len(packaged) - len(b"https://cdn.redoc.ly/redoc/logo-mini.svg")


def test_swagger_ui_starts_with_its_online_validator_off(api: Api) -> None:
    html = api.client.get("/docs").text

    assert '"validatorUrl": null' in html
    assert "validator.swagger.io" not in html
