"""The wire encodings, written once (validator.wire) for the gate and the service: base64url and ISO times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validator.wire import b64url_decode, b64url_encode, iso, parse_iso


@given(st.binary(max_size=100))
def test_base64url_round_trips_without_padding(data: bytes) -> None:
    text = b64url_encode(data)

    assert "=" not in text
    assert b64url_decode(text) == data


def test_padded_base64url_is_read_too() -> None:
    assert b64url_decode("YQ==") == b64url_decode("YQ") == b"a"


@pytest.mark.parametrize("text", ["YQ!", "Y Q", "YQ+/", "a.b", 42, None, "YQ==="])
def test_anything_but_base64url_text_is_a_value_error(text: object) -> None:
    with pytest.raises(ValueError, match=r"base64url"):
        b64url_decode(text)


def test_times_are_written_in_utc_with_a_fixed_width_and_read_back() -> None:
    at = datetime(2025, 3, 3, 9, 0, tzinfo=timezone(timedelta(hours=7)))

    assert iso(at) == "2025-03-03T02:00:00.000000Z"
    assert parse_iso(iso(at)) == at.astimezone(UTC)


def test_a_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        parse_iso("2025-03-03T09:00:00")
