"""Lingerie sizes: bras by band (cm under the bust) x cup, shown as "75B"; everything else by
letter. These are the sizes the shop sells; anything else is refused with the accepted list."""
from __future__ import annotations

BRA, LETTER = "bra", "letter"
BANDS = (65, 70, 75, 80, 85, 90, 95, 100)
CUPS = ("A", "B", "C", "D", "E", "F", "G")
LETTER_SIZES = ("XS", "S", "M", "L", "XL", "XXL", "XXXL", "F")  # F = 均码, one size

SIZE_SYSTEMS = {1: BRA, 2: LETTER}  # catalog.v1.SizeSystem -> stored value


def bra_size(band: int, cup: str) -> str:
    return f"{band}{cup}"


def size_order(size: str) -> tuple[int, int]:
    """A sort key that puts 70A before 70B before 75A, and S before M before XL."""
    if size in LETTER_SIZES:
        return (0, LETTER_SIZES.index(size))
    band, cup = size[:-1], size[-1:]
    if band.isascii() and band.isdigit() and cup in CUPS:
        return (int(band), CUPS.index(cup))
    return (999, 0)


def is_valid_size(system: str, size: str) -> bool:
    if system == LETTER:
        return size in LETTER_SIZES
    return any(size == bra_size(b, c) for b in BANDS for c in CUPS)
