"""Integer fen arithmetic: the one rounding rule, and yuan as shoppers read it."""
from __future__ import annotations


def percent_of(amount_fen: int, percent: int) -> int:
    """`percent`% of `amount_fen`, rounded half up to the fen (amounts are never negative)."""
    return (amount_fen * percent + 50) // 100


def yuan(fen: int) -> str:
    """¥ with two decimals: 945 -> "¥9.45"."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100}.{fen % 100:02d}"


def yuan_short(fen: int) -> str:
    """Thresholds as posters write them: 20000 -> "200", 9950 -> "99.5"."""
    whole, cents = divmod(fen, 100)
    if cents == 0:
        return str(whole)
    return f"{whole}.{cents:02d}".rstrip("0")


def zhe(percent: int) -> str:
    """A price percentage as a Chinese discount: 95 -> "95 折", 80 -> "8 折", 85 -> "85 折"."""
    return f"{percent // 10 if percent % 10 == 0 else percent} 折"
