"""Which issuer key signs at an instant, and what a rotation or a revocation changes (issuing.key_terms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing.issuing.key_terms import (
    KeyTerm,
    KeyWaits,
    RevocationPlan,
    Rotation,
    TermEnd,
    plan_revocation,
    plan_rotation,
    signing_kid,
    waiting_kid,
)

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
LEAD = timedelta(hours=48)
LONGEST = timedelta(days=37)
ACTIVATION = NOW + LEAD

# Key 1 signs until ACTIVATION, key 2 is published ahead and signs from then.
OLD = KeyTerm(1, NOW - timedelta(days=90), ACTIVATION)
NEXT = KeyTerm(2, ACTIVATION)
ROTATED = [OLD, NEXT]


@pytest.mark.parametrize(
    ("at", "kid"),
    [
        (NOW, 1),
        (ACTIVATION - timedelta(seconds=1), 1),
        (ACTIVATION, 2),
        (ACTIVATION + timedelta(days=400), 2),
        (OLD.signs_from - timedelta(seconds=1), None),
    ],
    ids=["before", "the last second before", "at the activation", "long after", "before any key"],
)
def test_the_key_published_ahead_signs_from_its_activation_and_the_old_one_until_then(
    at: datetime, kid: int | None
) -> None:
    assert signing_kid(ROTATED, at) == kid


def test_the_order_keys_are_read_in_does_not_change_the_signing_key() -> None:
    twins = [KeyTerm(7, NOW), KeyTerm(3, NOW)]

    assert signing_kid(twins, NOW) == signing_kid(list(reversed(twins)), NOW) == 7


def test_a_revoked_key_never_signs_even_in_its_term() -> None:
    assert signing_kid([KeyTerm(1, NOW, revoked=True)], NOW) is None


def test_a_retired_key_does_not_sign_again_when_its_successor_is_revoked() -> None:
    retired = KeyTerm(1, NOW - timedelta(days=9), NOW - timedelta(days=2))
    successor = KeyTerm(2, NOW - timedelta(days=2), revoked=True)

    assert signing_kid([retired, successor], NOW) is None


def test_a_rotation_publishes_the_next_key_a_lead_ahead_and_closes_the_open_term_then() -> None:
    current = KeyTerm(1, NOW - timedelta(days=90))

    plan = plan_rotation([current], NOW, LEAD, LONGEST)

    assert plan == Rotation(ACTIVATION, (TermEnd(1, ACTIVATION, ACTIVATION + LONGEST),))


def test_a_rotation_leaves_terms_that_already_ended_as_they_are() -> None:
    ended = KeyTerm(1, NOW - timedelta(days=90), NOW - timedelta(days=30))
    current = KeyTerm(2, NOW - timedelta(days=30))

    plan = plan_rotation([ended, current], NOW, LEAD, LONGEST)

    assert isinstance(plan, Rotation)
    assert [end.kid for end in plan.closed] == [2]


def test_a_second_rotation_while_a_key_waits_is_refused() -> None:
    assert plan_rotation(ROTATED, NOW, LEAD, LONGEST) == KeyWaits(2, ACTIVATION)


def test_with_every_key_revoked_the_next_key_signs_at_once() -> None:
    plan = plan_rotation([KeyTerm(1, NOW - timedelta(days=9), NOW, revoked=True)], NOW, LEAD, LONGEST)

    assert plan == Rotation(NOW, ())


def test_revoking_the_signing_key_brings_the_key_published_ahead_forward() -> None:
    assert plan_revocation(ROTATED, 1, NOW) == RevocationPlan(1, (), brought_forward=2, new_key=False)


def test_revoking_the_only_key_asks_for_a_new_one_that_signs_at_once() -> None:
    assert plan_revocation([KeyTerm(1, NOW - timedelta(days=9))], 1, NOW) == RevocationPlan(
        1, (), brought_forward=None, new_key=True
    )


def test_revoking_the_key_published_ahead_gives_its_term_back_to_the_key_it_would_have_replaced() -> None:
    plan = plan_revocation(ROTATED, 2, NOW)

    assert plan == RevocationPlan(2, (TermEnd(1, None, None),), brought_forward=None, new_key=False)


def test_revoking_a_retired_key_changes_no_term() -> None:
    after = [
        KeyTerm(1, NOW - timedelta(days=90), NOW - timedelta(days=9)),
        KeyTerm(2, NOW - timedelta(days=9)),
    ]

    assert plan_revocation(after, 1, NOW) == RevocationPlan(1, (), brought_forward=None, new_key=False)


def test_revoking_a_key_that_is_not_there_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        plan_revocation(ROTATED, 99, NOW)


def test_the_waiting_key_is_the_unrevoked_one_published_ahead() -> None:
    assert waiting_kid(ROTATED, NOW) == 2
    assert waiting_kid(ROTATED, ACTIVATION) is None
    assert waiting_kid([OLD, KeyTerm(2, ACTIVATION, revoked=True)], NOW) is None
