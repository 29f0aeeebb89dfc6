"""Which issuer key signs at an instant, and what a rotation or a revocation changes. Pure.

Each key signs over a term: from `signs_from` until `signs_until` (exclusive; None: open), unless revoked.
The choices the rules make:

- **The next key is published ahead.** A rotation makes a key whose term starts `lead` after it (the
  policy's `key_lead_hours`): gates learn it at their next sync and hold it before the first ticket it signs
  is shown to them, so an offline gate never refuses a fresh ticket as `unknown_key`. The open terms close
  when the new one starts. With no key signing at all (every key revoked) there is nothing to wait for: the
  new key signs at once.
- **One key waits at a time.** A second rotation while one key waits is refused: it would shorten the wait
  that gates were promised, or hide the first key's term.
- **A revocation never leaves the issuer without a signing key.** The revoked key stops at once; if it was
  the one signing, the key waiting takes over now (gates that synced already trust it, so they follow the
  revocation), or, with none waiting, a new key must sign at once. A waiting key revoked before its term
  gives the term back to the key it would have replaced.
- **Retired keys stay published until the last ticket they signed can have expired**: `not_after` is the
  end of their term plus the longest validity a product has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = [
    "KeyChange",
    "KeyTerm",
    "KeyWaits",
    "plan_revocation",
    "plan_rotation",
    "signing_kid",
    "waiting_kid",
]


@dataclass(frozen=True, slots=True)
class KeyTerm:
    """When one issuer key signs, and until when it stays published (`not_after`; None: while it may sign)."""

    kid: int
    signs_from: datetime
    signs_until: datetime | None = None
    revoked: bool = False
    not_after: datetime | None = None

    def signs_at(self, at: datetime) -> bool:
        return (
            not self.revoked and self.signs_from <= at and (self.signs_until is None or at < self.signs_until)
        )


@dataclass(frozen=True, slots=True)
class KeyChange:
    """The terms of the existing keys after a rotation or a revocation, and, when a new key is made, the
    instant it signs from."""

    terms: tuple[KeyTerm, ...]
    new_key_from: datetime | None


@dataclass(frozen=True, slots=True)
class KeyWaits:
    """A rotation refused: key `kid` already waits to sign from `signs_from`."""

    kid: int
    signs_from: datetime


def signing_kid(terms: Iterable[KeyTerm], at: datetime) -> int | None:
    """The key that signs at `at`: of the keys in their term, the one whose term began last (then the
    higher id, so that the choice never depends on the order the keys were read in)."""
    current = [term for term in terms if term.signs_at(at)]
    return max(current, key=lambda term: (term.signs_from, term.kid)).kid if current else None


def waiting_kid(terms: Iterable[KeyTerm], at: datetime) -> int | None:
    """The unrevoked key published ahead whose term has not begun at `at` (the first, if several)."""
    waiting = [term for term in terms if not term.revoked and term.signs_from > at]
    return min(waiting, key=lambda term: (term.signs_from, term.kid)).kid if waiting else None


def plan_rotation(
    terms: Sequence[KeyTerm], now: datetime, lead: timedelta, longest_validity: timedelta
) -> KeyChange | KeyWaits:
    """When the next key signs, and the terms that then close (see the module's docstring)."""
    waiting = waiting_kid(terms, now)
    if waiting is not None:
        return KeyWaits(waiting, _term(terms, waiting).signs_from)
    starts = now + lead if signing_kid(terms, now) is not None else now
    after = tuple(
        replace(term, signs_until=starts, not_after=starts + longest_validity)
        if not term.revoked and (term.signs_until is None or term.signs_until > starts)
        else term
        for term in terms
    )
    return KeyChange(after, new_key_from=starts)


def plan_revocation(terms: Sequence[KeyTerm], kid: int, now: datetime) -> KeyChange:
    """The terms after key `kid` is revoked at `now` (see the module's docstring). KeyError when the key is
    not among `terms`."""
    revoked = _term(terms, kid)
    stops = now if revoked.signs_until is None or revoked.signs_until > now else revoked.signs_until
    after = [replace(term, revoked=True, signs_until=stops) if term.kid == kid else term for term in terms]
    if not revoked.revoked and revoked.signs_from > now:  # a waiting key: its predecessor signs on
        after = [
            replace(term, signs_until=None, not_after=None)
            if not term.revoked and term.signs_until == revoked.signs_from
            else term
            for term in after
        ]
    if signing_kid(after, now) is not None:
        return KeyChange(tuple(after), new_key_from=None)
    waiting = waiting_kid(after, now)
    if waiting is None:
        return KeyChange(tuple(after), new_key_from=now)
    return KeyChange(tuple(replace(t, signs_from=now) if t.kid == waiting else t for t in after), None)


def _term(terms: Iterable[KeyTerm], kid: int) -> KeyTerm:
    for term in terms:
        if term.kid == kid:
            return term
    raise KeyError(kid)
