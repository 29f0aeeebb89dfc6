"""Tariff and policy versions: announce one ahead, list them, the catalog in force at an instant, and the
signed list gates sync. Which version is in force is fare_rules.versions' rule; this module gathers them.

The versions the service holds: the packaged files (seq -1), the files it was started with
(METRO_TARIFF_FILE, METRO_POLICY_FILE; seq 0, when they differ from the packaged ones) and every version
published since (seq 1 and up, stored in `tariff_versions`). The packaged tariff is in force from its own
date, a policy file since always; a published version from its `effective_from`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fare_rules.errors import DataFileError
from fare_rules.network import Network
from fare_rules.policy import Policy, policy_to_json
from fare_rules.tariff import Tariff, tariff_to_json
from fare_rules.versions import (
    PACKAGED_SEQ,
    SINCE_ALWAYS,
    Announcement,
    AnnouncementProblem,
    RulesKind,
    Version,
    announcement_problem,
    canonical_effective,
    in_force,
    parse_document,
    policy_version_id,
    tariff_start,
    upcoming,
)
from ticketing.catalog import Catalog, packaged_catalog
from ticketing.context import ServiceContext
from ticketing.errors import Conflict, InvalidRequest
from ticketing.models import table_of
from ticketing.services.common import next_seq
from ticketing.tariff_models import TariffVersion, TariffVersionCreate, TariffVersionPublic, VersionState

__all__ = [
    "FILE_SEQ",
    "Versions",
    "bundle_versions",
    "catalog_at",
    "context_at",
    "list_versions",
    "load_versions",
    "publish_version",
    "versions_page",
]

FILE_SEQ = 0
_COUNTER = "tariff_versions"


@dataclass(frozen=True, slots=True)
class Versions:
    """Every version the service holds, each kind in announcement order."""

    tariffs: list[Version[Tariff]]
    policies: list[Version[Policy]]

    def all(self) -> list[Version[Tariff] | Version[Policy]]:
        return [*self.tariffs, *self.policies]


def _tariff_version(tariff: Tariff, seq: int, policy: Policy) -> Version[Tariff]:
    announced = Announcement(
        RulesKind.TARIFF, tariff.version, tariff_start(tariff.effective_from, policy), seq
    )
    return Version(announced, tariff, tariff_to_json(tariff))


def _policy_version(policy: Policy, seq: int) -> Version[Policy]:
    announced = Announcement(RulesKind.POLICY, policy_version_id(policy), SINCE_ALWAYS, seq)
    return Version(announced, policy, policy_to_json(policy))


def _own_versions(ctx: ServiceContext) -> Versions:
    """The packaged files, and the service's own files where they differ (built once per catalog)."""
    known = _OWN.get(id(ctx.catalog))
    if known is not None and known[0] is ctx.catalog:
        return known[1]
    if len(_OWN) >= _PARSED_MAX:
        _OWN.clear()
    versions = _build_own_versions(ctx)
    _OWN[id(ctx.catalog)] = (ctx.catalog, versions)
    return versions


def _build_own_versions(ctx: ServiceContext) -> Versions:
    packaged, own = packaged_catalog(), ctx.catalog
    tariffs = [_tariff_version(packaged.tariff, PACKAGED_SEQ, own.policy)]
    if own.tariff != packaged.tariff:
        tariffs.append(_tariff_version(own.tariff, FILE_SEQ, own.policy))
    policies = [_policy_version(packaged.policy, PACKAGED_SEQ)]
    if own.policy != packaged.policy:
        policies.append(_policy_version(own.policy, FILE_SEQ))
    return Versions(tariffs, policies)


_PARSED: dict[tuple[RulesKind, str, str], Tariff | Policy] = {}
_PARSED_MAX = 64
_CATALOGS: dict[tuple[int, int, int], Catalog] = {}
_OWN: dict[int, tuple[Catalog, Versions]] = {}
# Built once: every sale runs the first (Core statements, compiled once and cached by SQLAlchemy).
_TABLE = table_of(TariffVersion)
_ANNOUNCEMENTS = sa.select(_TABLE.c.seq, _TABLE.c.kind, _TABLE.c.version, _TABLE.c.effective_from)
_DOCUMENT = sa.select(_TABLE.c.document).where(_TABLE.c.seq == sa.bindparam("seq"))


def _parsed(kind: RulesKind, text: str, network: Network) -> Tariff | Policy:
    # Rows never change: parse each document once per process, not at every sale it prices.
    key = (kind, network.id, text)
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[key] = parse_document(kind, text, network)[0]
    return found


def _row_version(row: TariffVersion, network: Network) -> Version[Any]:
    kind = RulesKind(row.kind)
    announced = Announcement(kind, row.version, row.effective_from, row.seq)
    return Version(announced, _parsed(kind, row.document, network), row.document)


def load_versions(session: Session, ctx: ServiceContext) -> Versions:
    """The service's own versions and every published one."""
    own = _own_versions(ctx)
    rows = session.exec(select(TariffVersion).order_by(col(TariffVersion.seq))).all()
    published = [_row_version(row, ctx.catalog.network) for row in rows]
    return Versions(
        own.tariffs + [v for v in published if v.announcement.kind is RulesKind.TARIFF],
        own.policies + [v for v in published if v.announcement.kind is RulesKind.POLICY],
    )


def catalog_at(session: Session, ctx: ServiceContext, at: datetime) -> Catalog:
    """The network with the tariff and the policy in force at `at`: what a sale at `at` is priced and
    issued with, and what a gate decides a scan at `at` with. Reads the published versions' dates, and the
    document of a published one only when it is the one in force."""
    own = _own_versions(ctx)
    rows = session.connection().execute(_ANNOUNCEMENTS).all()
    published = [Announcement(RulesKind(kind), version, start, seq) for seq, kind, version, start in rows]
    tariff = _document_in_force(session, ctx, own.tariffs, published, RulesKind.TARIFF, at)
    policy = _document_in_force(session, ctx, own.policies, published, RulesKind.POLICY, at)
    # Before 2025-01-21 no tariff is in force: the service's own is all there is to sell with.
    return _catalog(ctx, tariff or ctx.catalog.tariff, policy or ctx.catalog.policy)


def _document_in_force(  # noqa: PLR0917 - the versions of one kind and the instant
    session: Session,
    ctx: ServiceContext,
    own: Sequence[Version[Any]],
    published: Sequence[Announcement],
    kind: RulesKind,
    at: datetime,
) -> Any:
    chosen = in_force([*(v.announcement for v in own), *(a for a in published if a.kind is kind)], at)
    if chosen is None:
        return None
    if chosen.seq <= FILE_SEQ:
        return next(v.document for v in own if v.announcement.seq == chosen.seq)
    text = session.connection().execute(_DOCUMENT, {"seq": chosen.seq}).scalar_one()
    return _parsed(kind, text, ctx.catalog.network)


def _catalog(ctx: ServiceContext, tariff: Tariff, policy: Policy) -> Catalog:
    """The same catalog object for the same versions: what the GTFS feed's cache keys on."""
    key = (id(ctx.catalog.network), id(tariff), id(policy))
    known = _CATALOGS.get(key)
    if known is None or known.tariff is not tariff or known.policy is not policy:
        if len(_CATALOGS) >= _PARSED_MAX:
            _CATALOGS.clear()
        known = _CATALOGS[key] = Catalog(ctx.catalog.network, tariff, policy)
    return known


def context_at(session: Session, ctx: ServiceContext, at: datetime) -> ServiceContext:
    """`ctx` with the catalog in force at `at`, for the services that price or issue."""
    return replace(ctx, catalog=catalog_at(session, ctx, at))


def _prepared(body: TariffVersionCreate, ctx: ServiceContext) -> tuple[str, datetime, str]:
    """(version id, effective_from, canonical document) of an announcement; InvalidRequest if the document or
    the date does not parse. A tariff's own version and date are set to those it is published under."""
    policy = ctx.catalog.policy
    data = dict(body.document)
    try:
        if body.kind is RulesKind.TARIFF:
            raw = body.effective_from or str(data.get("effective_from", ""))
            effective_from = canonical_effective(raw, policy)
            data["effective_from"] = effective_from.astimezone(policy.local_tz).date().isoformat()
            if body.version is not None:
                data["version"] = body.version
        elif body.effective_from is None:
            raise DataFileError("effective_from: required for a policy (a date, or a date and time)")
        else:
            effective_from = canonical_effective(body.effective_from, policy)
        document, text = parse_document(body.kind, json.dumps(data, ensure_ascii=False), ctx.catalog.network)
    except DataFileError as error:
        raise InvalidRequest(str(error), code="invalid_document") from None
    except OverflowError:  # an effective_from whose local date is off the calendar
        raise InvalidRequest("effective_from: out of range", code="invalid_document") from None
    if isinstance(document, Tariff):
        return document.version, effective_from, text
    return body.version or policy_version_id(document), effective_from, text


def publish_version(
    session: Session, ctx: ServiceContext, body: TariffVersionCreate, now: datetime
) -> TariffVersionPublic:
    """Announce a version ahead. 422 invalid_document, 422 effective_from_past, 409 version_exists."""
    version, effective_from, text = _prepared(body, ctx)
    known = [v.announcement for v in load_versions(session, ctx).all()]
    problem = announcement_problem(known, body.kind, version, effective_from, now)
    if problem is AnnouncementProblem.EFFECTIVE_FROM_PAST:
        raise InvalidRequest(
            f"effective_from {effective_from.isoformat()} is not after now: a version is announced ahead",
            code=problem.value,
        )
    if problem is AnnouncementProblem.VERSION_EXISTS:
        raise Conflict(
            f"{body.kind.value} version {version!r} exists: publish under a new id", code=problem.value
        )
    row = TariffVersion(
        seq=next_seq(session, _COUNTER),
        kind=body.kind.value,
        version=version,
        effective_from=effective_from,
        document=text,
        published_at=now,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same id published at the same moment by another request
        session.rollback()
        raise Conflict(f"{body.kind.value} version {version!r} exists", code="version_exists") from None
    return next(v for v in list_versions(session, ctx, now) if v.seq == row.seq)


def _states(versions: list[Version[Any]], now: datetime) -> dict[int, VersionState]:
    current, following = in_force(versions, now), upcoming(versions, now)
    states = {}
    for v in versions:
        a = v.announcement
        if v is current:
            states[a.seq] = VersionState.IN_FORCE
        elif v is following:
            states[a.seq] = VersionState.NEXT
        else:
            states[a.seq] = VersionState.AHEAD if a.effective_from > now else VersionState.PAST
    return states


def list_versions(session: Session, ctx: ServiceContext, now: datetime) -> list[TariffVersionPublic]:
    """Every version, tariffs then policies, each in order of announcement, with its state at `now`."""
    versions = load_versions(session, ctx)
    published = {row.seq: row.published_at for row in session.exec(select(TariffVersion)).all()}
    answer = []
    for kind_versions in (versions.tariffs, versions.policies):
        states = _states(list(kind_versions), now)
        for v in kind_versions:
            a = v.announcement
            answer.append(
                TariffVersionPublic(
                    seq=a.seq,
                    kind=a.kind,
                    version=a.version,
                    effective_from=a.effective_from,
                    published_at=published.get(a.seq),
                    source="published" if a.seq > FILE_SEQ else "file" if a.seq == FILE_SEQ else "packaged",
                    state=states[a.seq],
                )
            )
    return answer


def _item(v: Version[Any]) -> dict[str, Any]:
    a = v.announcement
    return {
        "seq": a.seq,
        "kind": a.kind.value,
        "version": a.version,
        "effective_from": a.effective_from.isoformat(),
        "document": json.loads(v.text),
    }


def versions_page(session: Session, ctx: ServiceContext, after: int, limit: int) -> dict[str, Any]:
    """The gates' list: versions with `seq > after`, oldest first. The first page (after 0) also carries the
    service's own files where they differ from the packaged ones (seq 0): every gate has the packaged ones."""
    own = [v for v in _own_versions(ctx).all() if v.announcement.seq == FILE_SEQ and after == 0]
    rows = session.exec(
        select(TariffVersion)
        .where(col(TariffVersion.seq) > after)
        .order_by(col(TariffVersion.seq))
        .limit(limit)
    ).all()
    items = [_item(v) for v in own] + [_item(_row_version(r, ctx.catalog.network)) for r in rows]
    return {"items": items, "next": rows[-1].seq if rows else after}


def bundle_versions(session: Session, ctx: ServiceContext) -> list[dict[str, Any]]:
    """Every version but the packaged ones, as the gates' list items: what an offline bundle carries."""
    versions = load_versions(session, ctx).all()
    return [_item(v) for v in versions if v.announcement.seq >= FILE_SEQ]
