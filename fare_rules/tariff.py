"""Prices: a versioned origin–destination matrix (cashless and cash) plus flat prices for passes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from fare_rules import _json
from fare_rules.errors import DataFileError, InvalidRoute, UnknownProduct, UnknownStation
from fare_rules.network import Network
from fare_rules.products import PaymentMethod, Product

__all__ = [
    "DEFAULT_PRODUCT_PRICES",
    "Quote",
    "Tariff",
    "default_single_fare",
    "generate_default_tariff",
    "load_tariff",
    "quote",
    "tariff_to_json",
]

# Sourced: city decision of 21 Nov 2024.
DEFAULT_PRODUCT_PRICES: Mapping[Product, int] = MappingProxyType(
    {
        Product.DAY: 40_000,
        Product.THREE_DAY: 90_000,
        Product.MONTHLY: 300_000,
        Product.MONTHLY_STUDENT: 150_000,
        Product.FREE_PRIORITY: 0,
    }
)
FLAT_PRODUCTS = tuple(p for p in Product if p is not Product.SINGLE)


@dataclass(frozen=True, slots=True)
class Tariff:
    version: str
    effective_from: date
    network_id: str
    # (origin code, destination code) -> VND, both directions present
    cashless: Mapping[tuple[str, str], int]
    cash: Mapping[tuple[str, str], int]
    product_prices: Mapping[Product, int]  # flat-priced products (everything but SINGLE)
    # Every station code the matrices price: the rules refuse scans at any other station.
    stations: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stations", frozenset(code for pair in self.cashless for code in pair))

    def single_fare(
        self, origin: str, destination: str, payment: PaymentMethod = PaymentMethod.CASHLESS
    ) -> int:
        """The single-journey fare between two stations. UnknownStation / InvalidRoute on bad input."""
        # Messages name the field, never the value: what a rider typed may be personal (a CCCD number).
        for name, code in (("origin", origin), ("destination", destination)):
            if code not in self.stations:
                raise UnknownStation(f"{name}: no fare for this station in tariff {self.version}")
        if origin == destination:
            raise InvalidRoute("origin and destination are the same station")
        matrix = self.cashless if payment == PaymentMethod.CASHLESS else self.cash
        return matrix[origin, destination]


@dataclass(frozen=True, slots=True)
class Quote:
    amount_vnd: int
    # Human-readable: which row of which tariff priced it, e.g. "od-matrix 2025-01-21 cashless L1-01→L1-05".
    rule: str


def default_single_fare(n: int, payment: PaymentMethod = PaymentMethod.CASHLESS) -> int:
    """Our rule (domain.md) for a trip of `n` stations (n = hops).

    Cashless 6,000 + 1,000 × round_half_up((n − 1) × 13 / 12), cash 1,000 more. Integer arithmetic on purpose:
    round() rounds half to even, and n = 7 lands exactly on 6.5.
    """
    if n < 1:
        raise InvalidRoute(f"a trip covers at least one station, not {n}")
    steps = ((n - 1) * 13 * 2 + 12) // 24  # round_half_up((n - 1) * 13 / 12)
    cashless = 6_000 + 1_000 * steps
    return cashless if payment == PaymentMethod.CASHLESS else cashless + 1_000


def generate_default_tariff(network: Network, version: str, effective_from: date) -> Tariff:
    """The shipped tariff (domain.md, our rule): cashless 6,000 + 1,000 × round_half_up((n − 1) × 13 / 12)."""
    pairs = [(a.code, b.code) for a in network.stations for b in network.stations if a.code != b.code]
    hops = {pair: network.hops(*pair) for pair in pairs}
    return Tariff(
        version=version,
        effective_from=effective_from,
        network_id=network.id,
        cashless=MappingProxyType({p: default_single_fare(n) for p, n in hops.items()}),
        cash=MappingProxyType({p: default_single_fare(n, PaymentMethod.CASH) for p, n in hops.items()}),
        product_prices=DEFAULT_PRODUCT_PRICES,
    )


def load_tariff(text: str, network: Network) -> Tariff:
    """Parse a tariff file (JSON); every station pair of the network must be priced. DataFileError if not."""
    data = _json.parse_object(text, "tariff")
    network_id = _json.field(data, "network_id", str, "tariff")
    if network_id != network.id:
        raise DataFileError(f"tariff.network_id: {network_id!r} is not the network {network.id!r}")
    raw_date = _json.field(data, "effective_from", str, "tariff")
    try:
        effective_from = date.fromisoformat(raw_date)
    except ValueError:
        raise DataFileError(f"tariff.effective_from: {raw_date!r} is not a YYYY-MM-DD date") from None
    single = _json.field(data, "single", dict, "tariff")
    codes = [s.code for s in network.stations]
    return Tariff(
        version=_json.field(data, "version", str, "tariff"),
        effective_from=effective_from,
        network_id=network_id,
        cashless=_load_matrix(single, PaymentMethod.CASHLESS, codes),
        cash=_load_matrix(single, PaymentMethod.CASH, codes),
        product_prices=_load_prices(_json.field(data, "products", dict, "tariff")),
    )


def _load_matrix(
    single: dict[str, Any], payment: PaymentMethod, codes: list[str]
) -> Mapping[tuple[str, str], int]:
    where = f"tariff.single.{payment.value}"
    rows: dict[str, Any] = _json.field(single, payment.value, dict, "tariff.single")
    for origin in rows:
        if origin not in codes:
            raise DataFileError(f"{where}.{origin}: not a station of the network")
    matrix: dict[tuple[str, str], int] = {}
    for origin in codes:
        row: dict[str, Any] = _json.field(rows, origin, dict, where)
        for destination in row:
            if destination not in codes or destination == origin:
                raise DataFileError(f"{where}.{origin}.{destination}: not a destination from {origin}")
        for destination in codes:
            if destination != origin:
                matrix[origin, destination] = _amount(row, destination, f"{where}.{origin}")
    return MappingProxyType(matrix)


def _load_prices(raw: dict[str, Any]) -> Mapping[Product, int]:
    known = {p.value for p in FLAT_PRODUCTS}
    for name in raw:
        if name not in known:
            raise DataFileError(f"tariff.products.{name}: not a flat-priced product")
    return MappingProxyType({p: _amount(raw, p.value, "tariff.products") for p in FLAT_PRODUCTS})


def _amount(obj: dict[str, Any], key: str, where: str) -> int:
    amount = _json.field(obj, key, int, where)
    if amount < 0:
        raise DataFileError(f"{where}.{key}: negative amount {amount}")
    return amount


def tariff_to_json(tariff: Tariff) -> str:
    """The tariff as a file, deterministic (stable order, indent, final newline) so that it diffs well."""
    codes = sorted(tariff.stations)
    single = {
        payment.value: {o: {d: matrix[o, d] for d in codes if d != o} for o in codes}
        for payment, matrix in ((PaymentMethod.CASHLESS, tariff.cashless), (PaymentMethod.CASH, tariff.cash))
    }
    data = {
        "version": tariff.version,
        "effective_from": tariff.effective_from.isoformat(),
        "network_id": tariff.network_id,
        "currency": "VND",
        "single": single,
        "products": {p.value: tariff.product_prices[p] for p in FLAT_PRODUCTS if p in tariff.product_prices},
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def quote(
    tariff: Tariff,
    product: Product,
    origin: str | None = None,
    destination: str | None = None,
    payment: PaymentMethod = PaymentMethod.CASHLESS,
) -> Quote:
    """Price one unit of a product. SINGLE needs origin and destination; the others are flat.

    A flat product ignores any route and payment method given: a pass costs the same however it is paid.
    """
    if product == Product.SINGLE:
        if origin is None or destination is None:
            raise InvalidRoute("a single ticket needs an origin and a destination")
        amount = tariff.single_fare(origin, destination, payment)
        return Quote(amount, f"od-matrix {tariff.version} {payment.value} {origin}→{destination}")
    if product not in tariff.product_prices:
        raise UnknownProduct(f"tariff {tariff.version} has no price for {product!r}")
    return Quote(tariff.product_prices[product], f"flat {tariff.version} {product.value}")
