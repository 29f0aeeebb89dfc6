"""The gate's own secrets in its data folder: the Ed25519 device key and the gate token, both mode 0600.

The device key is made on the gate and never leaves it; only its public half is sent at enrolment.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validator.codec import public_key_to_bytes
from validator.wire import b64url_encode

__all__ = [
    "DEVICE_KEY_FILE",
    "TOKEN_FILE",
    "load_or_create_device_key",
    "load_token",
    "public_key_text",
    "save_token",
]

DEVICE_KEY_FILE = "device-key.pem"
TOKEN_FILE = "gate-token"  # noqa: S105 - a file name, not the token


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 atomically (no window where another user could read it), then renamed into place.
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_or_create_device_key(data_dir: Path) -> Ed25519PrivateKey:
    """The gate's device key, generated on first use."""
    path = data_dir / DEVICE_KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 key")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(path, pem)
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """base64url of the raw public key: the only form of the device key that leaves the gate."""
    return b64url_encode(public_key_to_bytes(key.public_key()))


def save_token(data_dir: Path, token: str) -> None:
    _write_private(data_dir / TOKEN_FILE, token.encode("utf-8"))


def load_token(data_dir: Path) -> str | None:
    path = data_dir / TOKEN_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None
