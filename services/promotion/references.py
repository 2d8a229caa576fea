"""Whether the SKUs and products a campaign names exist: asked of catalog (GetSkus,
GetProductIds, 200 ids a call) by the api process before anything is written. A name catalog
does not know is INVALID_ARGUMENT on `spec.sku_ids[i]` / `spec.product_ids[i]` (i: its place
in CampaignSpec.sku_ids() / product_ids_named()) with the rule `unknown`; catalog unreachable is
UNAVAILABLE (nothing written either). MALL_PROMOTION_CHECK_CATALOG=0 turns the check off (a
promotion running without a catalog: tests of promotion alone, benchmarks)."""
from __future__ import annotations

import grpc
from mall.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from servicekit import grpc_client
from servicekit.config import env, grpc_target
from servicekit.errors import Violations, from_rpc_error
from servicekit.ids import excerpt

from .campaign_spec import CampaignSpec

BATCH = 200


def enabled() -> bool:
    return env("CHECK_CATALOG", "1", "promotion") not in ("0", "false", "no")


class CatalogReferences:
    def __init__(self):
        self._stubs: dict[str, catalog_pb2_grpc.CatalogServiceStub] = {}

    @property
    def stub(self) -> catalog_pb2_grpc.CatalogServiceStub:
        """One channel per catalog address (the address is read from the settings each time)."""
        target = grpc_target("catalog")
        if target not in self._stubs:
            self._stubs[target] = catalog_pb2_grpc.CatalogServiceStub(
                grpc_client.channel("catalog", target=target))
        return self._stubs[target]

    def check(self, spec: CampaignSpec) -> None:
        if not enabled():
            return
        v = Violations()
        skus = spec.sku_ids()
        known_skus = self._known(skus, lambda ids: [view.sku.id for view in self.stub.GetSkus(
            catalog_pb2.GetSkusRequest(sku_ids=ids)).skus])
        for i, sku_id in enumerate(skus):
            v.check(sku_id in known_skus, f"spec.sku_ids[{i}]", "unknown",
                    f"catalog has no SKU {excerpt(sku_id)}")
        products = spec.product_ids_named()
        known_products = self._known(products, lambda ids: list(self.stub.GetProductIds(
            catalog_pb2.GetProductIdsRequest(product_ids=ids)).product_ids))
        for i, product_id in enumerate(products):
            v.check(product_id in known_products, f"spec.product_ids[{i}]", "unknown",
                    f"catalog has no product {excerpt(product_id)}")
        v.raise_if_any("the campaign names what the catalog does not have")

    @staticmethod
    def _known(ids: list[str], ask) -> set[str]:
        wanted = sorted({i for i in ids if i})
        found: set[str] = set()
        try:
            for start in range(0, len(wanted), BATCH):
                found.update(ask(wanted[start:start + BATCH]))
        except grpc.RpcError as err:
            raise from_rpc_error(err, "catalog") from None
        return found
