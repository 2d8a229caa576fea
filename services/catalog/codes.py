"""Proto enum numbers <-> the words stored in the database (readable in SQL, stable in rows)."""
from __future__ import annotations

from mall.catalog.v1 import catalog_pb2 as pb

KINDS = {pb.STYLE: "style", pb.FUNCTION: "function", pb.BRAND: "brand"}
STATUSES = {pb.DRAFT: "draft", pb.PUBLISHED: "published", pb.UNPUBLISHED: "unpublished"}
SIZE_SYSTEMS = {pb.BRA: "bra", pb.LETTER: "letter"}
MEDIA_KINDS = {pb.IMAGE: "image", pb.VIDEO: "video"}
ANGLES = {pb.FRONT: "front", pb.BACK: "back", pb.SIDE: "side", pb.DETAIL: "detail",
          pb.ON_MODEL: "on_model"}
LEVELS = {pb.AVAILABILITY_UNKNOWN: "unknown", pb.IN_STOCK: "in_stock", pb.LOW: "low",
          pb.OUT: "out"}
SORTS = {pb.NEWEST: "newest", pb.PRICE_ASC: "price_asc", pb.PRICE_DESC: "price_desc",
         pb.SALES: "sales", pb.RATING: "rating", pb.RELEVANCE: "relevance"}


def reverse(mapping: dict[int, str]) -> dict[str, int]:
    return {word: number for number, word in mapping.items()}


KIND_NUMBERS = reverse(KINDS)
STATUS_NUMBERS = reverse(STATUSES)
SIZE_SYSTEM_NUMBERS = reverse(SIZE_SYSTEMS)
MEDIA_KIND_NUMBERS = reverse(MEDIA_KINDS)
ANGLE_NUMBERS = reverse(ANGLES)
LEVEL_NUMBERS = reverse(LEVELS)
