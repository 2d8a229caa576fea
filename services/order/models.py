"""The order service's tables: the cart and the product read model it prices from; orders, their
lines, status history and staff remarks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from servicekit import erasure, idempotency
from servicekit.db import BigId, UtcDateTime, declarative_base

Base = declarative_base()
erasure.add_to(Base.metadata)  # members who asked for erasure (member.deleted)
idempotency.add_to(Base.metadata)  # AddCartItem's keys (PlaceOrder keeps its key on the order)


class ProductSku(Base):
    """One sellable SKU as catalog last announced it (product.published/updated/unpublished).

    Order never asks catalog at cart time: it prices from this copy, so a cart works while
    catalog is down, and shows the current price rather than the price when the line was added.
    """
    __tablename__ = "product_skus"

    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)  # size, colour, cup/band ...
    price_fen: Mapped[int] = mapped_column(BigInteger)
    published: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str] = mapped_column(String(64), default="")        # the merchant's SKU code
    image_url: Mapped[str] = mapped_column(String(500), default="")  # the product's cover thumbnail
    category_ids: Mapped[list] = mapped_column(JSON, default=list)
    # catalog's product version last applied: an older event arriving late is ignored.
    product_version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The product's early-access rule (VIP 优先购, early_access.py): tier rank >= min from
    # opens_at, everyone from public_at. No rule: public_at is None.
    early_min_rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    early_tier_name: Mapped[str] = mapped_column(String(40), default="", server_default="")
    early_opens_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    early_public_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TrialInvitation(Base):
    """A member invited to a product's trial (catalog's product.trial_invited): she may buy it
    before its public opening whatever her tier."""
    __tablename__ = "trial_invitations"

    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invited_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CartItem(Base):
    """One line of a member's cart: a SKU and how many."""
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("member_id", "sku_id"),)  # also finds a member's cart

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Order(Base):
    """One order, from the moment the checkout saga starts placing it.

    `status` is moved only by states.py. `placing` and `failed` are the saga's own states: an
    order is shown to anyone only from `pending_payment` on. Amounts are what the quote said when
    the order was placed, kept whole so the order explains every fen without promotion.
    """
    __tablename__ = "orders"
    # (member, key) also finds a member's orders: no index of member_id alone to keep up
    __table_args__ = (UniqueConstraint("member_id", "idempotency_key"),
                      # the pre-sale timers: balance windows opening and closing
                      Index("ix_orders_status_balance_from", "status", "balance_from"),
                      Index("ix_orders_status_balance_until", "status", "balance_until"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    member_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(40), index=True)  # miniprogram | h5 | import:<partner>
    flash_sale: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    list_total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)     # every discount but points
    points_deduction_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    payable_fen: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    points_used: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_ids: Mapped[list] = mapped_column(JSON, default=list)
    explanation: Mapped[list] = mapped_column(JSON, default=list)        # the quote's lines for people
    member_tier: Mapped[str] = mapped_column(String(32), default="")
    member_tier_rank: Mapped[int] = mapped_column(Integer, default=0)
    # the tier's benefits at checkout, carried by order.paid (logistics ships it first)
    priority_shipping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    exclusive_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The shipping address is personal data: sealed (privacy.py); the province stays readable for
    # filters and allocation reports.
    address_sealed: Mapped[str] = mapped_column(Text, default="")
    province: Mapped[str] = mapped_column(String(32), default="")
    discreet_packaging: Mapped[bool] = mapped_column(Boolean, default=False)
    allocation: Mapped[list] = mapped_column(JSON, default=list)         # [{warehouse_code, sku_id, quantity}]
    shopper_note: Mapped[str] = mapped_column(String(200), default="")
    failure: Mapped[str] = mapped_column(Text, default="")               # why the saga failed
    # While `placing`: the request running the saga and until when it holds it (placement.py)
    placing_owner: Mapped[str] = mapped_column(String(36), default="")
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # ... and the quote and pricing profile it locks and reserves by, so a retry resumes with them
    placing_quote: Mapped[bytes | None] = mapped_column(LargeBinary)
    placing_profile: Mapped[bytes | None] = mapped_column(LargeBinary)
    payment_method: Mapped[str] = mapped_column(String(20), default="")
    import_batch_id: Mapped[str | None] = mapped_column(String(36), index=True)  # an imported order's job
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    pay_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # cancelled or refunded
    # A pre-sale order (presale.py) is paid twice: `deposit_fen` first (pending_payment), the
    # rest (payable_fen - deposit_fen) between balance_from and balance_until; its goods ship
    # from release_at. unpaid_balance: keep_deposit | refund_deposit. "" / 0 / None otherwise.
    presale_campaign_id: Mapped[str] = mapped_column(String(32), default="")
    deposit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    deposit_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    deposit_paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    balance_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    balance_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    release_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unpaid_balance: Mapped[str] = mapped_column(String(20), default="")

    @property
    def is_presale(self) -> bool:
        return bool(self.presale_campaign_id)


class OrderLine(Base):
    """A line as it was sold: a snapshot of the product, so later catalog edits change nothing."""
    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)  # also finds an order's lines

    id: Mapped[str] = mapped_column(String(48), primary_key=True)  # <order id>-<line no>
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku_id: Mapped[str] = mapped_column(String(64), index=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    sku_code: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(200))
    sku_label: Mapped[str] = mapped_column(String(100), default="")      # e.g. "75B 黑色"
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    image_url: Mapped[str] = mapped_column(String(500), default="")
    category_ids: Mapped[list] = mapped_column(JSON, default=list)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)              # list price
    discounts: Mapped[dict] = mapped_column(JSON, default=dict)          # fen by source: member, sale, ...
    paid_fen: Mapped[int] = mapped_column(BigInteger)                    # after every discount
    gift: Mapped[bool] = mapped_column(Boolean, default=False)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A gift line: the campaign's terms a refund is judged by (gifts.py): campaign_id,
    # threshold_fen, qualifying {line_id: fen counted}, return_rule, gift_value_fen.
    gift_terms: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # "" | return_required | deducted: what a refund below the threshold decided
    gift_outcome: Mapped[str] = mapped_column(String(20), default="", server_default="")
    gift_deducted_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class OrderAfterSale(Base):
    """An after-sale request on an order as support announced it (aftersale.* events): the
    newest state by the flow's order (applied < approved < refund_requested < closed), so a late
    event never moves it back; lines JSON [{line_id, sku_id, quantity, refund_fen}]."""
    __tablename__ = "order_aftersales"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    member_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(20))
    rank: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20), default="")
    reason_code: Mapped[str] = mapped_column(String(40), default="")
    lines: Mapped[list] = mapped_column(JSON, default=list)
    refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)      # asked to be refunded
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)    # refunded when it closed
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderRefundApplied(Base):
    """payment.refunded's refunds already added to their order (by refund id): each counts once,
    whatever order they arrive in."""
    __tablename__ = "order_refunds_applied"

    refund_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderStatusChange(Base):
    """Every transition, with who and why: the order's timeline."""
    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))   # member:<id> | staff:<id> | system:<job> | event:<type>
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderRemark(Base):
    """A staff member's note on an order (never shown to the shopper)."""
    __tablename__ = "order_remarks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(1000))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderNumberDay(Base):
    """The last order number handed out on one Shanghai calendar day."""
    __tablename__ = "order_number_days"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD
    last: Mapped[int] = mapped_column(Integer)


class OrderShipment(Base):
    """What logistics said about each shipment of an order (from shipment.* events): the order is
    shipped when every shipment is picked up, delivered when every one is delivered."""
    __tablename__ = "order_shipments"

    shipment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(String(20), default="")
    waybill_no: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[int] = mapped_column(Integer)       # logistics' ShipmentState number
    shipment_count: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderLineCategory(Base):
    """The categories (and their ancestors) an order's lines belong to: the desk's category
    filter without searching JSON."""
    __tablename__ = "order_line_categories"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"),
                                          primary_key=True)
    category_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class SkuStock(Base):
    """How much of a SKU logistics can sell, from inventory.availability_changed: the cart shows
    it (in stock, low, out). Reserve at checkout is the truth; this is the shopper's hint."""
    __tablename__ = "sku_stock"

    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sellable: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(10))  # in_stock | low | out
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)  # the event's time: newest wins


class ImportJob(Base):
    """One uploaded file (or batch of rows) and what became of it (services/order/importing)."""
    __tablename__ = "import_jobs"
    __table_args__ = (UniqueConstraint("caller", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner: Mapped[str] = mapped_column(String(64), index=True)
    caller: Mapped[str] = mapped_column(String(100))          # partner:<id> | staff:<id>
    profile: Mapped[str] = mapped_column(String(64), default="")
    filename: Mapped[str] = mapped_column(String(200), default="")
    format: Mapped[str] = mapped_column(String(10), default="")     # csv | xlsx
    encoding: Mapped[str] = mapped_column(String(20), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    error_policy: Mapped[str] = mapped_column(String(20))          # reject_file | import_valid
    deduct_stock: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    # received -> validating -> importing -> done | rejected (reject_file with errors) | failed
    status: Mapped[str] = mapped_column(String(20), index=True)
    problem_rule: Mapped[str] = mapped_column(String(40), default="")   # why the whole file failed
    problem: Mapped[str] = mapped_column(Text, default="")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_valid: Mapped[int] = mapped_column(Integer, default=0)
    rows_error: Mapped[int] = mapped_column(Integer, default=0)      # rows with their own errors
    rows_blocked: Mapped[int] = mapped_column(Integer, default=0)    # fine, but their order is not
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)    # order imported before
    orders_total: Mapped[int] = mapped_column(Integer, default=0)
    orders_imported: Mapped[int] = mapped_column(Integer, default=0)
    orders_skipped: Mapped[int] = mapped_column(Integer, default=0)
    orders_invalid: Mapped[int] = mapped_column(Integer, default=0)
    unknown_columns: Mapped[list] = mapped_column(JSON, default=list)
    headers: Mapped[list] = mapped_column(JSON, default=list)           # the file's header row
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Moved on by the process running the job; a job whose heartbeat stopped is failed when read.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ImportRow(Base):
    """A row's outcome. Rows not imported keep their cells and errors (sealed: they hold names,
    phones, addresses), so the report can show them beside their errors for correction."""
    __tablename__ = "import_rows"

    job_id: Mapped[str] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # imported | skipped | valid | error | blocked
    external_id: Mapped[str] = mapped_column(String(64), default="")
    order_no: Mapped[str] = mapped_column(String(20), default="")
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    sealed: Mapped[str] = mapped_column(Text, default="")  # {"cells": [...], "errors": [...]}


class ImportedOrder(Base):
    """An external order id a partner imported: claimed before its order is written, so the same
    order is never imported twice, by a re-upload or by two jobs at once."""
    __tablename__ = "imported_orders"

    partner: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(36))
    order_no: Mapped[str] = mapped_column(String(20))
    job_id: Mapped[str] = mapped_column(String(36), index=True)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ImportProfile(Base):
    """A partner's column mapping: their headers and product codes to ours, their status words,
    and whether their imported orders take stock."""
    __tablename__ = "import_profiles"

    partner: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    column_map: Mapped[dict] = mapped_column(JSON, default=dict)   # their header -> our column
    sku_map: Mapped[dict] = mapped_column(JSON, default=dict)      # their code -> our code / id
    status_map: Mapped[dict] = mapped_column(JSON, default=dict)   # their word -> paid|shipped|completed
    deduct_stock: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
