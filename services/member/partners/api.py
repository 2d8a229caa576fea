"""PartnerService: staff issue, list and revoke partner credentials; the gateway verifies signatures."""
from __future__ import annotations

import grpc
from mall.member.v1 import partner_pb2, partner_pb2_grpc

from servicekit import roles
from servicekit.context import require_roles
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..models import PartnerCredential
from ..profile.vault import Vault
from . import credentials as partners


def credential_message(c: PartnerCredential) -> partner_pb2.PartnerCredential:
    return partner_pb2.PartnerCredential(
        key_id=c.key_id, partner_id=c.partner_id, partner_name=c.partner_name,
        created_by=c.created_by, created_at=rfc3339(c.created_at),
        revoked_at=rfc3339(c.revoked_at) if c.revoked_at else "",
        last_used_at=rfc3339(c.last_used_at) if c.last_used_at else "")


class PartnerServicer(partner_pb2_grpc.PartnerServiceServicer):
    def __init__(self, runtime: Runtime, vault: Vault):
        self.runtime = runtime
        self.vault = vault

    def IssuePartnerCredential(self, request, context):
        staff = require_roles(roles.ADMIN, action="issuing a partner credential")
        with self.runtime.transaction() as session:
            issued = partners.issue(session, self.vault, staff.user_id, request.partner_id,
                                    request.partner_name, utcnow())
            return partner_pb2.IssuedPartnerCredential(
                credential=credential_message(issued.credential), secret=issued.secret)

    def ListPartnerCredentials(self, request, context):
        require_roles(*roles.MERCHANDISERS, action="listing partner credentials")
        with self.runtime.transaction() as session:
            rows = partners.list_credentials(session, request.partner_id, request.include_revoked)
            return partner_pb2.ListPartnerCredentialsResponse(
                credentials=[credential_message(c) for c in rows])

    def RevokePartnerCredential(self, request, context):
        require_roles(roles.ADMIN, action="revoking a partner credential")
        with self.runtime.transaction() as session:
            return credential_message(partners.revoke(session, request.key_id, utcnow()))

    def VerifyPartnerSignature(self, request, context):
        # No caller identity: the signature itself is the proof (the gateway calls this first).
        signed = partners.SignedRequest(request.key_id, request.method, request.path,
                                        request.timestamp, request.nonce, request.body_sha256,
                                        request.signature)
        with self.runtime.transaction() as session:
            row = partners.verify(session, self.vault, signed, utcnow())
            return partner_pb2.VerifyPartnerSignatureResponse(partner_id=row.partner_id,
                                                              key_id=row.key_id)


def register(server: grpc.Server, runtime: Runtime, vault: Vault) -> str:
    partner_pb2_grpc.add_PartnerServiceServicer_to_server(PartnerServicer(runtime, vault), server)
    return partner_pb2.DESCRIPTOR.services_by_name["PartnerService"].full_name
