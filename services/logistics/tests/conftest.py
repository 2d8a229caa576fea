import pytest

from services.logistics import warehouses
from services.logistics.skus import CatalogProduct, CatalogSku, register_product


@pytest.fixture
def runtime(runtime_for):
    return runtime_for("logistics")


SHANGHAI = warehouses.WarehouseInput(code="SH-EAST", name="华东仓", province="上海市",
                                     city="上海市", district="青浦区", latitude=31.1497,
                                     longitude=121.1246, priority=100)
GUANGZHOU = warehouses.WarehouseInput(code="GZ-SOUTH", name="华南仓", province="广东省",
                                      city="广州市", district="白云区", latitude=23.3874,
                                      longitude=113.2989, priority=50)


def product(product_id="p-bra", sku_ids=("sku-75b", "sku-80b"), status="published", version=1,
            inactive=()) -> CatalogProduct:
    return CatalogProduct(product_id, "无钢圈聚拢文胸", status, version,
                          tuple(CatalogSku(s, s.upper(), s not in inactive) for s in sku_ids))


@pytest.fixture
def stocked(runtime):
    """Two warehouses and two registered SKUs, no stock yet."""
    with runtime.transaction() as session:
        warehouses.create_warehouse(session, SHANGHAI)
        warehouses.create_warehouse(session, GUANGZHOU)
        register_product(session, product())
    return runtime
