"""Issuer signing keys: Ed25519, encrypted at rest with the key passphrase, published ahead, revocable.

Each key signs over a term (`not_before` until `retired_at`), chosen by the pure rules of
`ticketing.issuing.key_terms`: a rotation publishes the next key at once and lets it sign only after the
policy's lead time, so gates hold it before its first ticket; a retired key stays published until its last
ticket can have expired (`not_after`); a revoked key is published with `revoked: true`, so gates refuse
everything it signed.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, select

from ticketing.errors import Conflict, NoSigningKey, NotFound
from ticketing.issuing.key_terms import (
    KeyChange,
    KeyTerm,
    KeyWaits,
    plan_revocation,
    plan_rotation,
    signing_kid,
)
from ticketing.models import SigningKey, table_of
from validator.bundle import key_fingerprint
from validator.codec import (
    KeyEntry,
    derive_key_id,
    keyset_to_json,
    public_key_from_bytes,
    public_key_to_bytes,
)

__all__ = [
    "KeyRing",
    "active_key",
    "active_kid_column",
    "create_key",
    "fingerprint_of",
    "key_state",
    "key_terms",
    "published_keyset",
    "revoke_key",
    "rotate_keys",
]


def create_key(
    session: Session, passphrase: bytes, now: datetime, not_before: datetime | None = None
) -> SigningKey:
    """Make a new signing key (not committed), signing from `not_before` (default: now). Its id is derived
    from the public key, never reused."""
    taken = set(session.exec(select(SigningKey.kid)).all())
    while True:
        private = Ed25519PrivateKey.generate()
        kid = derive_key_id(private.public_key())
        if kid not in taken:
            break
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    key = SigningKey(
        kid=kid,
        public_key=public_key_to_bytes(private.public_key()),
        private_key_pem=pem,
        created_at=now,
        not_before=not_before or now,
    )
    session.add(key)
    return key


def fingerprint_of(key: SigningKey) -> str:
    """What a gate pins (`--trust-fingerprint`) and an operator reads out (validator.bundle)."""
    return key_fingerprint(KeyEntry(key.kid, public_key_from_bytes(key.public_key)))


def key_terms(keys: list[SigningKey]) -> list[KeyTerm]:
    return [KeyTerm(k.kid, k.not_before, k.retired_at, k.revoked, k.not_after) for k in keys]


def key_state(key: SigningKey, now: datetime) -> str:
    """What `keys list` shows: revoked, waiting (published ahead), signing, or retired."""
    if key.revoked:
        return "revoked"
    if key.not_before > now:
        return "waiting"
    return "retired" if key.retired_at is not None and key.retired_at <= now else "signing"


def active_key(session: Session, now: datetime) -> SigningKey | None:
    """The key that signs new tickets at `now` (key_terms.signing_kid)."""
    keys = list(session.exec(select(SigningKey)).all())
    kid = signing_kid(key_terms(keys), now)
    return next((k for k in keys if k.kid == kid), None)


def active_kid_column() -> sa.ScalarSelect[int]:
    """`active_key`'s id at the bound instant `signing_at`, as a scalar subquery, to read it in the same
    statement as the rows it will sign (a rotation or revocation by another process takes effect at the
    next statement). The SQL form of key_terms.signing_kid; a conformance test holds the two equal."""
    table: sa.Table = table_of(SigningKey)
    at = sa.bindparam("signing_at", type_=table.c.not_before.type)
    return (
        sa.select(table.c.kid)
        .where(
            table.c.revoked.is_(False),
            table.c.not_before <= at,
            sa.or_(table.c.retired_at.is_(None), table.c.retired_at > at),
        )
        .order_by(table.c.not_before.desc(), table.c.kid.desc())
        .limit(1)
        .scalar_subquery()
    )


def rotate_keys(
    session: Session, passphrase: bytes, lead: timedelta, longest_validity: timedelta, now: datetime
) -> SigningKey:
    """Publish the next key, signing from `now + lead` (at once when no key signs). Refused (409
    key_waiting) while a key published ahead still waits. Commits."""
    keys = _locked_keys(session)
    plan = plan_rotation(key_terms(keys), now, lead, longest_validity)
    if isinstance(plan, KeyWaits):
        raise Conflict(
            f"key {plan.kid} is already published ahead and signs from {plan.signs_from:%Y-%m-%d %H:%M} UTC",
            code="key_waiting",
        )
    _apply(keys, plan, session)
    key = create_key(session, passphrase, now, plan.new_key_from)
    session.commit()
    session.refresh(key)
    return key


def revoke_key(
    session: Session, passphrase: bytes, kid: int, now: datetime
) -> tuple[SigningKey | None, bool]:
    """Mark a compromised key revoked: it stops signing at once and gates refuse its tickets. Returns the
    key in force afterwards (the one waiting, brought forward, or a new one) and whether it is new (no gate
    trusts it yet). Not committed: the caller commits it with the tickets it reissues."""
    keys = _locked_keys(session)
    try:
        plan = plan_revocation(key_terms(keys), kid, now)
    except KeyError:
        raise NotFound(f"no signing key {kid}", code="key_not_found") from None
    _apply(keys, plan, session)
    if plan.new_key_from is not None:
        create_key(session, passphrase, now, plan.new_key_from)
    session.flush()
    return active_key(session, now), plan.new_key_from is not None


def _locked_keys(session: Session) -> list[SigningKey]:
    """Every key row, locked until the commit so that two rotations or revocations run one after the other
    (SQLite's BEGIN IMMEDIATE does it there). Read again once locked: on PostgreSQL the locking statement
    does not see a key inserted by the transaction it waited for."""
    session.exec(select(SigningKey).with_for_update()).all()
    return list(session.exec(select(SigningKey).execution_options(populate_existing=True)).all())


def _apply(keys: list[SigningKey], change: KeyChange, session: Session) -> None:
    """Write the terms `change` gives back to the key rows that differ."""
    by_kid = {key.kid: key for key in keys}
    for term in change.terms:
        key = by_kid[term.kid]
        if key_terms([key]) != [term]:
            key.not_before, key.retired_at = term.signs_from, term.signs_until
            key.revoked, key.not_after = term.revoked, term.not_after
            session.add(key)


def published_keyset(session: Session, now: datetime) -> dict[str, list[dict[str, object]]]:
    """What GET /v1/keys answers: every key whose tickets may still be presented, revoked ones flagged, and
    the key published ahead with the `not_before` it signs from."""
    keys = session.exec(select(SigningKey)).all()
    entries = {
        k.kid: KeyEntry(k.kid, public_key_from_bytes(k.public_key), k.revoked, k.not_after, k.not_before)
        for k in keys
        if k.not_after is None or k.not_after > now or k.revoked
    }
    return keyset_to_json(entries)


class KeyRing:
    """Decrypted private keys, cached per process: the KDF is slow on purpose, so once per key."""

    def __init__(self, passphrase: bytes) -> None:
        self._passphrase = passphrase
        self._cache: dict[int, Ed25519PrivateKey] = {}
        self._lock = threading.Lock()

    def signing_key(self, session: Session, now: datetime) -> tuple[int, Ed25519PrivateKey]:
        """The key in force at `now`, read from the database each time so a rotation by another process
        takes effect."""
        key = active_key(session, now)
        if key is None:
            raise NoSigningKey("no active signing key: run `python -m ticketing keys rotate`")
        return key.kid, self._private(key)

    def private_key(self, session: Session, kid: int) -> Ed25519PrivateKey:
        """Key `kid` decrypted, from this process's cache: the row is read (and decrypted) the first time
        only. The caller chose `kid` (active_kid_column); ids are never reused, so a cached key never goes
        stale."""
        private = self._cache.get(kid)
        if private is not None:
            return private
        key = session.get(SigningKey, kid)
        if key is None:
            raise NoSigningKey(f"signing key {kid} is gone")
        return self._private(key)

    def response_keys(self, session: Session, now: datetime) -> list[tuple[int, Ed25519PrivateKey]]:
        """The keys that sign gate responses, the one in force first: every published key that is not
        revoked (the one waiting too), so during a rotation a gate that knows only the old key still
        verifies the answer that brings it the new one. Empty when every key is revoked."""
        query = select(SigningKey).where(col(SigningKey.revoked).is_(False))
        keys = [k for k in session.exec(query).all() if k.not_after is None or k.not_after > now]
        first = signing_kid(key_terms(keys), now)
        keys.sort(key=lambda k: (k.kid != first, -k.not_before.timestamp()))
        return [(k.kid, self._private(k)) for k in keys]

    def _private(self, key: SigningKey) -> Ed25519PrivateKey:
        with self._lock:
            private = self._cache.get(key.kid)
            if private is None:
                loaded = serialization.load_pem_private_key(key.private_key_pem, self._passphrase)
                if not isinstance(loaded, Ed25519PrivateKey):
                    raise NoSigningKey(f"key {key.kid} is not an Ed25519 key")
                private = self._cache[key.kid] = loaded
        return private
