"""The contract tests' fixtures, from their helper modules."""
from tests.contract.support_b import (  # noqa: F401 (fixtures of payment's contract)
    payment_orders,
    payment_providers,
    payment_relay,
    payment_stub,
    payment_world,
)
