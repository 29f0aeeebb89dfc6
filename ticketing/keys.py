"""Issuer signing keys: Ed25519, encrypted at rest with the key passphrase, rotated and revocable.

Rotation: the new key signs from now on; the retired one stays published until its last ticket can have
expired (`not_after`). Revocation: published with `revoked: true`, so gates refuse everything it signed.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, select

from ticketing.errors import NoSigningKey, NotFound
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
    "published_keyset",
    "revoke_key",
    "rotate_keys",
]


def create_key(session: Session, passphrase: bytes, now: datetime) -> SigningKey:
    """Make a new signing key (not committed). Its id is derived from the public key, never reused."""
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
    )
    session.add(key)
    return key


def fingerprint_of(key: SigningKey) -> str:
    """What a gate pins (`--trust-fingerprint`) and an operator reads out (validator.bundle)."""
    return key_fingerprint(KeyEntry(key.kid, public_key_from_bytes(key.public_key)))


def active_key(session: Session) -> SigningKey | None:
    """The key that signs new tickets: the newest one neither retired nor revoked."""
    query = (
        select(SigningKey)
        .where(col(SigningKey.retired_at).is_(None), col(SigningKey.revoked).is_(False))
        .order_by(col(SigningKey.created_at).desc())
    )
    return session.exec(query).first()


def active_kid_column() -> sa.ScalarSelect[int]:
    """`active_key`'s id as a scalar subquery, to read it in the same statement as the rows it will sign
    (a rotation or revocation by another process takes effect at the next statement, as with active_key)."""
    table: sa.Table = table_of(SigningKey)
    return (
        sa.select(table.c.kid)
        .where(table.c.retired_at.is_(None), table.c.revoked.is_(False))
        .order_by(table.c.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )


def rotate_keys(
    session: Session, passphrase: bytes, longest_validity: timedelta, now: datetime
) -> SigningKey:
    """Retire the signing key(s) and make a new one. Commits."""
    for old in session.exec(select(SigningKey).where(col(SigningKey.retired_at).is_(None))).all():
        old.retired_at = now
        old.not_after = now + longest_validity
        session.add(old)
    key = create_key(session, passphrase, now)
    session.commit()
    session.refresh(key)
    return key


def revoke_key(session: Session, kid: int, now: datetime) -> SigningKey:
    """Mark a compromised key revoked (it stops signing and gates refuse its tickets). Commits."""
    key = session.get(SigningKey, kid)
    if key is None:
        raise NotFound(f"no signing key {kid}", code="key_not_found")
    key.revoked = True
    if key.retired_at is None:
        key.retired_at = now
    session.add(key)
    session.commit()
    session.refresh(key)
    return key


def published_keyset(session: Session, now: datetime) -> dict[str, list[dict[str, object]]]:
    """What GET /v1/keys answers: every key whose tickets may still be presented, revoked ones flagged."""
    keys = session.exec(select(SigningKey)).all()
    entries = {
        k.kid: KeyEntry(k.kid, public_key_from_bytes(k.public_key), k.revoked, k.not_after)
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

    def signing_key(self, session: Session) -> tuple[int, Ed25519PrivateKey]:
        """The active key, read from the database each time so a rotation by another process takes effect."""
        key = active_key(session)
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
        """The keys that sign gate responses, the active one first: every published key that is not
        revoked, so during a rotation a gate that knows only the old key still verifies the answer that
        brings it the new one. Empty when every key is revoked."""
        query = select(SigningKey).where(col(SigningKey.revoked).is_(False))
        keys = [k for k in session.exec(query).all() if k.not_after is None or k.not_after > now]
        keys.sort(key=lambda k: (k.retired_at is not None, -k.created_at.timestamp()))
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
