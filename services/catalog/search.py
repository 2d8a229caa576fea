"""Keyword search in Chinese: jieba cuts text into words, the words go into an inverted index
table (term, product, weight), and a query matches the products that hold every one of its words.

Indexing uses jieba's search mode (a long word also yields the dictionary words inside it, so
"蕾丝边" is found by "蕾丝"); queries use the precise mode. The shop's vocabulary (lexicon.txt:
无钢圈, 聚拢, 莫代尔 ...) is added to jieba's dictionary so those words are never split apart.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import jieba
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from servicekit.lazy import once

from .models import Category, Product, SearchTerm

LEXICON = Path(__file__).with_name("lexicon.txt")

# Field weights: a word in the title says more about the product than one in its composition.
TITLE, SUBTITLE, FACET, MATERIAL = 4, 2, 3, 1

# What shoppers type for what the shop calls otherwise: a product indexed with the key is also
# found (at the lowest weight) by each of the words.
SYNONYMS = {"文胸": ("内衣", "胸罩", "bra"), "内裤": ("底裤", "三角裤"), "睡衣": ("家居服", "睡裙"),
            "塑身衣": ("塑形", "束身衣"), "运动内衣": ("运动文胸",), "莫代尔": ("modal",),
            "真丝": ("桑蚕丝", "丝绸"), "无钢圈": ("无钢托",)}
SYNONYM_WEIGHT = 1

# Words that occur everywhere in a lingerie shop's text or mean nothing on their own.
STOPWORDS = frozenset("的 了 和 与 及 或 是 在 有 款 女 女士 新款 a an the and of for with".split())
_WORD = re.compile(r"\w", re.UNICODE)
_MAX_TERM = 64

@once
def tokenizer() -> jieba.Tokenizer:
    """jieba's dictionary takes a moment to load: once per process, on first use."""
    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    tk.load_userdict(str(LEXICON))
    return tk


def _clean(words) -> list[str]:
    out = []
    for word in words:
        word = word.strip().lower()
        if not word or word in STOPWORDS or not _WORD.search(word) or len(word) > _MAX_TERM:
            continue
        out.append(word)
    return out


def index_terms(text: str) -> list[str]:
    """The words of `text` to store in the index (search mode: sub-words included)."""
    return _clean(tokenizer().cut_for_search(text or ""))


def query_terms(query: str) -> list[str]:
    """The distinct words of a shopper's query, in order; every one of them must match."""
    seen: dict[str, None] = {}
    for word in _clean(tokenizer().cut(query or "")):
        seen.setdefault(word, None)
    return list(seen)


def document_terms(product: Product, facet_names: list[str]) -> dict[str, int]:
    """term -> summed weight over the product's indexed fields."""
    weights: dict[str, int] = {}
    fields = [(product.title, TITLE), (product.subtitle, SUBTITLE),
              (f"{product.material} {product.composition}", MATERIAL),
              (" ".join(facet_names), FACET)]
    for text, weight in fields:
        for term in set(index_terms(text)):
            weights[term] = weights.get(term, 0) + weight
    for term in [t for t in weights if t in SYNONYMS]:
        for synonym in SYNONYMS[term]:
            weights.setdefault(synonym, SYNONYM_WEIGHT)
    return weights


def reindex(session: Session, product: Product) -> None:
    """Replaces the product's rows in the index (title, subtitle, material, facet names)."""
    names = facet_names(session, product)
    session.execute(delete(SearchTerm).where(SearchTerm.product_id == product.id))
    rows = [{"term": t, "product_id": product.id, "weight": w}
            for t, w in document_terms(product, names).items()]
    if rows:
        session.execute(insert(SearchTerm), rows)


def facet_names(session: Session, product: Product) -> list[str]:
    """Names of the product's category and its ancestors, its function facets and its brand."""
    from sqlalchemy import select

    from .models import ProductFunction

    category = session.get(Category, product.category_id)
    ids = list(category.path_ids()) if category else []
    ids += session.scalars(select(ProductFunction.category_id)
                           .where(ProductFunction.product_id == product.id)).all()
    if product.brand_id:
        ids.append(product.brand_id)
    if not ids:
        return []
    return list(session.scalars(select(Category.name).where(Category.id.in_(ids))))
