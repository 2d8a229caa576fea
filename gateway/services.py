"""The services' gRPC stubs as typed FastAPI dependencies: a route names the one it calls,
`async def list_categories(catalog: Catalog)`, and calls its methods directly.

Every call gets the gateway's deadline (settings.rpc_timeout, set on the channel by Clients);
the few that need longer pass one of the deadlines below."""
from __future__ import annotations

from typing import Annotated, Awaitable, Callable, TypeVar

import grpc
from fastapi import Depends, Request
from mall.analytics.v1 import analytics_pb2_grpc
from mall.catalog.v1 import catalog_pb2_grpc
from mall.logistics.v1 import logistics_pb2_grpc
from mall.member.v1 import loyalty_pb2_grpc, member_pb2_grpc, partner_pb2_grpc, profile_pb2_grpc
from mall.order.v1 import order_import_pb2_grpc, order_pb2_grpc
from mall.payment.v1 import payment_pb2_grpc
from mall.promotion.v1 import promotion_pb2_grpc
from mall.support.v1 import support_pb2_grpc

from .clients import Clients

# Longer deadlines than the gateway's default, for calls that move files or many rows.
MEDIA_UPLOAD_DEADLINE = 300.0  # a 100 MiB video streamed to catalog
FILE_DEADLINE = 600.0          # order imports' uploads and reports, order exports
BATCH_DEADLINE = 60.0          # booking many waybills; building an import template

Stub = TypeVar("Stub")


def clients(request: Request) -> Clients:
    return request.app.state.clients


def stub(service: str, stub_class: Callable[[grpc.aio.Channel], Stub],
         part: str = "") -> Callable[[Request], Awaitable[Stub]]:
    """A dependency answering the app's (cached) stub of `stub_class` on `service`'s channel
    (`part`: a separately deployed part of the service, servicekit.config.PARTS)."""

    # Async: FastAPI runs it on the event loop (a sync one would run in a worker thread, where
    # a grpc.aio channel cannot be made) and without a thread hop.
    async def dependency(request: Request) -> Stub:
        return clients(request).stub(service, stub_class, part)

    return dependency


Analytics = Annotated[analytics_pb2_grpc.AnalyticsServiceStub,
                      Depends(stub("analytics", analytics_pb2_grpc.AnalyticsServiceStub))]
Catalog = Annotated[catalog_pb2_grpc.CatalogServiceStub,
                    Depends(stub("catalog", catalog_pb2_grpc.CatalogServiceStub))]
CatalogAdmin = Annotated[catalog_pb2_grpc.CatalogAdminServiceStub,
                         Depends(stub("catalog", catalog_pb2_grpc.CatalogAdminServiceStub))]
Logistics = Annotated[logistics_pb2_grpc.LogisticsServiceStub,
                      Depends(stub("logistics", logistics_pb2_grpc.LogisticsServiceStub))]
MemberAuth = Annotated[member_pb2_grpc.AuthServiceStub,
                       Depends(stub("member", member_pb2_grpc.AuthServiceStub))]
MemberStaff = Annotated[member_pb2_grpc.StaffServiceStub,
                        Depends(stub("member", member_pb2_grpc.StaffServiceStub))]
Profile = Annotated[profile_pb2_grpc.ProfileServiceStub,
                    Depends(stub("member", profile_pb2_grpc.ProfileServiceStub))]
Loyalty = Annotated[loyalty_pb2_grpc.LoyaltyServiceStub,
                    Depends(stub("member", loyalty_pb2_grpc.LoyaltyServiceStub))]
LoyaltyAdmin = Annotated[loyalty_pb2_grpc.LoyaltyAdminServiceStub,
                         Depends(stub("member", loyalty_pb2_grpc.LoyaltyAdminServiceStub))]
Partners = Annotated[partner_pb2_grpc.PartnerServiceStub,
                     Depends(stub("member", partner_pb2_grpc.PartnerServiceStub))]
Cart = Annotated[order_pb2_grpc.CartServiceStub,
                 Depends(stub("order", order_pb2_grpc.CartServiceStub))]
Orders = Annotated[order_pb2_grpc.OrderServiceStub,
                   Depends(stub("order", order_pb2_grpc.OrderServiceStub))]
OrderDesk = Annotated[order_pb2_grpc.OrderDeskServiceStub,
                      Depends(stub("order", order_pb2_grpc.OrderDeskServiceStub))]
OrderImport = Annotated[order_import_pb2_grpc.OrderImportStub,
                        Depends(stub("order", order_import_pb2_grpc.OrderImportStub,
                                     part="import"))]
Payments = Annotated[payment_pb2_grpc.PaymentServiceStub,
                     Depends(stub("payment", payment_pb2_grpc.PaymentServiceStub))]
Promotions = Annotated[promotion_pb2_grpc.PromotionServiceStub,
                       Depends(stub("promotion", promotion_pb2_grpc.PromotionServiceStub))]
Notifications = Annotated[support_pb2_grpc.NotificationServiceStub,
                          Depends(stub("support", support_pb2_grpc.NotificationServiceStub))]
Reviews = Annotated[support_pb2_grpc.ReviewServiceStub,
                    Depends(stub("support", support_pb2_grpc.ReviewServiceStub))]
ReviewAdmin = Annotated[support_pb2_grpc.ReviewAdminServiceStub,
                        Depends(stub("support", support_pb2_grpc.ReviewAdminServiceStub))]
AfterSales = Annotated[support_pb2_grpc.AfterSaleServiceStub,
                       Depends(stub("support", support_pb2_grpc.AfterSaleServiceStub))]
AfterSaleDesk = Annotated[support_pb2_grpc.AfterSaleAdminServiceStub,
                          Depends(stub("support", support_pb2_grpc.AfterSaleAdminServiceStub))]
