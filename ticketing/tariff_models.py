"""Published tariff and policy versions: the table, what an operator sends to publish one, what the API shows.

A row never changes once written: a change of mind is a new version for the same instant (the later
announcement wins a tie, fare_rules/versions.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from fare_rules.versions import RulesKind
from ticketing.db import UTCDateTime

__all__ = ["TariffVersion", "TariffVersionCreate", "TariffVersionPublic", "VersionState"]


class VersionState(StrEnum):
    PAST = "past"  # superseded by a later version, or by a later announcement for its instant
    IN_FORCE = "in_force"
    NEXT = "next"  # the next to take effect
    AHEAD = "ahead"  # announced, after the next one


class TariffVersion(SQLModel, table=True):
    """One published version. `seq` is drawn from change_counters (commit order, like the gates' other
    lists), so a gate that asks for `seq > cursor` never skips one."""

    __tablename__ = "tariff_versions"
    __table_args__ = (sa.UniqueConstraint("kind", "version", name="uq_tariff_versions_kind_version"),)

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=16)
    version: str = Field(max_length=64)
    effective_from: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    document: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # canonical file text, as signed
    published_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class TariffVersionCreate(BaseModel):
    """`POST /v1/admin/tariffs`: a tariff or policy file's JSON object, announced for an instant ahead.
    `effective_from` is an ISO date (the start of that service day, 04:00 local) or a date and time with
    its offset; omitted for a tariff, the file's own `effective_from` date. `version` defaults to the
    tariff file's own, or for a policy to a digest of its settings."""

    kind: RulesKind = RulesKind.TARIFF
    document: dict[str, object]
    effective_from: str | None = PydanticField(default=None, max_length=40)
    version: str | None = PydanticField(default=None, min_length=1, max_length=64)


class TariffVersionPublic(BaseModel):
    seq: int  # 0: the file the service was started with; -1: the packaged file
    kind: RulesKind
    version: str
    effective_from: datetime
    published_at: datetime | None  # None for the service's own files
    source: str  # published | file | packaged
    state: VersionState
