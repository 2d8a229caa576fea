"""The contract tests' fixtures, from their helper modules."""
import pytest

from tests.contract.support_b import (  # noqa: F401 (fixtures of payment's contract)
    payment_orders,
    payment_providers,
    payment_relay,
    payment_stub,
    payment_world,
)


@pytest.fixture(autouse=True)
def promotion_without_catalog(monkeypatch):
    """The contract tests' campaigns name SKUs that reach order and logistics by events, never
    catalog: promotion's check of them against catalog is tested in services/promotion
    (test_references, with a real catalog server)."""
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "0")
