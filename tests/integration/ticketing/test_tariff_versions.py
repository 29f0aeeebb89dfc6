"""Tariff and policy versions announced ahead: published through the admin API and the CLI, listed, applied by
quotes, orders and refunds at the moment of the sale, and synced to a gate's store; on both engines."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session
from support.gate_sync import EnrolledGate, enrolled_gate
from support.issuing import Api, bearer, single

from fare_rules.model import Direction
from fare_rules.reasons import Reason
from ticketing.catalog import packaged_catalog
from ticketing.cli import main
from ticketing.context import build_context
from ticketing.db import alembic_config, make_engine, migrate
from ticketing.services.gates import export_bundle
from validator.bundle import load_bundle
from validator.station import open_gate, provision_from_bundle
from validator.versions import load_versions

PACKAGED = packaged_catalog().tariff
TOMORROW = "2025-03-04"  # NOW is 2025-03-03 09:00 local: tomorrow's service day starts 2025-03-03 21:00 UTC


def raised_tariff(version: str = "2025-03-04", by: int = 1_000) -> dict[str, Any]:
    """The packaged tariff with every single fare `by` dong dearer."""
    document: dict[str, Any] = json.loads(
        (Path(__file__).parents[3] / "fare_rules/data/hcmc-line1-tariff.json").read_text()
    )
    document["version"] = version
    for rows in document["single"].values():
        for row in rows.values():
            for destination in row:
                row[destination] += by
    return document


def dearer_to(destination: str, by: int, version: str = "2025-03-04") -> dict[str, Any]:
    """The packaged tariff with the cashless fare between L1-01 and `destination` `by` dong dearer."""
    document = raised_tariff(version, by=0)
    document["single"]["cashless"]["L1-01"][destination] += by
    document["single"]["cashless"][destination]["L1-01"] += by
    return document


def publish(api: Api, document: dict[str, Any], effective_from: str | None = TOMORROW, **extra: Any) -> Any:
    body = {"document": document, "effective_from": effective_from, **extra}
    return api.client.post("/v1/admin/tariffs", json=body, headers=bearer(api.admin_token))


def fare(api: Api, origin: str = "L1-01", destination: str = "L1-05") -> int:
    answer = api.client.get("/v1/fares/quote", params={"origin": origin, "destination": destination})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["amount_vnd"])


def test_a_tariff_announced_for_tomorrow_prices_sales_from_tomorrow_only(api: Api) -> None:
    today = PACKAGED.single_fare("L1-01", "L1-05")
    assert publish(api, raised_tariff()).status_code == 201

    assert fare(api) == today
    assert api.order(single()).json()["amount_vnd"] == today
    api.clock.advance(hours=12)  # 21:00 local: still today's service day
    assert fare(api) == today
    api.clock.advance(hours=8)  # 05:00 local tomorrow
    assert fare(api) == today + 1_000
    assert api.order(single()).json()["amount_vnd"] == today + 1_000
    assert api.client.get("/v1/network").json()["tariff_version"] == "2025-03-04"


def test_the_versions_list_shows_the_one_in_force_and_the_next(api: Api) -> None:
    publish(api, raised_tariff())

    listed = api.client.get("/v1/admin/tariffs", headers=bearer(api.admin_token)).json()

    tariffs = [(v["version"], v["source"], v["state"]) for v in listed if v["kind"] == "tariff"]
    assert tariffs == [(PACKAGED.version, "packaged", "in_force"), ("2025-03-04", "published", "next")]
    assert [v["state"] for v in listed if v["kind"] == "policy"] == ["in_force"]


@pytest.mark.parametrize(
    ("effective_from", "status", "code"),
    [
        ("2025-03-03", 422, "effective_from_past"),  # today's service day began at 04:00
        ("2025-03-03T01:00:00Z", 422, "effective_from_past"),
        ("2025-03-04T10:00:00", 422, "invalid_document"),  # no offset: which zone is a guess
        ("next week", 422, "invalid_document"),
    ],
)
def test_a_version_for_a_past_or_unreadable_instant_is_refused(
    api: Api, effective_from: str, status: int, code: str
) -> None:
    answer = publish(api, raised_tariff(), effective_from)

    assert (answer.status_code, answer.json()["code"]) == (status, code)


def test_an_invalid_tariff_is_refused_naming_its_field(api: Api) -> None:
    document = raised_tariff()
    del document["single"]["cash"]["L1-03"]

    answer = publish(api, document)

    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_document")
    assert "tariff.single.cash.L1-03" in answer.json()["detail"]


def test_a_version_id_is_published_once(api: Api) -> None:
    assert publish(api, raised_tariff()).status_code == 201

    again = publish(api, raised_tariff(by=2_000), "2025-03-05")

    assert (again.status_code, again.json()["code"]) == (409, "version_exists")


def test_a_policy_version_changes_what_riders_are_told_at_its_time(api: Api) -> None:
    refunds = {"refunds_allowed": True}
    assert publish(api, refunds, TOMORROW, kind="policy", version="refunds-2025").status_code == 201

    assert api.client.get("/v1/policy").json()["refunds_allowed"] is False
    api.clock.advance(days=1)
    assert api.client.get("/v1/policy").json()["refunds_allowed"] is True


def test_a_refund_applies_the_policy_in_force_when_it_is_asked(api: Api) -> None:
    order = api.paid_order(single())
    ticket = order["tickets"][0]["id"]
    publish(api, {"refunds_allowed": True}, TOMORROW, kind="policy", version="refunds-2025")

    refused = api.client.post(f"/v1/tickets/{ticket}/refund", headers=bearer(order["access_token"]))
    api.clock.advance(days=1)
    refunded = api.client.post(f"/v1/tickets/{ticket}/refund", headers=bearer(order["access_token"]))

    assert (refused.status_code, refund_code(refused)) == (403, "refunds_not_allowed")
    assert refunded.status_code == 200, refunded.text


def refund_code(answer: Any) -> str:
    return str(answer.json()["code"])


def _trip(api: Api, gates: tuple[EnrolledGate, EnrolledGate]) -> tuple[int, int]:
    """A single L1-01 to L1-05 bought now, ridden to L1-09: (what the exit gate says is owed, what the
    service quotes L1-01 to L1-09 at the exit instant, less what was paid)."""
    order = api.paid_order(single("L1-01", "L1-05"))
    payload = order["tickets"][0]["qr_payload"]
    assert gates[0].scan(payload).accepted
    api.clock.advance(minutes=20)
    denied = gates[1].scan(payload, "exit")
    assert denied.reason is Reason.FARE_EXCEEDED
    assert denied.owed_vnd is not None
    return denied.owed_vnd, fare(api, "L1-01", "L1-09") - order["amount_vnd"]


def test_a_synced_gate_owes_what_the_service_quotes_for_the_same_instant_before_and_after_a_change(
    api: Api, tmp_path: Path
) -> None:
    publish(api, dearer_to("L1-09", by=500))
    gates = (
        enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1"),
        enrolled_gate(api, tmp_path, "L1-09", "L1-09-G1"),
    )
    reports = [gate.sync() for gate in gates]
    assert [r.tariffs for r in reports] == [1, 1]

    owed_today, quoted_today = _trip(api, gates)
    api.clock.advance(days=1)
    owed_tomorrow, quoted_tomorrow = _trip(api, gates)

    before = PACKAGED.single_fare("L1-01", "L1-09") - PACKAGED.single_fare("L1-01", "L1-05")
    assert owed_today == quoted_today == before
    assert owed_tomorrow == quoted_tomorrow == before + 500


def test_a_gate_that_synced_keeps_the_announced_version_in_its_store(api: Api, tmp_path: Path) -> None:
    publish(api, raised_tariff())
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    gate.sync()

    assert gate.sync().tariffs == 0  # the cursor moved past it
    held = load_versions(gate.gate.conn)
    assert [(v.kind, v.version) for v in held] == [("tariff", "2025-03-04")]


def test_the_cli_publishes_a_tariff_file_and_lists_it(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tariff-2030.json"
    path.write_text(json.dumps(raised_tariff("2030-01-01")), encoding="utf-8")
    for name, value in _cli_env(api).items():
        monkeypatch.setenv(name, value)

    assert main(["tariff", "publish", str(path), "--effective-from", "2030-01-01"]) == 0
    assert main(["tariff", "list"]) == 0

    out = capsys.readouterr().out
    assert "2030-01-01" in out
    assert "next" in out


def test_the_cli_refuses_a_date_in_the_past_with_its_code(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tariff-old.json"
    path.write_text(json.dumps(raised_tariff("2020-01-01")), encoding="utf-8")
    for name, value in _cli_env(api).items():
        monkeypatch.setenv(name, value)

    assert main(["tariff", "publish", str(path), "--effective-from", "2020-01-01"]) == 1

    assert "effective_from_past" in capsys.readouterr().err


def _cli_env(api: Api) -> dict[str, str]:
    s = api.settings
    return {
        "METRO_DATABASE_URL": api.database_url,
        "METRO_DATA_DIR": str(s.data_dir),
        **{
            f"METRO_{name.upper()}": s.secret(name).decode()
            for name in ("key_passphrase", "webhook_secret", "cccd_hash_key", "token_secret")
        },
    }


def test_the_gtfs_feed_carries_the_fares_of_the_tariff_in_force(api: Api) -> None:
    publish(api, dearer_to("L1-09", by=500))
    dearer = f"single-qr-{PACKAGED.single_fare('L1-01', 'L1-09') + 500}"

    today = _fare_products(api)
    api.clock.advance(days=1)
    tomorrow = _fare_products(api)

    assert (dearer in today, dearer in tomorrow) == (False, True)


def _fare_products(api: Api) -> set[str]:
    feed = api.client.get("/v1/gtfs/feed.zip")
    assert feed.status_code == 200
    with zipfile.ZipFile(io.BytesIO(feed.content)) as archive:
        rows = csv.DictReader(io.TextIOWrapper(archive.open("fare_products.txt"), encoding="utf-8"))
        return {row["fare_product_id"] for row in rows}


def test_migration_0014_goes_down_and_up_again_on_both_engines(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0013")
    engine = make_engine(database_url)
    try:
        gone = "tariff_versions" not in sa.inspect(engine).get_table_names()
        migrate(database_url)
        back = "tariff_versions" in sa.inspect(engine).get_table_names()
        with engine.connect() as connection:
            counter = connection.execute(
                sa.text("SELECT value FROM change_counters WHERE name = 'tariff_versions'")
            ).scalar_one()
    finally:
        engine.dispose()

    assert (gone, back, counter) == (True, True, 0)


def test_a_policy_number_no_sale_or_scan_could_work_with_is_refused(api: Api) -> None:
    answer = publish(api, {"max_trip_minutes": 10**30}, TOMORROW, kind="policy")

    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_document")
    assert (
        api.client.get("/v1/admin/tariffs", headers=bearer(api.admin_token)).json()[-1]["source"]
        == "packaged"
    )


def test_an_offline_bundle_from_the_service_carries_the_versions_to_a_gate(api: Api, tmp_path: Path) -> None:
    publish(api, dearer_to("L1-09", by=500))
    order = api.paid_order(single("L1-01", "L1-05"))
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        text, _ = export_bundle(session, build_context(api.settings), "L1-09", None, api.clock())
    engine.dispose()
    folder = tmp_path / "offline-gate"
    provision_from_bundle(
        folder, None, load_bundle(text), station="L1-09", gate_id="L1-09-G1", now=api.clock()
    )
    gate = open_gate(folder)

    try:
        owed = gate.scan(order["tickets"][0]["qr_payload"], Direction.EXIT, api.clock() + timedelta(days=1))
    finally:
        gate.conn.close()

    assert load_bundle(text).cursors["tariffs"] == 1
    assert owed.owed_vnd == PACKAGED.single_fare("L1-01", "L1-09") + 500 - order["amount_vnd"]
