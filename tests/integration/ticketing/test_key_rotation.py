"""Key rotation published ahead and reissue after a revocation, on both engines: the service's routes and CLI,
the SQL choice of the signing key against the pure rule, and a real gate that syncs (or does not)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session, select
from support.gate_sync import enrolled_gate
from support.issuing import NOW, Api, bearer, monthly, seed, single

from fare_rules.model import Direction
from fare_rules.reasons import Reason
from ticketing.cli import main
from ticketing.context import build_context
from ticketing.db import alembic_config, make_engine, migrate, utcnow
from ticketing.errors import Conflict
from ticketing.issuing.key_terms import KeyTerm, signing_kid
from ticketing.keys import active_kid_column, rotate_keys
from ticketing.models import SigningKey
from ticketing.services.gates import export_bundle
from validator.bundle import load_bundle
from validator.codec import DecodeFailure, TicketBody, decode, load_keyset
from validator.operations import init_gate
from validator.station import open_gate
from validator.wire import parse_iso

LEAD = timedelta(hours=48)  # the shipped policy's key_lead_hours


def _rotate(api: Api) -> Any:
    answer = api.client.post("/v1/admin/keys/rotate", headers=bearer(api.admin_token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _revoke(api: Api, kid: int) -> Any:
    answer = api.client.post(f"/v1/admin/keys/{kid}/revoke", headers=bearer(api.admin_token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _published(api: Api) -> dict[int, dict[str, Any]]:
    return {key["kid"]: key for key in api.client.get("/v1/keys").json()["keys"]}


def _order(api: Api, order: dict[str, Any]) -> Any:
    return api.client.get(f"/v1/orders/{order['id']}", headers=bearer(order["access_token"])).json()


def test_a_rotated_key_is_published_at_once_and_signs_only_from_its_activation(api: Api) -> None:
    old_kid = api.paid_order(single())["tickets"][0]["key_id"]

    rotated = _rotate(api)
    new_kid = next(key["kid"] for key in rotated["keys"] if key["kid"] != old_kid)
    published = _published(api)
    before = api.paid_order(single())["tickets"][0]
    api.clock.advance(hours=48)
    after = api.paid_order(single())["tickets"][0]

    assert parse_iso(published[new_kid]["not_before"]) == NOW + LEAD
    assert published[old_kid]["not_after"] is not None
    assert (before["key_id"], after["key_id"]) == (old_kid, new_kid)
    assert isinstance(
        decode(after["qr_payload"], load_keyset({"keys": list(published.values())})), TicketBody
    )


def test_a_second_rotation_while_a_key_waits_is_refused_and_changes_nothing(api: Api) -> None:
    _rotate(api)
    before = _published(api)

    again = api.client.post("/v1/admin/keys/rotate", headers=bearer(api.admin_token))

    assert (again.status_code, again.json()["code"]) == (409, "key_waiting")
    assert _published(api) == before


def test_a_gate_that_synced_before_the_activation_accepts_a_ticket_of_the_new_key_while_offline(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    _rotate(api)
    gate.sync()
    api.clock.advance(hours=49)

    ticket = api.paid_order(single())["tickets"][0]
    entered = gate.scan(ticket["qr_payload"])  # no sync since the rotation

    assert ticket["key_id"] in _published(api)
    assert entered.accepted, entered.reason


def test_a_gate_provisioned_from_a_bundle_during_the_wait_accepts_the_new_keys_tickets(
    api: Api, tmp_path: Path
) -> None:
    _rotate(api)
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        text, _ = export_bundle(session, build_context(api.settings), "L1-01", None, api.clock())
    engine.dispose()
    init_gate(tmp_path / "gate", None, text, "L1-01", "L1-01-B1")
    api.clock.advance(hours=49)

    ticket = api.paid_order(single())["tickets"][0]
    entered = open_gate(tmp_path / "gate").scan(ticket["qr_payload"], Direction.ENTRY, api.clock())

    assert len(load_bundle(text).keyset) == 2
    assert entered.accepted, entered.reason


def _good_and_spent_tickets(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A single bought now, a monthly pass, and a single that expires before the revocation."""
    expired = api.paid_order(single())
    api.clock.advance(days=31)
    return api.paid_order(single()), api.paid_order(monthly(start=(NOW + timedelta(days=31)).date())), expired


def test_revoking_a_key_reissues_its_good_tickets_under_the_key_waiting_and_only_once(api: Api) -> None:
    good, holder, expired = _good_and_spent_tickets(api)
    old_kid = good["tickets"][0]["key_id"]
    next_kid = next(kid for kid in (k["kid"] for k in _rotate(api)["keys"]) if kid != old_kid)

    revoked = _revoke(api, old_kid)
    again = _revoke(api, old_kid)
    keyset = load_keyset({"keys": revoked["keys"]})
    tickets = [_order(api, order)["tickets"][0] for order in (good, holder, expired)]

    assert (revoked["signing_kid"], revoked["signing_key_new"]) == (next_kid, False)
    assert (revoked["reissued"], again["reissued"]) == (2, 0)
    assert [t["key_id"] for t in tickets] == [next_kid, next_kid, old_kid]
    assert [t["serial"] for t in tickets[:2]] == [
        good["tickets"][0]["serial"],
        holder["tickets"][0]["serial"],
    ]
    assert all(isinstance(decode(t["qr_payload"], keyset), TicketBody) for t in tickets[:2])
    assert tickets[0]["reissued_at"] is not None
    old = decode(good["tickets"][0]["qr_payload"], keyset)
    assert isinstance(old, DecodeFailure)
    assert old.reason is Reason.KEY_REVOKED


def test_a_gate_synced_after_a_revocation_admits_the_reissued_qr_and_refuses_the_old_one(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    order = api.paid_order(single())
    _rotate(api)
    gate.sync()  # learns the key published ahead: the revocation's keyset is signed by it

    _revoke(api, order["tickets"][0]["key_id"])
    report = gate.sync()
    old = gate.scan(order["tickets"][0]["qr_payload"])
    new = gate.scan(_order(api, order)["tickets"][0]["qr_payload"])

    assert report.keys == 2
    assert (old.accepted, old.reason) == (False, Reason.KEY_REVOKED)
    assert new.accepted, new.reason


def test_revoking_the_only_key_makes_a_new_one_that_signs_and_reissues_at_once(api: Api) -> None:
    order = api.paid_order(single())
    old_kid = order["tickets"][0]["key_id"]

    revoked = _revoke(api, old_kid)
    reissued = _order(api, order)["tickets"][0]
    fresh = api.paid_order(single())["tickets"][0]

    assert revoked["signing_kid"] not in (None, old_kid)
    assert revoked["signing_key_new"] is True  # no gate trusts it yet: the operator recovers them
    assert reissued["key_id"] == fresh["key_id"] == revoked["signing_kid"]
    assert revoked["reissued"] == 1


def test_two_rotations_at_once_publish_one_key_and_refuse_the_other(database_url: str) -> None:
    seed(database_url, b"test-passphrase")
    engine = make_engine(database_url)
    both = threading.Barrier(2)

    def rotate_once(_: int) -> str:
        with Session(engine) as session:
            both.wait()
            try:
                rotate_keys(session, b"test-passphrase", LEAD, timedelta(days=37), NOW)
            except Conflict as refused:
                return refused.code
            return "rotated"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(rotate_once, range(2)))
    with Session(engine) as session:
        waiting = [key.kid for key in session.exec(select(SigningKey)).all() if key.not_before > NOW]
    engine.dispose()

    assert outcomes == ["key_waiting", "rotated"]
    assert len(waiting) == 1


# --- the SQL choice of the signing key is the pure rule's --------------------------------------------------

_DAY = timedelta(days=1)
_SCHEDULES: dict[str, list[KeyTerm]] = {
    "one key": [KeyTerm(1, NOW - _DAY)],
    "rotated ahead": [KeyTerm(1, NOW - 9 * _DAY, NOW + 2 * _DAY), KeyTerm(2, NOW + 2 * _DAY)],
    "rotated and activated": [KeyTerm(1, NOW - 9 * _DAY, NOW - _DAY), KeyTerm(2, NOW - _DAY)],
    "signer revoked": [KeyTerm(1, NOW - 9 * _DAY, NOW - _DAY), KeyTerm(2, NOW - _DAY, revoked=True)],
    "same start": [KeyTerm(3, NOW - _DAY), KeyTerm(9, NOW - _DAY)],
    "all ended": [KeyTerm(1, NOW - 9 * _DAY, NOW - 2 * _DAY)],
}
_INSTANTS = [
    NOW - 10 * _DAY,
    NOW - 2 * _DAY,
    NOW - _DAY,
    NOW,
    NOW + 2 * _DAY - timedelta(seconds=1),
    NOW + 3 * _DAY,
]


def _store(database_url: str, terms: list[KeyTerm]) -> None:
    """Key rows with these terms; the query reads no key material, so none is made."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        for term in terms:
            session.add(
                SigningKey(
                    kid=term.kid,
                    public_key=bytes(32),
                    private_key_pem=b"",
                    created_at=NOW - 10 * _DAY,
                    not_before=term.signs_from,
                    retired_at=term.signs_until,
                    revoked=term.revoked,
                )
            )
        session.commit()
    engine.dispose()


@pytest.mark.parametrize("schedule", sorted(_SCHEDULES))
def test_the_database_picks_the_signing_key_the_rule_picks(database_url: str, schedule: str) -> None:
    terms = _SCHEDULES[schedule]
    _store(database_url, terms)
    engine = make_engine(database_url)
    picked: list[int | None] = []
    with engine.connect() as connection:
        for at in _INSTANTS:
            picked.append(connection.execute(sa.select(active_kid_column()), {"signing_at": at}).scalar())
    engine.dispose()

    assert picked == [signing_kid(terms, at) for at in _INSTANTS]


# --- migration 0015 ------------------------------------------------------------------------------------


def test_migration_0015_lets_every_existing_key_sign_from_its_creation(
    database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):  # the template is at head: start from an empty file at 0014
        database_url = f"sqlite:///{tmp_path / 'at-0014.db'}"
    else:  # the session database is at head: step it back, and forward again after
        command.downgrade(alembic_config(database_url), "0014")
    migrate(database_url, "0014")
    created = NOW - 9 * _DAY
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO signing_keys (kid, public_key, private_key_pem, created_at, revoked)"
                    " VALUES (5, :raw, :pem, :created, false)"
                ),
                {"raw": bytes(32), "pem": b"", "created": created.replace(tzinfo=None)},
            )
        migrate(database_url)
        with Session(engine) as session:
            key = session.get_one(SigningKey, 5)
            signing = (
                session.connection().execute(sa.select(active_kid_column()), {"signing_at": NOW}).scalar()
            )
    finally:
        engine.dispose()

    assert key.not_before == created
    assert signing == 5


# --- the operator's CLI ------------------------------------------------------------------------------------


def test_keys_rotate_publishes_ahead_and_keys_revoke_counts_the_reissued_tickets(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.clock.now = utcnow()  # the CLI runs on the real clock: tickets sold now are still good
    api.paid_order(single(quantity=3))
    kid = _published(api).popitem()[0]
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)
    monkeypatch.setenv("METRO_KEY_PASSPHRASE", "test-passphrase")
    data = ["--data-dir", str(api.settings.data_dir)]

    assert main([*data, "keys", "rotate"]) == 0
    rotated = capsys.readouterr().out
    assert main([*data, "keys", "revoke", str(kid)]) == 0
    revoked, warned = capsys.readouterr()

    assert "signs from" in rotated
    assert "waiting" in rotated
    assert f"key {kid} revoked; 3 tickets reissued under key" in revoked
    assert f"{kid:>5}  revoked" in revoked
    assert "no key was published ahead" not in warned  # the key waiting took over: gates trust it


def test_keys_revoke_with_no_key_published_ahead_warns_that_gates_must_be_recovered(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kid = _published(api).popitem()[0]
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)
    monkeypatch.setenv("METRO_KEY_PASSPHRASE", "test-passphrase")

    assert main(["--data-dir", str(api.settings.data_dir), "keys", "revoke", str(kid)]) == 0
    out, err = capsys.readouterr()

    assert f"key {kid} revoked; 0 tickets reissued under key" in out
    assert "no key was published ahead" in err
    assert "recover every gate with a fresh bundle" in err
