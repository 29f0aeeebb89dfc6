"""Small wire helpers shared by the gate's modules: times as ISO 8601 UTC text."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso", "parse_iso"]


def iso(at: datetime) -> str:
    """`2025-01-21T05:00:00.000000Z`: fixed width, so the texts also sort as times."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time with an offset (or Z); ValueError if it has none or does not parse."""
    if not isinstance(text, str):
        raise ValueError("time must be an ISO 8601 string")
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return at.astimezone(UTC)
