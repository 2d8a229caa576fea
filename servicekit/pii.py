"""Personal data at rest: AES-GCM ciphertexts under a key ring that can rotate, and a keyed hash
of the phone number for look-ups.

A ciphertext is stored as ``<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``: the key id sits
beside the data, so after a rotation old rows still decrypt and `reencrypt` (or the next write)
moves them to the active key. The associated data binds each ciphertext to its row and field
(``members/<id>/phone``), so a ciphertext copied into another row or column does not decrypt.

Keys come from the environment, per service (each service seals its own data under its own keys):

- ``MALL_<SERVICE>_PII_KEYS="k2:<base64 of 32 bytes>,k1:<...>"`` — the first is the active key;
- ``MALL_<SERVICE>_PHONE_HASH_KEY`` — base64 of at least 32 bytes, the HMAC-SHA256 key of the
  phone look-up hash (never rotated lightly: every stored hash depends on it).

Without them (`make run` on a fresh machine) development keys are generated once into
``var/<service>_pii_keys`` and ``var/<service>_phone_hash_key`` (mode 0600, never committed).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .config import env
from .devsecrets import read_or_create

NONCE_BYTES = 12  # the GCM nonce size NIST SP 800-38D recommends; random per encryption
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class KeyConfigError(ValueError):
    """The configured keys are unusable: the process refuses to start rather than store clear data."""


def _b64decode(text: str) -> bytes:
    """Standard base64 (`openssl rand -base64 32`); binascii.Error is a ValueError."""
    return base64.b64decode(text, validate=True)


def _new_key_ring() -> str:
    return "dev1:" + base64.b64encode(os.urandom(32)).decode()


@dataclass(frozen=True)
class KeyRing:
    active_id: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str, setting: str = "PII_KEYS") -> "KeyRing":
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key_id, sep, material = part.partition(":")
            if not sep or not KEY_ID.match(key_id):
                raise KeyConfigError(f"{setting}: each entry is <id>:<base64 key>, "
                                     "the id 1-16 of A-Z a-z 0-9 _ -")
            try:
                key = _b64decode(material)
            except ValueError:
                raise KeyConfigError(f"{setting}: key {key_id} is not base64") from None
            if len(key) != 32:
                raise KeyConfigError(f"{setting}: key {key_id} must be 32 bytes "
                                     f"(AES-256), got {len(key)}")
            if key_id in keys:
                raise KeyConfigError(f"{setting}: key id {key_id} appears twice")
            keys[key_id] = key
            order.append(key_id)
        if not order:
            raise KeyConfigError(f"{setting} holds no key")
        return cls(order[0], keys)


class Cipher:
    """Encrypts and decrypts one field value at a time."""

    def __init__(self, ring: KeyRing):
        self.ring = ring
        self._aead = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.ring.active_id].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self.ring.active_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, context: str) -> str:
        key_id, _, body = stored.partition(".")
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyConfigError(f"a ciphertext is under key {key_id!r}, which is not in "
                                 "the PII key ring: keep retired keys until every row is re-sealed")
        raw = base64.urlsafe_b64decode(body)
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
        except InvalidTag:
            raise KeyConfigError(f"a ciphertext under key {key_id!r} does not authenticate "
                                 f"for {context.split('/')[0]}: altered or moved") from None

    def seal(self, value: str | None, context: str) -> str | None:
        """None and "" stay None: an absent value leaves no ciphertext behind."""
        return self.encrypt(value, context) if value else None

    def open(self, stored: str | None, context: str) -> str:
        return self.decrypt(stored, context) if stored else ""

    def is_current(self, stored: str | None) -> bool:
        return not stored or stored.startswith(self.ring.active_id + ".")


class PhoneHasher:
    """HMAC-SHA256 of the normalised mainland mobile number: equal phones give equal hashes,
    and without the key the hash says nothing (11-digit phones are too few for a plain hash)."""

    def __init__(self, key: bytes):
        if len(key) < 32:
            raise KeyConfigError("the phone hash key must be at least 32 bytes")
        self._key = key

    def digest(self, normalised_phone: str) -> str:
        return hmac.new(self._key, normalised_phone.encode(), hashlib.sha256).hexdigest()


def load_cipher(service: str) -> Cipher:
    spec = env("PII_KEYS", None, service) or read_or_create(f"{service}_pii_keys", _new_key_ring)
    return Cipher(KeyRing.parse(spec, f"MALL_{service.upper()}_PII_KEYS"))


def load_phone_hasher(service: str) -> PhoneHasher:
    text = env("PHONE_HASH_KEY", None, service) or read_or_create(
        f"{service}_phone_hash_key", lambda: base64.b64encode(os.urandom(32)).decode())
    try:
        return PhoneHasher(_b64decode(text))
    except ValueError:
        raise KeyConfigError(f"MALL_{service.upper()}_PHONE_HASH_KEY is not base64") from None
