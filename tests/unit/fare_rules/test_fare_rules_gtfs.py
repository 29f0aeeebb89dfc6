"""The GTFS feed builder (fare_rules.gtfs): the shipped network and tariff in, typed rows and text out."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, time, timedelta

import pytest
from fare_rules_factories import CODES, NETWORK, TARIFF

from fare_rules import DataFileError, PaymentMethod, Product, Station
from fare_rules.gtfs import CURRENCY, FEED_DAYS, FareMediaType, GtfsFeed, build_feed, single_product_id
from fare_rules.gtfs.fares import PERIOD_MEDIA
from fare_rules.gtfs.rows import FareProductRow, cell

ON = date(2025, 3, 3)
FEED = build_feed(NETWORK, TARIFF, ON)
PAIRS = [(o, d) for o in CODES for d in CODES if o != d]


def _products(feed: GtfsFeed = FEED) -> dict[str, list[FareProductRow]]:
    found: dict[str, list[FareProductRow]] = {}
    for row in feed.fare_products:
        found.setdefault(row.fare_product_id, []).append(row)
    return found


def test_each_station_is_a_stop_with_its_coordinates_and_an_area_of_its_own() -> None:
    assert [(s.stop_id, s.stop_name, s.stop_lat, s.stop_lon) for s in FEED.stops] == [
        (s.code, s.name_vi, s.lat, s.lon) for s in NETWORK.stations
    ]
    assert [a.area_id for a in FEED.areas] == list(CODES)
    assert [(sa.area_id, sa.stop_id) for sa in FEED.stop_areas] == [(c, c) for c in CODES]


def test_every_origin_destination_pair_names_both_singles_and_every_period_product() -> None:
    rules = Counter((r.from_area_id, r.to_area_id) for r in FEED.fare_leg_rules)
    periods = [p for p in Product if p is not Product.SINGLE]

    assert sorted(rules) == sorted(PAIRS)
    assert set(rules.values()) == {2 + len(periods)}
    assert {r.network_id for r in FEED.fare_leg_rules} == {NETWORK.id}


@pytest.mark.parametrize(
    ("origin", "destination"), [("L1-01", "L1-02"), ("L1-01", "L1-14"), ("L1-09", "L1-03")]
)
@pytest.mark.parametrize("payment", list(PaymentMethod))
def test_the_single_on_a_leg_costs_that_legs_fare_in_the_tariff(
    origin: str, destination: str, payment: PaymentMethod
) -> None:
    fare = TARIFF.single_fare(origin, destination, payment)
    medium = "qr" if payment is PaymentMethod.CASHLESS else "cash"
    [rule] = [
        r
        for r in FEED.fare_leg_rules
        if (r.from_area_id, r.to_area_id) == (origin, destination)
        and r.fare_product_id.startswith(f"single-{medium}-")
    ]
    [product] = _products()[rule.fare_product_id]

    assert rule.fare_product_id == single_product_id(payment, fare)
    assert (product.amount, product.currency, product.rider_category_id) == (fare, "VND", None)


def test_there_is_one_single_product_per_medium_and_amount() -> None:
    singles = [p for p in FEED.fare_products if p.fare_product_id.startswith("single-")]

    assert sorted(p.amount for p in singles if p.fare_media_id == "qr") == sorted(
        set(TARIFF.cashless.values())
    )
    assert sorted(p.amount for p in singles if p.fare_media_id == "cash") == sorted(set(TARIFF.cash.values()))
    assert (min(p.amount for p in singles), max(p.amount for p in singles)) == (6_000, 20_000)


def test_amounts_are_whole_dong_written_without_decimals() -> None:
    [table] = [t for t in FEED.tables() if t.name == "fare_products.txt"]
    amount, currency = table.columns.index("amount"), table.columns.index("currency")

    assert CURRENCY == "VND"
    assert {row[currency] for row in table.rows} == {"VND"}
    assert all(row[amount].isdigit() for row in table.rows)
    assert ("single-qr-19000", "19000") in {(row[0], row[amount]) for row in table.rows}


@pytest.mark.parametrize(
    ("product", "price", "media", "rider"),
    [
        (Product.DAY, 40_000, {"qr"}, None),
        (Product.THREE_DAY, 90_000, {"qr"}, None),
        (Product.MONTHLY, 300_000, {"qr", "cccd"}, None),
        (Product.MONTHLY_STUDENT, 150_000, {"qr", "cccd"}, "student"),
        (Product.FREE_PRIORITY, 0, {"cccd"}, "priority"),
    ],
)
def test_period_products_carry_their_price_media_and_rider_category(
    product: Product, price: int, media: set[str], rider: str | None
) -> None:
    rows = _products()[product.value]

    assert {(r.amount, r.rider_category_id) for r in rows} == {(price, rider)}
    assert {r.fare_media_id for r in rows} == media


def test_every_flat_priced_product_has_its_media() -> None:
    assert set(PERIOD_MEDIA) == set(TARIFF.product_prices)


def test_the_qr_ticket_is_a_mobile_app_medium_the_cccd_a_card_and_cash_a_paper_ticket() -> None:
    assert {m.fare_media_id: m.fare_media_type for m in FEED.fare_media} == {
        "qr": FareMediaType.MOBILE_APP,
        "cccd": FareMediaType.TRANSIT_CARD,
        "cash": FareMediaType.PAPER_TICKET,
    }


def test_exactly_one_rider_category_is_the_default_and_every_category_used_is_defined() -> None:
    categories = {c.rider_category_id: c.is_default_fare_category for c in FEED.rider_categories}
    used = {p.rider_category_id for p in FEED.fare_products} - {None}

    assert [c for c, default in categories.items() if default == 1] == ["adult"]
    assert used <= set(categories)


def test_the_calendar_runs_a_year_from_the_export_day() -> None:
    [calendar] = FEED.calendar
    [info] = FEED.feed_info

    assert (calendar.start_date, calendar.end_date) == (ON, ON + timedelta(days=FEED_DAYS - 1))
    assert (info.feed_start_date, info.feed_end_date) == (calendar.start_date, calendar.end_date)
    assert (calendar.monday, calendar.sunday) == (1, 1)


def test_the_calendar_starts_with_a_tariff_that_starts_later() -> None:
    later = dataclasses.replace(TARIFF, effective_from=ON + timedelta(days=10))

    [calendar] = build_feed(NETWORK, later, ON).calendar

    assert calendar.start_date == ON + timedelta(days=10)


def test_trains_run_both_ways_through_every_station_every_headway_within_service_hours() -> None:
    service = NETWORK.service
    assert service is not None
    runs = {t.trip_id: [s for s in FEED.stop_times if s.trip_id == t.trip_id] for t in FEED.trips}

    assert [s.stop_id for s in runs["L1-0"]] == list(CODES)
    assert [s.stop_id for s in runs["L1-1"]] == list(reversed(CODES))
    assert runs["L1-0"][-1].arrival_time == time(5, 26)  # 13 hops of 2 nominal minutes
    assert {(f.start_time, f.end_time, f.headway_secs, f.exact_times) for f in FEED.frequencies} == {
        (time(5, 0), time(22, 0), 600, 0)
    }
    assert [(r.route_id, r.route_type) for r in FEED.routes] == [("L1", 1)]


def test_the_agency_is_the_operator_in_ho_chi_minh_citys_timezone() -> None:
    [agency] = FEED.agency

    assert (agency.agency_timezone, agency.agency_lang) == ("Asia/Ho_Chi_Minh", "vi")
    assert agency.agency_url.startswith("https://")


def test_english_names_come_as_translations() -> None:
    english = {(t.table_name, t.record_id or t.field_value): t.translation for t in FEED.translations}

    assert english["stops", "L1-02"] == "Opera House"
    assert english["areas", "L1-12"] == "Hi-Tech Park"
    assert english["fare_products", "Vé lượt 6.000 ₫ (QR)"] == "Single journey 6,000 ₫ (QR)"
    assert english["rider_categories", "student"] == "Pupils and students"


def test_each_file_is_named_and_headed_as_the_gtfs_reference_names_its_columns() -> None:
    headers = {t.name: t.columns for t in FEED.tables()}

    assert headers["fare_leg_rules.txt"] == ("network_id", "from_area_id", "to_area_id", "fare_product_id")
    assert headers["fare_products.txt"] == (
        "fare_product_id",
        "fare_product_name",
        "fare_media_id",
        "rider_category_id",
        "amount",
        "currency",
    )
    assert headers["fare_media.txt"] == ("fare_media_id", "fare_media_name", "fare_media_type")
    assert headers["rider_categories.txt"] == (
        "rider_category_id",
        "rider_category_name",
        "is_default_fare_category",
    )
    assert {"agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt", "calendar.txt"} <= set(
        headers
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (date(2025, 1, 21), "20250121"), (time(5, 0), "05:00:00"), (FareMediaType.MOBILE_APP, "4")],
)
def test_values_are_written_as_gtfs_text(value: object, text: str) -> None:
    assert cell(value) == text


def test_the_same_inputs_build_the_same_feed() -> None:
    assert build_feed(NETWORK, TARIFF, ON) == FEED


def _without_coordinates(station: Station) -> Station:
    return dataclasses.replace(station, lat=None, lon=None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"operator": None}, "network.operator"),
        ({"service": None}, "network.service"),
        (
            {"stations": (_without_coordinates(NETWORK.stations[0]), *NETWORK.stations[1:])},
            r"stations\[0\].lat",
        ),
    ],
)
def test_a_network_without_what_a_feed_needs_is_refused_naming_it(
    change: dict[str, object], field: str
) -> None:
    network = dataclasses.replace(NETWORK, **change)  # type: ignore[arg-type]

    with pytest.raises(DataFileError, match=field):
        build_feed(network, TARIFF, ON)
