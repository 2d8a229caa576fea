"""A product's reviews summed up: rating average and count, stars by number, how the size fitted,
per product and per size bought. `summarise` is pure (table-tested); `refresh` recomputes a
product's summary from its visible reviews, in the caller's transaction, and announces it as
review.summary_changed whenever it changed (catalog keeps the rating for its sort and stars)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from mall.events.v1 import support_events_pb2 as support_events
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.db import take_turns
from servicekit.times import utcnow

from .models import FITS, Review, ReviewSummary

LETTER_SIZES = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "F")
_BRA = re.compile(r"^(\d{2,3})([A-Z]{1,2})$")


@dataclass(frozen=True)
class Rated:
    """What a summary needs of one visible review."""
    stars: int
    fit: str          # "" when she did not say
    size: str
    has_photos: bool = False


def size_key(size: str) -> tuple:
    """Sizes in the order a shopper reads them: XS < S < M ...; 70A < 70B < 75A; others last."""
    if size in LETTER_SIZES:
        return (0, LETTER_SIZES.index(size), 0, size)
    if bra := _BRA.match(size):
        return (1, int(bra.group(1)), 0, bra.group(2))
    return (2, 0, 0, size)


def _average(stars_total: int, count: int) -> float:
    return round(stars_total / count, 2) if count else 0.0


def _fits(rows: list[Rated]) -> dict[str, int]:
    return {fit: sum(1 for r in rows if r.fit == fit) for fit in FITS}


def summarise(rows: list[Rated]) -> dict:
    """The summary as stored and published (JSON-able)."""
    sizes: dict[str, list[Rated]] = {}
    for row in rows:
        if row.size:
            sizes.setdefault(row.size, []).append(row)
    return {
        "review_count": len(rows),
        "average_rating": _average(sum(r.stars for r in rows), len(rows)),
        **_fits(rows),
        "star_counts": [sum(1 for r in rows if r.stars == n) for n in range(1, 6)],
        "with_photos": sum(1 for r in rows if r.has_photos),
        "sizes": [{"size": size, "review_count": len(of_size),
                   "average_rating": _average(sum(r.stars for r in of_size), len(of_size)),
                   **_fits(of_size)}
                  for size, of_size in sorted(sizes.items(), key=lambda kv: size_key(kv[0]))],
    }


EMPTY = summarise([])


def current(session: Session, product_id: str) -> dict:
    row = session.get(ReviewSummary, product_id)
    return row.summary if row is not None else EMPTY


def refresh(runtime, session: Session, product_id: str) -> bool:
    """Recomputes the product's summary from its visible reviews; stores and announces it when
    it changed (with the next version). The reviews of one product take turns, so versions and
    events follow the order of the commits."""
    take_turns(session, f"support.reviews:{product_id}")
    session.flush()
    rows = [Rated(stars, fit, size, photos) for stars, fit, size, photos in session.execute(
        select(Review.stars, Review.fit, Review.size, Review.has_photos).where(
            Review.product_id == product_id, Review.hidden_at.is_(None)))]
    summary = summarise(rows)
    stored = session.get(ReviewSummary, product_id, with_for_update=True)
    if stored is not None and stored.summary == summary:
        return False
    if stored is None:
        stored = ReviewSummary(product_id=product_id, version=0)
        session.add(stored)
    stored.version += 1
    stored.summary = summary
    stored.updated_at = utcnow()
    runtime.emit(session, "review.summary_changed", support_events.ReviewSummaryChanged(
        product_id=product_id, review_count=summary["review_count"],
        average_rating=summary["average_rating"], runs_small=summary["runs_small"],
        true_to_size=summary["true_to_size"], runs_large=summary["runs_large"],
        sizes=[support_events.ReviewSizeSummary(**size) for size in summary["sizes"]],
        version=stored.version))
    return True
