"""Operator tokens are listed (never their secret) and revoked, by admins only, over the API and from the CLI;
a revoked token is refused at its next request. On both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.issuing import Api, bearer
from support.security import operator_token

from ticketing.cli import EXIT_ERROR, EXIT_OK, main
from ticketing.models import Role
from ticketing.services.common import hash_token

PUBLIC_FIELDS = {"id", "role", "label", "revoked", "created_at"}


@pytest.fixture
def cli(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The CLI pointed at the API's database."""
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)
    return api


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["tokens", *argv])
    return code, capsys.readouterr().out


def _audit_status(api: Api, token: str) -> int:
    return int(api.client.get("/v1/audit/scans", headers=bearer(token)).status_code)


def test_tokens_are_listed_by_the_api_and_the_cli_without_their_secret(
    cli: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _cli(capsys, "create", "--role", "auditor", "--label", "audit team")[1].strip()

    listed = cli.client.get("/v1/admin/tokens", headers=bearer(cli.admin_token))
    code, out = _cli(capsys, "list")
    mine = [t for t in listed.json() if t["label"] == "audit team"]

    assert listed.status_code == 200
    assert [set(t) for t in listed.json()] == [PUBLIC_FIELDS] * 2  # init's admin token and this one
    assert [(t["role"], t["revoked"]) for t in mine] == [("auditor", False)]
    assert code == EXIT_OK
    assert [line.split()[:3] for line in out.splitlines() if line.endswith("audit team")] == [
        [mine[0]["id"], "auditor", "active"]
    ]
    for secret in (token, hash_token(token), cli.admin_token, hash_token(cli.admin_token)):
        assert secret not in listed.text
        assert secret not in out


def test_a_token_revoked_over_the_api_is_refused_at_its_next_request(api: Api) -> None:
    token_id, token = operator_token(api, Role.AUDITOR)
    before = _audit_status(api, token)

    revoked = api.client.post(f"/v1/admin/tokens/{token_id}/revoke", headers=bearer(api.admin_token))
    again = api.client.post(f"/v1/admin/tokens/{token_id}/revoke", headers=bearer(api.admin_token))
    after = api.client.get("/v1/audit/scans", headers=bearer(token))
    listed = {
        t["id"]: t["revoked"]
        for t in api.client.get("/v1/admin/tokens", headers=bearer(api.admin_token)).json()
    }

    assert before == 200
    assert (revoked.status_code, revoked.json()["id"], revoked.json()["revoked"]) == (200, token_id, True)
    assert again.status_code == 200  # revoking twice changes nothing
    assert (after.status_code, after.json()["code"]) == (401, "unauthorized")
    assert listed[token_id] is True
    assert token not in revoked.text


def test_a_token_revoked_from_the_cli_is_refused_at_its_next_request(
    cli: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    token_id, token = operator_token(cli, Role.ADMIN)
    before = cli.client.get("/v1/admin/tokens", headers=bearer(token)).status_code

    code = _cli(capsys, "revoke", token_id)[0]
    after = cli.client.get("/v1/admin/tokens", headers=bearer(token))
    listing = _cli(capsys, "list")[1]

    assert (before, code) == (200, EXIT_OK)
    assert (after.status_code, after.json()["code"]) == (401, "unauthorized")
    assert [line.split()[2] for line in listing.splitlines() if line.startswith(token_id)] == ["revoked"]
    assert _audit_status(cli, cli.admin_token) == 200  # the other admin token still works


def test_revoking_a_token_that_does_not_exist_is_token_not_found(
    cli: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = cli.client.post(f"/v1/admin/tokens/{'0' * 32}/revoke", headers=bearer(cli.admin_token))
    capsys.readouterr()
    code = main(["tokens", "revoke", "0" * 32])

    assert (answer.status_code, answer.json()["code"]) == (404, "token_not_found")
    assert code == EXIT_ERROR
    assert "token_not_found" in capsys.readouterr().err


def test_only_an_admin_may_list_or_revoke_tokens(api: Api) -> None:
    token_id, token = operator_token(api, Role.AUDITOR)

    listed = api.client.get("/v1/admin/tokens", headers=bearer(token))
    revoked = api.client.post(f"/v1/admin/tokens/{token_id}/revoke", headers=bearer(token))
    anonymous = api.client.get("/v1/admin/tokens")

    assert (listed.status_code, listed.json()["code"]) == (403, "forbidden")
    assert (revoked.status_code, revoked.json()["code"]) == (403, "forbidden")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
    assert _audit_status(api, token) == 200  # the refused revocation changed nothing
