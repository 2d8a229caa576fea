"""Moves every ciphertext to the active key after a rotation:

    MALL_MEMBER_PII_KEYS="k2:<new>,k1:<old>" python -m services.member.reencrypt

Batches of rows, each batch one transaction; safe to run while the service serves (a row written
meanwhile is already under the active key and is skipped). Once it reports 0 left, k1 can go.
"""
from __future__ import annotations

from sqlalchemy import select

from servicekit.runtime import Runtime

from .models import Address, MemberProfile, PartnerCredential
from .profile.vault import Vault, default_vault

BATCH = 500
PROFILE_FIELDS = ("name", "phone", "birthday")


def reencrypt(runtime: Runtime, vault: Vault) -> int:
    """Re-seals what is under a retired key; returns how many rows changed."""
    changed = 0
    tables = ((MemberProfile, MemberProfile.member_id, _reseal),
              (Address, Address.id, _reseal_address),
              (PartnerCredential, PartnerCredential.key_id, _reseal_partner_secret))
    for model, key, reseal in tables:
        after = ""
        while True:
            with runtime.transaction() as session:
                rows = list(session.scalars(select(model).where(key > after).order_by(key)
                                            .limit(BATCH).with_for_update()))
                for row in rows:
                    changed += reseal(vault, row)
            if len(rows) < BATCH:
                break
            after = getattr(rows[-1], key.key)
    return changed


def _reseal(vault: Vault, profile: MemberProfile) -> int:
    stale = False
    for name in PROFILE_FIELDS:
        stored = getattr(profile, f"{name}_enc")
        if not vault.cipher.is_current(stored):
            clear = vault.open_field(profile.member_id, name, stored)
            setattr(profile, f"{name}_enc", vault.seal_field(profile.member_id, name, clear))
            stale = True
    return int(stale)


def _reseal_address(vault: Vault, address: Address) -> int:
    if vault.cipher.is_current(address.payload_enc):
        return 0
    address.payload_enc = vault.seal_address(address.id,
                                             vault.open_address(address.id, address.payload_enc))
    return 1


def _reseal_partner_secret(vault: Vault, credential: PartnerCredential) -> int:
    if vault.cipher.is_current(credential.secret_sealed):
        return 0
    credential.secret_sealed = vault.seal_partner_secret(
        credential.key_id, vault.open_partner_secret(credential.key_id, credential.secret_sealed))
    return 1


def main() -> None:
    from servicekit import service

    runtime = service.runtime("member")
    print(f"re-encrypted {reencrypt(runtime, default_vault())} rows under the active key")


if __name__ == "__main__":
    main()
