"""The pricing engine: a pure function of the promotion rules and a cart (no database, no clock
of its own), so the same input always gives the same quote, fen for fen.

    quote(rules, request) -> Quote

`rules.py` says what the rules and the request are, `engine.py` applies them in a fixed order,
`apportion.py` splits order-level discounts over lines, `money.py` rounds and formats.
"""
from .engine import quote
from .rules import (
    CartLine,
    CouponOffer,
    GiftOffer,
    MemberProfile,
    PresaleItem,
    PresaleOffer,
    PricingRules,
    QuoteRequest,
    SaleItem,
    SaleOffer,
    SaleScope,
    Scope,
    ShippingRule,
    Stacking,
    ThresholdOffer,
    ThresholdRung,
)
from .window import Window

__all__ = ["quote", "CartLine", "CouponOffer", "GiftOffer", "MemberProfile", "PresaleItem",
           "PresaleOffer", "PricingRules", "QuoteRequest", "SaleItem", "SaleOffer", "SaleScope", "Scope",
           "ShippingRule", "Stacking", "ThresholdOffer", "ThresholdRung", "Window"]
