"""Builds the gateway's FastAPI application: middleware, problem handlers, routers."""
from __future__ import annotations

import importlib.util
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import problems
from .clients import Clients
from .listing_cache import ListingCache, ListingFastPath
from .middleware import RequestContextMiddleware
from .ratelimit import TokenBucketLimiter
from .settings import GatewaySettings

TAGS = [
    {"name": "auth", "description": "Sign-in for shoppers (WeChat) and staff; token refresh."},
    {"name": "me", "description": "The signed-in caller's own account."},
    {"name": "catalog", "description": "Browsing the shop: categories, products, search."},
    {"name": "admin-catalog", "description": "Staff (admin, operator): categories, products, "
                                             "SKUs, media."},
    {"name": "admin-staff", "description": "Admins: staff accounts and their roles."},
    {"name": "promotions", "description": "Shoppers: my coupons, claimable coupons, claiming."},
    {"name": "admin-promotions", "description": "Staff (admin, operator): coupon templates, "
                                                "issuing coupons, campaigns."},
    {"name": "me-member", "description": "The shopper's profile, addresses, consents, points, "
                                         "tier, the points mall, export and account deletion."},
    {"name": "admin-members", "description": "Staff (admin, operator): tiers, loyalty settings, "
                                             "the points mall, point adjustments, members by phone."},
    {"name": "me-notifications", "description": "The shopper's notification inbox (support): "
                                                "order and coupon notices, marking them read."},
    {"name": "admin-analytics", "description": "Analysts and admins: event counts."},
    {"name": "orders", "description": "Shoppers: the cart, checkout and their orders."},
    {"name": "admin-orders", "description": "Staff (admin, operator, cs_agent): the order desk, "
                                            "remarks, exports."},
    {"name": "payments", "description": "Shoppers pay their orders (WeChat Pay JSAPI, Alipay with "
                                        "Huabei, card); the amount always comes from the order."},
    {"name": "payment-notify", "description": "Payment providers' signed notifications, handed to "
                                              "payment unchanged."},
    {"name": "admin-payments", "description": "Staff (admin, operator, cs_agent): payments, refunds."},
    {"name": "media", "description": "Product images and videos (a CDN in production)."},
    {"name": "admin-logistics", "description": "Warehouse staff and admins: warehouses, stock, "
                                               "adjustments, transfers, shipments, packing lists."},
    {"name": "shipments", "description": "Shoppers: their shipments and tracking timelines."},
    {"name": "carrier-notify", "description": "Carriers' signed tracking pushes."},
    {"name": "partner-order-imports", "description": "Partner ERPs (HMAC-signed requests): "
                                                 "order files, import jobs, reports, profiles."},
    {"name": "admin-order-imports", "description": "Staff (admin, operator): order imports for a "
                                               "named partner."},
    {"name": "admin-partners", "description": "Staff: partner credentials (issue, list, revoke)."},
    {"name": "operations", "description": "Liveness, readiness and metrics."},
]


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _document_400_not_422(app: FastAPI) -> None:
    """FastAPI documents its validation errors as 422; this gateway answers them as 400
    problems (problems.py), so the document says so."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes, tags=app.openapi_tags)
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                spec.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings.load()
    clients = Clients(settings.rpc_timeout)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await clients.close()

    app = FastAPI(title="Mall gateway", version="1", openapi_tags=TAGS, lifespan=lifespan,
                  description="The HTTP edge of the mall. Errors are application/problem+json "
                              "(RFC 9457); money is an integer number of fen.")
    app.state.settings = settings
    app.state.clients = clients
    app.state.login_limiter = TokenBucketLimiter(settings.login_burst, settings.login_per_minute)
    app.state.listing_cache = ListingCache(settings.listing_cache_seconds)
    problems.install(app)
    # Added last is outermost: the request context wraps the listing fast path.
    app.add_middleware(ListingFastPath, cache=app.state.listing_cache,
                       paths=("/v1/products", "/v1/search"))
    app.add_middleware(RequestContextMiddleware)

    from .routes import health, media
    app.include_router(health.router)
    app.include_router(media.router)
    # A route group is mounted once the contract it speaks has been generated (make protos).
    needed: list[str] = []
    if _has_module("mall.member.v1.member_pb2"):
        from .routes import auth, staff
        app.include_router(auth.router, responses=problems.COMMON_RESPONSES)
        app.include_router(staff.router, responses=problems.COMMON_RESPONSES)
        needed.append("member")
    if _has_module("mall.member.v1.loyalty_pb2"):
        from .routes import admin_members, members
        app.include_router(members.router, responses=problems.COMMON_RESPONSES)
        app.include_router(admin_members.router, responses=problems.COMMON_RESPONSES)
    if _has_module("mall.member.v1.partner_pb2"):
        from .routes import admin_partners
        app.include_router(admin_partners.router, responses=problems.COMMON_RESPONSES)
    if _has_module("mall.order.v1.order_import_pb2") and _has_module("mall.member.v1.partner_pb2"):
        from .routes import order_imports
        app.include_router(order_imports.partner_router, responses=problems.COMMON_RESPONSES)
        app.include_router(order_imports.staff_router, responses=problems.COMMON_RESPONSES)
    if _has_module("mall.catalog.v1.catalog_pb2"):
        from .routes import admin_catalog, catalog
        app.include_router(catalog.router, responses=problems.COMMON_RESPONSES)
        app.include_router(admin_catalog.router, responses=problems.COMMON_RESPONSES)
        needed.append("catalog")
    if _has_module("mall.promotion.v1.promotion_pb2"):
        from .routes import admin_promotions, promotions
        app.include_router(promotions.router, responses=problems.COMMON_RESPONSES)
        app.include_router(admin_promotions.router, responses=problems.COMMON_RESPONSES)
        needed.append("promotion")
    if _has_module("mall.order.v1.order_pb2"):
        from .routes import admin_orders, orders
        app.include_router(orders.router, responses=problems.COMMON_RESPONSES)
        app.include_router(admin_orders.router, responses=problems.COMMON_RESPONSES)
        needed.append("order")
    if _has_module("mall.logistics.v1.logistics_pb2"):
        from .routes import admin_logistics, carrier_notify, shipments
        app.include_router(admin_logistics.router, responses=problems.COMMON_RESPONSES)
        app.include_router(shipments.router, responses=problems.COMMON_RESPONSES)
        app.include_router(carrier_notify.router)
        needed.append("logistics")
    if _has_module("mall.payment.v1.payment_pb2"):
        from .routes import admin_payments, payments
        app.include_router(payments.router, responses=problems.COMMON_RESPONSES)
        app.include_router(admin_payments.router, responses=problems.COMMON_RESPONSES)
        needed.append("payment")
    if _has_module("mall.support.v1.support_pb2"):
        from .routes import notifications
        app.include_router(notifications.router, responses=problems.COMMON_RESPONSES)
        needed.append("support")
    if _has_module("mall.analytics.v1.analytics_pb2"):
        from .routes import analytics
        app.include_router(analytics.router, responses=problems.COMMON_RESPONSES)
        needed.append("analytics")
    _document_400_not_422(app)
    app.state.ready_services = settings.ready_services if settings.ready_services is not None \
        else tuple(needed)
    return app
