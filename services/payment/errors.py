"""Payment's own error for a provider or service that could not answer now (UNAVAILABLE: the
client may retry with the same idempotency key)."""
from __future__ import annotations

import grpc

from servicekit.errors import DomainError


class UpstreamUnavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
