"""Payment providers behind one small port: what the domain asks of WeChat Pay, Alipay or the
card acquirer, and what it gets back, in the domain's words (fen, UTC, our states)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class ProviderError(Exception):
    """The provider could not be reached, or refused the request; `code` is its own code."""

    def __init__(self, message: str, code: str = "", retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class NotificationRefused(Exception):
    """A notification that is not verifiably from the provider for this merchant: it changes
    nothing. `reason` goes to the notification log; `signed` says whether the provider's
    signature itself was good (a genuine notification that is not for us, or does not decrypt)."""

    def __init__(self, reason: str, kind: str = "", signed: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.signed = signed


@dataclass(frozen=True)
class PrepayRequest:
    out_trade_no: str
    amount_fen: int
    description: str
    expires_at: datetime | None = None
    payer_openid: str = ""
    installments: int = 0
    seller_percent: int = 0


# A trade's state at the provider, in our words.
PAID, OPEN, CLOSED, FAILED, REFUNDED = "paid", "open", "closed", "failed", "refunded"


@dataclass(frozen=True)
class ProviderTrade:
    out_trade_no: str
    state: str                      # paid | open | closed | failed | refunded
    provider_state: str             # the provider's own word, e.g. SUCCESS, TRADE_SUCCESS
    amount_fen: int = 0
    currency: str = "CNY"
    transaction_id: str = ""
    paid_at: datetime | None = None


@dataclass(frozen=True)
class ProviderRefund:
    out_refund_no: str
    state: str                      # processing | succeeded | failed
    provider_state: str
    refund_id: str = ""
    amount_fen: int = 0
    out_trade_no: str = ""


@dataclass(frozen=True)
class VerifiedNotification:
    kind: str                       # the provider's event, e.g. TRANSACTION.SUCCESS
    trade: ProviderTrade | None = None
    refund: ProviderRefund | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """What the gateway sends back to the provider."""
    http_status: int
    content_type: str
    body: bytes
