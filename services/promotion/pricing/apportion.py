"""Largest-remainder apportionment: parts proportional to weights that sum exactly to the total."""
from __future__ import annotations

from typing import Sequence


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Splits `total` fen over `weights` (non-negative). Each part is the floor of its exact share;
    the fen left over go one each to the largest remainders, ties to the earlier weight, so the
    result is deterministic. No part exceeds its weight when `total <= sum(weights)`."""
    whole = sum(weights)
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("apportion needs a non-negative total and weights")
    if whole == 0:
        if total:
            raise ValueError(f"cannot apportion {total} over zero weight")
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[index] += 1
    return parts
