"""The station display `listen` shows on a terminal, drawn from its view alone and read back as text."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rich.console import Console

from fare_rules.free import FreeCategory
from fare_rules.model import Direction, Flag
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.products import Product
from fare_rules.reasons import Reason
from fare_rules.settlement import PaymentMethod
from validator.core import (
    Adjustment,
    InputKind,
    Override,
    PassSeen,
    ScanOutcome,
    TicketSeen,
    Verdict,
    event_for,
)
from validator.display import (
    VERDICT_HOLD,
    ShiftCounts,
    StationView,
    SyncProblem,
    SyncState,
    banner_lines,
    render_station,
)
from validator.terminal import staff_action_outcome

NOW = datetime(2025, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 in Ho Chi Minh City
HCMC = timezone(timedelta(hours=7))
BLOCK = "█"


def _ticket(origin: str = "L1-01", destination: str = "L1-05") -> TicketSeen:
    return TicketSeen(1001, Product.SINGLE, origin, destination, NOW, NOW + timedelta(days=30), 9000, 7, True)


def _outcome(**kw: object) -> ScanOutcome:
    base: dict[str, object] = {
        "verdict": Verdict.ACCEPT,
        "reason": None,
        "gate": "L1-01-G1",
        "station": "L1-01",
        "direction": Direction.ENTRY,
        "at": NOW - timedelta(seconds=1),
        "seq": 12,
        "input_kind": InputKind.TICKET,
        "ticket": _ticket(),
        "recognised": _ticket(),
    }
    base.update(kw)
    return ScanOutcome(**base)  # type: ignore[arg-type]


def _denied_exit(**kw: object) -> ScanOutcome:
    fields: dict[str, object] = {
        "verdict": Verdict.DENY,
        "reason": Reason.FARE_EXCEEDED,
        "direction": Direction.EXIT,
        "owed_vnd": 12_000,
    }
    return _outcome(**{**fields, **kw})


SYNCED = SyncState(
    online=True,
    last_success=NOW - timedelta(seconds=12),
    last_error=None,
    lists=(("revocations", NOW - timedelta(seconds=12)), ("passes", NOW - timedelta(minutes=5))),
    lists_as_of=NOW - timedelta(minutes=5),
    clock_offset_seconds=0.2,
)


def _view(**kw: object) -> StationView:
    base = StationView(
        gate="L1-01-G1", station="L1-01 Bến Thành", direction=Direction.ENTRY, now=NOW, tz=HCMC, sync=SYNCED
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _screen(view: StationView, width: int = 80, height: int = 24) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None, file=io.StringIO())
    console.print(render_station(view))
    return console.export_text().splitlines()


def _joined(lines: list[str]) -> str:
    return "\n".join(lines)


def test_an_accepted_scan_fills_the_screen_with_accept_in_block_letters_and_in_words() -> None:
    lines = _screen(_view(outcome=_outcome()))

    letters = [line for line in lines if BLOCK * 4 in line]
    assert len(lines) == 24
    assert len(letters) >= 5  # the block letters, five dots high at least
    assert "✔ ACCEPT · MỜI QUA" in _joined(lines)  # the verdict in words too: no colour needed to read it
    assert "Mời qua" in _joined(lines)
    assert "Go ahead" in _joined(lines)
    assert "single L1-01 → L1-05 · #1001" in _joined(lines)


def test_a_denied_exit_shows_deny_the_reason_in_both_languages_and_the_fare_owed() -> None:
    text = _joined(_screen(_view(direction=Direction.EXIT, outcome=_denied_exit())))

    assert "✖ DENY · TỪ CHỐI" in text
    assert "Vượt quá ga đã trả tiền" in text
    assert "Beyond the paid station" in text
    assert "THU THÊM / FARE OWED: 12.000 ₫" in text
    assert "→ settle --last --collected 12000 --method cash|vietqr --agent ID" in text
    assert "ACCEPT" not in text


def test_the_block_letters_of_accept_and_deny_differ_in_shape_not_only_in_colour() -> None:
    accept = [line for line in _screen(_view(outcome=_outcome())) if BLOCK in line]
    deny = [line for line in _screen(_view(outcome=_denied_exit())) if BLOCK in line]

    assert accept
    assert deny
    assert accept != deny


def test_a_card_scan_shows_the_masked_number_initials_and_birth_year_to_compare_with_the_card() -> None:
    card = PassSeen("P00002", Product.MONTHLY, "0793******34", "NTM", 2003)
    outcome = _outcome(input_kind=InputKind.CCCD, recognised=card, ticket=None)

    lines = [line.rstrip() for line in _screen(_view(outcome=outcome))]

    label = next(i for i, line in enumerate(lines) if line.endswith("Compare with the card:"))
    assert lines[label + 1] == "    CCCD 0793******34 · NTM · sinh năm / born 2003"
    assert "079303001234" not in _joined(lines)


def test_a_free_ride_by_birth_date_asks_the_agent_to_compare_the_card_with_the_rider() -> None:
    card = PassSeen(None, None, "0793******34", "NTM", 1950)
    outcome = _outcome(input_kind=InputKind.CCCD, recognised=card, ticket=None, flags={Flag.COMPARE_CARD})

    text = _joined(_screen(_view(outcome=outcome)))

    assert "COMPARE THE CARD WITH THE RIDER" in text
    assert "born 1950" in text


@pytest.mark.parametrize(("width", "height"), [(80, 24), (100, 30), (60, 14), (40, 10), (24, 6)])
def test_every_terminal_size_shows_the_verdict_in_words_within_its_width(width: int, height: int) -> None:
    lines = _screen(_view(direction=Direction.EXIT, outcome=_denied_exit()), width, height)

    assert len(lines) == height
    assert all(len(line) <= width for line in lines)
    assert any("✖ DENY · TỪ CHỐI" in line for line in lines)


def test_block_letters_are_as_large_as_the_screen_allows_and_never_wider_than_it() -> None:
    small = banner_lines("ACCEPT", "✔ ACCEPT", 80, 14)
    large = banner_lines("ACCEPT", "✔ ACCEPT", 160, 40)
    none = banner_lines("ACCEPT", "✔ ACCEPT", 30, 20)

    assert all(len(line) == 80 for line in small)
    assert max(line.count(BLOCK) for line in large) > max(line.count(BLOCK) for line in small)
    assert [line.strip() for line in none] == ["✔ ACCEPT"]


def test_counts_since_the_shift_began_are_kept_per_direction_and_verdict() -> None:
    counts = ShiftCounts()
    for outcome in (_outcome(), _outcome(), _denied_exit(), _outcome(verdict=Verdict.DENY)):
        counts = counts.add(outcome)

    text = _joined(_screen(_view(counts=counts)))

    assert counts == ShiftCounts(entry_accepted=2, entry_denied=1, exit_accepted=0, exit_denied=1)
    assert "vào/entry ✔ 2 ✖ 1    ra/exit ✔ 0 ✖ 1" in text
    assert counts.summary() == "entry: 2 accepted, 1 denied; exit: 0 accepted, 1 denied"


def test_the_footer_shows_the_last_sync_age_and_each_lists_age() -> None:
    text = _joined(_screen(_view()))

    assert "last sync 12 s ago · OK" in text
    assert "revocations 12 s ago · passes 5 min ago" in text


def test_a_failed_sync_shows_its_code_the_servers_code_and_when() -> None:
    failure = SyncProblem("journal_refused", "broken_chain", NOW - timedelta(seconds=30), "batch refused")
    sync = replace(SYNCED, last_error=failure)

    text = _joined(_screen(_view(sync=sync), width=120))

    assert "✖ FAILED 30 s ago: journal_refused (server: broken_chain) — batch refused" in text


def test_the_journal_line_shows_what_waits_for_upload_and_when_the_server_stopped_uploads() -> None:
    refused = SyncProblem("journal_stopped", "broken_chain", NOW - timedelta(minutes=3), "batch 41 refused")
    waiting = _joined(_screen(_view(sync=replace(SYNCED, backlog=7))))
    stopped = _joined(_screen(_view(sync=replace(SYNCED, backlog=7, uploads_stopped=refused)), width=120))
    done = _joined(_screen(_view()))

    assert "Nhật ký / Journal 7 to upload" in waiting
    assert "7 to upload · ✖ UPLOADS STOPPED 3 min ago: journal_stopped (server: broken_chain)" in stopped
    assert "Nhật ký / Journal all uploaded" in done


def test_a_gate_never_synced_says_so_and_a_list_never_synced_shows_never() -> None:
    sync = SyncState(False, None, None, (("revocations", None), ("passes", None)), None, None)

    text = _joined(_screen(_view(sync=sync)))

    assert "offline gate (provisioned from a bundle)" in text
    assert "revocations never · passes never" in text


def test_a_clock_beyond_policy_shows_the_warning_in_both_languages_whatever_the_last_scan() -> None:
    sync = replace(SYNCED, clock_offset_seconds=600.0)
    view = _view(sync=sync, gate_flags=frozenset({Flag.CLOCK_SUSPECT}), outcome=_outcome())

    text = _joined(_screen(view))

    assert "⚠ Đồng hồ cổng chậm 10 phút — báo kỹ thuật" in text
    assert "⚠ Gate clock is 10 min behind — call maintenance" in text
    assert "ACCEPT" in text


def test_stale_lists_are_a_warning_on_the_screen() -> None:
    text = _joined(_screen(_view(gate_flags=frozenset({Flag.STALE_LISTS}))))

    assert "Lists out of date — sync the gate" in text


def test_the_header_names_gate_station_direction_and_the_local_time() -> None:
    header = _screen(_view(direction=Direction.EXIT))[0]

    assert "L1-01-G1 · L1-01 Bến Thành · RA / EXIT" in header
    assert header.rstrip().endswith("10:00:00")


def test_a_verdict_older_than_the_hold_gives_way_to_ready_and_a_line_on_the_last_scan() -> None:
    old = _outcome(at=NOW - VERDICT_HOLD - timedelta(seconds=1))

    lines = _screen(_view(outcome=old))

    assert not any(BLOCK in line for line in lines)
    assert "READY — SCAN" in _joined(lines)
    assert "Last scan: ✔ ACCEPT · MỜI QUA 09:59:39" in _joined(lines)


def test_a_notice_is_shown_until_the_next_scan() -> None:
    text = _joined(_screen(_view(notice="error on one scan, gate keeps running: OSError: disk")))

    assert "error on one scan, gate keeps running: OSError: disk" in text


def test_a_settled_exit_shows_what_was_collected_how_and_by_whom_not_a_fare_owed() -> None:
    collected = Adjustment(12_000, PaymentMethod.CASH, "A17", settlement_seq=40)
    outcome = _outcome(direction=Direction.EXIT, owed_vnd=12_000, adjustment=collected)

    text = _joined(_screen(_view(direction=Direction.EXIT, outcome=outcome)))

    assert "ĐÃ THU / COLLECTED: 12.000 ₫ · tiền mặt / cash · NV / agent A17" in text
    assert "FARE OWED" not in text
    assert "✔ ACCEPT · MỜI QUA" in text


def test_an_override_says_it_was_by_hand_who_decided_why_and_what_the_gate_said() -> None:
    by_hand = Override(OverrideAction.ADMIT, OverrideReason.BROKEN_PHONE, "A17", Reason.NOT_OUR_CODE)

    text = _joined(_screen(_view(outcome=_outcome(override=by_hand, ticket=None, recognised=None))))

    assert "THỦ CÔNG / BY HAND: CHO QUA / ADMITTED · NV / agent A17" in text
    assert "Điện thoại hỏng, không hiện được vé / Broken phone, ticket not shown" in text
    assert "cổng / the gate said: not_our_code" in text


def test_a_free_ride_shows_its_category_in_both_languages() -> None:
    senior = FreeCategory.SENIOR
    free = PassSeen("F00003", Product.FREE_PRIORITY, "0793******34", "NTM", 1950, category=senior)
    outcome = _outcome(input_kind=InputKind.CCCD, recognised=free, ticket=None)

    text = _joined(_screen(_view(outcome=outcome)))

    assert "Miễn vé — người cao tuổi" in text
    assert "Free ride — senior" in text
    assert "Miễn vé / Free ride: senior F00003" in text


def test_a_settled_exit_and_an_override_read_back_from_their_journal_events_as_they_were() -> None:
    collected = Adjustment(12_000, PaymentMethod.VIETQR, "A17", settlement_seq=40)
    settled = _outcome(direction=Direction.EXIT, owed_vnd=12_000, adjustment=collected, seq=41)
    by_hand = _outcome(
        override=Override(OverrideAction.REFUSE, OverrideReason.STAFF_JUDGEMENT, "A17", None),
        verdict=Verdict.DENY,
        input_kind=InputKind.EMPTY,
        ticket=None,
        recognised=None,
        seq=42,
    )

    events = [json.loads(json.dumps(event_for(o, None, None))) for o in (settled, by_hand)]

    read = [staff_action_outcome(event) for event in events]

    assert read == [settled, by_hand]


def test_a_plain_scan_or_an_unreadable_event_is_not_taken_for_a_staff_action() -> None:
    scan = json.loads(json.dumps(event_for(_outcome(), "t:1001", None)))
    broken = {**json.loads(json.dumps(event_for(_outcome(override=None, seq=3), None, None))), "override": {}}

    assert staff_action_outcome(scan) is None
    assert staff_action_outcome(broken) is None
