"""The gate's functional core: classification of scanned text, choosing a holder's pass, the screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fare_rules.model import Direction
from fare_rules.products import Product
from fare_rules.reasons import Reason
from validator.core import InputKind, PassSeen, ScanOutcome, Verdict, classify, pick_pass
from validator.records import PassRecord
from validator.screen import format_vnd, render_outcome
from validator.testing import CCCD_EXAMPLE

NOW = datetime(2025, 3, 10, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("MQR:6BFOXN*TS0BI$ZDFRH", InputKind.TICKET),
        ("  MQR:ABC\r\n", InputKind.TICKET),
        ("mqr:6bfoxn*ts0bi$zdfrh", InputKind.TICKET),  # a Caps-Lock wedge scanner: the codec folds case
        ("Mqr:ABC", InputKind.TICKET),
        (CCCD_EXAMPLE, InputKind.CCCD),
        ("079303001234|x", InputKind.CCCD),
        ("", InputKind.EMPTY),
        ("   \r\n", InputKind.EMPTY),
        ("HC1:NCFOXN%TS3DH", InputKind.OTHER),
        ("https://example.com/ticket", InputKind.OTHER),
        ("name|with|pipes", InputKind.OTHER),
        ("\x00\xff garbage", InputKind.OTHER),
    ],
)
def test_scanned_text_is_classified_before_any_parsing(raw: str, kind: InputKind) -> None:
    assert classify(raw) is kind


def _pass(pass_id: str, start_days: int, days: int = 30, status: str = "active") -> PassRecord:
    start = NOW + timedelta(days=start_days)
    return PassRecord(
        1, pass_id, b"\x01" * 16, Product.MONTHLY, start, start + timedelta(days=days), status, "A.B.", 1990
    )


def test_the_current_active_pass_is_chosen_over_expired_and_future_ones() -> None:
    chosen = pick_pass([_pass("old", -60), _pass("now", -5), _pass("next", 25)], NOW)

    assert chosen is not None
    assert chosen.pass_id == "now"


def test_an_expired_pass_is_still_chosen_so_the_refusal_says_expired() -> None:
    chosen = pick_pass([_pass("older", -90), _pass("old", -45)], NOW)

    assert chosen is not None
    assert chosen.pass_id == "old"


def test_no_pass_means_none() -> None:
    assert pick_pass([], NOW) is None


def _outcome(**kw: object) -> ScanOutcome:
    base: dict[str, object] = {
        "verdict": Verdict.DENY,
        "reason": Reason.FARE_EXCEEDED,
        "gate": "G1",
        "station": "L1-09",
        "direction": Direction.EXIT,
        "at": NOW,
        "seq": 7,
        "input_kind": InputKind.TICKET,
        "owed_vnd": 4000,
    }
    base.update(kw)
    return ScanOutcome(**base)  # type: ignore[arg-type]


def test_the_screen_shows_deny_both_languages_and_the_fare_owed() -> None:
    text = render_outcome(_outcome(), colour=False)

    assert "DENY" in text
    assert "fare owed" in text.lower()
    assert "4.000 ₫" in text


def test_the_json_of_a_pass_scan_carries_only_the_masked_cccd() -> None:
    seen = PassSeen("P1", Product.MONTHLY, "0793******34", "NTM", 2003)

    body = _outcome(verdict=Verdict.ACCEPT, reason=None, owed_vnd=0, recognised=seen).to_json()

    assert body["verdict"] == "accept"
    assert body["reason"] is None
    assert body["recognised"]["pass"]["cccd"] == "0793******34"
    assert set(body) >= {"verdict", "reason", "message", "recognised", "owed_vnd", "flags"}


def test_amounts_use_the_vietnamese_thousands_separator() -> None:
    assert format_vnd(19000) == "19.000 ₫"
