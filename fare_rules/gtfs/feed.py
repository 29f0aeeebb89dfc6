"""A whole GTFS feed with GTFS-Fares v2, built from the network and the tariff. Pure: the day it starts on
is passed in, and the files come back as rows and text cells for a shell to write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fare_rules.gtfs import fares, schedule
from fare_rules.gtfs.rows import (
    AgencyRow,
    AreaRow,
    CalendarRow,
    FareLegRuleRow,
    FareMediaRow,
    FareProductRow,
    FeedInfoRow,
    FrequencyRow,
    GtfsTable,
    NetworkRow,
    RiderCategoryRow,
    RouteNetworkRow,
    RouteRow,
    StopAreaRow,
    StopRow,
    StopTimeRow,
    TranslationRow,
    TripRow,
    table,
)
from fare_rules.network import Network
from fare_rules.tariff import Tariff

__all__ = ["FEED_DAYS", "GtfsFeed", "build_feed"]

# How far ahead the feed's calendar runs. The tariff has no end date: a new tariff is a new feed, and a
# planner fetching the feed daily always holds a year ahead.
FEED_DAYS = 365


@dataclass(frozen=True, slots=True)
class GtfsFeed:
    """Every file of the feed as typed rows; `tables()` gives them as text, in the order listed here."""

    agency: tuple[AgencyRow, ...]
    stops: tuple[StopRow, ...]
    routes: tuple[RouteRow, ...]
    trips: tuple[TripRow, ...]
    stop_times: tuple[StopTimeRow, ...]
    calendar: tuple[CalendarRow, ...]
    frequencies: tuple[FrequencyRow, ...]
    feed_info: tuple[FeedInfoRow, ...]
    networks: tuple[NetworkRow, ...]
    route_networks: tuple[RouteNetworkRow, ...]
    areas: tuple[AreaRow, ...]
    stop_areas: tuple[StopAreaRow, ...]
    fare_media: tuple[FareMediaRow, ...]
    rider_categories: tuple[RiderCategoryRow, ...]
    fare_products: tuple[FareProductRow, ...]
    fare_leg_rules: tuple[FareLegRuleRow, ...]
    translations: tuple[TranslationRow, ...]

    def tables(self) -> tuple[GtfsTable, ...]:
        """Each file as text cells, named `<field>.txt`, its columns its row type's fields."""
        return tuple(table(f"{name}.txt", _ROW_TYPES[name], getattr(self, name)) for name in _ROW_TYPES)


_ROW_TYPES: dict[str, type] = {
    "agency": AgencyRow,
    "stops": StopRow,
    "routes": RouteRow,
    "trips": TripRow,
    "stop_times": StopTimeRow,
    "calendar": CalendarRow,
    "frequencies": FrequencyRow,
    "feed_info": FeedInfoRow,
    "networks": NetworkRow,
    "route_networks": RouteNetworkRow,
    "areas": AreaRow,
    "stop_areas": StopAreaRow,
    "fare_media": FareMediaRow,
    "rider_categories": RiderCategoryRow,
    "fare_products": FareProductRow,
    "fare_leg_rules": FareLegRuleRow,
    "translations": TranslationRow,
}


def build_feed(network: Network, tariff: Tariff, on: date, days: int = FEED_DAYS) -> GtfsFeed:
    """The feed as of the local date `on`, its calendar running `days` days from `on` (or from the tariff's
    effective date, if that is later). DataFileError if the network lacks what a feed needs (an operator,
    service hours, coordinates)."""
    if tariff.network_id != network.id:
        raise ValueError(f"tariff {tariff.version} prices network {tariff.network_id!r}, not {network.id!r}")
    first = max(on, tariff.effective_from)
    last = first + timedelta(days=days - 1)
    version = f"tariff {tariff.version}, from {first.isoformat()}"
    routes = schedule.routes(network)
    return GtfsFeed(
        agency=schedule.agency(network),
        stops=schedule.stops(network),
        routes=routes,
        trips=schedule.trips(network),
        stop_times=schedule.stop_times(network),
        calendar=schedule.calendar(first, last),
        frequencies=schedule.frequencies(network),
        feed_info=schedule.feed_info(network, first, last, version),
        networks=schedule.networks(network),
        route_networks=schedule.route_networks(network, routes),
        areas=fares.areas(network),
        stop_areas=fares.stop_areas(network),
        fare_media=fares.fare_media(),
        rider_categories=fares.rider_categories(),
        fare_products=fares.fare_products(tariff),
        fare_leg_rules=fares.fare_leg_rules(network, tariff),
        translations=schedule.stop_translations(network) + fares.fare_translations(network, tariff),
    )
