from __future__ import annotations

import json
from datetime import time
from typing import Any

import pytest
from fare_rules_factories import CODES, NETWORK, shipped

from fare_rules import DataFileError, InvalidRoute, Network, Station, UnknownStation, load_network


def _network_file(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shipped("hcmc-line1.json"))
    data.update(changes)
    return data


def _with_station_change(index: int, **changes: Any) -> str:
    data = _network_file()
    data["stations"][index].update(changes)
    return json.dumps(data)


def _without_station_field(index: int, key: str) -> str:
    data = _network_file()
    del data["stations"][index][key]
    return json.dumps(data)


def _with_service_change(**changes: Any) -> str:
    data = _network_file()
    data["service"].update(changes)
    return json.dumps(data)


def test_the_shipped_line_has_fourteen_stations_in_line_order() -> None:
    assert tuple(f"L1-{i:02d}" for i in range(1, 15)) == CODES
    assert [s.number for s in NETWORK.stations] == list(range(101, 115))
    assert {s.line for s in NETWORK.stations} == {"L1"}


def test_the_shipped_line_runs_19_7_km_with_chainage_labelled_an_estimate() -> None:
    chainage = [s.chainage_km for s in NETWORK.stations]

    assert chainage[0] == 0.0
    assert chainage[-1] == 19.7
    assert chainage == sorted(chainage)
    assert NETWORK.chainage_is_estimate
    assert "estimate" in NETWORK.chainage_note


def test_the_shipped_stations_have_coordinates_in_ho_chi_minh_city_labelled_approximate() -> None:
    coordinates = [(s.lat, s.lon) for s in NETWORK.stations]

    assert all(lat is not None and 10.7 < lat < 10.9 for lat, _ in coordinates)
    assert all(lon is not None and 106.6 < lon < 106.9 for _, lon in coordinates)
    assert len(set(coordinates)) == len(coordinates)
    assert "Approximate" in NETWORK.coordinates_note


def test_the_shipped_line_names_its_operator_and_service_hours_with_what_is_nominal() -> None:
    operator, service = NETWORK.operator, NETWORK.service

    assert operator is not None
    assert (operator.timezone, operator.lang) == ("Asia/Ho_Chi_Minh", "vi")
    assert service is not None
    assert (service.start, service.end) == (time(5, 0), time(22, 0))
    assert "nominal" in service.note


def test_a_network_file_without_coordinates_operator_or_service_still_loads() -> None:
    data = {k: v for k, v in _network_file().items() if k not in {"operator", "service"}}
    for station in data["stations"]:
        del station["lat"], station["lon"]

    network = load_network(json.dumps(data))

    assert (network.operator, network.service, network.stations[0].lat) == (None, None, None)


@pytest.mark.parametrize(
    ("code", "name_vi", "name_en"),
    [
        ("L1-01", "Bến Thành", "Ben Thanh"),
        ("L1-02", "Nhà hát Thành phố", "Opera House"),
        ("L1-12", "Khu Công nghệ cao", "Hi-Tech Park"),
        ("L1-14", "Bến xe Suối Tiên", "Suoi Tien Terminal"),
    ],
)
def test_stations_carry_vietnamese_names_with_diacritics_and_english_names(
    code: str, name_vi: str, name_en: str
) -> None:
    station = NETWORK.station(code)

    assert (station.name_vi, station.name_en) == (name_vi, name_en)


def test_a_station_is_found_by_its_wire_number() -> None:
    assert NETWORK.by_number(105) == NETWORK.station("L1-05")


@pytest.mark.parametrize("lookup", [lambda: NETWORK.station("L2-01"), lambda: NETWORK.by_number(0)])
def test_an_unknown_station_is_an_error(lookup: Any) -> None:
    with pytest.raises(UnknownStation):
        lookup()


@pytest.mark.parametrize(
    ("origin", "destination", "hops"),
    [("L1-01", "L1-01", 0), ("L1-01", "L1-02", 1), ("L1-05", "L1-01", 4), ("L1-01", "L1-14", 13)],
)
def test_hops_count_the_segments_between_two_stations_either_way(
    origin: str, destination: str, hops: int
) -> None:
    assert NETWORK.hops(origin, destination) == hops


def test_hops_between_lines_are_refused_until_transfers_are_modelled() -> None:
    a = Station("A1", 1, "A", "A", 0.0, "L1")
    b = Station("B1", 2, "B", "B", 0.0, "L2")

    with pytest.raises(InvalidRoute):
        Network("x", "x", (a, b), chainage_is_estimate=False).hops("A1", "B1")


def test_the_shipped_file_round_trips_through_the_loader_unchanged() -> None:
    assert load_network(shipped("hcmc-line1.json")) == NETWORK


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[]", "top level"),
        ("{not json", "not valid JSON"),
        (json.dumps(_network_file(stations=[])), "network.stations"),
        (json.dumps({k: v for k, v in _network_file().items() if k != "id"}), "network.id"),
        (json.dumps(_network_file(chainage_is_estimate="yes")), "network.chainage_is_estimate"),
        (_with_station_change(2, number=True), r"network.stations\[2\].number"),
        (_with_station_change(2, number=70000), r"network.stations\[2\].number"),
        (_with_station_change(2, number=101), r"network.stations\[2\].number: duplicate"),
        (_with_station_change(2, code="L1-01"), r"network.stations\[2\].code: duplicate"),
        (_with_station_change(3, code=""), r"network.stations\[3\].code"),
        (_with_station_change(4, chainage_km=0.5), r"network.stations\[4\].chainage_km"),
        (_with_station_change(4, name_vi=None), r"network.stations\[4\].name_vi"),
        (_without_station_field(5, "lon"), r"network.stations\[5\].lon: missing"),
        (_with_station_change(5, lat=91.0), r"network.stations\[5\].lat"),
        (_with_station_change(5, lon="106.7"), r"network.stations\[5\].lon"),
        (json.dumps(_network_file(operator={"name": "x"})), "network.operator.url"),
        (_with_service_change(start="5am"), "network.service.start"),
        (_with_service_change(end="04:00"), "network.service.end"),
        (_with_service_change(headway_minutes=0), "network.service.headway_minutes"),
    ],
)
def test_a_bad_network_file_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(DataFileError, match=field):
        load_network(text)
