"""Which warehouses fill an order: a pure function of the lines and what each warehouse can sell.

1. One warehouse that fills every line, the nearest first (higher priority, then code, breaks
   ties): one parcel.
2. Otherwise the fewest warehouses that together fill it; among sets of the same size the one
   whose members are nearest (compared nearest member first); each line takes from the set's
   nearest warehouse first.
3. Otherwise nothing: the shortfall per SKU (what all the warehouses together lack).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

# Beyond this many candidate warehouses, sets are grown greedily instead of searched exhaustively.
EXHAUSTIVE_LIMIT = 12


@dataclass(frozen=True)
class Candidate:
    code: str
    distance_km: float
    priority: int
    sellable: dict[str, int] = field(default_factory=dict)  # sku_id -> units it can give

    def fills(self, need: dict[str, int]) -> bool:
        return all(self.sellable.get(sku, 0) >= qty for sku, qty in need.items())


@dataclass(frozen=True)
class Plan:
    allocations: list[tuple[str, str, int]]   # (warehouse code, sku_id, quantity)
    shortfall: dict[str, int]                 # sku_id -> units missing (empty when allocated)

    @property
    def ok(self) -> bool:
        return not self.shortfall


def nearest_first(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.distance_km, -c.priority, c.code))


def allocate(need: dict[str, int], candidates: list[Candidate]) -> Plan:
    ordered = nearest_first(candidates)
    shortfall = {sku: qty - sum(c.sellable.get(sku, 0) for c in ordered)
                 for sku, qty in need.items()}
    shortfall = {sku: missing for sku, missing in shortfall.items() if missing > 0}
    if shortfall:
        return Plan([], shortfall)
    useful = [c for c in ordered if any(c.sellable.get(sku, 0) > 0 for sku in need)]
    for c in useful:
        if c.fills(need):
            return Plan([(c.code, sku, qty) for sku, qty in need.items()], {})
    return Plan(_take_in_order(need, _fewest(need, useful)), {})


def _covers(group, need: dict[str, int]) -> bool:
    return all(sum(c.sellable.get(sku, 0) for c in group) >= qty for sku, qty in need.items())


def _fewest(need: dict[str, int], useful: list[Candidate]) -> list[Candidate]:
    if len(useful) <= EXHAUSTIVE_LIMIT:
        # combinations() of a nearest-first list yields sets in lexicographic order of nearness:
        # the first that covers is the nearest set of its size.
        for size in range(2, len(useful) + 1):
            for group in combinations(useful, size):
                if _covers(group, need):
                    return list(group)
    group: list[Candidate] = []  # greedy: add whichever warehouse covers most of what is left
    left = dict(need)
    while any(q > 0 for q in left.values()):
        best = max((c for c in useful if c not in group),
                   key=lambda c: sum(min(c.sellable.get(s, 0), q) for s, q in left.items()))
        group.append(best)
        left = {s: q - min(best.sellable.get(s, 0), q) for s, q in left.items()}
    return nearest_first(group)


def _take_in_order(need: dict[str, int], group: list[Candidate]) -> list[tuple[str, str, int]]:
    out = []
    for sku, qty in need.items():
        for c in group:
            take = min(qty, c.sellable.get(sku, 0))
            if take > 0:
                out.append((c.code, sku, take))
                qty -= take
            if qty == 0:
                break
    return out
