"""On SQLite (the `make run` default) times read back aware, as on PostgreSQL: a partner key keeps
verifying after its first use (a naive last-use time made every later request fail)."""
import base64
import os
from datetime import datetime, timedelta, timezone

from servicekit.partner_signing import signed_headers
from servicekit.pii import Cipher, KeyRing, PhoneHasher
from services.member.partners import credentials as partners
from services.member.profile.vault import Vault

PATH = "/partner/v1/order-imports"


def signed(issued):
    h = signed_headers(issued.credential.key_id, issued.secret, "GET", PATH)
    return partners.SignedRequest(h["X-Mall-Key-Id"], "GET", PATH, h["X-Mall-Timestamp"],
                                  h["X-Mall-Nonce"], h["X-Mall-Content-SHA256"], h["X-Mall-Signature"])


def test_a_partner_key_verifies_after_its_first_use(sqlite_runtime_for, machine_in_shanghai):
    runtime = sqlite_runtime_for("member")
    vault = Vault(Cipher(KeyRing.parse("k1:" + base64.b64encode(os.urandom(32)).decode())),
                  PhoneHasher(os.urandom(32)))
    now = datetime.now(timezone.utc)
    with runtime.transaction() as session:
        issued = partners.issue(session, vault, "staff-1", "erp-acme", "Acme", now)
    for later in (now, now + timedelta(seconds=90)):  # the second use also moves last_used_at on
        with runtime.transaction() as session:
            assert partners.verify(session, vault, signed(issued), later).partner_id == "erp-acme"
    with runtime.transaction() as session:
        row = session.get(partners.PartnerCredential, issued.credential.key_id)
        assert row.last_used_at == now + timedelta(seconds=90)
