"""Ed25519 keys and detached signatures for evidence bundles.

A bundle's `SHA256SUMS` names the SHA-256 of every file in it, so a signature over that one
file vouches for the whole bundle: `SHA256SUMS.sig` holds it (base64, one line). Whoever
holds the public key can tell the bundle from any rewrite of it, which hashes alone cannot:
anyone can rewrite every file and recompute every hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from diagscope.files import write_private

ALGORITHM = "Ed25519"
SIGNATURE_FILE = "SHA256SUMS.sig"


class KeyFileError(ValueError):
    """A key file that cannot be used: missing, unreadable or not an Ed25519 key."""


@dataclass(frozen=True, slots=True)
class KeyFiles:
    private: Path
    public: Path
    fingerprint: str


def public_path_for(private: Path) -> Path:
    """lab.key -> lab.pub (any other name gets .pub added)."""
    return private.with_suffix(".pub") if private.suffix == ".key" else \
        private.with_name(private.name + ".pub")


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, as `sha256:HEX`: what a manifest names."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def new_key(out: str | Path, *, overwrite: bool = False) -> KeyFiles:
    """Write a new private key (PEM PKCS8, mode 0600) to `out` and its public key (PEM)
    beside it."""
    private_path = Path(out)
    public_path = public_path_for(private_path)
    if not overwrite:
        for path in (private_path, public_path):
            if path.exists():
                raise KeyFileError(f"{path} exists already; keys are never overwritten")
    key = Ed25519PrivateKey.generate()
    write_private(private_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    public = key.public_key()
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return KeyFiles(private_path, public_path, fingerprint(public))


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, "private key"), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an {ALGORITHM} private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(_read(path, "public key"))
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an {ALGORITHM} public key")
    return key


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The detached signature file's content: the signature in base64, one line."""
    return base64.b64encode(key.sign(data)) + b"\n"


def signature_is_valid(data: bytes, signature_file: bytes, key: Ed25519PublicKey) -> bool:
    try:
        signature = base64.b64decode(signature_file.strip(), validate=True)
        key.verify(signature, data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
