"""Builds the gateway's FastAPI application: middleware, problem handlers, routers."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import openapi, problems
from .clients import Clients
from .listing_cache import ListingCache, ListingFastPath
from .middleware import RequestContextMiddleware
from .ratelimit import TokenBucketLimiter
from .routes import (
    admin_catalog,
    admin_logistics,
    admin_members,
    admin_orders,
    admin_partners,
    admin_payments,
    admin_promotions,
    aftersales,
    analytics,
    auth,
    carrier_notify,
    catalog,
    health,
    media,
    members,
    notifications,
    order_imports,
    orders,
    payments,
    promotions,
    returns,
    reviews,
    shipments,
    staff,
)
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
    {"name": "reviews", "description": "A product's reviews (support), with its rating and fit "
                                       "summary: anyone may read them."},
    {"name": "me-reviews", "description": "The shopper's reviews of delivered order lines (photos, "
                                          "fit, one follow-up), and what she can still review."},
    {"name": "admin-reviews", "description": "Staff (admin, operator, cs_agent): replies and hiding; "
                                             "(admin, cs_agent): bad reviews' follow-up tasks."},
    {"name": "me-aftersales", "description": "After-sales (售后, support): what the shopper may apply "
                                             "for per line and why not, applying with photos, "
                                             "more photos, withdrawing."},
    {"name": "admin-aftersales", "description": "Customer service's after-sales desk (admin, "
                                                "cs_agent) and the merchant's rules (admin edits)."},
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
    {"name": "aftersales-returns", "description": "Shoppers: send an after-sale parcel back "
                                                  "(a carrier pick-up or their own waybill)."},
    {"name": "admin-returns", "description": "Warehouse staff and admins: returns expected and "
                                             "received, inspections (sellable or quarantine)."},
    {"name": "carrier-notify", "description": "Carriers' signed tracking pushes."},
    {"name": "partner-order-imports", "description": "Partner ERPs (HMAC-signed requests): "
                                                 "order files, import jobs, reports, profiles."},
    {"name": "admin-order-imports", "description": "Staff (admin, operator): order imports for a "
                                               "named partner."},
    {"name": "admin-partners", "description": "Staff: partner credentials (issue, list, revoke)."},
    {"name": "operations", "description": "Liveness, readiness and metrics."},
]


# The services the gateway calls: /readyz asks each of them.
SERVICES = ("member", "catalog", "promotion", "order", "logistics", "payment", "support",
            "analytics")

# Routers without the common problem answers in the document (operations, media files,
# carriers' pushes answered in the carrier's format); every other router has them.
UNSIGNED_ROUTERS = (health.router, media.router, carrier_notify.router)
ROUTERS = (
    auth.router, staff.router, members.router, admin_members.router, admin_partners.router,
    order_imports.partner_router, order_imports.staff_router,
    catalog.router, admin_catalog.router, promotions.router, admin_promotions.router,
    orders.router, admin_orders.router, admin_logistics.router, shipments.router,
    returns.router, returns.staff_router,
    payments.router, admin_payments.router, notifications.router, analytics.router,
    reviews.public_router, reviews.router, reviews.staff_router,
    aftersales.router, aftersales.staff_router,
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings.load()
    clients = Clients(settings.rpc_timeout)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await clients.close()

    app = FastAPI(title="Mall gateway", version="1", openapi_tags=TAGS, lifespan=lifespan,
                  generate_unique_id_function=openapi.operation_id,
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

    for router in UNSIGNED_ROUTERS:
        app.include_router(router)
    for router in ROUTERS:
        app.include_router(router, responses=problems.COMMON_RESPONSES)
    openapi.install(app)
    app.state.ready_services = settings.ready_services if settings.ready_services is not None \
        else SERVICES
    return app
