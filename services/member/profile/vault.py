"""The member's personal data, sealed and opened field by field (pii.Cipher) with the row and
column as associated data, and the phone's look-up hash. One instance per process."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from servicekit.pii import Cipher, PhoneHasher, load_cipher, load_phone_hasher


@dataclass(frozen=True)
class Vault:
    cipher: Cipher
    hasher: PhoneHasher

    def seal_field(self, member_id: str, column: str, value: str | None) -> str | None:
        return self.cipher.seal(value, f"member_profiles/{member_id}/{column}")

    def open_field(self, member_id: str, column: str, stored: str | None) -> str:
        return self.cipher.open(stored, f"member_profiles/{member_id}/{column}")

    def seal_address(self, address_id: str, address: dict) -> str:
        return self.cipher.encrypt(json.dumps(address, ensure_ascii=False),
                                   f"addresses/{address_id}")

    def open_address(self, address_id: str, stored: str) -> dict:
        return json.loads(self.cipher.decrypt(stored, f"addresses/{address_id}"))

    def seal_partner_secret(self, key_id: str, secret: str) -> str:
        return self.cipher.encrypt(secret, f"partner_credentials/{key_id}/secret")

    def open_partner_secret(self, key_id: str, stored: str) -> str:
        return self.cipher.decrypt(stored, f"partner_credentials/{key_id}/secret")

    def phone_hash(self, normalised_phone: str) -> str:
        return self.hasher.digest(normalised_phone)


@lru_cache(maxsize=1)
def default_vault() -> Vault:
    """Keys read once per process (environment or var/ files, see servicekit.pii)."""
    return Vault(load_cipher("member"), load_phone_hasher("member"))
