"""Builders shared by the order tests."""
from mall.events.v1 import catalog_events_pb2 as catalog


def catalog_product(product_id="p-1", title="无钢圈聚拢文胸", status="published", version=1,
                    skus=None) -> catalog.CatalogProduct:
    skus = skus if skus is not None else [
        catalog.CatalogSku(sku_id="sku-75b-black", size="75B", band=75, cup="B", colour="黑色",
                           price_fen=19900, active=True),
        catalog.CatalogSku(sku_id="sku-80c-nude", size="80C", band=80, cup="C", colour="肤色",
                           price_fen=20900, active=True),
    ]
    return catalog.CatalogProduct(product_id=product_id, title=title, status=status,
                                  version=version, skus=skus)
