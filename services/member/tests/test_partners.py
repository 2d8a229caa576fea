"""Partner credentials over gRPC on PostgreSQL: issue (secret once, sealed at rest), list, revoke,
and signature verification (window, replay, revoked key, wrong signature, concurrent nonce)."""
import threading
import time

import grpc
import pytest
from mall.member.v1 import partner_pb2, partner_pb2_grpc
from sqlalchemy import select

from servicekit.partner_signing import body_sha256, signed_headers
from servicekit.times import utcnow
from services.member.models import PartnerCredential, PartnerNonce
from services.member.partners import credentials as partners

from .helpers import as_user, rpc_error

ADMIN = as_user("00000000-0000-4000-8000-00000000000a", "admin")
OPERATOR = as_user("00000000-0000-4000-8000-000000000001", "operator")
PATH = "/partner/v1/order-imports?page_size=5"


@pytest.fixture
def partner_api(wechat, grpc_stub_for):
    return grpc_stub_for("member", partner_pb2_grpc.PartnerServiceStub)


@pytest.fixture
def issued(partner_api):
    return partner_api.IssuePartnerCredential(partner_pb2.IssuePartnerCredentialRequest(
        partner_id="erp-acme", partner_name="Acme ERP"), metadata=ADMIN)


def verify_request(key_id, secret, body=b"", **overrides):
    h = signed_headers(key_id, secret, "GET", PATH, body, **overrides)
    return partner_pb2.VerifyPartnerSignatureRequest(
        key_id=h["X-Mall-Key-Id"], method="GET", path=PATH, timestamp=h["X-Mall-Timestamp"],
        nonce=h["X-Mall-Nonce"], body_sha256=h["X-Mall-Content-SHA256"],
        signature=h["X-Mall-Signature"])


def test_issue_shows_secret_once_and_seals_it(partner_api, issued, member_runtime):
    assert issued.secret and issued.credential.key_id.startswith("pk_")
    listed = partner_api.ListPartnerCredentials(
        partner_pb2.ListPartnerCredentialsRequest(partner_id="erp-acme"), metadata=OPERATOR)
    assert issued.credential.key_id in [c.key_id for c in listed.credentials]
    assert issued.secret not in str(listed)
    with member_runtime.transaction() as session:
        row = session.get(PartnerCredential, issued.credential.key_id)
        assert issued.secret not in row.secret_sealed


def test_issue_refuses_bad_partner_id_and_non_admins(partner_api):
    err = rpc_error(partner_api.IssuePartnerCredential, partner_pb2.IssuePartnerCredentialRequest(
        partner_id="Bad Id!"), metadata=ADMIN)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "partner_id" in err.details()
    err = rpc_error(partner_api.IssuePartnerCredential, partner_pb2.IssuePartnerCredentialRequest(
        partner_id="erp-x"), metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_good_signature_answers_the_partner(partner_api, issued):
    reply = partner_api.VerifyPartnerSignature(verify_request(issued.credential.key_id, issued.secret))
    assert reply.partner_id == "erp-acme" and reply.key_id == issued.credential.key_id


@pytest.mark.parametrize("case, reason", [
    ("wrong_secret", "does not match"),
    ("stale", "seconds from the server"),
    ("future", "seconds from the server"),
    ("unknown_key", "unknown key"),
    ("tampered_path", "does not match"),
])
def test_bad_signatures_are_refused(partner_api, issued, case, reason):
    key, secret = issued.credential.key_id, issued.secret
    if case == "wrong_secret":
        req = verify_request(key, secret + "x")
    elif case == "stale":
        req = verify_request(key, secret, timestamp=int(time.time()) - 301)
    elif case == "future":
        req = verify_request(key, secret, timestamp=int(time.time()) + 400)
    elif case == "unknown_key":
        req = verify_request("pk_nope", secret)
    else:
        req = verify_request(key, secret)
        req.path = "/partner/v1/order-imports?page_size=500"
    err = rpc_error(partner_api.VerifyPartnerSignature, req)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and reason in err.details()


def test_replayed_nonce_is_refused(partner_api, issued):
    req = verify_request(issued.credential.key_id, issued.secret)
    partner_api.VerifyPartnerSignature(req)
    err = rpc_error(partner_api.VerifyPartnerSignature, req)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "already used" in err.details()


def test_concurrent_same_nonce_only_one_wins(partner_api, issued):
    req = verify_request(issued.credential.key_id, issued.secret, body=b"x" * 10)
    outcomes, start = [], threading.Barrier(6)

    def attempt():
        start.wait()
        try:
            partner_api.VerifyPartnerSignature(req)
            outcomes.append("ok")
        except grpc.RpcError as err:
            outcomes.append(err.code())

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert outcomes.count(grpc.StatusCode.UNAUTHENTICATED) == 5


def test_revoked_key_is_refused_and_listed_only_on_request(partner_api, issued):
    key = issued.credential.key_id
    revoked = partner_api.RevokePartnerCredential(
        partner_pb2.RevokePartnerCredentialRequest(key_id=key), metadata=ADMIN)
    assert revoked.revoked_at
    err = rpc_error(partner_api.VerifyPartnerSignature, verify_request(key, issued.secret))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in err.details()
    active = partner_api.ListPartnerCredentials(partner_pb2.ListPartnerCredentialsRequest(),
                                                metadata=ADMIN)
    assert key not in [c.key_id for c in active.credentials]
    every = partner_api.ListPartnerCredentials(
        partner_pb2.ListPartnerCredentialsRequest(include_revoked=True), metadata=ADMIN)
    assert key in [c.key_id for c in every.credentials]
    err = rpc_error(partner_api.RevokePartnerCredential,
                    partner_pb2.RevokePartnerCredentialRequest(key_id="pk_missing"), metadata=ADMIN)
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_body_hash_must_be_hex(partner_api, issued):
    req = verify_request(issued.credential.key_id, issued.secret)
    req.body_sha256 = "not-a-hash"
    err = rpc_error(partner_api.VerifyPartnerSignature, req)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "SHA-256" in err.details()


def test_prune_drops_only_nonces_past_the_window(partner_api, issued, member_runtime):
    partner_api.VerifyPartnerSignature(verify_request(issued.credential.key_id, issued.secret))
    with member_runtime.transaction() as session:
        assert partners.prune_nonces(session, utcnow()) == 0
    with member_runtime.transaction() as session:
        assert partners.prune_nonces(session, utcnow() + 2 * partners.WINDOW
                                     + partners.LAST_USED_STEP) >= 1
        assert not list(session.scalars(select(PartnerNonce).where(
            PartnerNonce.key_id == issued.credential.key_id)))
    assert body_sha256(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_key_rotation_reseals_partner_secrets(member_runtime):
    """reencrypt moves a partner secret sealed under a retired key to the active one, and the
    re-sealed secret still verifies."""
    import base64
    import os

    from servicekit.pii import Cipher, KeyRing, PhoneHasher
    from services.member import reencrypt
    from services.member.profile.vault import Vault

    old_key, new_key = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    hasher = PhoneHasher(os.urandom(32))
    old = Vault(Cipher(KeyRing.parse(f"k1:{old_key}")), hasher)
    with member_runtime.transaction() as session:
        issued = partners.issue(session, old, "staff-1", "erp-rot", "", utcnow())
    rotated = Vault(Cipher(KeyRing.parse(f"k2:{new_key},k1:{old_key}")), hasher)
    assert reencrypt.reencrypt(member_runtime, rotated) == 1
    only_new = Vault(Cipher(KeyRing.parse(f"k2:{new_key}")), hasher)
    h = signed_headers(issued.credential.key_id, issued.secret, "GET", PATH)
    with member_runtime.transaction() as session:
        row = partners.verify(session, only_new, partners.SignedRequest(
            h["X-Mall-Key-Id"], "GET", PATH, h["X-Mall-Timestamp"], h["X-Mall-Nonce"],
            h["X-Mall-Content-SHA256"], h["X-Mall-Signature"]), utcnow())
        assert row.partner_id == "erp-rot" and row.secret_sealed.startswith("k2.")
