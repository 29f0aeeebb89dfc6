from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from fare_rules_factories import CODES, NETWORK, TARIFF, shipped

from fare_rules import (
    DataFileError,
    InvalidRoute,
    PaymentMethod,
    Product,
    UnknownProduct,
    UnknownStation,
    default_single_fare,
    generate_default_tariff,
    load_tariff,
    quote,
    tariff_to_json,
)

CASH = PaymentMethod.CASH


def _tariff_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shipped("hcmc-line1-tariff.json"))
    return data


@pytest.mark.parametrize(
    ("n", "cashless", "cash"),
    [
        (1, 6_000, 7_000),
        (2, 7_000, 8_000),
        (3, 8_000, 9_000),
        (4, 9_000, 10_000),
        (5, 10_000, 11_000),
        (6, 11_000, 12_000),
        (7, 13_000, 14_000),  # (7 - 1) × 13 / 12 = 6.5 rounds half *up* to 7
        (8, 14_000, 15_000),
        (9, 15_000, 16_000),
        (10, 16_000, 17_000),
        (11, 17_000, 18_000),
        (12, 18_000, 19_000),
        (13, 19_000, 20_000),
    ],
)
def test_the_default_fare_follows_the_formula_for_a_trip_of_n_stations(
    n: int, cashless: int, cash: int
) -> None:
    assert default_single_fare(n) == cashless
    assert default_single_fare(n, CASH) == cash


def test_a_trip_of_no_stations_has_no_default_fare() -> None:
    with pytest.raises(InvalidRoute):
        default_single_fare(0)


def test_the_shipped_tariff_spans_the_official_minimum_and_maximum() -> None:
    assert (min(TARIFF.cashless.values()), max(TARIFF.cashless.values())) == (6_000, 19_000)
    assert (min(TARIFF.cash.values()), max(TARIFF.cash.values())) == (7_000, 20_000)


def test_the_shipped_tariff_prices_every_pair_both_ways_and_cash_costs_1000_more() -> None:
    pairs = {(a, b) for a in CODES for b in CODES if a != b}

    assert set(TARIFF.cashless) == pairs == set(TARIFF.cash)
    assert all(TARIFF.cashless[a, b] == TARIFF.cashless[b, a] for a, b in pairs)
    assert all(TARIFF.cash[p] == TARIFF.cashless[p] + 1_000 for p in pairs)


def test_the_committed_tariff_file_is_exactly_what_the_generator_produces() -> None:
    generated = generate_default_tariff(NETWORK, "2025-01-21", date(2025, 1, 21))

    assert shipped("hcmc-line1-tariff.json") == tariff_to_json(generated)
    assert (TARIFF.version, TARIFF.effective_from, TARIFF.network_id) == (
        "2025-01-21",
        date(2025, 1, 21),
        "hcmc",
    )


def test_a_tariff_round_trips_through_json() -> None:
    assert load_tariff(tariff_to_json(TARIFF), NETWORK) == TARIFF


@pytest.mark.parametrize(
    ("product", "price"),
    [
        (Product.DAY, 40_000),
        (Product.THREE_DAY, 90_000),
        (Product.MONTHLY, 300_000),
        (Product.MONTHLY_STUDENT, 150_000),
        (Product.FREE_PRIORITY, 0),
    ],
)
def test_flat_products_have_the_city_prices_whatever_the_route_or_payment(
    product: Product, price: int
) -> None:
    assert quote(TARIFF, product) == quote(TARIFF, product, "L1-01", "L1-14", CASH)
    assert quote(TARIFF, product).amount_vnd == price
    assert quote(TARIFF, product).rule == f"flat 2025-01-21 {product.value}"


@pytest.mark.parametrize(
    ("origin", "destination", "payment", "amount"),
    [
        ("L1-01", "L1-02", PaymentMethod.CASHLESS, 6_000),
        ("L1-01", "L1-14", PaymentMethod.CASHLESS, 19_000),
        ("L1-14", "L1-01", CASH, 20_000),
        ("L1-05", "L1-09", CASH, 10_000),
    ],
)
def test_a_single_is_quoted_from_the_od_matrix_naming_the_row_that_priced_it(
    origin: str, destination: str, payment: PaymentMethod, amount: int
) -> None:
    priced = quote(TARIFF, Product.SINGLE, origin, destination, payment)

    assert priced.amount_vnd == amount
    assert priced.rule == f"od-matrix 2025-01-21 {payment.value} {origin}→{destination}"


@pytest.mark.parametrize(
    ("origin", "destination", "error"),
    [
        (None, "L1-05", InvalidRoute),
        ("L1-01", None, InvalidRoute),
        ("L1-05", "L1-05", InvalidRoute),
        ("L1-99", "L1-05", UnknownStation),
        ("L1-01", "XX", UnknownStation),
    ],
)
def test_a_single_quote_needs_two_different_known_stations(
    origin: str | None, destination: str | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        quote(TARIFF, Product.SINGLE, origin, destination)


def test_a_product_the_tariff_does_not_price_is_an_unknown_product() -> None:
    tariff = replace(TARIFF, product_prices={})

    with pytest.raises(UnknownProduct):
        quote(tariff, Product.DAY)


def _broken(change: str) -> str:
    data = _tariff_file()
    match change:
        case "network":
            data["network_id"] = "hanoi"
        case "date":
            data["effective_from"] = "21/01/2025"
        case "missing pair":
            del data["single"]["cash"]["L1-03"]["L1-07"]
        case "missing origin":
            del data["single"]["cashless"]["L1-14"]
        case "extra origin":
            data["single"]["cashless"]["L2-01"] = {}
        case "self pair":
            data["single"]["cash"]["L1-03"]["L1-03"] = 0
        case "negative":
            data["single"]["cashless"]["L1-01"]["L1-02"] = -6000
        case "boolean":
            data["single"]["cashless"]["L1-01"]["L1-02"] = True
        case "unknown product":
            data["products"]["weekly"] = 1
        case "missing product":
            del data["products"]["day"]
        case "no version":
            del data["version"]
    return json.dumps(data)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("network", "tariff.network_id"),
        ("date", "tariff.effective_from"),
        ("missing pair", "tariff.single.cash.L1-03.L1-07"),
        ("missing origin", "tariff.single.cashless.L1-14"),
        ("extra origin", "tariff.single.cashless.L2-01"),
        ("self pair", "tariff.single.cash.L1-03.L1-03"),
        ("negative", "tariff.single.cashless.L1-01.L1-02"),
        ("boolean", "tariff.single.cashless.L1-01.L1-02"),
        ("unknown product", "tariff.products.weekly"),
        ("missing product", "tariff.products.day"),
        ("no version", "tariff.version"),
    ],
)
def test_a_bad_tariff_file_is_refused_naming_the_field(change: str, field: str) -> None:
    with pytest.raises(DataFileError, match=field.replace(".", r"\.")):
        load_tariff(_broken(change), NETWORK)
