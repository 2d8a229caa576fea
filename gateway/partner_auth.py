"""Partner ERPs' requests: five headers (servicekit.partner_signing) checked here for presence
and body hash, the signature itself verified by member (which holds the secret and the nonce
table). A verified partner calls the services as user <partner id> with the role `partner`."""
from __future__ import annotations

import hashlib
import hmac

import grpc
from fastapi import Request
from mall.member.v1 import partner_pb2, partner_pb2_grpc

from servicekit import context
from servicekit import partner_signing as signing

from .problems import Problem, from_rpc_error

PARTNER_ROLE = "partner"
SCHEME = "MallPartner-HMAC-SHA256"


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": SCHEME})


def _signed_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def signature_headers(request: Request) -> dict[str, str]:
    """The five signature headers, or 401 naming the missing ones (checked before any body is
    read, so an unsigned upload is refused without spooling it)."""
    headers = {name: request.headers.get(name, "").strip() for name in
               (signing.KEY_ID, signing.TIMESTAMP, signing.NONCE, signing.CONTENT_SHA256,
                signing.SIGNATURE)}
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise _unauthenticated(f"a partner request needs the headers {', '.join(missing)} "
                               "(see the gateway README: partner signatures)")
    return headers


async def verify(request: Request, body_sha256: str) -> str:
    """The partner id of a correctly signed request whose body hashed to `body_sha256`."""
    headers = signature_headers(request)
    if not hmac.compare_digest(headers[signing.CONTENT_SHA256].lower(), body_sha256):
        raise _unauthenticated(f"{signing.CONTENT_SHA256} is not the SHA-256 of the body that "
                               f"arrived ({body_sha256}); sign the exact bytes you send")
    stub = request.app.state.clients.stub("member", partner_pb2_grpc.PartnerServiceStub)
    try:
        reply = await request.app.state.clients.call(
            stub.VerifyPartnerSignature, partner_pb2.VerifyPartnerSignatureRequest(
                key_id=headers[signing.KEY_ID], method=request.method, path=_signed_path(request),
                timestamp=headers[signing.TIMESTAMP], nonce=headers[signing.NONCE],
                body_sha256=body_sha256, signature=headers[signing.SIGNATURE]))
    except grpc.aio.AioRpcError as err:
        problem = from_rpc_error(err)
        if problem.status == 401:
            problem.headers["WWW-Authenticate"] = SCHEME
        raise problem from None
    request.state.partner_id = reply.partner_id
    ctx = context.current()
    context.set_current(context.CallContext(request_id=ctx.request_id, user_id=reply.partner_id,
                                            roles=(PARTNER_ROLE,),
                                            idempotency_key=ctx.idempotency_key))
    return reply.partner_id


async def partner(request: Request) -> str:
    """Dependency of partner routes without an upload: the (small) body is hashed as it is.
    Async on purpose: the call context set here is the request task's."""
    return await verify(request, hashlib.sha256(await request.body()).hexdigest())
