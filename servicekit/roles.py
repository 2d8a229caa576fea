"""The staff roles, named once: member stores them on staff accounts, the gateway checks them on
/v1/admin routes, and services check them on the RPCs staff may call."""
from __future__ import annotations

ADMIN = "admin"
OPERATOR = "operator"
CS_AGENT = "cs_agent"
WAREHOUSE = "warehouse"
ANALYST = "analyst"

# Every role a staff account may hold, in the order the console lists them.
ALL = (ADMIN, OPERATOR, CS_AGENT, WAREHOUSE, ANALYST)

# Staff who run the shop's catalog, promotions and orders.
MERCHANDISERS = (ADMIN, OPERATOR)
# Staff who look after shoppers' orders and payments (the order desk, refunds).
ORDER_DESK = (ADMIN, OPERATOR, CS_AGENT)
# Staff who keep the warehouses' stock and see shipments.
STOCK_KEEPERS = (ADMIN, WAREHOUSE)
# Staff who read the sales and behaviour figures.
ANALYTICS_READERS = (ADMIN, ANALYST)
# Staff who answer and moderate shoppers' reviews (the merchant's replies, hiding).
REVIEW_DESK = (ADMIN, OPERATOR, CS_AGENT)
# Customer service: the follow-up tasks of bad reviews.
CUSTOMER_SERVICE = (ADMIN, CS_AGENT)
