"""A metro network as data: stations in line order. Loaded from a file's contents, so new lines are data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fare_rules import _json
from fare_rules.errors import DataFileError, InvalidRoute, UnknownStation

__all__ = ["Network", "Station", "load_network"]

_MAX_WIRE_NUMBER = 0xFFFF  # uint16 in the signed ticket; 0 means "no station"


@dataclass(frozen=True, slots=True)
class Station:
    code: str  # "L1-05"
    number: int  # wire id in the signed ticket (uint16), unique in the network
    name_vi: str
    name_en: str
    chainage_km: float  # distance from the line's first station; see Network.chainage_is_estimate
    line: str


@dataclass(frozen=True, slots=True)
class Network:
    id: str  # "hcmc"
    name: str
    stations: tuple[Station, ...]  # in line order
    chainage_is_estimate: bool
    chainage_note: str = ""  # where the chainage figures come from, when they are estimates
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
    )
    if not station.code:
        raise DataFileError(f"{where}.code: empty")
    return station


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
