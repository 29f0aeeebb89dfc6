"""Gate health knows each gate's lists from the server's side, on both engines: a real gate's sync (the
validator's SyncClient) records when it fetched each list to its end and the cursor it then held; gate health
shows each deciding list's fetch time and age, and a gate whose lists are older than the policy allows, or
never fetched, needs a visit (stale_lists), by API, CSV and the CLI."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from support.audit import auditor_token, get, journal
from support.gate_sync import enrolled_gate
from support.issuing import NOW, Api, bearer, single

from fare_rules.policy import Policy
from ticketing.audit.query import iso
from ticketing.cli import main
from ticketing.db import make_engine
from ticketing.services.gate_lists import record_fetch
from validator.records import DECIDING_LISTS

LIMIT = Policy().max_list_age_seconds  # the bundled policy: lists may age 6 hours
# Refunds put tickets on the revocation list; the bundled policy forbids them, so these tests allow them.
pytestmark = pytest.mark.parametrize(
    "settings_overrides", [{"policy": {"refunds_allowed": True}}], indirect=True
)


def _health(api: Api, gate_id: str) -> dict[str, Any]:
    answer = get(api, "gates", auditor_token(api), gate=gate_id)
    assert answer.status_code == 200, answer.text
    (health,) = answer.json()["gates"]
    return dict(health)


def _refund_one(api: Api) -> None:
    order = api.paid_order(single())
    ticket = order["tickets"][0]
    refund = api.client.post(f"/v1/tickets/{ticket['id']}/refund", headers=bearer(order["access_token"]))
    assert refund.status_code == 200, refund.text


def test_a_gate_that_synced_shows_each_deciding_lists_fetch_time_and_its_age(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    _refund_one(api)
    gate.sync()
    api.clock.advance(minutes=30)

    health = _health(api, "L1-01-G1")

    assert health["lists"] == [
        {"name": name, "fetched_at": iso(NOW), "age_s": 1800, "seq": 1 if name == "revocations" else 0}
        for name in DECIDING_LISTS
    ]
    assert health["lists_age_s"] == 1800
    assert "stale_lists" not in health["needs_visit"]


def test_lists_older_than_the_policy_allows_need_a_visit_from_the_next_second(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    gate.sync()

    api.clock.advance(seconds=LIMIT)
    at_the_limit = _health(api, "L1-01-G1")
    api.clock.advance(seconds=1)
    beyond = _health(api, "L1-01-G1")

    assert at_the_limit["lists_age_s"] == LIMIT
    assert "stale_lists" not in at_the_limit["needs_visit"]
    assert beyond["lists_age_s"] == LIMIT + 1
    assert [a["age_s"] for a in beyond["lists"]] == [LIMIT + 1] * len(DECIDING_LISTS)
    assert "stale_lists" in beyond["needs_visit"]


def test_the_next_sync_makes_the_lists_young_again_and_moves_the_cursor_on(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    gate.sync()
    api.clock.advance(hours=7)
    _refund_one(api)
    _refund_one(api)
    stale = _health(api, "L1-01-G1")

    gate.sync()
    fresh = _health(api, "L1-01-G1")

    assert "stale_lists" in stale["needs_visit"]
    assert fresh["lists_age_s"] == 0
    assert "stale_lists" not in fresh["needs_visit"]
    revocations = fresh["lists"][DECIDING_LISTS.index("revocations")]
    assert (revocations["fetched_at"], revocations["seq"]) == (iso(api.clock()), 2)


def test_a_gate_that_never_fetched_its_lists_needs_a_visit_though_it_uploads(
    api: Api, tmp_path: Path
) -> None:
    uploads = journal(api, tmp_path, "L1-01", "L1-01-G1")
    uploads.add("entry", NOW, input="other", verdict="deny", reason="not_our_code")
    uploads.upload()

    health = _health(api, "L1-01-G1")

    assert health["needs_visit"] == ["stale_lists"]
    assert health["lists_age_s"] is None
    assert [(a["fetched_at"], a["age_s"], a["seq"]) for a in health["lists"]] == [(None, None, None)] * 3


def test_a_page_with_more_to_follow_dates_nothing_only_the_page_the_gate_stops_at(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    _refund_one(api)
    _refund_one(api)
    with gate.http() as http:
        first = http.get("/v1/gate/revocations?after=0&limit=1")
        assert first.json()["next"] == 1
        interrupted = _health(api, "L1-01-G1")["lists"][0]
        api.clock.advance(minutes=5)
        http.get("/v1/gate/revocations?after=1&limit=1")
        http.get("/v1/gate/revocations?after=2&limit=1")  # empty: the end of the list
    finished = _health(api, "L1-01-G1")["lists"][0]

    assert (interrupted["fetched_at"], interrupted["seq"]) == (None, None)
    assert (finished["fetched_at"], finished["seq"], finished["age_s"]) == (iso(api.clock()), 2, 0)


def test_one_gates_fetches_are_its_own(api: Api, tmp_path: Path) -> None:
    synced = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    enrolled_gate(api, tmp_path, "L1-06", "L1-06-G1")
    synced.sync()

    other = _health(api, "L1-06-G1")

    assert other["lists_age_s"] is None
    assert "stale_lists" in other["needs_visit"]


def test_the_csv_spreads_each_lists_fetch_over_its_own_columns(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1")
    gate.sync()
    api.clock.advance(minutes=2)

    text = get(api, "gates", auditor_token(api), format="csv").text
    (row,) = csv.DictReader(io.StringIO(text))

    assert "lists" not in row
    assert row["lists_age_s"] == "120"
    for name in DECIDING_LISTS:
        assert (row[f"{name}_fetched_at"], row[f"{name}_age_s"], row[f"{name}_seq"]) == (iso(NOW), "120", "0")


def test_the_cli_table_shows_the_oldest_lists_age(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1").sync()
    enrolled_gate(api, tmp_path, "L1-06", "L1-06-G1")
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)

    assert main(["audit", "gates"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()

    assert re.search(r"\bclock_offset_s\s+lists_age_s\s+needs_visit\b", header)
    # The CLI runs on the real clock, long after the test's NOW: the synced gate's lists are old by now.
    synced = next(r for r in rows if r.startswith("L1-01-G1"))
    never = next(r for r in rows if r.startswith("L1-06-G1"))
    assert re.search(r"\s\d{6,}\s+never_uploaded,stale_lists$", synced)
    assert re.search(r"\s-\s+never_uploaded,stale_lists$", never)


def test_an_answer_served_earlier_but_finished_later_never_dates_a_list_back(
    api: Api, tmp_path: Path
) -> None:
    enrolled_gate(api, tmp_path, "L1-01", "L1-01-G1").sync()
    engine = make_engine(api.database_url)
    with Session(engine) as session:  # another worker's answer to the same gate, begun five minutes before
        earlier = NOW - timedelta(minutes=5)
        record_fetch(session, "L1-01-G1", "revocations", page={"items": [], "next": 0}, after=0, now=earlier)
    engine.dispose()

    revocations = _health(api, "L1-01-G1")["lists"][0]

    assert (revocations["name"], revocations["fetched_at"]) == ("revocations", iso(NOW))
