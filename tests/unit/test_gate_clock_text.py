"""How the gate words its clock offset for staff (`status`, `sync`'s clock_off): which way and how far, and
in step when the offset rounds to nothing."""

from __future__ import annotations

import pytest

from validator.screen import describe_offset


@pytest.mark.parametrize("offset", [0.0, -0.0, 0.3, -0.3, 0.49, -0.49])
def test_an_offset_that_rounds_to_zero_seconds_reads_as_in_step(offset: float) -> None:
    assert describe_offset(offset) == "in step with the issuer's time"


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (2.0, "2 s behind the issuer's time"),
        (-2.0, "2 s ahead of the issuer's time"),
        (0.6, "1 s behind the issuer's time"),
        (600.0, "10 min behind the issuer's time"),
        (-600.0, "10 min ahead of the issuer's time"),
    ],
)
def test_an_offset_says_how_far_and_which_way_the_gate_clock_is_off(offset: float, text: str) -> None:
    assert describe_offset(offset) == text
