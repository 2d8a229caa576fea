"""The order's state machine: the only place an order's status changes, and every change is
recorded with who and why.

    placing ──> pending_payment ──> paid ──> partly_shipped ──> shipped ──> delivered ──> completed
       │              │               │            │               │            │             │
       └─> failed     └─> cancelled <─┘            └───────────────┴────────────┴─────────────┴─> refunded

    a pre-sale (presale.py): pending_payment ──deposit──> deposit_paid ──window opens──> balance_due
                             ──balance──> paid; deposit_paid | balance_due ──> cancelled

`placing` and `failed` belong to the checkout saga and are never shown. A paid order may be
cancelled by staff only before anything shipped (its money is then refunded); `refunded` means
the whole order was refunded (per-line refunds leave the status and add to `refunded_fen`).
Asking for the status an order already has is a no-op, because events arrive twice and late;
anything not drawn above is FAILED_PRECONDITION.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from servicekit.errors import FailedPrecondition

from .models import Order, OrderStatusChange

ALLOWED: dict[str, frozenset[str]] = {
    "placing": frozenset({"pending_payment", "failed"}),
    "pending_payment": frozenset({"paid", "cancelled", "deposit_paid"}),
    # a pre-sale order (presale.py): the deposit paid, waiting for its balance window, then due
    "deposit_paid": frozenset({"balance_due", "cancelled"}),
    "balance_due": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"partly_shipped", "shipped", "cancelled", "refunded"}),
    "partly_shipped": frozenset({"shipped", "refunded"}),
    "shipped": frozenset({"delivered", "refunded"}),
    "delivered": frozenset({"completed", "refunded"}),
    "completed": frozenset({"refunded"}),
    "failed": frozenset(),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}
VISIBLE = tuple(s for s in ALLOWED if s not in ("placing", "failed"))
# How far along the happy path a status is: a late event never moves an order backwards.
PROGRESS = {"pending_payment": 0, "deposit_paid": 0.3, "balance_due": 0.6, "paid": 1,
            "partly_shipped": 2, "shipped": 3, "delivered": 4, "completed": 5}
TIMESTAMP_OF = {"deposit_paid": "deposit_paid_at", "paid": "paid_at", "shipped": "shipped_at",
                "delivered": "delivered_at", "completed": "completed_at", "cancelled": "closed_at",
                "refunded": "closed_at"}

# The shopper's tabs (待付款, 待发货, 待收货, 待评价, 退款/售后) as statuses.
TABS: dict[str, tuple[str, ...]] = {
    "to_pay": ("pending_payment", "deposit_paid", "balance_due"),  # a pre-sale's balance too
    "to_ship": ("paid", "partly_shipped"),
    "to_receive": ("shipped",),
    "to_review": ("delivered", "completed"),
    "refunds": ("refunded",),
}


def can_move(current: str, target: str) -> bool:
    return target in ALLOWED[current]


def is_behind(current: str, target: str) -> bool:
    """True when `target` is a happy-path status the order has already passed (a late event)."""
    return target in PROGRESS and current in PROGRESS and PROGRESS[target] < PROGRESS[current]


def move(session, order: Order, target: str, *, actor: str, reason: str = "",
         now: datetime | None = None) -> bool:
    """Moves `order` to `target` and records the change; False when it already was there."""
    if target not in ALLOWED:
        raise ValueError(f"unknown order status {target!r}")
    if order.status == target:
        return False
    if not can_move(order.status, target):
        allowed = ", ".join(sorted(ALLOWED[order.status])) or "nothing (it is final)"
        raise FailedPrecondition(
            f"order {order.order_no} is {order.status} and cannot become {target}; "
            f"from {order.status} it may become {allowed}")
    now = now or datetime.now(timezone.utc)
    session.add(OrderStatusChange(order_id=order.id, from_status=order.status, to_status=target,
                                  actor=actor, reason=reason[:500], at=now))
    order.status, order.updated_at = target, now
    if target in TIMESTAMP_OF:
        setattr(order, TIMESTAMP_OF[target], now)
    return True


def history_seq(session, order: Order) -> int:
    """The order's position in its status history: how many changes it has recorded so far.
    Every order event carries it (status_seq), so consumers order an order's events by its own
    history, not by when they arrive."""
    session.flush()
    return session.scalar(select(func.count()).select_from(OrderStatusChange)
                          .where(OrderStatusChange.order_id == order.id)) or 0
