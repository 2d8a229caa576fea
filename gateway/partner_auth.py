"""Partner ERPs' requests: five headers (servicekit.partner_signing) checked here for presence
and body hash, the signature itself verified by member (which holds the secret and the nonce
table). A verified partner calls the services as user <partner id> with the role `partner`."""
from __future__ import annotations

import hashlib
import hmac

import grpc
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from mall.member.v1 import partner_pb2, partner_pb2_grpc

from servicekit import context
from servicekit import partner_signing as signing

from .problems import Problem, from_rpc_error
from .services import clients

PARTNER_ROLE = "partner"
SCHEME = "MallPartner-HMAC-SHA256"


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": SCHEME})


def _signed_path(request: Request) -> str:
    """The path as sent (percent-encoding kept, as the partner signed it), with the query."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    query = request.url.query
    return path + (f"?{query}" if query else "")


# Documents the scheme; the five headers are read and checked below.
_scheme = APIKeyHeader(
    name=signing.SIGNATURE, scheme_name="partnerHmac", auto_error=False,
    description=f"{SCHEME}: an HMAC-SHA256 with the partner's secret over the method, path with "
                f"query, {signing.TIMESTAMP}, {signing.NONCE} and the body's SHA-256, sent with "
                f"{signing.KEY_ID}, {signing.TIMESTAMP}, {signing.NONCE} and "
                f"{signing.CONTENT_SHA256} (servicekit/partner_signing.py; the gateway README)")


async def documented(_: str | None = Security(_scheme)) -> None:
    """A dependency declaring the partner signature on a route (the checks are verify's)."""


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
    stub = clients(request).stub("member", partner_pb2_grpc.PartnerServiceStub)
    try:
        reply = await stub.VerifyPartnerSignature(partner_pb2.VerifyPartnerSignatureRequest(
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


async def partner(request: Request, _: None = Depends(documented)) -> str:
    """Dependency of partner routes without an upload: the (small) body is hashed as it is.
    Async on purpose: the call context set here is the request task's."""
    return await verify(request, hashlib.sha256(await request.body()).hexdigest())
