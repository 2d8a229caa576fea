"""The catalog's tables. Money is BIGINT fen; times are UTC.

Facets are categories with a `kind` (style, function, brand): one table, one tree per kind, so a
facet is validated, renamed and listed the same way a category is.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import UtcDateTime, declarative_base
from servicekit.times import utcnow

Base = declarative_base()


def new_id() -> str:
    return str(uuid.uuid4())


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))              # style | function | brand
    name: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("categories.id"), nullable=True)
    # "/<root id>/.../<own id>/": a subtree is `path LIKE '<path>%'`, no recursive query.
    path: Mapped[str] = mapped_column(String(800), index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # "<kind>:<parent id or ''>:<name>": siblings have distinct names (NULL parents included).
    sibling_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def path_ids(self) -> list[str]:
        return [p for p in self.path.split("/") if p]


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(120))
    subtitle: Mapped[str] = mapped_column(String(200), default="")
    material: Mapped[str] = mapped_column(String(500), default="")
    composition: Mapped[str] = mapped_column(String(500), default="")
    care: Mapped[str] = mapped_column(String(500), default="")
    origin: Mapped[str] = mapped_column(String(100), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[str] = mapped_column(ForeignKey("categories.id"), index=True)
    brand_id: Mapped[str | None] = mapped_column(ForeignKey("categories.id"), nullable=True,
                                                 index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|published|unpublished
    size_system: Mapped[str] = mapped_column(String(8))               # bra | letter
    size_chart: Mapped[str] = mapped_column(Text, default="{}")        # JSON {columns, rows}
    # Denormalised for the listing, kept up to date by the use cases that change their sources.
    min_price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    max_price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    cover_url: Mapped[str] = mapped_column(String(300), default="")
    cover_thumbnail_url: Mapped[str] = mapped_column(String(300), default="")
    # A listing card's variants, so a page is one query: JSON lists over active SKUs, and whether
    # any of them is sellable (refreshed by SKU edits and by availability events).
    colours: Mapped[str] = mapped_column(Text, default="[]")
    sizes: Mapped[str] = mapped_column(Text, default="[]")
    in_stock: Mapped[bool] = mapped_column(Boolean, default=False)
    # Read models fed by events (order.paid, review.summary_changed).
    sales_count: Mapped[int] = mapped_column(BigInteger, default=0)
    rating_milli: Mapped[int] = mapped_column(Integer, default=0)  # average rating x 1000
    review_count: Mapped[int] = mapped_column(Integer, default=0)
    review_summary_at: Mapped[datetime | None] = mapped_column(UtcDateTime,
                                                               nullable=True)
    review_summary_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    fit_summary: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")  # JSON ProductFit
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    # VIP 优先购 (early_access.py): tier rank >= early_min_rank from early_opens_at, everyone from
    # early_public_at; no rule when early_public_at is None. early_tier_name is the tier's
    # display name as staff set it with the rule (shown to shoppers).
    early_min_rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    early_tier_name: Mapped[str] = mapped_column(String(40), default="", server_default="")
    early_opens_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    early_public_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        # One index per shopper sort: the keyset scans walk them.
        Index("ix_products_status_published", "status", "published_at", "id"),
        Index("ix_products_status_price", "status", "min_price_fen", "id"),
        Index("ix_products_status_sales", "status", "sales_count", "id"),
        Index("ix_products_status_rating", "status", "rating_milli", "review_count", "id"),
        Index("ix_products_created", "created_at", "id"),
    )


class ProductFunction(Base):
    """A function facet (无钢圈, 聚拢 ...) that applies to a product."""
    __tablename__ = "product_functions"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True)
    category_id: Mapped[str] = mapped_column(ForeignKey("categories.id"), primary_key=True,
                                             index=True)


class Sku(Base):
    __tablename__ = "skus"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[str] = mapped_column(String(8))
    band: Mapped[int] = mapped_column(Integer, default=0)
    cup: Mapped[str] = mapped_column(String(2), default="")
    colour: Mapped[str] = mapped_column(String(20))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    barcode: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("product_id", "size", "colour",
                                       name="uq_skus_product_size_colour"),)


class SkuAvailability(Base):
    """What logistics last told us about a SKU (inventory.availability_changed). No foreign key:
    an event may name a SKU this database never had, and that must not fail the handler."""
    __tablename__ = "sku_availability"

    sku_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sellable: Mapped[int] = mapped_column(BigInteger, default=0)
    level: Mapped[str] = mapped_column(String(12), default="unknown")  # in_stock|low|out|unknown
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)   # the event's occurred_at


class Media(Base):
    __tablename__ = "media"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(8))                 # image | video
    angle: Mapped[str] = mapped_column(String(12), default="")   # front|back|side|detail|on_model
    position: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str] = mapped_column(String(300))                # the original
    hd_key: Mapped[str] = mapped_column(String(300), default="")
    thumbnail_key: Mapped[str] = mapped_column(String(300), default="")
    poster_key: Mapped[str] = mapped_column(String(300), default="")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SearchTerm(Base):
    """The inverted index of keyword search: one row per (term, product), with the summed weight
    of the fields the term occurs in. Plain rows, so it works on PostgreSQL and SQLite alike."""
    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)


class TrialInvitation(Base):
    """A member invited to a product's trial: she may buy it before its public opening whatever
    her tier (announced as product.trial_invited; order keeps them for its check)."""
    __tablename__ = "trial_invitations"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(80), default="staff")  # staff | marketing:<campaign>
    invited_by: Mapped[str] = mapped_column(String(64), default="")
    invited_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SaleCampaign(Base):
    """What promotion said of a sale or flash sale (campaign.changed): the read model shoppers'
    sale prices are computed from at read time. `version` only grows: an older event is ignored.
    `terms`: scope, exclusions, percent, per-SKU prices and the schedule (see sales.py)."""
    __tablename__ = "sale_campaigns"

    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))                # sale | flash_sale
    status: Mapped[str] = mapped_column(String(8))               # active | ended
    name: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    terms: Mapped[str] = mapped_column(Text)                     # JSON
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
