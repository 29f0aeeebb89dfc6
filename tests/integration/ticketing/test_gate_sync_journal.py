"""Journal upload: signature and chain checked, each event stored once, gaps reported; on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, select
from support.gate_sync import count_events, enrolled_gate, fake_events, post_batch, stored_events
from support.issuing import Api, bearer, single

from fare_rules.reasons import Reason
from ticketing.db import make_engine
from ticketing.models import JournalGap
from validator import gate_status
from validator import records as gate_records
from validator.codec import load_keyset
from validator.journal import ChainedEvent, build_batch, chain_hash, chain_next
from validator.signing import verify_response
from validator.store import transaction
from validator.sync import JOURNAL_BATCH, SyncError

REFUNDS = pytest.mark.parametrize(
    "settings_overrides", [{"policy": {"refunds_allowed": True}}], indirect=True
)


def _statuses(answer: object) -> list[str]:
    return [r["status"] for r in answer.json()["results"]]  # type: ignore[attr-defined]


def test_a_batch_sent_twice_is_stored_once(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    events = fake_events("G1", 3)

    first = post_batch(gate, events)
    second = post_batch(gate, events)

    assert _statuses(first) == ["stored"] * 3
    assert _statuses(second) == ["duplicate"] * 3
    assert count_events(api) == 3


def test_an_overlapping_batch_stores_only_what_is_new(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    events = fake_events("G1", 5)
    post_batch(gate, events[:3])

    answer = post_batch(gate, events[1:])

    assert _statuses(answer) == ["duplicate", "duplicate", "stored", "stored"]
    assert [e.seq for e in stored_events(api)] == [1, 2, 3, 4, 5]


def test_the_journal_answer_is_signed_and_carries_the_server_time(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    keyset = load_keyset(api.client.get("/v1/keys").json())

    answer = post_batch(gate, fake_events("G1", 1))

    assert verify_response("/v1/gate/journal", answer.content, answer.headers, keyset) > 0
    assert answer.json()["server_time"].startswith("2025-03-03T02:00:00")


def test_a_batch_signed_by_another_gates_key_is_refused(api: Api, tmp_path: Path) -> None:
    g1 = enrolled_gate(api, tmp_path, gate_id="G1")
    g2 = enrolled_gate(api, tmp_path, gate_id="G2")

    forged = post_batch(g1, fake_events("G1", 2), key=g2.key)
    stranger = post_batch(g1, fake_events("G1", 2), key=Ed25519PrivateKey.generate())

    assert (forged.status_code, forged.json()["code"]) == (400, "bad_signature")
    assert (stranger.status_code, stranger.json()["code"]) == (400, "bad_signature")
    assert count_events(api) == 0


def test_a_batch_for_another_gate_under_this_gates_token_is_refused(api: Api, tmp_path: Path) -> None:
    enrolled_gate(api, tmp_path, gate_id="G1")
    g2 = enrolled_gate(api, tmp_path, gate_id="G2")

    with g2.http() as http:
        answer = http.post("/v1/gate/journal", json=build_batch("G1", fake_events("G1", 1), g2.key))

    assert (answer.status_code, answer.json()["code"]) == (403, "wrong_gate")


def test_a_broken_chain_is_refused(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    events = fake_events("G1", 3)
    tampered = dict(events[1].event, verdict="accept")
    forged_middle = chain_next("G1", 2, events[0].hash, tampered)  # re-hashed, but 3 no longer links onto it

    broken = post_batch(gate, [events[0], forged_middle, events[2]])

    assert (broken.status_code, broken.json()["code"]) == (400, "broken_chain")
    assert count_events(api) == 0


def test_a_batch_that_does_not_chain_onto_what_the_server_holds_is_refused(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    post_batch(gate, fake_events("G1", 2))
    other_history = fake_events("G1", 2, start=3, prev="ab" * 32)

    answer = post_batch(gate, other_history)

    assert (answer.status_code, answer.json()["code"]) == (400, "broken_chain")


def test_a_gap_is_reported_first_and_accepted_when_the_gate_sends_the_same_batch_again(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    events = fake_events("G1", 6)
    post_batch(gate, events[:2])

    reported = post_batch(gate, events[4:])
    accepted = post_batch(gate, events[4:])
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        gaps = [(g.from_seq, g.to_seq, g.accepted_at is not None) for g in session.exec(select(JournalGap))]
    engine.dispose()

    assert (reported.status_code, reported.json()["code"], reported.json()["expected_seq"]) == (
        409,
        "journal_gap",
        3,
    )
    assert _statuses(accepted) == ["stored", "stored"]
    assert gaps == [(3, 4, True)]


def test_the_sync_client_fills_a_gap_it_can_fill_and_nothing_is_lost(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    for n in range(4):
        gate.scan(f"garbage {n}")
    gate.sync()
    # The server "loses" nothing, but the gate believes events 3-4 were never sent (e.g. a restored store).
    gate.gate.conn.execute("UPDATE journal SET uploaded = 'no' WHERE seq >= 3")
    for n in range(2):
        gate.scan(f"more {n}")

    report = gate.sync()

    assert report.journal == {"duplicate": 2, "refused": 0, "stored": 2}
    assert [e.seq for e in stored_events(api)] == [1, 2, 3, 4, 5, 6]


def test_a_gate_offline_for_a_week_uploads_everything_exactly_once(api: Api, tmp_path: Path) -> None:
    ticket = api.paid_order(single())["tickets"][0]
    gate = enrolled_gate(api, tmp_path)
    gate.sync()
    scans = JOURNAL_BATCH * 2 + 37
    gate.scan(ticket["qr_payload"], "entry")
    for n in range(scans - 1):
        api.clock.advance(minutes=10)  # a week of scans, one every ten minutes
        gate.scan(f"unreadable {n}")

    report = gate.sync()
    again = gate.sync()
    stored = stored_events(api, "G1")

    assert report.journal["stored"] == scans
    assert again.journal == {"duplicate": 0, "refused": 0, "stored": 0}
    assert [e.seq for e in stored] == list(range(1, scans + 1))
    first_at, last_at = stored[0].at, stored[-1].at
    assert first_at is not None
    assert last_at is not None
    assert (last_at - first_at).days == 7


def test_scan_events_keep_every_field_of_the_event_and_the_chain_reverifies(api: Api, tmp_path: Path) -> None:
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    gate = enrolled_gate(api, tmp_path)
    gate.sync()
    gate.scan(ticket["qr_payload"], "entry")
    gate.scan(ticket["qr_payload"], "entry")  # refused: already inside
    gate.sync()

    accepted, refused = stored_events(api)

    assert (accepted.station, accepted.direction, accepted.verdict, accepted.reason) == (
        "L1-01",
        "entry",
        "accept",
        None,
    )
    assert (accepted.credential, accepted.ticket_serial, accepted.product) == (
        f"t:{ticket['serial']}",
        int(ticket["serial"]),
        "single",
    )
    assert accepted.feed_seq is not None
    assert (refused.verdict, refused.reason, refused.feed_seq) == ("deny", Reason.ALREADY_INSIDE.value, None)
    assert refused.prev_hash == accepted.hash
    assert chain_hash(accepted.prev_hash, json.loads(accepted.event)) == accepted.hash
    assert accepted.problem is None


def test_an_event_whose_fields_do_not_fit_is_kept_but_answered_refused(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    odd = chain_next("G1", 1, "00" * 32, {"gate": "G1", "seq": 1, "station": "L1-01", "verdict": "maybe"})
    after = fake_events("G1", 1, start=2, prev=odd.hash)

    answer = post_batch(gate, [odd, *after])
    kept = stored_events(api)

    assert _statuses(answer) == ["refused", "stored"]
    assert [(e.seq, e.problem is not None) for e in kept] == [(1, True), (2, False)]


@REFUNDS
def test_an_ingested_use_marks_the_ticket_used_and_its_refund_is_refused(api: Api, tmp_path: Path) -> None:
    order = api.paid_order(single())
    ticket = order["tickets"][0]
    gate = enrolled_gate(api, tmp_path)
    gate.sync()
    gate.scan(ticket["qr_payload"], "entry")
    gate.sync()

    refund = api.client.post(f"/v1/tickets/{ticket['id']}/refund", headers=bearer(order["access_token"]))

    assert (refund.status_code, refund.json()["code"]) == (409, "ticket_not_refundable")


def test_the_gate_list_shows_the_journal_head_after_an_upload(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    post_batch(gate, fake_events("G1", 4))

    listed = api.client.get("/v1/admin/gates", headers=bearer(api.admin_token)).json()

    assert [(g["gate_id"], g["journal_head"]) for g in listed] == [("G1", 4)]


def _gaps(api: Api) -> list[tuple[int, int, bool]]:
    engine = make_engine(api.database_url)
    with Session(engine) as session:
        gaps = [(g.from_seq, g.to_seq, g.accepted_at is not None) for g in session.exec(select(JournalGap))]
    engine.dispose()
    return gaps


def test_a_batch_past_the_head_signed_by_a_stranger_is_refused_and_records_no_gap(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    events = fake_events("G1", 8)
    post_batch(gate, events[:2])

    forged = post_batch(gate, fake_events("G1", 2, start=7), key=Ed25519PrivateKey.generate())
    genuine = post_batch(gate, events[4:])

    assert (forged.status_code, forged.json()["code"]) == (400, "bad_signature")
    assert (genuine.status_code, genuine.json()["code"], genuine.json()["expected_seq"]) == (
        409,
        "journal_gap",
        3,
    )
    assert _gaps(api) == [(3, 4, False)]


def test_a_reordered_batch_past_the_head_is_refused_as_out_of_sequence(api: Api, tmp_path: Path) -> None:
    gate = enrolled_gate(api, tmp_path)
    events = fake_events("G1", 6)
    post_batch(gate, events[:2])

    answer = post_batch(gate, [events[4], events[5], events[2], events[3]])

    assert (answer.status_code, answer.json()["code"]) == (400, "bad_sequence")
    assert _gaps(api) == []


def _odd_event(**fields: object) -> list[ChainedEvent]:
    body = dict(fake_events("G1", 1)[0].event, **fields)
    seq = body["seq"]
    assert isinstance(seq, int)
    return [chain_next("G1", seq, "00" * 32, body)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"owed_vnd": 2**40}, "owed_vnd"),
        ({"owed_vnd": 2**64}, "owed_vnd"),
        ({"owed_vnd": True}, "owed_vnd"),
        ({"owed_vnd": "12"}, "owed_vnd"),
        ({"station": "L1\x0001"}, "station"),
        ({"reason": "not\x00ours"}, "reason"),
        ({"station": "L1-01" * 9}, "station"),
        ({"flags": ["clock\x00suspect"]}, "flags"),
        ({"ticket": {"serial": "1", "product": "single\x00"}}, "product"),
    ],
)
def test_a_batch_with_an_impossible_field_is_refused_whole_naming_the_field_and_seq(
    api: Api, tmp_path: Path, fields: dict[str, object], field: str
) -> None:
    gate = enrolled_gate(api, tmp_path)
    odd = _odd_event(**fields)
    after = fake_events("G1", 1, start=2, prev=odd[0].hash)

    answer = post_batch(gate, [*odd, *after])

    assert (answer.status_code, answer.json()["code"]) == (422, "bad_event")
    assert field in answer.json()["detail"]
    assert "event 1" in answer.json()["detail"]
    assert count_events(api) == 0


def test_a_batch_whose_seq_does_not_fit_64_bits_is_refused_and_stores_nothing(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    seq = 2**63
    body = dict(fake_events("G1", 1)[0].event, seq=seq)

    answer = post_batch(gate, [chain_next("G1", seq, "ab" * 32, body)])

    assert answer.status_code in (400, 422)
    assert answer.json()["code"] in ("bad_event", "bad_sequence")
    assert count_events(api) == 0
    assert _gaps(api) == []


def test_a_gate_whose_journal_holds_an_impossible_value_stops_uploading_and_shows_why_in_status(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    gate.scan("not a ticket")
    seq, prev = gate_records.journal_head(gate.gate.conn, gate.gate_id)
    body = dict(_odd_event(owed_vnd=2**40)[0].event, gate=gate.gate_id, seq=seq + 1)
    with transaction(gate.gate.conn):  # a store that holds what no column can: a bug, or a damaged store
        gate_records.append_journal(
            gate.gate.conn, chain_next(gate.gate_id, seq + 1, prev, body), api.clock()
        )

    with pytest.raises(SyncError) as refused:
        gate.sync()
    status = gate_status(gate.gate, tmp_path)
    with pytest.raises(SyncError) as again:
        gate.sync()

    assert (refused.value.code, refused.value.server_code) == ("journal_refused", "bad_event")
    assert status["journal_stopped"]["code"] == "bad_event"
    assert "owed_vnd" in status["journal_stopped"]["detail"]
    assert again.value.code == "journal_stopped"
    assert count_events(api) == 0  # refused whole: the good scan before it waits with it


def test_a_gate_whose_stored_device_key_cannot_be_read_is_refused_with_a_code_not_a_500(
    api: Api, tmp_path: Path
) -> None:
    gate = enrolled_gate(api, tmp_path)
    engine = make_engine(api.database_url)
    with engine.begin() as connection:  # a key stored in standard base64, as a lenient enrolment once let in
        connection.execute(
            sa.text("UPDATE gates SET device_public_key = :key WHERE gate_id = :gate"),
            {"key": "a+/" + "A" * 40, "gate": gate.gate_id},
        )
    engine.dispose()

    answer = post_batch(gate, fake_events(gate.gate_id, 1))

    assert (answer.status_code, answer.json()["code"]) == (400, "bad_signature")
    assert "enrol it again" in answer.json()["detail"]
