"""The allocation strategies as a pure function: nearest single warehouse, fewest-warehouse
split, and nothing (with the shortfall); and the distances they rest on."""
import pytest

from services.logistics import provinces
from services.logistics.allocation import Candidate, allocate


def wh(code, km, priority=0, **sellable):
    return Candidate(code, km, priority, {k.replace("_", "-"): v for k, v in sellable.items()})


def test_the_nearest_warehouse_that_fills_every_line_ships_alone():
    plan = allocate({"a": 2, "b": 1}, [wh("FAR", 900, a=5, b=5), wh("NEAR", 10, a=2, b=1),
                                       wh("MID", 300, a=9, b=9)])
    assert plan.ok and plan.allocations == [("NEAR", "a", 2), ("NEAR", "b", 1)]


def test_priority_then_code_breaks_a_tie_in_distance():
    plan = allocate({"a": 1}, [wh("X", 100, 1, a=1), wh("Y", 100, 5, a=1)])
    assert plan.allocations == [("Y", "a", 1)]


def test_a_near_warehouse_that_cannot_fill_everything_loses_to_a_far_one_that_can():
    plan = allocate({"a": 1, "b": 1}, [wh("NEAR", 10, a=1), wh("FAR", 999, a=1, b=1)])
    assert plan.allocations == [("FAR", "a", 1), ("FAR", "b", 1)]


def test_split_over_the_fewest_warehouses_nearest_first():
    # NEAR+MID+FAR1 would do with three; FAR2 alone has most of it: two warehouses suffice.
    candidates = [wh("NEAR", 10, a=1), wh("MID", 50, b=1), wh("FAR1", 500, c=1),
                  wh("FAR2", 800, b=1, c=1), wh("FAR3", 900, a=1, b=1)]
    plan = allocate({"a": 1, "b": 1, "c": 1}, candidates)
    assert plan.allocations == [("NEAR", "a", 1), ("FAR2", "b", 1), ("FAR2", "c", 1)]


def test_one_line_split_takes_from_the_nearest_first():
    plan = allocate({"a": 5}, [wh("FAR", 900, a=10), wh("NEAR", 10, a=3), wh("MID", 100, a=3)])
    # FAR alone fills it: one parcel beats two nearer ones
    assert plan.allocations == [("FAR", "a", 5)]
    plan = allocate({"a": 5}, [wh("FAR", 900, a=2), wh("NEAR", 10, a=3), wh("MID", 100, a=2)])
    assert plan.allocations == [("NEAR", "a", 3), ("MID", "a", 2)]


def test_nothing_when_all_warehouses_together_are_short_naming_what_is_missing():
    plan = allocate({"a": 5, "b": 1, "c": 2}, [wh("X", 1, a=2, b=1), wh("Y", 2, a=1)])
    assert not plan.ok and plan.allocations == []
    assert plan.shortfall == {"a": 2, "c": 2}


def test_many_warehouses_fall_back_to_a_greedy_split_that_still_fills_the_order():
    candidates = [wh(f"W{i:02}", i, a=1) for i in range(20)]
    plan = allocate({"a": 15}, candidates)
    assert plan.ok and sum(q for _, _, q in plan.allocations) == 15


@pytest.mark.parametrize("name,key", [("广东省", "广东"), ("广东", "广东"), ("上海市", "上海"),
                                      ("新疆维吾尔自治区", "新疆"), ("广西壮族自治区", "广西"),
                                      ("香港特别行政区", "香港"), ("火星", None), ("", None)])
def test_province_names_with_or_without_their_suffix(name, key):
    assert provinces.short_name(name) == key


def test_haversine_distances_between_capitals_are_plausible():
    _, lat, lon = provinces.CAPITALS["北京"]
    assert 1050 < provinces.distance_km("上海", lat, lon) < 1100   # Beijing–Shanghai ≈ 1,070 km
    _, lat, lon = provinces.CAPITALS["广东"]
    assert provinces.distance_km("广东", lat, lon) == 0
