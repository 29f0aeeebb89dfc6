"""Versions of the tariff and the policy, and which one is in force at an instant. Pure.

An operator announces a version ahead: its document (a tariff or policy file), an id, and the instant it
takes effect. The service prices a sale, and a gate decides a scan, with the version in force at that
instant, so a change lands everywhere at its time, offline gates included.

The rule, written once here:
- In force at `t`: of the versions whose `effective_from` is at or before `t`, the one with the latest
  `effective_from`. Ties (two versions announced for the same instant) go to the later announcement, the
  higher `seq`: announcing again replaces the earlier announcement for that instant.
- Before the earliest version nothing is in force (`in_force` answers None). The callers never meet that
  gap: both sides hold the packaged version, which is in force since its own date (a policy since always).
- Next: of the versions after `t`, the earliest; ties as above.
- A version may be announced only for an instant after `now` (a sale or a scan already made must not change
  price after the fact), and under an id its kind has not used yet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from fare_rules import _json
from fare_rules.errors import DataFileError
from fare_rules.network import Network
from fare_rules.policy import Policy, load_policy, policy_to_json, service_day_of_date
from fare_rules.tariff import Tariff, load_tariff, tariff_to_json

__all__ = [
    "MAX_POLICY_NUMBER",
    "PACKAGED_SEQ",
    "SINCE_ALWAYS",
    "Announced",
    "Announcement",
    "AnnouncementProblem",
    "Document",
    "RulesKind",
    "Version",
    "announcement_problem",
    "canonical_effective",
    "in_force",
    "parse_document",
    "policy_version_id",
    "tariff_start",
    "upcoming",
    "with_effective_date",
]

# The packaged files rank below every other version with the same effective_from (the file a service is
# configured with is seq 0, published versions 1 and up).
PACKAGED_SEQ = -1
# No number of a policy is this large but by mistake, and a larger one would overflow the date arithmetic of
# a sale or a scan (a million days is 2,700 years): refused before it reaches the service's sales or a gate.
MAX_POLICY_NUMBER = 1_000_000
# When a document without a date of its own (a policy file) takes effect.
SINCE_ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)

Document = Tariff | Policy
D = TypeVar("D", Tariff, Policy)


class RulesKind(StrEnum):
    """What a version holds. The values are a wire contract (the gate list, the API): add, never rename."""

    TARIFF = "tariff"
    POLICY = "policy"


class AnnouncementProblem(StrEnum):
    """Why a version cannot be announced. Wire values: add, never rename."""

    EFFECTIVE_FROM_PAST = "effective_from_past"
    VERSION_EXISTS = "version_exists"


@dataclass(frozen=True, slots=True)
class Announcement:
    """What every version says about itself, whatever it holds: enough to choose one."""

    kind: RulesKind
    version: str
    effective_from: datetime  # aware
    seq: int  # order of announcement

    @property
    def announcement(self) -> Announcement:
        """Itself: the rules below choose among announcements as among versions."""
        return self


@dataclass(frozen=True, slots=True)
class Version(Generic[D]):
    """A version and its parsed document; `text` is the document's canonical file form, what is signed."""

    announcement: Announcement
    document: D
    text: str

    @property
    def version(self) -> str:
        return self.announcement.version

    @property
    def effective_from(self) -> datetime:
        return self.announcement.effective_from


def _rank(a: Announcement) -> tuple[datetime, int]:
    return a.effective_from, a.seq


class Announced(Protocol):
    @property
    def announcement(self) -> Announcement: ...


A = TypeVar("A", bound=Announced)


def in_force(versions: Iterable[A], at: datetime) -> A | None:
    """The version in force at `at` (module docstring), None before the earliest one."""
    started = [v for v in versions if v.announcement.effective_from <= at]
    return max(started, key=lambda v: _rank(v.announcement), default=None)


def upcoming(versions: Iterable[A], at: datetime) -> A | None:
    """The next version to take effect after `at`, None when none is announced."""
    ahead = [v for v in versions if v.announcement.effective_from > at]
    if not ahead:
        return None
    first = min(v.announcement.effective_from for v in ahead)
    return max((v for v in ahead if v.announcement.effective_from == first), key=lambda v: v.announcement.seq)


def announcement_problem(
    known: Sequence[Announcement], kind: RulesKind, version: str, effective_from: datetime, now: datetime
) -> AnnouncementProblem | None:
    """Why announcing `version` of `kind` for `effective_from` is refused at `now`, or None if it may be."""
    if effective_from <= now:
        return AnnouncementProblem.EFFECTIVE_FROM_PAST
    if any(a.kind is kind and a.version == version for a in known):
        return AnnouncementProblem.VERSION_EXISTS
    return None


def tariff_start(effective: date, policy: Policy) -> datetime:
    """The instant a tariff dated `effective` takes effect: the start of that service day (04:00 local)."""
    return service_day_of_date(effective, policy)


def policy_version_id(policy: Policy) -> str:
    """The id of a policy without one: a digest of its settings, so the same settings get the same id."""
    return "policy-" + hashlib.sha256(policy_to_json(policy).encode()).hexdigest()[:8]


def parse_document(kind: RulesKind, text: str, network: Network) -> tuple[Document, str]:
    """A tariff or policy file, parsed, and its canonical text; DataFileError naming the field if bad."""
    if kind is RulesKind.TARIFF:
        tariff = load_tariff(text, network)
        return tariff, tariff_to_json(tariff)
    policy = load_policy(text)
    for setting in dataclasses.fields(policy):
        value = getattr(policy, setting.name)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_POLICY_NUMBER:
            raise DataFileError(f"policy.{setting.name}: {value} is beyond {MAX_POLICY_NUMBER:,}")
    return policy, policy_to_json(policy)


def canonical_effective(raw: str, policy: Policy) -> datetime:
    """An operator's `effective_from`: an ISO date (the start of that service day) or an ISO date and time
    with its UTC offset. DataFileError for a naive time: which zone it means would be a guess."""
    try:
        if len(raw) == len("YYYY-MM-DD"):
            return tariff_start(date.fromisoformat(raw), policy)
        at = datetime.fromisoformat(raw)
        if at.tzinfo is not None:
            return at.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: a date at the very edge of the calendar
        raise DataFileError(f"effective_from: {raw!r} is not an ISO date or date and time") from None
    raise DataFileError(f"effective_from: {raw!r} needs its UTC offset (e.g. +07:00 or Z)")


def with_effective_date(kind: RulesKind, text: str, network: Network, at: datetime, policy: Policy) -> str:
    """A tariff's file with its `effective_from` date set to the local date of `at` (so that the file and the
    version it is published as agree); a policy's file unchanged."""
    if kind is RulesKind.POLICY:
        return text
    data = _json.parse_object(text, "tariff")
    data["effective_from"] = at.astimezone(policy.local_tz).date().isoformat()
    return json.dumps(data, ensure_ascii=False)
