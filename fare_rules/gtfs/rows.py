"""The rows of a GTFS feed, one frozen dataclass per file, and their text form.

Each dataclass's fields are its file's columns, named and ordered as in the GTFS reference (gtfs.org,
"Schedule Reference"). `None` is an empty field. `GtfsTable` is a file as text cells: what a shell writes
as CSV, with no quoting decided here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from enum import IntEnum
from typing import Any

__all__ = [
    "AgencyRow",
    "AreaRow",
    "CalendarRow",
    "FareLegRuleRow",
    "FareMediaRow",
    "FareMediaType",
    "FareProductRow",
    "FeedInfoRow",
    "FrequencyRow",
    "GtfsTable",
    "NetworkRow",
    "RiderCategoryRow",
    "RouteNetworkRow",
    "RouteRow",
    "StopAreaRow",
    "StopRow",
    "StopTimeRow",
    "TranslationRow",
    "TripRow",
    "cell",
    "table",
]


class FareMediaType(IntEnum):
    """`fare_media.fare_media_type`, as the reference numbers them."""

    NONE = 0  # no medium: e.g. cash paid with no ticket given
    PAPER_TICKET = 1
    TRANSIT_CARD = 2  # a physical card
    CEMV = 3  # contactless bank cards (open loop)
    MOBILE_APP = 4  # an app holding virtual tickets or passes


@dataclass(frozen=True, slots=True)
class AgencyRow:
    agency_id: str
    agency_name: str
    agency_url: str
    agency_timezone: str
    agency_lang: str


@dataclass(frozen=True, slots=True)
class StopRow:
    stop_id: str
    stop_code: str
    stop_name: str
    stop_lat: float
    stop_lon: float


@dataclass(frozen=True, slots=True)
class RouteRow:
    route_id: str
    agency_id: str
    route_short_name: str
    route_long_name: str
    route_type: int  # 1: subway, metro


@dataclass(frozen=True, slots=True)
class TripRow:
    route_id: str
    service_id: str
    trip_id: str
    trip_headsign: str
    direction_id: int


@dataclass(frozen=True, slots=True)
class StopTimeRow:
    trip_id: str
    arrival_time: time
    departure_time: time
    stop_id: str
    stop_sequence: int
    timepoint: int  # 0: the times are approximate


@dataclass(frozen=True, slots=True)
class CalendarRow:
    service_id: str
    monday: int
    tuesday: int
    wednesday: int
    thursday: int
    friday: int
    saturday: int
    sunday: int
    start_date: date
    end_date: date


@dataclass(frozen=True, slots=True)
class FrequencyRow:
    trip_id: str
    start_time: time
    end_time: time
    headway_secs: int
    exact_times: int  # 0: trains about every headway_secs, not to a schedule


@dataclass(frozen=True, slots=True)
class FeedInfoRow:
    feed_publisher_name: str
    feed_publisher_url: str
    feed_lang: str
    feed_start_date: date
    feed_end_date: date
    feed_version: str
    feed_contact_url: str


@dataclass(frozen=True, slots=True)
class TranslationRow:
    table_name: str
    field_name: str
    language: str
    translation: str
    record_id: str | None = None
    field_value: str | None = None  # for tables whose key is several columns: the text translated


@dataclass(frozen=True, slots=True)
class NetworkRow:
    network_id: str
    network_name: str


@dataclass(frozen=True, slots=True)
class RouteNetworkRow:
    network_id: str
    route_id: str


@dataclass(frozen=True, slots=True)
class AreaRow:
    area_id: str
    area_name: str


@dataclass(frozen=True, slots=True)
class StopAreaRow:
    area_id: str
    stop_id: str


@dataclass(frozen=True, slots=True)
class FareMediaRow:
    fare_media_id: str
    fare_media_name: str
    fare_media_type: FareMediaType


@dataclass(frozen=True, slots=True)
class RiderCategoryRow:
    rider_category_id: str
    rider_category_name: str
    is_default_fare_category: int  # 1 for the one category a planner shows unless told otherwise


@dataclass(frozen=True, slots=True)
class FareProductRow:
    fare_product_id: str
    fare_product_name: str
    fare_media_id: str
    rider_category_id: str | None  # None: any rider may buy it
    amount: int  # whole đồng: ISO 4217 gives VND no minor unit, so GTFS's "currency units" are đồng
    currency: str


@dataclass(frozen=True, slots=True)
class FareLegRuleRow:
    network_id: str
    from_area_id: str
    to_area_id: str
    fare_product_id: str


@dataclass(frozen=True, slots=True)
class GtfsTable:
    """One file of a feed: its name, its header and its rows as text cells."""

    name: str  # "fare_products.txt"
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def cell(value: object) -> str:
    """A value as GTFS writes it: dates YYYYMMDD, times HH:MM:SS, enums by number, None empty."""
    if value is None:
        return ""
    if isinstance(value, IntEnum):
        return str(int(value))
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return str(value)  # str, int; a float's shortest round-tripping form


def table(name: str, row_type: type[Any], rows: Sequence[Any]) -> GtfsTable:
    """The file `name` holding `rows`, all of the dataclass `row_type`, whose fields are its columns."""
    columns = tuple(f.name for f in dataclasses.fields(row_type))
    for row in rows:
        if type(row) is not row_type:
            raise TypeError(f"{name}: a {type(row).__name__} is not a {row_type.__name__}")
    return GtfsTable(name, columns, tuple(tuple(cell(getattr(row, c)) for c in columns) for row in rows))
