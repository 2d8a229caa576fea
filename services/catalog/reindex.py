"""Rebuilds the keyword index of every product, after lexicon.txt or the synonyms change:

    python -m services.catalog.reindex
"""
from __future__ import annotations

from sqlalchemy import select

from servicekit import service

from . import search
from .models import Product

BATCH = 200


def reindex_all(rt) -> int:
    """One transaction per batch, so a large catalog never holds one long lock."""
    done, last_id = 0, ""
    while True:
        with rt.transaction() as session:
            batch = session.scalars(select(Product).where(Product.id > last_id)
                                    .order_by(Product.id).limit(BATCH)).all()
            for product in batch:
                search.reindex(session, product)
        if not batch:
            return done
        done += len(batch)
        last_id = batch[-1].id


if __name__ == "__main__":
    print(f"reindexed {reindex_all(service.runtime('catalog'))} products")
