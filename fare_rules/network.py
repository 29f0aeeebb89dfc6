"""A metro network as data: stations in line order. Loaded from a file's contents, so new lines are data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from fare_rules import _json
from fare_rules.errors import DataFileError, InvalidRoute, UnknownStation

__all__ = ["Network", "Operator", "Service", "Station", "load_network"]

_MAX_WIRE_NUMBER = 0xFFFF  # uint16 in the signed ticket; 0 means "no station"


@dataclass(frozen=True, slots=True)
class Station:
    code: str  # "L1-05"
    number: int  # wire id in the signed ticket (uint16), unique in the network
    name_vi: str
    name_en: str
    chainage_km: float  # distance from the line's first station; see Network.chainage_is_estimate
    line: str
    # WGS84 degrees, where the network file gives them (both or neither); see Network.coordinates_note
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    """Who runs the network, as a timetable or trip planner names it."""

    name: str
    url: str
    timezone: str  # IANA name, e.g. "Asia/Ho_Chi_Minh"
    lang: str  # BCP 47, the language of the names in the file
    note: str = ""  # where these details come from


@dataclass(frozen=True, slots=True)
class Service:
    """When trains run, in outline: enough for a trip planner to place a ride, not a working timetable."""

    start: time  # first departure from each terminus
    end: time  # service ends: no departure from a terminus at or after this
    headway_minutes: int
    minutes_between_stations: int
    note: str = ""  # which of these figures are sourced and which are nominal


@dataclass(frozen=True, slots=True)
class Network:
    id: str  # "hcmc"
    name: str
    stations: tuple[Station, ...]  # in line order
    chainage_is_estimate: bool
    chainage_note: str = ""  # where the chainage figures come from, when they are estimates
    coordinates_note: str = ""  # where the stations' coordinates come from and how exact they are
    operator: Operator | None = None
    service: Service | None = None
    # Lookup tables derived from `stations`: a gate asks for stations on every scan.
    _by_code: Mapping[str, tuple[int, Station]] = field(init=False, repr=False, compare=False)
    _by_number: Mapping[int, Station] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code = {s.code: (i, s) for i, s in enumerate(self.stations)}
        by_number = {s.number: s for s in self.stations}
        if len(by_code) != len(self.stations) or len(by_number) != len(self.stations):
            raise ValueError("station codes and numbers must be unique in a network")
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_by_number", by_number)

    def station(self, code: str) -> Station:
        """The station with this code; UnknownStation if there is none."""
        return self._indexed(code)[1]

    def by_number(self, number: int) -> Station:
        """The station with this wire id; UnknownStation if there is none."""
        try:
            return self._by_number[number]
        except KeyError:
            raise UnknownStation(f"no station with number {number} in network {self.id}") from None

    def hops(self, origin: str, destination: str) -> int:
        """How many station-to-station segments lie between two stations of one line (0 for the same).

        InvalidRoute if they lie on different lines: transfers are not modelled yet.
        """
        i, a = self._indexed(origin)
        j, b = self._indexed(destination)
        if a.line != b.line:
            raise InvalidRoute(f"{origin} and {destination} are on different lines")
        return abs(i - j)

    def _indexed(self, code: str) -> tuple[int, Station]:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownStation(f"no such station in network {self.id}") from None


def load_network(text: str) -> Network:
    """Parse a network file (JSON). Raises DataFileError with the offending field on bad data."""
    data = _json.parse_object(text, "network")
    raw_stations = _json.field(data, "stations", list, "network")
    if not raw_stations:
        raise DataFileError("network.stations: empty")
    stations = tuple(_station(raw, f"network.stations[{i}]") for i, raw in enumerate(raw_stations))
    _check_unique(stations)
    _check_line_order(stations)
    return Network(
        id=_json.field(data, "id", str, "network"),
        name=_json.field(data, "name", str, "network"),
        stations=stations,
        chainage_is_estimate=_json.field(data, "chainage_is_estimate", bool, "network"),
        chainage_note=_json.check(data.get("chainage_note", ""), str, "network.chainage_note"),
        coordinates_note=_json.check(data.get("coordinates_note", ""), str, "network.coordinates_note"),
        operator=_operator(data["operator"]) if "operator" in data else None,
        service=_service(data["service"]) if "service" in data else None,
    )


def _station(raw: object, where: str) -> Station:
    obj: dict[str, Any] = _json.check(raw, dict, where)
    number = _json.field(obj, "number", int, where)
    if not 0 < number <= _MAX_WIRE_NUMBER:
        raise DataFileError(f"{where}.number: {number} is outside 1..{_MAX_WIRE_NUMBER}")
    station = Station(
        code=_json.field(obj, "code", str, where),
        number=number,
        name_vi=_json.field(obj, "name_vi", str, where),
        name_en=_json.field(obj, "name_en", str, where),
        chainage_km=_json.field(obj, "chainage_km", float, where),
        line=_json.field(obj, "line", str, where),
        **_coordinates(obj, where),
    )
    if not station.code:
        raise DataFileError(f"{where}.code: empty")
    return station


def _coordinates(obj: dict[str, Any], where: str) -> dict[str, float]:
    """`lat` and `lon` of a station, both or neither, each within its range."""
    bounds = {"lat": 90.0, "lon": 180.0}
    given = [key for key in bounds if key in obj]
    if not given:
        return {}
    if len(given) == 1:
        missing = "lon" if given == ["lat"] else "lat"
        raise DataFileError(f"{where}.{missing}: missing (lat and lon go together)")
    found = {key: _json.field(obj, key, float, where) for key in bounds}
    for key, bound in bounds.items():
        if not -bound <= found[key] <= bound:
            raise DataFileError(f"{where}.{key}: {found[key]} is outside -{bound}..{bound}")
    return found


def _operator(raw: object) -> Operator:
    where = "network.operator"
    obj: dict[str, Any] = _json.check(raw, dict, where)
    required = {key: _json.field(obj, key, str, where) for key in ("name", "url", "timezone", "lang")}
    return Operator(**required, note=_json.check(obj.get("note", ""), str, f"{where}.note"))


def _service(raw: object) -> Service:
    where = "network.service"
    obj: dict[str, Any] = _json.check(raw, dict, where)
    start, end = (
        _clock_time(_json.field(obj, key, str, where), f"{where}.{key}") for key in ("start", "end")
    )
    if end <= start:
        raise DataFileError(f"{where}.end: not after {where}.start")
    headway, between = (_minutes(obj, key, where) for key in ("headway_minutes", "minutes_between_stations"))
    return Service(start, end, headway, between, note=_json.check(obj.get("note", ""), str, f"{where}.note"))


def _minutes(obj: dict[str, Any], key: str, where: str) -> int:
    value = _json.field(obj, key, int, where)
    if value <= 0:
        raise DataFileError(f"{where}.{key}: {value} is not a positive number of minutes")
    return value


def _clock_time(text: str, where: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise DataFileError(f"{where}: {text!r} is not an HH:MM time") from None


def _check_unique(stations: tuple[Station, ...]) -> None:
    codes: set[str] = set()
    numbers: set[int] = set()
    for i, s in enumerate(stations):
        if s.code in codes:
            raise DataFileError(f"network.stations[{i}].code: duplicate {s.code!r}")
        if s.number in numbers:
            raise DataFileError(f"network.stations[{i}].number: duplicate {s.number}")
        codes.add(s.code)
        numbers.add(s.number)


def _check_line_order(stations: tuple[Station, ...]) -> None:
    """Stations are listed in line order, so chainage must rise along each line."""
    last: dict[str, float] = {}
    for i, s in enumerate(stations):
        if s.line in last and s.chainage_km <= last[s.line]:
            where = f"network.stations[{i}].chainage_km"
            raise DataFileError(f"{where}: not after the previous station of line {s.line}")
        last[s.line] = s.chainage_km
