"""GTFS-Fares v2 from the tariff: what a ride costs from each station to each other, on each medium.

Choices the reference leaves to the producer (each also noted where it is made):

- Areas are the stations, one each (`area_id` = station code), so `fare_leg_rules` is the tariff's
  origin–destination matrix row for row.
- A single fare is a product per medium and amount: `single-qr-6000` (cashless: the QR ticket this service
  issues, the fare a gate checks) and `single-cash-7000` (the cash matrix, a paper ticket bought at a
  station). Each station pair names both, and a planner offers the rider the two.
- Period products (day, 3-day, monthly, student monthly, free ride) cover every leg, so each pair names
  them too: an empty `from_area_id` would not do, as the reference reads it as "every area not named
  elsewhere", and every area is named.
- Rider categories: `adult` is the default; products any rider may buy carry no category (the reference:
  "eligible for any rider category"); the student pass carries `student`, the free ride `priority`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fare_rules.gtfs.rows import (
    AreaRow,
    FareLegRuleRow,
    FareMediaRow,
    FareMediaType,
    FareProductRow,
    RiderCategoryRow,
    StopAreaRow,
    TranslationRow,
)
from fare_rules.network import Network
from fare_rules.products import PaymentMethod, Product
from fare_rules.tariff import Tariff

__all__ = [
    "CURRENCY",
    "MEDIA",
    "PERIOD_MEDIA",
    "PERIOD_RIDERS",
    "RIDER_CATEGORIES",
    "SINGLE_MEDIA",
    "Medium",
    "RiderCategory",
    "areas",
    "fare_leg_rules",
    "fare_media",
    "fare_products",
    "fare_translations",
    "rider_categories",
    "single_product_id",
    "stop_areas",
]

CURRENCY = "VND"  # ISO 4217: no minor unit, so an amount in GTFS's currency units is a whole number of đồng
_ENGLISH = "en"


@dataclass(frozen=True, slots=True)
class Medium:
    id: str
    name_vi: str
    name_en: str
    kind: FareMediaType


QR = Medium("qr", "Vé QR trên điện thoại", "QR ticket on a phone", FareMediaType.MOBILE_APP)
# The pass registry, not the card, holds the pass; the card is what the rider shows. Of the reference's kinds
# a physical card fits best (cEMV means open-loop bank cards, which this is not).
CCCD = Medium("cccd", "Căn cước công dân gắn chip (CCCD)", "Chip ID card (CCCD)", FareMediaType.TRANSIT_CARD)
# Our reading, not sourced: a cash fare buys a ticket at the station, which is paper, not one of ours.
CASH = Medium(
    "cash", "Vé giấy mua bằng tiền mặt", "Paper ticket bought with cash", FareMediaType.PAPER_TICKET
)
MEDIA = (QR, CCCD, CASH)
SINGLE_MEDIA: Mapping[PaymentMethod, Medium] = MappingProxyType(
    {PaymentMethod.CASHLESS: QR, PaymentMethod.CASH: CASH}
)
# Passes bound to a CCCD ride with the card or with their QR; free riders show a free-ride card or the CCCD
# (domain.md), and this service issues them no QR.
PERIOD_MEDIA: Mapping[Product, tuple[Medium, ...]] = MappingProxyType(
    {
        Product.DAY: (QR,),
        Product.THREE_DAY: (QR,),
        Product.MONTHLY: (QR, CCCD),
        Product.MONTHLY_STUDENT: (QR, CCCD),
        Product.FREE_PRIORITY: (CCCD,),
    }
)
_PERIOD_NAMES: Mapping[Product, tuple[str, str]] = MappingProxyType(
    {
        Product.DAY: ("Vé 1 ngày", "1-day pass"),
        Product.THREE_DAY: ("Vé 3 ngày", "3-day pass"),
        Product.MONTHLY: ("Vé tháng", "Monthly pass"),
        Product.MONTHLY_STUDENT: ("Vé tháng học sinh, sinh viên", "Monthly pass, pupils and students"),
        Product.FREE_PRIORITY: ("Miễn vé", "Free ride"),
    }
)


@dataclass(frozen=True, slots=True)
class RiderCategory:
    id: str
    name_vi: str
    name_en: str
    default: bool = False


ADULT = RiderCategory("adult", "Người lớn", "Adult", default=True)
STUDENT = RiderCategory("student", "Học sinh, sinh viên", "Pupils and students")
PRIORITY = RiderCategory(
    "priority",
    "Người được miễn vé: người có công với cách mạng, người khuyết tật, người từ 60 tuổi trở lên,"
    " trẻ em dưới 6 tuổi đi cùng người lớn",
    "Free riders: people with revolutionary merit, people with disabilities, people aged 60 and over,"
    " children under 6 with an adult",
)
RIDER_CATEGORIES = (ADULT, STUDENT, PRIORITY)
PERIOD_RIDERS: Mapping[Product, RiderCategory] = MappingProxyType(
    {Product.MONTHLY_STUDENT: STUDENT, Product.FREE_PRIORITY: PRIORITY}
)


def single_product_id(payment: PaymentMethod, amount_vnd: int) -> str:
    return f"single-{SINGLE_MEDIA[payment].id}-{amount_vnd}"


def fare_media() -> tuple[FareMediaRow, ...]:
    return tuple(FareMediaRow(m.id, m.name_vi, m.kind) for m in MEDIA)


def rider_categories() -> tuple[RiderCategoryRow, ...]:
    return tuple(RiderCategoryRow(c.id, c.name_vi, int(c.default)) for c in RIDER_CATEGORIES)


def _matrices(tariff: Tariff) -> Iterator[tuple[PaymentMethod, Mapping[tuple[str, str], int]]]:
    yield PaymentMethod.CASHLESS, tariff.cashless
    yield PaymentMethod.CASH, tariff.cash


def _periods(tariff: Tariff) -> tuple[Product, ...]:
    """The flat-priced products the tariff prices, in the products' own order."""
    return tuple(p for p in Product if p in tariff.product_prices)


def _single_name(payment: PaymentMethod, amount_vnd: int) -> tuple[str, str]:
    medium = "QR" if payment is PaymentMethod.CASHLESS else "tiền mặt"
    medium_en = "QR" if payment is PaymentMethod.CASHLESS else "cash"
    return (
        f"Vé lượt {amount_vnd:,} ₫ ({medium})".replace(",", "."),
        f"Single journey {amount_vnd:,} ₫ ({medium_en})",
    )


def _product_names(tariff: Tariff) -> dict[str, tuple[str, str]]:
    """Each product id with its Vietnamese and English names, singles first, cheapest first."""
    names = {
        single_product_id(payment, amount): _single_name(payment, amount)
        for payment, matrix in _matrices(tariff)
        for amount in sorted(set(matrix.values()))
    }
    return names | {p.value: _PERIOD_NAMES[p] for p in _periods(tariff)}


def fare_products(tariff: Tariff) -> tuple[FareProductRow, ...]:
    """Singles (one per medium and amount, any rider), then each period product once per medium."""
    names = _product_names(tariff)
    rows = []
    for payment, matrix in _matrices(tariff):
        for amount in sorted(set(matrix.values())):
            product_id = single_product_id(payment, amount)
            medium = SINGLE_MEDIA[payment].id
            rows.append(FareProductRow(product_id, names[product_id][0], medium, None, amount, CURRENCY))
    for product in _periods(tariff):
        rider = PERIOD_RIDERS[product].id if product in PERIOD_RIDERS else None
        price = tariff.product_prices[product]
        rows += [
            FareProductRow(product.value, names[product.value][0], medium.id, rider, price, CURRENCY)
            for medium in PERIOD_MEDIA[product]
        ]
    return tuple(rows)


def areas(network: Network) -> tuple[AreaRow, ...]:
    """One area per station: a fare in the tariff runs from a station to a station."""
    return tuple(AreaRow(s.code, s.name_vi) for s in network.stations)


def stop_areas(network: Network) -> tuple[StopAreaRow, ...]:
    return tuple(StopAreaRow(s.code, s.code) for s in network.stations)


def fare_leg_rules(network: Network, tariff: Tariff) -> tuple[FareLegRuleRow, ...]:
    """Every priced station pair, in line order, with each single (by medium) and each period product."""
    periods = [p.value for p in _periods(tariff)]
    rows = []
    for origin in network.stations:
        for destination in network.stations:
            pair = (origin.code, destination.code)
            if pair not in tariff.cashless:
                continue
            singles = [single_product_id(payment, matrix[pair]) for payment, matrix in _matrices(tariff)]
            rows += [FareLegRuleRow(network.id, *pair, product) for product in [*singles, *periods]]
    return tuple(rows)


def fare_translations(network: Network, tariff: Tariff) -> tuple[TranslationRow, ...]:
    """English names: by record where one id is the key, by value for fare_products (keyed by three)."""
    rows = [
        TranslationRow("fare_media", "fare_media_name", _ENGLISH, m.name_en, record_id=m.id) for m in MEDIA
    ]
    rows += [
        TranslationRow("rider_categories", "rider_category_name", _ENGLISH, c.name_en, record_id=c.id)
        for c in RIDER_CATEGORIES
    ]
    rows += [
        TranslationRow("areas", "area_name", _ENGLISH, s.name_en, record_id=s.code)
        for s in network.stations
        if s.name_en != s.name_vi
    ]
    rows += [
        TranslationRow("fare_products", "fare_product_name", _ENGLISH, en, field_value=vi)
        for vi, en in _product_names(tariff).values()
    ]
    return tuple(rows)
