"""Audits on both engines: trips kept at ingest, scans and trips by filter, pages, CSV, reports, anomalies,
who may read them, and what bad input gets back."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select
from support.audit import at, auditor_token, get, journal, pass_use, ticket_use
from support.gate_sync import enrolled_gate, post_batch
from support.issuing import HOLDER, Api, bearer, monthly, single

from fare_rules.cccd import holder_hash
from ticketing.audit.query import iso
from ticketing.db import make_engine
from ticketing.models import Trip

CCCD_KEY = b"test-cccd-key-0123456789"


def _trips(api: Api) -> list[Trip]:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        rows = list(session.exec(select(Trip).order_by(Trip.started_at)).all())  # type: ignore[arg-type]
    engine.dispose()
    return rows


def _count_trips(api: Api) -> int:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Trip)).one()
    engine.dispose()
    return int(total)


@pytest.fixture
def token(api: Api) -> str:
    return auditor_token(api)


# --- trips ----------------------------------------------------------------------------------------------


def test_an_entry_and_its_exit_become_one_trip_with_fare_duration_and_stations(
    api: Api, tmp_path: Path, token: str
) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    entry, exit_ = journal(api, tmp_path, "L1-01", "E01"), journal(api, tmp_path, "L1-05", "X05")
    entry.add("entry", at(0), **ticket_use(ticket))
    exit_.add("exit", at(17), **ticket_use(ticket))
    entry.upload()
    exit_.upload()

    trips = get(api, "trips", token, ticket=ticket["serial"]).json()["items"]

    assert [(t["status"], t["origin"], t["destination"], t["duration_s"], t["fare_vnd"]) for t in trips] == [
        ("complete", "L1-01", "L1-05", 17 * 60, ticket["fare_vnd"])
    ]


def test_an_exit_that_arrives_first_is_an_orphan_until_its_entry_arrives(api: Api, tmp_path: Path) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    entry, exit_ = journal(api, tmp_path, "L1-01", "E01"), journal(api, tmp_path, "L1-05", "X05")
    exit_.add("exit", at(20), flags=["entry_unseen"], **ticket_use(ticket))
    exit_.upload()
    before = [(t.status, t.exit_station) for t in _trips(api)]
    entry.add("entry", at(0), **ticket_use(ticket))
    entry.upload()

    after = [(t.status, t.entry_station, t.exit_station, t.duration_s) for t in _trips(api)]

    assert before == [("orphan_exit", "L1-05")]
    assert after == [("complete", "L1-01", "L1-05", 20 * 60)]


@pytest.mark.parametrize("second_first", [False, True], ids=["in_order", "second_exit_uploaded_first"])
def test_a_second_exit_of_a_trip_at_another_gate_is_a_repeated_exit_not_an_orphan(
    api: Api, tmp_path: Path, token: str, second_first: bool
) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    entry = journal(api, tmp_path, "L1-01", "E01")
    first, second = journal(api, tmp_path, "L1-05", "X05"), journal(api, tmp_path, "L1-05", "X05B")
    entry.add("entry", at(0), **ticket_use(ticket))
    first.add("exit", at(17), **ticket_use(ticket))
    second.add("exit", at(19), **ticket_use(ticket))
    entry.upload()
    for gate in (second, first) if second_first else (first, second):
        gate.upload()

    trips = get(api, "trips", token, ticket=ticket["serial"]).json()["items"]
    found = get(api, "anomalies", token, **DAY).json()["anomalies"]

    assert sorted((t["status"], t["origin"], t["destination"]) for t in trips) == [
        ("complete", "L1-01", "L1-05"),
        ("repeated_exit", None, "L1-05"),
    ]
    assert found["entry_unseen"]["count"] == 0
    [repeat] = found["repeated_exit"]["items"]
    assert (repeat["credential"], repeat["station"], repeat["repeats"]["origin"]) == (
        f"t:{ticket['serial']}",
        "L1-05",
        "L1-01",
    )
    assert {repeat["gate"], repeat["repeats"]["exit_gate"]} == {"X05", "X05B"}


def test_an_exit_long_after_a_complete_trip_is_an_orphan_not_a_repeat(
    api: Api, tmp_path: Path, token: str
) -> None:
    card = api.paid_order(monthly())["tickets"][0]
    use = pass_use(card, holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    home, work = journal(api, tmp_path, "L1-14", "G14"), journal(api, tmp_path, "L1-01", "G01")
    home.add("entry", at(0), **use)
    work.add("exit", at(40), **use)
    home.add("exit", at(600), **use)  # its entry lost: ten hours on, not the same ride
    work.upload()
    home.upload()

    found = get(api, "anomalies", token, **DAY).json()["anomalies"]

    assert (found["entry_unseen"]["count"], found["repeated_exit"]["count"]) == (1, 0)


def test_an_entry_without_exit_stays_an_open_trip(api: Api, tmp_path: Path, token: str) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    entry = journal(api, tmp_path, "L1-01", "E01")
    entry.add("entry", at(0), **ticket_use(ticket))
    entry.upload()

    trips = get(api, "trips", token, status="open").json()["items"]

    assert [(t["origin"], t["destination"], t["exit_at"]) for t in trips] == [("L1-01", None, None)]


def test_a_batch_sent_twice_makes_its_scans_and_trips_once(api: Api, tmp_path: Path, token: str) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add("entry", at(0), **ticket_use(ticket))
    gate.add("entry", at(1), verdict="deny", reason="already_inside", **ticket_use(ticket))
    events = list(gate.pending)
    gate.upload()

    again = post_batch(gate.gate, events)
    scans = get(api, "scans", token).json()["items"]

    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert [(s["seq"], s["verdict"]) for s in scans] == [(1, "accept"), (2, "deny")]
    assert _count_trips(api) == 1


def test_a_pass_rides_twice_in_a_day_as_two_trips(api: Api, tmp_path: Path, token: str) -> None:
    ticket = api.paid_order(monthly())["tickets"][0]
    use = pass_use(ticket, holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    home, work = journal(api, tmp_path, "L1-14", "G14"), journal(api, tmp_path, "L1-01", "G01")
    home.add("entry", at(0), **use)
    work.add("exit", at(40), **use)
    work.add("entry", at(540), **use)
    home.add("exit", at(580), **use)
    work.upload()
    home.upload()

    trips = get(api, "trips", token, cccd_header=HOLDER["cccd"]).json()["items"]

    assert [(t["origin"], t["destination"], t["fare_vnd"], t["cccd"]) for t in trips] == [
        ("L1-14", "L1-01", 0, "0793******34"),
        ("L1-01", "L1-14", 0, "0793******34"),
    ]


# --- scans by filter, pages, CSV ------------------------------------------------------------------------


@pytest.fixture
def morning(api: Api, tmp_path: Path) -> dict[str, Any]:
    """Bến Thành G1 and G2 and Tân Cảng X5: three riders, one refusal, one pass holder, 07:00-08:00 local."""
    order = api.paid_order(single("L1-01", "L1-05", quantity=2))
    pass_ticket = api.paid_order(monthly())["tickets"][0]
    t1, t2 = order["tickets"]
    use = pass_use(pass_ticket, holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    g1, g2 = journal(api, tmp_path, "L1-01", "G1"), journal(api, tmp_path, "L1-01", "G2")
    x5 = journal(api, tmp_path, "L1-05", "X5")
    g1.add("entry", at(-110), **ticket_use(t1))  # 07:10
    g2.add("entry", at(-100), **ticket_use(t2))  # 07:20
    g2.add("entry", at(-95), input="other", verdict="deny", reason="not_our_code")
    g2.add("entry", at(-30), **use)  # 08:30: outside 07:00-08:00
    x5.add("exit", at(-90), **ticket_use(t1))
    x5.add("exit", at(-80), **ticket_use(t2))
    for gate in (g1, g2, x5):
        gate.upload()
    return {"order": order, "t1": t1, "t2": t2, "pass": pass_ticket, "g2": g2}


def test_who_went_through_gate_g2_at_ben_thanh_between_seven_and_eight(
    api: Api, morning: dict[str, Any], token: str
) -> None:
    answer = get(api, "scans", token, gate="G2", **{"from": "2025-03-03T07:00", "to": "2025-03-03T08:00"})

    assert answer.status_code == 200
    assert [(s["at"], s["verdict"], s["credential"]) for s in answer.json()["items"]] == [
        ("2025-03-03T00:20:00Z", "accept", f"t:{morning['t2']['serial']}"),
        ("2025-03-03T00:25:00Z", "deny", None),
    ]


def test_what_a_ticket_did_and_what_an_order_did(api: Api, morning: dict[str, Any], token: str) -> None:
    by_ticket = get(api, "scans", token, ticket=morning["t1"]["serial"]).json()["items"]
    by_order = get(api, "scans", token, order=morning["order"]["id"]).json()["items"]

    assert [(s["station"], s["direction"]) for s in by_ticket] == [("L1-01", "entry"), ("L1-05", "exit")]
    assert len(by_order) == 4
    assert {s["ticket_serial"] for s in by_order} == {morning["t1"]["serial"], morning["t2"]["serial"]}


def test_what_a_cccd_holder_rode_shows_the_number_masked_only(
    api: Api, morning: dict[str, Any], token: str
) -> None:
    answer = get(api, "scans", token, cccd_header=HOLDER["cccd"])

    assert [(s["station"], s["cccd"], s["product"]) for s in answer.json()["items"]] == [
        ("L1-01", "0793******34", "monthly")
    ]
    assert HOLDER["cccd"] not in answer.text


def test_refusals_by_verdict_and_reason(api: Api, morning: dict[str, Any], token: str) -> None:
    denied = get(api, "scans", token, verdict="deny").json()["items"]
    by_reason = get(api, "scans", token, reason="not_our_code", station="L1-01").json()["items"]

    assert [(s["gate"], s["reason"]) for s in denied] == [("G2", "not_our_code")]
    assert by_reason == denied


def test_pages_walk_every_scan_once_while_new_events_arrive(
    api: Api, morning: dict[str, Any], token: str
) -> None:
    first = get(api, "scans", token, limit=2).json()
    g2 = morning["g2"]
    g2.add("entry", at(-200), input="other", verdict="deny", reason="not_our_code")  # late, before the cursor
    g2.add("entry", at(60), input="other", verdict="deny", reason="not_our_code")  # after everything
    g2.upload()
    rest: list[dict[str, Any]] = []
    cursor = first["next"]
    while cursor:
        page = get(api, "scans", token, limit=2, cursor=cursor).json()
        rest += page["items"]
        cursor = page["next"]

    walked = [(s["gate"], s["seq"]) for s in first["items"] + rest]
    assert len(walked) == len(set(walked)) == 7
    assert ("G2", 4) not in walked  # arrived late with an earlier time: the next walk shows it
    assert walked[-1] == ("G2", 5)


def test_csv_streams_every_matching_scan(api: Api, morning: dict[str, Any], token: str) -> None:
    answer = get(api, "scans", token, station="L1-01", format="csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))

    assert answer.headers["content-type"].startswith("text/csv")
    assert [(r["gate"], r["seq"], r["verdict"]) for r in rows] == [
        ("G1", "1", "accept"),
        ("G2", "1", "accept"),
        ("G2", "2", "deny"),
        ("G2", "3", "accept"),
    ]


def test_trips_csv_has_origin_destination_and_fare(api: Api, morning: dict[str, Any], token: str) -> None:
    rows = list(csv.DictReader(io.StringIO(get(api, "trips", token, format="csv").text)))

    assert [(r["origin"], r["destination"], r["status"]) for r in rows] == [
        ("L1-01", "L1-05", "complete"),
        ("L1-01", "L1-05", "complete"),
        ("L1-01", "", "open"),
    ]
    assert rows[0]["fare_vnd"] == str(morning["t1"]["fare_vnd"])


def test_csv_cells_a_gate_wrote_as_formulas_open_as_text_in_a_spreadsheet(
    api: Api, tmp_path: Path, token: str
) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add(
        "entry",
        at(0),
        verdict="deny",
        reason='=HYPERLINK("http://x")',
        flags=["@SUM(1)"],
        **ticket_use(ticket),
    )
    gate.add("entry", at(1), verdict="deny", reason="+1", flags=["-2", "\tx"], **ticket_use(ticket))
    gate.upload()

    rows = list(csv.DictReader(io.StringIO(get(api, "scans", token, format="csv").text)))
    passback = list(
        csv.DictReader(
            io.StringIO(
                get(api, "anomalies", token, format="csv", **{"from": "2025-03-03", "to": "2025-03-04"}).text
            )
        )
    )

    assert [(r["reason"], r["flags"]) for r in rows] == [
        ('\'=HYPERLINK("http://x")', "'@SUM(1)"),
        ("'+1", "'\tx|-2"),
    ]
    cells = [cell for row in rows + passback for cell in row.values() if cell]
    assert not [cell for cell in cells if cell[0] in "=+-@\t\r"]


def test_scans_a_gate_recorded_with_its_clock_off_show_the_time_corrected_by_its_measured_offset(
    api: Api, tmp_path: Path, token: str
) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add("entry", at(0), flags=["clock_suspect"], **ticket_use(ticket))  # the gate's clock 10 min slow
    gate.add("entry", at(1), verdict="deny", reason="already_inside", **ticket_use(ticket))
    post_batch(gate.gate, gate.pending, clock_offset_seconds=600.4)

    scans = get(api, "scans", token).json()["items"]
    rows = list(csv.DictReader(io.StringIO(get(api, "scans", token, format="csv").text)))

    assert [(s["clock_suspect"], s["clock_offset_s"], s["corrected_at"]) for s in scans] == [
        (True, 600, iso(at(10))),
        (False, 600, None),
    ]
    assert [(r["clock_suspect"], r["corrected_at"]) for r in rows] == [("true", iso(at(10))), ("false", "")]


@pytest.mark.parametrize("offset", [True, "600", 10**12, -1e300], ids=["bool", "text", "huge", "huge_float"])
def test_a_batch_whose_clock_offset_is_not_a_number_of_seconds_is_refused_and_stores_nothing(
    api: Api, tmp_path: Path, offset: Any
) -> None:
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add("entry", at(0), verdict="deny", reason="not_our_code", input="other")

    answer = post_batch(gate.gate, gate.pending, clock_offset_seconds=offset)

    assert (answer.status_code, answer.json()["code"]) == (400, "bad_format")
    assert _count_trips(api) == 0
    assert get(api, "scans", auditor_token(api)).json()["items"] == []


# --- reports --------------------------------------------------------------------------------------------

DAY = {"from": "2025-03-03", "to": "2025-03-04"}


def test_ridership_counts_entries_exits_and_denials_per_station_and_hour(
    api: Api, morning: dict[str, Any], token: str
) -> None:
    rows = get(api, "reports/ridership", token, **DAY).json()["rows"]

    assert rows == [
        {"station": "L1-01", "hour": "2025-03-03T07:00+07:00", "entries": 2, "exits": 0, "denials": 1},
        {"station": "L1-05", "hour": "2025-03-03T07:00+07:00", "entries": 0, "exits": 2, "denials": 0},
        {"station": "L1-01", "hour": "2025-03-03T08:00+07:00", "entries": 1, "exits": 0, "denials": 0},
    ]


@pytest.mark.parametrize("settings_overrides", [{"policy": {"utc_offset_hours": 9}}], indirect=True)
def test_audit_times_are_local_as_the_operators_policy_says(api: Api, tmp_path: Path, token: str) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    gate = journal(api, tmp_path, "L1-01", "E01")
    gate.add("entry", at(0), **ticket_use(ticket))  # 02:00 UTC: 11:00 at UTC+9
    gate.upload()

    by_hour = get(api, "reports/ridership", token, **{"from": "2025-03-03", "to": "2025-03-04"}).json()[
        "rows"
    ]
    by_day = get(api, "reports/ridership", token, bucket="day", **{"from": "2025-03-03", "to": "2025-03-04"})
    naive = get(api, "scans", token, **{"from": "2025-03-03T10:59", "to": "2025-03-03T11:01"}).json()["items"]

    assert [(r["hour"], r["entries"]) for r in by_hour] == [("2025-03-03T11:00+09:00", 1)]
    assert [(r["day"], r["entries"]) for r in by_day.json()["rows"]] == [("2025-03-03", 1)]
    assert len(naive) == 1  # a time without offset is read at UTC+9


def test_od_matrix_counts_trips_and_their_fares(api: Api, morning: dict[str, Any], token: str) -> None:
    rows = get(api, "reports/od", token, **DAY).json()["rows"]

    fare = morning["t1"]["fare_vnd"]
    assert rows == [
        {"origin": "L1-01", "destination": "L1-05", "trips": 2, "fare_vnd": 2 * fare, "avg_duration_s": 1200}
    ]


def test_revenue_shows_what_was_sold_next_to_what_was_ridden(
    api: Api, morning: dict[str, Any], token: str
) -> None:
    rows = get(api, "reports/revenue", token, **{"from": "2025-03-02", "to": "2025-03-04"}).json()["rows"]
    by_key = {(r["product"], r["station"]): r for r in rows}

    fare = morning["t1"]["fare_vnd"]
    single_row = by_key[("single", "L1-01")]
    assert (single_row["tickets_sold"], single_row["sold_vnd"], single_row["trips"]) == (2, 2 * fare, 2)
    assert single_row["fares_ridden_vnd"] == 2 * fare
    assert (by_key[("monthly", "")]["tickets_sold"], by_key[("monthly", "L1-01")]["trips"]) == (1, 1)


@pytest.mark.parametrize("kind", ["ridership", "od", "revenue", "denials"])
def test_a_report_with_no_rows_as_csv_still_names_its_columns(api: Api, token: str, kind: str) -> None:
    answer = get(api, f"reports/{kind}", token, format="csv", **DAY)
    json_rows = get(api, f"reports/{kind}", token, **DAY).json()["rows"]

    header = next(csv.reader(io.StringIO(answer.text)))
    assert json_rows == []
    assert answer.text == ",".join(header) + "\r\n"
    assert (
        header[:2]
        == {
            "ridership": ["station", "hour"],
            "od": ["origin", "destination"],
            "revenue": ["product", "station"],
            "denials": ["reason", "station"],
        }[kind]
    )


def test_denials_by_reason_station_and_gate(api: Api, morning: dict[str, Any], token: str) -> None:
    rows = get(api, "reports/denials", token, **DAY).json()["rows"]

    assert rows == [{"reason": "not_our_code", "station": "L1-01", "gate": "G2", "denials": 1}]


# --- anomalies ------------------------------------------------------------------------------------------


def test_passback_counts_the_refusals_of_a_range_off_the_hour_and_lists_the_first_of_each_reason(
    api: Api, tmp_path: Path, token: str
) -> None:
    tickets = api.paid_order(single("L1-01", "L1-05", quantity=4))["tickets"]
    gate = journal(api, tmp_path, "L1-01", "P1")
    refusals = [
        (-50, "already_inside"),
        (-10, "reentry_too_soon"),
        (15, "already_inside"),
        (70, "already_inside"),
    ]
    for (minute, reason), ticket in zip(refusals, tickets, strict=True):  # 08:10, 08:50, 09:15, 10:10
        gate.add("entry", at(minute), verdict="deny", reason=reason, **ticket_use(ticket))
    gate.add("entry", at(20), verdict="deny", reason="expired", **ticket_use(tickets[0]))
    gate.upload()
    # 08:30 to 10:15 local: an edge before 09:00, whole hours from the counts, an edge after 10:00.
    found = get(api, "anomalies", token, kind="passback", **{"from": _local(-30), "to": _local(75)}).json()

    passback = found["anomalies"]["passback"]
    assert passback["count"] == 3
    assert [(i["at"], i["reason"]) for i in passback["items"]] == [
        (iso(at(-10)), "reentry_too_soon"), (iso(at(15)), "already_inside"), (iso(at(70)), "already_inside")
    ]  # fmt: skip
    one = get(api, "anomalies", token, kind="passback", limit=1, **{"from": _local(-60), "to": _local(120)})
    assert one.json()["anomalies"]["passback"]["count"] == 4
    assert [i["at"] for i in one.json()["anomalies"]["passback"]["items"]] == [iso(at(-50))]


def _local(minutes: float) -> str:
    """at(minutes) as the audit API's local time (UTC+7), to the second."""
    return (at(minutes) + timedelta(hours=7)).replace(tzinfo=None).isoformat(timespec="seconds")


def test_anomalies_find_double_use_passback_overstay_orphan_exits_gaps_and_a_pass_too_fast(
    api: Api, tmp_path: Path, token: str
) -> None:
    doubled, late = api.paid_order(single("L1-01", "L1-05", quantity=2))["tickets"]
    pass_ticket = api.paid_order(monthly())["tickets"][0]
    card = pass_use(pass_ticket, holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    a, b = journal(api, tmp_path, "L1-01", "A1"), journal(api, tmp_path, "L1-05", "B5")
    c = journal(api, tmp_path, "L1-14", "C14")
    a.add("entry", at(0), **ticket_use(doubled))  # both gates offline: the same ticket let in twice
    b.add("entry", at(5), **ticket_use(doubled))
    a.add("entry", at(1), verdict="deny", reason="already_inside", **ticket_use(doubled))
    a.add("entry", at(10), **ticket_use(late))
    b.add("exit", at(10 + 150), flags=["entry_unseen"], **ticket_use(late))  # 150 min inside
    b.add("exit", at(30), flags=["entry_unseen"], **ticket_use(api.paid_order(single())["tickets"][0]))
    a.add("entry", at(100), **card)
    c.add("entry", at(103), **card)  # 13 stations away three minutes later
    for gate in (a, b, c):
        gate.upload()
    gappy = enrolled_gate(api, tmp_path, station="L1-06", gate_id="D6")
    from support.gate_sync import fake_events

    events = fake_events("D6", 5)
    post_batch(gappy, events[:2])
    post_batch(gappy, events[4:])
    post_batch(gappy, events[4:])

    found = get(api, "anomalies", token, **DAY).json()["anomalies"]

    assert [i["credential"] for i in found["double_use"]["items"]] == [f"t:{doubled['serial']}"]
    assert [i["station"] for i in found["double_use"]["items"][0]["entries"]] == ["L1-01", "L1-05"]
    assert found["double_use"]["items"][0]["revoked"]["reason"] == "double_use"
    assert [i["reason"] for i in found["passback"]["items"]] == ["already_inside"]
    assert [(i["credential"], i["duration_s"]) for i in found["overstay"]["items"]] == [
        (f"t:{late['serial']}", 150 * 60)
    ]
    assert [i["destination"] for i in found["entry_unseen"]["items"]] == ["L1-05"]
    assert [(g["gate"], g["from_seq"], g["to_seq"], g["since"]) for g in found["journal_gap"]["items"]] == [
        ("D6", 3, 4, "2025-03-03T02:02:00Z")
    ]
    assert [(i["station"], i["previous_station"], i["seconds"]) for i in found["pass_too_fast"]["items"]] == [
        ("L1-14", "L1-01", 180)
    ]


def test_a_gap_the_gate_filled_by_resending_is_no_longer_an_anomaly(
    api: Api, tmp_path: Path, token: str
) -> None:
    from support.gate_sync import fake_events

    gate = enrolled_gate(api, tmp_path, station="L1-06", gate_id="D6")
    events = fake_events("D6", 5)
    post_batch(gate, events[:2])
    gap = post_batch(gate, events[4:])  # events 3 and 4 never arrived: the gap is recorded
    resent = post_batch(gate, events[2:])  # the gate resends from 3, as the 409 asked

    assert (gap.status_code, gap.json()["expected_seq"], resent.status_code) == (409, 3, 200)

    found = get(api, "anomalies", token, **DAY).json()["anomalies"]

    assert found["journal_gap"]["items"] == []


# --- who may read, what the schema says, and bad input ---------------------------------------------------


def test_only_auditors_and_admins_read_audits(api: Api, tmp_path: Path, token: str) -> None:
    order = api.paid_order(single())
    gate = enrolled_gate(api, tmp_path)

    answers = {
        who: api.client.get("/v1/audit/scans", headers=bearer(t) if t else {}).status_code
        for who, t in {
            "nobody": None,
            "rider": order["access_token"],
            "gate": gate.token,
            "auditor": token,
            "admin": api.admin_token,
        }.items()
    }

    assert answers == {"nobody": 401, "rider": 401, "gate": 401, "auditor": 200, "admin": 200}


def test_every_audit_answer_is_described_in_the_openapi_schema(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    answers = {
        path: ops["get"]["responses"]["200"]["content"] for path, ops in paths.items() if "/audit/" in path
    }

    tables = {f"/v1/audit/{p}" for p in ("scans", "trips", "reports/{kind}", "anomalies", "gates")}
    undescribed = [path for path, content in answers.items() if not content["application/json"].get("schema")]
    without_csv = [path for path, content in answers.items() if path in tables and "text/csv" not in content]

    # The journal and its check are JSON only: an event's text and its hash are not spreadsheet cells.
    assert sorted(answers) == sorted(tables | {"/v1/audit/journal", "/v1/audit/chain"})
    assert (undescribed, without_csv) == ([], [])


def test_an_auditor_token_cannot_refund_a_ticket(api: Api, token: str) -> None:
    ticket = api.paid_order(single())["tickets"][0]

    answer = api.client.post(f"/v1/tickets/{ticket['id']}/refund", headers=bearer(token))

    assert answer.status_code in (401, 403, 404)  # riders' routes do not even say the ticket exists
    assert answer.json()["code"] != "refunded"


def test_a_cccd_number_that_does_not_validate_is_refused_without_echoing_it(api: Api, token: str) -> None:
    answer = get(api, "scans", token, cccd_header="999303001234")

    assert (answer.status_code, answer.json()["code"]) == (422, "cccd_province")
    assert "999303001234" not in answer.text


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("scans", {"stationn": "L1-01"}, "unknown_filter"),
        ("trips", {"verdict": "deny"}, "unknown_filter"),
        ("scans", {"from": "2025-03-04", "to": "2025-03-03"}, "bad_range"),
        ("scans", {"limit": "0"}, "bad_limit"),
        ("scans", {"limit": "1001"}, "bad_limit"),
        ("scans", {"cursor": "not-a-cursor"}, "bad_cursor"),
        ("trips", {"cursor": "WyJzIiwiMjAyNS0wMy0wMyIsIkcxIiwxXQ"}, "bad_cursor"),  # a scans cursor
        ("scans", {"from": "yesterday"}, "bad_filter"),
        ("scans", {"verdict": "maybe"}, "bad_filter"),
        ("scans", {"cccd": "masked"}, "cccd_in_url"),  # any value: a real one must not reach a log
        ("reports/ridership", {}, "bad_range"),
        ("reports/weather", DAY, "unknown_report"),
        ("anomalies", {"from": "2025-03-03"}, "bad_range"),
    ],
)
def test_bad_input_is_answered_with_a_code_and_a_detail(
    api: Api, token: str, path: str, params: dict[str, str], code: str
) -> None:
    answer = get(api, path, token, **params)

    assert 400 <= answer.status_code < 500
    assert (answer.json()["code"], bool(answer.json()["detail"])) == (code, True)
