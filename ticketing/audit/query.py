"""What an auditor may ask, checked before any query runs: filters, time range, page size, cursor, format.

The same parser serves the API (query parameters) and the CLI (options turned into the same names), so both
refuse the same things with the same codes: unknown_filter, bad_filter, bad_range, bad_limit, bad_cursor.
Times are ISO 8601; without an offset they are read at the policy's local offset (Ho Chi Minh City: UTC+7),
which is what an auditor means by "07:00 at Bến Thành"; a bare date is that day's local midnight.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, overload

from fare_rules.cccd import validate_number
from fare_rules.policy import DEFAULT_POLICY
from ticketing.errors import InvalidRequest
from validator.wire import b64url_decode, b64url_encode

__all__ = [
    "ANOMALY_FILTERS",
    "ANOMALY_KINDS",
    "CCCD_HEADER",
    "DEFAULT_LIMIT",
    "EARLIEST",
    "LATEST",
    "MAX_LIMIT",
    "REPORT_FILTERS",
    "REPORT_KINDS",
    "SCAN_FILTERS",
    "SCAN_KINDS",
    "TRIP_FILTERS",
    "Query",
    "decode_cursor",
    "encode_cursor",
    "iso",
    "parse_query",
]

CCCD_HEADER = "X-Audit-CCCD"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
# Audit times must fall in these years: far wider than any scan, narrow enough for every report's arithmetic.
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
_PAGING = frozenset({"limit", "cursor", "format"})
_WHO = frozenset({"ticket", "order", "cccd", "product"})
SCAN_FILTERS = _PAGING | _WHO | {"station", "gate", "from", "to", "verdict", "reason", "kind"}
SCAN_KINDS = ("scan", "settlement", "override")  # who made a journal event: a rider's scan or station staff
TRIP_FILTERS = _PAGING | _WHO | {"station", "origin", "destination", "gate", "from", "to", "status"}
REPORT_KINDS = ("ridership", "od", "revenue", "denials", "overrides", "free_rides")
REPORT_FILTERS = {
    "ridership": frozenset({"from", "to", "station", "bucket", "format"}),
    "od": frozenset({"from", "to", "product", "format"}),
    "revenue": frozenset({"from", "to", "format"}),
    "denials": frozenset({"from", "to", "station", "gate", "format"}),
    "overrides": frozenset({"from", "to", "station", "gate", "format"}),
    "free_rides": frozenset({"from", "to", "station", "format"}),
}
ANOMALY_KINDS = (
    "double_use", "passback", "overstay", "entry_unseen", "repeated_exit", "used_after_refund", "journal_gap",
    "pass_too_fast",
)  # fmt: skip
ANOMALY_FILTERS = frozenset({"from", "to", "kind", "limit", "format"})
_CHOICES = {
    "verdict": ("accept", "deny"),
    "status": ("open", "complete", "orphan_exit", "repeated_exit"),
    "bucket": ("hour", "day"),
    "format": ("json", "csv"),
    "kind": ANOMALY_KINDS,
}
_CHOICES_OF = {SCAN_FILTERS: {"kind": SCAN_KINDS}}  # a filter whose choices depend on the endpoint


@dataclass(frozen=True, slots=True)
class Query:
    """A checked audit request. `cccd` is the validated number: the services hash it and never echo it."""

    station: str | None = None
    origin: str | None = None
    destination: str | None = None
    gate: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ticket: int | None = None
    order: str | None = None
    cccd: str | None = None
    product: str | None = None
    verdict: str | None = None
    reason: str | None = None
    status: str | None = None
    bucket: str = "hour"
    kind: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    format: str = "json"
    # Local time, for times without an offset and for hour and day buckets: the operator's policy says it.
    utc_offset_hours: int = DEFAULT_POLICY.utc_offset_hours

    @property
    def local(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))

    @property
    def csv(self) -> bool:
        return self.format == "csv"


@overload
def iso(at: datetime) -> str: ...
@overload
def iso(at: None) -> None: ...


def iso(at: datetime | None) -> str | None:
    """`2025-03-03T00:20:00Z`, or None. Whole seconds, unlike validator.wire.iso's fixed-width microseconds:
    this is what auditors read in JSON and CSV (and what the audit tests expect), not a sortable wire text."""
    return None if at is None else at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _time(name: str, text: str, local: timezone) -> datetime:
    """The UTC time `text` means (a date or a time without offset is `local`), within EARLIEST..LATEST: at
    the calendar's ends (0001-01-01 local is still year 0 in UTC) the conversion and the reports' bucket
    arithmetic overflow."""
    try:
        if len(text) == 10:
            at = datetime.combine(date.fromisoformat(text), datetime.min.time(), local)
        else:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        at = (at if at.tzinfo else at.replace(tzinfo=local)).astimezone(UTC)
    except ValueError:
        raise InvalidRequest(f"{name}: not an ISO 8601 time or date", code="bad_filter") from None
    except OverflowError:
        at = EARLIEST - timedelta(days=1)  # out of range either way: refused just below
    if not EARLIEST <= at <= LATEST:
        raise InvalidRequest(f"{name}: a time from {EARLIEST.year} to {LATEST.year - 1}", code="bad_filter")
    return at


def _single(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    pairs = params.items() if isinstance(params, Mapping) else params
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidRequest(f"{key} given twice", code="bad_filter")
        out[key] = value
    return out


def parse_query(
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    allowed: frozenset[str],
    require_range: bool = False,
    cccd: str | None = None,
    *,
    utc_offset_hours: int,
) -> Query:
    """Check `params` against the filters one endpoint knows. `cccd` comes apart from them: over HTTP it is
    the X-Audit-CCCD header, because URLs end up in access logs and a CCCD number must never. Raises
    InvalidRequest (or CccdError for a number that does not validate; its message shows it masked)."""
    given = _known(params, allowed, cccd)
    local = timezone(timedelta(hours=utc_offset_hours))
    since = _time("from", given["from"], local) if "from" in given else None
    until = _time("to", given["to"], local) if "to" in given else None
    if since and until and since >= until:
        raise InvalidRequest("from must be before to", code="bad_range")
    if require_range and not (since and until):
        raise InvalidRequest("give a time range: from and to", code="bad_range")
    ticket = given.get("ticket")
    if ticket is not None and not (ticket.isdigit() and len(ticket) <= 19 and int(ticket) < 2**63):
        raise InvalidRequest("ticket is a ticket serial (digits)", code="bad_filter")
    limit_text = given.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise InvalidRequest(f"limit is 1 to {MAX_LIMIT}", code="bad_limit")
    texts = {
        k: given.get(k) for k in ("station", "origin", "destination", "gate", "order", "product", "reason")
    }
    return Query(
        **texts,
        since=since,
        until=until,
        ticket=int(ticket) if ticket is not None else None,
        cccd=validate_number(given["cccd"]) if "cccd" in given else None,
        verdict=given.get("verdict"),
        status=given.get("status"),
        bucket=given.get("bucket", "hour"),
        kind=given.get("kind"),
        limit=int(limit_text),
        cursor=given.get("cursor"),
        format=given.get("format", "json"),
        utc_offset_hours=utc_offset_hours,
    )


def _known(
    params: Mapping[str, str] | Iterable[tuple[str, str]], allowed: frozenset[str], cccd: str | None
) -> dict[str, str]:
    """The filters given (empty ones dropped), each one this endpoint knows and, where it is a choice, one
    of its choices; the CCCD number only from its header."""
    given = {k: v for k, v in _single(params).items() if v != ""}
    if "cccd" in given:
        raise InvalidRequest(
            f"send the CCCD number in the {CCCD_HEADER} header, not in the URL (URLs are logged)",
            code="cccd_in_url",
        )
    if cccd and "cccd" in allowed:
        given["cccd"] = cccd
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown filter(s): {', '.join(unknown)}", code="unknown_filter")
    for name, choices in (_CHOICES | _CHOICES_OF.get(allowed, {})).items():
        if name in given and given[name] not in choices:
            raise InvalidRequest(f"{name} is one of {', '.join(choices)}", code="bad_filter")
    return given


def encode_cursor(kind: str, *key: Any) -> str:
    """Opaque to clients: base64url of the last row's sort key (and which listing it belongs to)."""
    exact = [
        k.astimezone(UTC).isoformat() if isinstance(k, datetime) else k for k in key
    ]  # microseconds kept
    text = json.dumps([kind, *exact], separators=(",", ":"))
    return b64url_encode(text.encode())


def decode_cursor(cursor: str, kind: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """The sort key a cursor holds; datetimes arrive as ISO text. InvalidRequest(bad_cursor) otherwise."""
    try:
        raw = b64url_decode(cursor)
        value = json.loads(raw)
        if not isinstance(value, list) or value[0] != kind or len(value) != len(types) + 1:
            raise ValueError("not ours")
        key: list[Any] = []
        for item, wanted in zip(value[1:], types, strict=True):
            if wanted is datetime:
                key.append(datetime.fromisoformat(item.replace("Z", "+00:00")).astimezone(UTC))
            elif not isinstance(item, wanted) or isinstance(item, bool):
                raise ValueError("wrong type")
            else:
                key.append(item)
    except (
        ValueError,
        OverflowError,
        TypeError,
        AttributeError,
        IndexError,
        binascii.Error,
        UnicodeDecodeError,
    ):
        raise InvalidRequest(
            "malformed cursor: pass back the `next` of the previous page", code="bad_cursor"
        ) from None
    return tuple(key)
