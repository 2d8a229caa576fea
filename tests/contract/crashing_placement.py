"""Test-only: places one order in a process of its own and SIGKILLs that process at a chosen
boundary of the checkout saga, so the order is left `placing` exactly as a crashed order-api
leaves it (its leased row, whatever the remote steps took, nothing undone). Nothing of this is in
the production code: the crash is a wrapper around the saga's gRPC stubs.

    python tests/contract/crashing_placement.py <member id> <idempotency key> <boundary> <request hex>

<boundary> is `after:<Method>` (the step answered, the process dies before the next one) or
`before:<Method>`. The services' addresses and the order database come from the environment the
test process set up (MALL_*_GRPC_TARGET, MALL_ORDER_DATABASE_URL).
"""
from __future__ import annotations

import os
import signal
import sys

from mall.order.v1 import order_pb2

from servicekit import service
from services.order.checkout import Checkout, Downstream


class _Dying:
    """A stub whose `method` kills this process before or after it is called."""

    def __init__(self, stub, when: str, method: str):
        self._stub, self._when, self._method = stub, when, method

    def __getattr__(self, name):
        call = getattr(self._stub, name)
        if name != self._method:
            return call

        def dying(request, *args, **kwargs):
            if self._when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            answer = call(request, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
            return answer
        return dying


class CrashingDownstream(Downstream):
    def __init__(self, boundary: str):
        super().__init__()
        self.when, self.method = boundary.split(":")

    def _stub(self, service_name, stub_class):
        return _Dying(super()._stub(service_name, stub_class), self.when, self.method)


def main() -> None:
    member_id, key, boundary, request_hex = sys.argv[1:5]
    request = order_pb2.CheckoutRequest.FromString(bytes.fromhex(request_hex))
    Checkout(service.runtime("order"), CrashingDownstream(boundary)).place(member_id, request, key)
    sys.exit("the placement finished: the crash boundary was never reached")


if __name__ == "__main__":
    main()
