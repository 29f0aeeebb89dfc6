"""Lists older than the policy allows are stale, one never synced too: the one rule a gate flags its scans
by (gate_flags) and gate health judges a gate's fetched lists by."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from fare_rules_factories import NOW, POLICY

from fare_rules.model import Flag
from fare_rules.rules import gate_flags, lists_stale

LIMIT = timedelta(seconds=POLICY.max_list_age_seconds)


@pytest.mark.parametrize(
    ("lists_as_of", "stale"),
    [
        (NOW, False),
        (NOW - LIMIT, False),
        (NOW - LIMIT - timedelta(microseconds=1), True),
        (NOW - 2 * LIMIT, True),
        (None, True),
    ],
)
def test_lists_are_stale_once_older_than_the_policy_allows_or_never_synced(
    lists_as_of: datetime | None, stale: bool
) -> None:
    assert lists_stale(NOW, lists_as_of, POLICY) is stale
    assert (Flag.STALE_LISTS in gate_flags(NOW, lists_as_of, 0.0, POLICY)) is stale


def test_the_policy_in_force_sets_how_old_is_too_old() -> None:
    strict = replace(POLICY, max_list_age_seconds=60)

    assert lists_stale(NOW, NOW - timedelta(seconds=61), strict)
    assert not lists_stale(NOW, NOW - timedelta(seconds=61), POLICY)
