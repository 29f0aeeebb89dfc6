"""What the database holds, read as a thief with a copy of it would: no CCCD number, no token, no secret,
and signing keys encrypted with the passphrase; on both engines."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from support.gate_sync import enrolled_gate
from support.issuing import HOLDER, Api, monthly
from support.security import operator_token

from ticketing.db import make_engine
from ticketing.models import Role
from ticketing.settings import SECRET_FIELDS


def _every_value(database_url: str) -> str:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        rows = [
            value
            for table in tables
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"'))
            for value in row
        ]
    engine.dispose()
    return "\n".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in rows)


def test_a_stolen_database_holds_no_cccd_number_token_or_secret(api: Api, tmp_path: Path) -> None:
    order = api.paid_order(monthly())
    gate = enrolled_gate(api, tmp_path)
    auditor = operator_token(api, Role.AUDITOR)[1]

    dump = _every_value(api.database_url)

    assert HOLDER["cccd"] not in dump
    assert [t in dump for t in (order["access_token"], gate.token, api.admin_token, auditor)] == [False] * 4
    assert [api.settings.secret(name).decode() in dump for name in SECRET_FIELDS] == [False] * 4


def test_signing_keys_are_stored_encrypted_with_the_passphrase(api: Api) -> None:
    dump = _every_value(api.database_url)

    assert "-----BEGIN ENCRYPTED PRIVATE KEY-----" in dump
    assert "-----BEGIN PRIVATE KEY-----" not in dump
