"""The GTFS feed with GTFS-Fares v2 that trip planners download, on both engines: it validates with 0 errors
under a validator no one here wrote (the `gtfs-validator` package: MobilityData's rule set, in Python), every
station-to-station fare in it is the fare a gate charges, and the operator's CLI writes the same bytes."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.issuing import TODAY, Api

from fare_rules import Accepted, Credential, Denied, Direction, History, Product, Reason, Scan, Use, decide
from fare_rules.products import PaymentMethod
from fare_rules.tariff import quote
from ticketing.catalog import Catalog
from ticketing.cli import EXIT_OK, main

FEED = "/v1/gtfs/feed.zip"
Rows = list[dict[str, str]]


def _validator() -> str:
    """The package's console script, beside this interpreter (the project's virtualenv) or on PATH."""
    found = shutil.which("gtfs-validator", path=str(Path(sys.executable).parent)) or shutil.which(
        "gtfs-validator"
    )
    assert found, "gtfs-validator is not installed: it is a dev dependency (pip install -e '.[dev]')"
    return found


def _validate(feed: bytes, on: date, folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validator's report.json and system_errors.json for `feed`, validated as of `on`."""
    (folder / "feed.zip").write_bytes(feed)
    command = [_validator(), "-i", str(folder / "feed.zip"), "-o", str(folder / "out"), "-d", on.isoformat()]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    report = json.loads((folder / "out" / "report.json").read_text(encoding="utf-8"))
    system_errors = json.loads((folder / "out" / "system_errors.json").read_text(encoding="utf-8"))
    return report, system_errors


def _notices(report: dict[str, Any], severity: str) -> list[str]:
    return [
        f"{n['code']} ×{n['totalNotices']}: {json.dumps(n['sampleNotices'][:3], ensure_ascii=False)}"
        for n in report["notices"]
        if n["severity"] == severity
    ]


def _tables(feed: bytes) -> dict[str, Rows]:
    with zipfile.ZipFile(io.BytesIO(feed)) as archive:
        return {
            name.removesuffix(".txt"): list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))
            for name in archive.namelist()
        }


def _catalog(api: Api) -> Catalog:
    catalog: Catalog = api.client.app.state.context.catalog  # type: ignore[attr-defined]
    return catalog


def test_the_gtfs_fares_export_validates_with_no_errors(api: Api, tmp_path: Path) -> None:
    feed = api.client.get(FEED)
    assert feed.status_code == 200, feed.text

    report, system_errors = _validate(feed.content, TODAY, tmp_path)

    errors, warnings = _notices(report, "ERROR"), _notices(report, "WARNING")
    assert errors == [], f"errors: {errors}\nwarnings: {warnings}"
    assert system_errors["notices"] == [], system_errors
    features = set(report["summary"]["gtfsFeatures"])
    assert {"Fare Products", "Fare Media", "Rider Categories", "Zone-Based Fares"} <= features, (
        f"validated, but read as no Fares v2 feed: {sorted(features)}; warnings: {warnings}"
    )


def test_the_validator_run_finds_the_errors_of_a_broken_copy_of_the_export(api: Api, tmp_path: Path) -> None:
    # The check above means something only if the validator sees the files: drop a station the fares name.
    with zipfile.ZipFile(io.BytesIO(api.client.get(FEED).content)) as original:
        files = {name: original.read(name) for name in original.namelist()}
    files["stops.txt"] = b"\r\n".join(
        line for line in files["stops.txt"].split(b"\r\n") if b"L1-07" not in line
    )
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)

    report, _ = _validate(broken.getvalue(), TODAY, tmp_path)

    assert "foreign_key_violation" in {n["code"] for n in report["notices"] if n["severity"] == "ERROR"}


def _products(tables: dict[str, Rows]) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for row in tables["fare_products"]:
        found.setdefault(row["fare_product_id"], []).append(row)
    return found


def _leg_fares(tables: dict[str, Rows], medium: str) -> dict[tuple[str, str], int]:
    """The single fare on each origin–destination leg for a medium, as a trip planner reads it."""
    products = _products(tables)
    fares: dict[tuple[str, str], int] = {}
    for rule in tables["fare_leg_rules"]:
        for product in products[rule["fare_product_id"]]:
            if product["fare_product_id"].startswith("single-") and product["fare_media_id"] == medium:
                assert (rule["from_area_id"], rule["to_area_id"]) not in fares, rule
                assert product["currency"] == "VND"
                fares[rule["from_area_id"], rule["to_area_id"]] = int(product["amount"])  # VND: no decimals
    return fares


def _stations_of_areas(tables: dict[str, Rows]) -> dict[str, str]:
    return {row["area_id"]: row["stop_id"] for row in tables["stop_areas"]}


NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


def _gate_exit(catalog: Catalog, origin: str, station: str, fare_paid: int) -> Accepted | Denied:
    """The gate's decision on a single ticket for `fare_paid` leaving at `station` 20 minutes after entry."""
    ticket = Credential(
        id="T-1",
        product=Product.SINGLE,
        issued_at=NOW - timedelta(hours=1),
        valid_from=NOW - timedelta(hours=1),
        valid_until=NOW + timedelta(days=29),
        fare_vnd=fare_paid,
        origin=origin,
        destination=station,
    )
    inside = History(uses=(Use(origin, Direction.ENTRY, NOW - timedelta(minutes=20)),))
    return decide(
        ticket, Scan(station, Direction.EXIT, gate="G1"), inside, catalog.policy, catalog.tariff, NOW
    )


def test_every_origin_destination_fare_in_the_export_equals_the_gates_fare(api: Api) -> None:
    catalog = _catalog(api)
    tables = _tables(api.client.get(FEED).content)
    stop_of = _stations_of_areas(tables)
    fares = {(stop_of[a], stop_of[b]): amount for (a, b), amount in _leg_fares(tables, "qr").items()}

    assert set(fares) == set(catalog.tariff.cashless), "every priced pair, and only those, has a QR fare"
    for (origin, destination), amount in fares.items():
        # The exported fare lets the rider out at the destination; a đồng less is refused, that đồng owed.
        assert _gate_exit(catalog, origin, destination, amount) == Accepted(), (origin, destination)
        short = _gate_exit(catalog, origin, destination, amount - 1)
        assert short == Denied(Reason.FARE_EXCEEDED, owed_vnd=1), (origin, destination, amount)


def test_every_cash_fare_in_the_export_equals_the_services_cash_quote(api: Api) -> None:
    catalog = _catalog(api)
    tables = _tables(api.client.get(FEED).content)
    stop_of = _stations_of_areas(tables)

    fares = {(stop_of[a], stop_of[b]): amount for (a, b), amount in _leg_fares(tables, "cash").items()}

    expected = {
        (o, d): quote(catalog.tariff, Product.SINGLE, o, d, PaymentMethod.CASH).amount_vnd
        for o, d in catalog.tariff.cash
    }
    assert fares == expected


def test_the_period_products_cost_what_the_service_sells_them_for(api: Api) -> None:
    catalog = _catalog(api)
    products = _products(_tables(api.client.get(FEED).content))

    prices = {
        p.value: {int(row["amount"]) for row in products[p.value]} for p in catalog.tariff.product_prices
    }

    assert prices == {p.value: {price} for p, price in catalog.tariff.product_prices.items()}
    assert {row["rider_category_id"] for row in products["monthly_student"]} == {"student"}


def test_the_feed_is_public_cacheable_and_answers_304_to_its_own_etag(api: Api) -> None:
    first = api.client.get(FEED)
    again = api.client.get(FEED, headers={"If-None-Match": first.headers["etag"]})
    other = api.client.get(FEED, headers={"If-None-Match": '"something-else"'})

    assert (first.status_code, first.headers["content-type"]) == (200, "application/zip")
    assert first.headers["cache-control"] == "public, max-age=3600"
    assert "attachment" in first.headers["content-disposition"]
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", first.headers["etag"])
    assert (other.status_code, other.content) == (200, first.content)


def test_the_feeds_calendar_starts_on_the_local_day_and_moves_with_it(api: Api) -> None:
    today = _tables(api.client.get(FEED).content)["calendar"]
    api.client.app.state.clock.advance(hours=15)  # type: ignore[attr-defined]  # 00:00 local, the next day
    tomorrow = _tables(api.client.get(FEED).content)["calendar"]

    assert (today[0]["start_date"], tomorrow[0]["start_date"]) == ("20250303", "20250304")


def test_the_cli_writes_the_feed_the_route_serves(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "cli"))  # restored after: main() sets it for serve
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)  # the tariff versions the service holds
    out = tmp_path / "feed.zip"

    code = main(["--data-dir", str(tmp_path / "cli"), "gtfs-export", str(out), "--date", TODAY.isoformat()])

    assert code == EXIT_OK
    assert out.read_bytes() == api.client.get(FEED).content
    assert str(out) in capsys.readouterr().out
