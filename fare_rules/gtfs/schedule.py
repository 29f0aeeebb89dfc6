"""The base GTFS files a feed needs to stand on its own: who runs it, the stations, the line and an outline
of its service. The service is `Network.service`: its hours are sourced, its headway and running times
nominal (the network file says which), so trips are frequency-based (`exact_times=0`) and approximate
(`timepoint=0`), never a timetable to the minute."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from fare_rules.errors import DataFileError
from fare_rules.gtfs.rows import (
    AgencyRow,
    CalendarRow,
    FeedInfoRow,
    FrequencyRow,
    NetworkRow,
    RouteNetworkRow,
    RouteRow,
    StopRow,
    StopTimeRow,
    TranslationRow,
    TripRow,
)
from fare_rules.network import Network, Operator, Service, Station

__all__ = [
    "METRO",
    "SERVICE_ID",
    "agency",
    "calendar",
    "feed_info",
    "frequencies",
    "lines",
    "networks",
    "operator_of",
    "route_networks",
    "routes",
    "service_of",
    "stop_times",
    "stop_translations",
    "stops",
    "trips",
]

METRO = 1  # routes.route_type: subway, metro
SERVICE_ID = "daily"
_ENGLISH = "en"


def operator_of(network: Network) -> Operator:
    if network.operator is None:
        raise DataFileError("network.operator: missing, and a GTFS feed must name its agency")
    return network.operator


def service_of(network: Network) -> Service:
    if network.service is None:
        raise DataFileError("network.service: missing, and a GTFS feed needs its service hours")
    return network.service


def lines(network: Network) -> dict[str, tuple[Station, ...]]:
    """Each line's stations in line order, lines in the order the network file first names them."""
    found: dict[str, list[Station]] = {}
    for station in network.stations:
        found.setdefault(station.line, []).append(station)
    return {line: tuple(stations) for line, stations in found.items()}


def agency(network: Network) -> tuple[AgencyRow, ...]:
    o = operator_of(network)
    return (AgencyRow(network.id, o.name, o.url, o.timezone, o.lang),)


def stops(network: Network) -> tuple[StopRow, ...]:
    rows = []
    for i, s in enumerate(network.stations):
        if s.lat is None or s.lon is None:
            raise DataFileError(f"network.stations[{i}].lat: missing, and a GTFS stop needs its coordinates")
        rows.append(StopRow(s.code, s.code, s.name_vi, s.lat, s.lon))
    return tuple(rows)


def stop_translations(network: Network) -> tuple[TranslationRow, ...]:
    return tuple(
        TranslationRow("stops", "stop_name", _ENGLISH, s.name_en, record_id=s.code)
        for s in network.stations
        if s.name_en != s.name_vi
    )


def routes(network: Network) -> tuple[RouteRow, ...]:
    return tuple(
        RouteRow(line, network.id, line, f"{stations[0].name_vi} – {stations[-1].name_vi}", METRO)
        for line, stations in lines(network).items()
    )


def _directions(stations: tuple[Station, ...]) -> tuple[tuple[int, tuple[Station, ...]], ...]:
    """Direction 0 runs in line order from the first station, direction 1 back."""
    return (0, stations), (1, stations[::-1])


def trips(network: Network) -> tuple[TripRow, ...]:
    return tuple(
        TripRow(line, SERVICE_ID, f"{line}-{direction}", run[-1].name_vi, direction)
        for line, stations in lines(network).items()
        for direction, run in _directions(stations)
    )


def stop_times(network: Network) -> tuple[StopTimeRow, ...]:
    """One template run per direction from the service's start; frequencies.txt repeats it."""
    service = service_of(network)
    rows = []
    for line, stations in lines(network).items():
        for direction, run in _directions(stations):
            for i, station in enumerate(run):
                at = _after(service.start, minutes=i * service.minutes_between_stations)
                rows.append(StopTimeRow(f"{line}-{direction}", at, at, station.code, i + 1, 0))
    return tuple(rows)


def _after(start: time, minutes: int) -> time:
    moment = datetime.combine(date.min, start) + timedelta(minutes=minutes)
    if moment.date() != date.min:
        raise DataFileError("network.service: a run from the start would end after midnight")
    return moment.time()


def frequencies(network: Network) -> tuple[FrequencyRow, ...]:
    service = service_of(network)
    headway = service.headway_minutes * 60
    return tuple(FrequencyRow(t.trip_id, service.start, service.end, headway, 0) for t in trips(network))


def calendar(first: date, last: date) -> tuple[CalendarRow, ...]:
    """Trains every day of the week, from `first` to `last` inclusive."""
    return (CalendarRow(SERVICE_ID, 1, 1, 1, 1, 1, 1, 1, start_date=first, end_date=last),)


def feed_info(network: Network, first: date, last: date, version: str) -> tuple[FeedInfoRow, ...]:
    o = operator_of(network)
    return (FeedInfoRow(o.name, o.url, o.lang, first, last, version, feed_contact_url=o.url),)


def networks(network: Network) -> tuple[NetworkRow, ...]:
    return (NetworkRow(network.id, network.name),)


def route_networks(network: Network, route_rows: Sequence[RouteRow]) -> tuple[RouteNetworkRow, ...]:
    return tuple(RouteNetworkRow(network.id, r.route_id) for r in route_rows)
