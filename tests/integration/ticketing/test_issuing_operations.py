"""Operators: settings and secrets, signing-key rotation and revocation, refunds on the revocation list."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlmodel import Session, col, select
from support.issuing import Api, bearer, single

from ticketing.app import create_app
from ticketing.cli import EXIT_ERROR, main
from ticketing.db import make_engine
from ticketing.errors import ConfigurationError
from ticketing.models import Revocation
from ticketing.settings import DEV_SECRETS_FILE, Settings, resolve_secrets
from validator.codec import TicketBody, decode, load_keyset

REAL_ACCOUNT = {"vietqr_bank_bin": "970436", "vietqr_account": "1234567890"}


def test_dev_secrets_are_generated_once_into_the_data_folder(tmp_path: Path) -> None:
    first = resolve_secrets(Settings(data_dir=tmp_path))
    second = resolve_secrets(Settings(data_dir=tmp_path))

    assert (tmp_path / DEV_SECRETS_FILE).stat().st_mode & 0o077 == 0
    assert first.secret("key_passphrase") == second.secret("key_passphrase")


def test_production_refuses_missing_or_generated_secrets(tmp_path: Path) -> None:
    dev = resolve_secrets(Settings(data_dir=tmp_path))
    strong: dict[str, Any] = {
        name: SecretStr("s" * 40 + name) for name in ("webhook_secret", "cccd_hash_key", "token_secret")
    }

    with pytest.raises(ConfigurationError):
        resolve_secrets(Settings(data_dir=tmp_path, environment="prod", payment_provider="vietqr"))
    with pytest.raises(ConfigurationError, match="generated"):
        resolve_secrets(
            Settings(
                data_dir=tmp_path,
                environment="prod",
                payment_provider="vietqr",
                key_passphrase=dev.key_passphrase,
                **strong,
            )
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [("key_passphrase", "password"), ("webhook_secret", "twenty-bytes-secret!")],
)
def test_production_refuses_weak_secrets_that_dev_accepts(tmp_path: Path, name: str, value: str) -> None:
    strong: dict[str, Any] = {
        n: SecretStr("x" * 40 + n)
        for n in ("key_passphrase", "webhook_secret", "cccd_hash_key", "token_secret")
    }
    weak = {**strong, name: SecretStr(value)}

    resolve_secrets(Settings(data_dir=tmp_path, **weak))  # dev: accepted
    with pytest.raises(ConfigurationError, match="too weak"):
        resolve_secrets(Settings(data_dir=tmp_path, environment="prod", payment_provider="vietqr", **weak))


@pytest.mark.parametrize(
    "account",
    [{}, {"vietqr_bank_bin": "970436"}, {"vietqr_account": "1234567890"}],
    ids=["both-placeholders", "placeholder-account", "default-bank"],
)
def test_production_refuses_placeholder_vietqr_account_details(
    tmp_path: Path, account: dict[str, Any]
) -> None:
    strong: dict[str, Any] = {
        n: SecretStr("x" * 40 + n)
        for n in ("key_passphrase", "webhook_secret", "cccd_hash_key", "token_secret")
    }
    real: dict[str, Any] = {"vietqr_bank_bin": "970436", "vietqr_account": "1234567890"}

    with pytest.raises(ConfigurationError, match="VIETQR"):
        resolve_secrets(
            Settings(data_dir=tmp_path, environment="prod", payment_provider="vietqr", **account, **strong)
        )
    resolve_secrets(
        Settings(data_dir=tmp_path, environment="prod", payment_provider="vietqr", **real, **strong)
    )


def test_production_refuses_the_sandbox_provider(tmp_path: Path) -> None:
    strong: dict[str, Any] = {
        n: SecretStr("x" * 40 + n)
        for n in ("key_passphrase", "webhook_secret", "cccd_hash_key", "token_secret")
    }

    with pytest.raises(ConfigurationError, match="sandbox"):
        resolve_secrets(Settings(data_dir=tmp_path, environment="prod", **strong))


def test_rotation_signs_with_a_new_key_and_keeps_the_old_one_published(api: Api) -> None:
    before = api.paid_order(single())["tickets"][0]

    rotated = api.client.post("/v1/admin/keys/rotate", headers=bearer(api.admin_token))
    api.clock.advance(hours=48)  # the policy's key_lead_hours: the new key signs from then
    after = api.paid_order(single())["tickets"][0]
    keyset = load_keyset(api.client.get("/v1/keys").json())

    assert rotated.status_code == 200
    assert after["key_id"] != before["key_id"]
    assert isinstance(decode(before["qr_payload"], keyset), TicketBody)
    assert isinstance(decode(after["qr_payload"], keyset), TicketBody)
    assert keyset[before["key_id"]].not_after is not None


def test_a_revoked_key_is_published_as_revoked_and_signs_no_more(api: Api) -> None:
    kid = api.paid_order(single())["tickets"][0]["key_id"]

    api.client.post(f"/v1/admin/keys/{kid}/revoke", headers=bearer(api.admin_token))
    after = api.paid_order(single())["tickets"][0]
    keys = {k["kid"]: k for k in api.client.get("/v1/keys").json()["keys"]}

    assert keys[kid]["revoked"] is True
    assert after["key_id"] != kid


def test_keys_rotate_and_tokens_create_from_the_cli(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_DATABASE_URL", database_url)

    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    assert main(["--data-dir", str(tmp_path), "keys", "rotate"]) == 0
    assert main(["--data-dir", str(tmp_path), "tokens", "create", "--role", "auditor"]) == 0
    out = capsys.readouterr().out

    assert "waiting" in out  # the new key, published ahead of the time it signs from
    assert "mqa_auditor_" in out


@pytest.mark.parametrize("settings_overrides", [{"policy": {"refunds_allowed": True}}], indirect=True)
def test_a_refunded_ticket_goes_on_the_revocation_list_at_once(api: Api) -> None:
    order = api.paid_order(single())
    ticket_id = order["tickets"][0]["id"]

    refunded = api.client.post(f"/v1/tickets/{ticket_id}/refund", headers=bearer(order["access_token"]))
    again = api.client.post(f"/v1/tickets/{ticket_id}/refund", headers=bearer(order["access_token"]))
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        revocations = session.exec(select(Revocation).order_by(col(Revocation.seq))).all()
    engine.dispose()

    assert refunded.json()["status"] == "refunded"
    assert (again.status_code, again.json()["code"]) == (409, "ticket_not_refundable")
    assert [(r.seq, r.ticket_id, r.reason) for r in revocations] == [(1, ticket_id, "refunded")]


@pytest.mark.parametrize("settings_overrides", [{"payment_provider": "vietqr"}], indirect=True)
def test_with_the_vietqr_provider_orders_carry_a_vietqr_payload_and_there_is_no_sandbox(api: Api) -> None:
    order = api.order(single()).json()

    pay = api.client.post(f"/v1/sandbox/orders/{order['id']}/pay", headers=bearer(order["access_token"]))

    assert order["payment"]["vietqr_payload"].startswith("000201")
    assert order["payment"]["reference"] in order["payment"]["vietqr_payload"]
    assert (pay.status_code, pay.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("account", "named"),
    [({}, [(True, True)]), ({"vietqr_account": "1234567890"}, [(True, False)]), (REAL_ACCOUNT, [])],
    ids=["placeholders", "default-bank", "real-account"],
)
def test_a_dev_server_taking_vietqr_payments_to_a_placeholder_account_warns_at_start(
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    account: dict[str, Any],
    named: list[tuple[bool, bool]],
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, payment_provider="vietqr", **account)

    with caplog.at_level(logging.WARNING):
        app = create_app(settings)  # dev secrets generated, as `make run` does
    app.state.engine.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "ticketing.app"]

    assert [("METRO_VIETQR_BANK_BIN" in w, "METRO_VIETQR_ACCOUNT" in w) for w in warnings] == named


def test_the_services_sqlite_database_syncs_every_commit_to_disk(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'metro.db'}")
    with engine.connect() as connection:
        synchronous = connection.execute(sa.text("PRAGMA synchronous")).scalar_one()
    engine.dispose()

    assert synchronous == 2  # FULL: a commit survives a power cut, not only a process crash


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_the_cli_reports_a_bad_policy_file_in_one_line_with_the_error_status(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_DATABASE_URL", database_url)
    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    policy = tmp_path / "policy.json"
    policy.write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("METRO_POLICY_FILE", str(policy))
    capsys.readouterr()

    status = main(["--data-dir", str(tmp_path), "keys", "rotate"])

    assert status == EXIT_ERROR
    assert _one_line_error(capsys).startswith("error: invalid policy")


def test_the_cli_reports_an_unwritable_bundle_file_in_one_line_with_the_error_status(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_DATABASE_URL", database_url)
    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    assert (
        main(["--data-dir", str(tmp_path), "gates", "add", "--station", "L1-01", "--gate", "L1-01-G1"]) == 0
    )
    capsys.readouterr()

    status = main(
        ["--data-dir", str(tmp_path), "gates", "bundle", "--station", "L1-01", "--out", str(tmp_path)]
    )

    assert status == EXIT_ERROR
    assert _one_line_error(capsys) == f"error: Is a directory: {tmp_path}"


def test_the_cli_reports_an_unreachable_database_in_one_line_with_the_error_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nothing")

    status = main(["--data-dir", str(tmp_path), "tokens", "create", "--role", "auditor"])

    assert status == EXIT_ERROR
    assert _one_line_error(capsys).startswith("error: database unavailable: ")
