"""Which issuer key signs at an instant, and what a rotation or a revocation changes (issuing.key_terms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.issuing.key_terms import (
    KeyChange,
    KeyTerm,
    KeyWaits,
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

    assert plan == KeyChange(
        (KeyTerm(1, current.signs_from, ACTIVATION, False, ACTIVATION + LONGEST),), ACTIVATION
    )


def test_a_rotation_leaves_terms_that_already_ended_as_they_are() -> None:
    ended = KeyTerm(1, NOW - timedelta(days=90), NOW - timedelta(days=30), not_after=NOW + timedelta(days=7))
    current = KeyTerm(2, NOW - timedelta(days=30))

    plan = plan_rotation([ended, current], NOW, LEAD, LONGEST)

    assert isinstance(plan, KeyChange)
    assert plan.terms[0] == ended
    assert plan.terms[1].signs_until == ACTIVATION


def test_a_second_rotation_while_a_key_waits_is_refused() -> None:
    assert plan_rotation(ROTATED, NOW, LEAD, LONGEST) == KeyWaits(2, ACTIVATION)


def test_with_every_key_revoked_the_next_key_signs_at_once() -> None:
    revoked = KeyTerm(1, NOW - timedelta(days=9), NOW, revoked=True)

    assert plan_rotation([revoked], NOW, LEAD, LONGEST) == KeyChange((revoked,), NOW)


def test_revoking_the_signing_key_brings_the_key_published_ahead_forward() -> None:
    plan = plan_revocation(ROTATED, 1, NOW)

    assert plan == KeyChange((KeyTerm(1, OLD.signs_from, NOW, revoked=True), KeyTerm(2, NOW)), None)


def test_revoking_the_only_key_asks_for_a_new_one_that_signs_at_once() -> None:
    only = KeyTerm(1, NOW - timedelta(days=9))

    assert plan_revocation([only], 1, NOW) == KeyChange(
        (KeyTerm(1, only.signs_from, NOW, revoked=True),), NOW
    )


def test_revoking_the_key_published_ahead_gives_its_term_back_to_the_key_it_would_have_replaced() -> None:
    closed = KeyTerm(1, OLD.signs_from, ACTIVATION, not_after=ACTIVATION + LONGEST)

    plan = plan_revocation([closed, NEXT], 2, NOW)

    assert plan == KeyChange((KeyTerm(1, OLD.signs_from), KeyTerm(2, ACTIVATION, NOW, revoked=True)), None)


def test_revoking_a_retired_key_changes_no_other_term() -> None:
    retired = KeyTerm(1, NOW - timedelta(days=90), NOW - timedelta(days=9))
    current = KeyTerm(2, NOW - timedelta(days=9))

    assert plan_revocation([retired, current], 1, NOW) == KeyChange(
        (KeyTerm(1, retired.signs_from, retired.signs_until, revoked=True), current), None
    )


def test_revoking_a_key_that_is_not_there_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        plan_revocation(ROTATED, 99, NOW)


def test_the_waiting_key_is_the_unrevoked_one_published_ahead() -> None:
    assert waiting_kid(ROTATED, NOW) == 2
    assert waiting_kid(ROTATED, ACTIVATION) is None
    assert waiting_kid([OLD, KeyTerm(2, ACTIVATION, revoked=True)], NOW) is None


# --- whatever the operator does ----------------------------------------------------------------------------

_STEPS = st.lists(
    st.tuples(st.sampled_from(["rotate", "revoke"]), st.integers(0, 80), st.integers(0, 20)), max_size=12
)


def _rotated(terms: list[KeyTerm], now: datetime, new_kid: int) -> list[KeyTerm]:
    before = signing_kid(terms, now)
    plan = plan_rotation(terms, now, LEAD, LONGEST)
    if isinstance(plan, KeyWaits):
        assert plan.kid == waiting_kid(terms, now)
        return terms
    after = [*plan.terms, KeyTerm(new_kid, plan.new_key_from or now)]
    starts = plan.new_key_from or now
    if before is not None:  # nothing changes for gates until the lead time is over
        assert starts == now + LEAD
        assert signing_kid(after, starts - timedelta(seconds=1)) == before
    assert signing_kid(after, starts) == new_kid
    return after


def _revoked(terms: list[KeyTerm], now: datetime, kid: int, new_kid: int) -> list[KeyTerm]:
    plan = plan_revocation(terms, kid, now)
    after = list(plan.terms)
    if plan.new_key_from is not None:
        after.append(KeyTerm(new_kid, plan.new_key_from))
    assert signing_kid(after, now) not in (None, kid)
    return after


@given(steps=_STEPS)
def test_whatever_the_operator_does_one_key_signs_at_every_instant_and_at_most_one_waits(
    steps: list[tuple[str, int, int]],
) -> None:
    terms, now = [KeyTerm(1, NOW)], NOW
    for number, (step, hours, pick) in enumerate(steps, start=2):
        now += timedelta(hours=hours)
        if step == "rotate":
            terms = _rotated(terms, now, number)
        else:
            terms = _revoked(terms, now, terms[pick % len(terms)].kid, number)

        ahead = [now + timedelta(hours=h) for h in range(0, 24 * 30, 7)]
        assert all(signing_kid(terms, at) is not None for at in ahead)
        assert sum(not t.revoked and t.signs_from > now for t in terms) <= 1
        for term in terms:  # a retired key stays published while its tickets may be shown
            if not term.revoked and term.signs_until is not None:
                assert term.not_after is not None
                assert term.not_after >= term.signs_until + LONGEST
