"""A metro network as data: stations in line order. Loaded from a file's contents, so new lines are data."""

from __future__ import annotations

from dataclasses import dataclass

from fare_rules.errors import UnknownStation

__all__ = ["Network", "Station", "load_network"]


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

    def station(self, code: str) -> Station:
        """The station with this code; UnknownStation if there is none."""
        raise NotImplementedError

    def by_number(self, number: int) -> Station:
        """The station with this wire id; UnknownStation if there is none."""
        raise NotImplementedError

    def hops(self, origin: str, destination: str) -> int:
        """How many station-to-station segments lie between two stations of one line (0 for the same)."""
        raise NotImplementedError


def load_network(text: str) -> Network:
    """Parse a network file (JSON). Raises NetworkFileError with the offending field on bad data."""
    raise NotImplementedError
