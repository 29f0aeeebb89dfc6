"""Passback: entries refused because the credential was already inside, or came back in too soon."""

from __future__ import annotations

from sqlmodel import Session

from ticketing.audit.anomalies.items import refused
from ticketing.audit.models import PassbackFindings
from ticketing.audit.query import Query
from ticketing.catalog import Catalog

__all__ = ["find"]

_REASONS = ("already_inside", "reentry_too_soon")


def find(session: Session, q: Query, _catalog: Catalog) -> PassbackFindings:
    """The scans in q's range refused for passback."""
    count, items = refused(session, q, _REASONS)
    return PassbackFindings(count=count, items=items)
