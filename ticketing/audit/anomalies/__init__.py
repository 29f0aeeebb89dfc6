"""Anomalies over a time range, a module per kind: `double_use`, `passback`, `overstay`, `entry_unseen`,
`repeated_exit`, `used_after_refund`, `journal_gap` and `pass_too_fast`; `items` holds what several of them
list. Each kind answers its findings (ticketing.audit.models): how many, and the first `limit` of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlmodel import Session

from ticketing.audit.anomalies import (
    double_use,
    entry_unseen,
    journal_gap,
    overstay,
    pass_too_fast,
    passback,
    repeated_exit,
    used_after_refund,
)
from ticketing.audit.csv_writer import csv_lines
from ticketing.audit.models import Anomalies, AnomaliesAnswer, AnomalyRow, Findings
from ticketing.audit.query import ANOMALY_KINDS, Query, iso
from ticketing.catalog import Catalog
from ticketing.errors import InvalidRequest

__all__ = ["anomalies_csv", "anomaly_rows", "find_anomalies"]

_KINDS: dict[str, Callable[[Session, Query, Catalog], Findings[Any]]] = {
    "double_use": double_use.find,
    "passback": passback.find,
    "overstay": overstay.find,
    "entry_unseen": entry_unseen.find,
    "repeated_exit": repeated_exit.find,
    "used_after_refund": used_after_refund.find,
    "journal_gap": journal_gap.find,
    "pass_too_fast": pass_too_fast.find,
}
assert tuple(_KINDS) == ANOMALY_KINDS
_COLUMNS = tuple(AnomalyRow.model_fields)


def find_anomalies(session: Session, catalog: Catalog, q: Query) -> AnomaliesAnswer:
    """Each anomaly kind (or only q.kind) in q's range (required; journal gaps are listed whatever the
    range). Items are capped at q.limit per kind; count is the full number."""
    if q.since is None or q.until is None:
        raise InvalidRequest("anomalies need a time range: from and to", code="bad_range")
    kinds = [q.kind] if q.kind else list(_KINDS)
    found = Anomalies.model_validate({kind: _KINDS[kind](session, q, catalog) for kind in kinds})
    return AnomaliesAnswer(since=iso(q.since), until=iso(q.until), anomalies=found)


def anomaly_rows(answer: AnomaliesAnswer) -> Iterator[AnomalyRow]:
    """Anomalies flattened for CSV and tables: the common columns, the rest of the item as a JSON object."""
    for kind, found in answer.anomalies.asked():
        for item in found.items:
            values = item.model_dump()
            rest = {k: v for k, v in values.items() if k not in _COLUMNS}
            detail = json.dumps(rest, ensure_ascii=False, separators=(",", ":"))
            common = {column: values.get(column) for column in ("at", "station", "gate", "credential")}
            yield AnomalyRow.model_validate({"kind": kind, **common, "detail": detail})


def anomalies_csv(answer: AnomaliesAnswer) -> Iterator[str]:
    """The anomalies as CSV lines, a header first (AnomalyRow's fields)."""
    return csv_lines(AnomalyRow, anomaly_rows(answer))
