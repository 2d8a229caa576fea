"""Domain errors, raised by use cases and mapped once (by the server interceptor) to gRPC status
codes, with field violations (google.rpc.BadRequest) for bad input.

A use case says *what* is wrong; it never touches grpc. The gateway maps the codes to HTTP
(400/404/409/409/409/409/401/403) and the violations to an RFC 9457 problem body.
"""
from __future__ import annotations

from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class FieldViolation:
    field: str        # dotted path of the offending input, e.g. "skus[2].price_fen"
    rule: str         # a short machine-readable rule, e.g. "positive", "unique", "exists"
    description: str  # what is wrong and what would be accepted, for a person


class DomainError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, violations: list[FieldViolation] | None = None,
                 retry_after_seconds: int | None = None):
        super().__init__(message)
        self.message = message
        self.violations = list(violations or [])
        # "the same request will succeed later": sent as google.rpc.RetryInfo, Retry-After at the gateway
        self.retry_after_seconds = retry_after_seconds


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    @classmethod
    def field(cls, field: str, rule: str, description: str) -> "InvalidArgument":
        return cls(f"{field}: {description}", [FieldViolation(field, rule, description)])


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(DomainError):
    """The request was made on a state that has changed since (an edit naming a stale version):
    read again and retry."""
    code = grpc.StatusCode.ABORTED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(DomainError):
    """A service this one depends on did not answer: the caller may retry."""
    code = grpc.StatusCode.UNAVAILABLE


_BY_CODE = {cls.code: cls for cls in (InvalidArgument, NotFound, AlreadyExists, FailedPrecondition,
                                      Aborted, ResourceExhausted, Unauthenticated, PermissionDenied)}


def from_rpc_error(err: grpc.RpcError, service: str) -> DomainError:
    """A downstream service's refusal as this service's own error, violations kept, so the
    caller sees the real reason (out of stock, coupon expired) rather than an INTERNAL. A
    downstream that is down or too slow becomes Unavailable."""
    code = err.code()
    cls = _BY_CODE.get(code)
    if cls is None:
        return Unavailable(f"{service} did not answer ({code.name}); try again shortly")
    return cls(err.details() or f"{service} refused: {code.name}",
               violations_from_trailers(err.trailing_metadata()),
               retry_after_from_trailers(err.trailing_metadata()))


class Violations:
    """Collects every problem of one input before raising, so the caller fixes them all at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, rule: str, description: str) -> None:
        self.items.append(FieldViolation(field, rule, description))

    def check(self, ok: bool, field: str, rule: str, description: str) -> bool:
        if not ok:
            self.add(field, rule, description)
        return ok

    def raise_if_any(self, message: str = "the request has invalid fields") -> None:
        if self.items:
            summary = "; ".join(f"{v.field}: {v.description}" for v in self.items[:5])
            raise InvalidArgument(f"{message}: {summary}", self.items)


# The status travels in trailers (grpc-message, grpc-status-details-bin), which a gRPC client
# refuses past its metadata limit (8 KiB by default): a message that echoes a long input would
# turn a refusal into RESOURCE_EXHAUSTED with the transport's internals. Bounded in UTF-8 bytes.
MAX_MESSAGE_BYTES = 512
MAX_FIELD_BYTES = 80
MAX_DESCRIPTION_BYTES = 240
MAX_VIOLATION_BYTES = 2400  # all violations together; the rest are summed up in one


def cut(text: str, max_bytes: int) -> str:
    """`text` shortened to at most `max_bytes` UTF-8 bytes, marked with … when cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes - 3].decode("utf-8", errors="ignore") + "…"


def _bounded(violations: list[FieldViolation]) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    spent = 0
    for i, v in enumerate(violations):
        item = FieldViolation(cut(v.field, MAX_FIELD_BYTES), cut(v.rule, 40),
                              cut(v.description, MAX_DESCRIPTION_BYTES))
        size = sum(len(part.encode()) for part in (item.field, item.rule, item.description))
        if spent + size > MAX_VIOLATION_BYTES:
            out.append(FieldViolation(item.field, "more", f"and {len(violations) - i} more "
                                                          "problems of the same request"))
            break
        out.append(item)
        spent += size
    return out


def to_rpc_status(err: DomainError):
    """The google.rpc.Status for `err`, with a BadRequest detail when it has violations; every
    text bounded so the status always fits in a call's trailers."""
    from google.protobuf import any_pb2
    from google.rpc import error_details_pb2, status_pb2

    status = status_pb2.Status(code=err.code.value[0], message=cut(err.message, MAX_MESSAGE_BYTES))
    if err.violations:
        bad = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description,
                                                        reason=v.rule)
            for v in _bounded(err.violations)
        ])
        detail = any_pb2.Any()
        detail.Pack(bad)
        status.details.append(detail)
    if err.retry_after_seconds is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.seconds = max(1, int(err.retry_after_seconds))
        detail = any_pb2.Any()
        detail.Pack(retry)
        status.details.append(detail)
    return status


def violations_from_trailers(trailing_metadata) -> list[FieldViolation]:
    """Reads the field violations a server attached (client side: the gateway, tests)."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in trailing_metadata or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            out = []
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    out += [FieldViolation(v.field, v.reason, v.description)
                            for v in bad.field_violations]
            return out
    return []


def retry_after_from_trailers(trailing_metadata) -> int | None:
    """The seconds a server asked the caller to wait before retrying (google.rpc.RetryInfo)."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in trailing_metadata or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    retry = error_details_pb2.RetryInfo()
                    detail.Unpack(retry)
                    return max(1, retry.retry_delay.seconds)
    return None
