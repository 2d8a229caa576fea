"""The SKU registry follows catalog's product events, whatever order they arrive in."""
from sqlalchemy import select

from services.logistics.models import Sku
from services.logistics.skus import register_product

from .conftest import product


def skus(runtime):
    with runtime.transaction() as session:
        return {s.sku_id: (s.active, s.catalog_version, s.code)
                for s in session.scalars(select(Sku))}


def apply(runtime, p):
    with runtime.transaction() as session:
        return register_product(session, p)


def test_published_product_registers_its_skus(runtime):
    assert apply(runtime, product(inactive=("sku-80b",))) == 2
    assert skus(runtime) == {"sku-75b": (True, 1, "SKU-75B"), "sku-80b": (False, 1, "SKU-80B")}


def test_an_update_adds_skus_and_deactivates_those_dropped(runtime):
    apply(runtime, product())
    apply(runtime, product(sku_ids=("sku-75b", "sku-85c"), version=2))
    assert skus(runtime) == {"sku-75b": (True, 2, "SKU-75B"), "sku-80b": (False, 2, "SKU-80B"),
                             "sku-85c": (True, 2, "SKU-85C")}


def test_a_late_older_event_changes_nothing(runtime):
    apply(runtime, product(status="unpublished", version=3))
    assert apply(runtime, product(status="published", version=2)) == 0
    assert skus(runtime) == {"sku-75b": (False, 3, "SKU-75B"), "sku-80b": (False, 3, "SKU-80B")}


def test_unpublished_product_keeps_its_skus_inactive(runtime):
    apply(runtime, product())
    apply(runtime, product(status="unpublished", version=2))
    assert {k: v[0] for k, v in skus(runtime).items()} == {"sku-75b": False, "sku-80b": False}
