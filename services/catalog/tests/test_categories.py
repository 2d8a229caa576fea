import pytest
from mall.catalog.v1 import catalog_pb2 as pb

from servicekit.errors import AlreadyExists, InvalidArgument, NotFound
from services.catalog import categories
from services.catalog.models import Category

from .helpers import category, count


def names(rows):
    return [c.name for c in rows]


def test_a_tree_lists_parents_first_and_siblings_by_sort_order(rt):
    with rt.transaction() as s:
        bras = category(s, pb.STYLE, "文胸", sort_order=2)
        category(s, pb.STYLE, "内裤", sort_order=1)
        category(s, pb.STYLE, "聚拢文胸", bras, sort_order=2)
        category(s, pb.STYLE, "无钢圈文胸", bras, sort_order=1)
        category(s, pb.FUNCTION, "哺乳")
    with rt.transaction() as s:
        rows = categories.list_categories(s, "style", include_inactive=False)
        assert names(rows) == ["内裤", "文胸", "无钢圈文胸", "聚拢文胸"]
        child = rows[2]
        assert child.depth == 1 and child.path_ids() == [bras, child.id]
        assert names(categories.list_categories(s, None, include_inactive=False))[-1] == "哺乳"


def test_an_inactive_category_hides_its_subtree_from_shoppers_only(rt):
    with rt.transaction() as s:
        sleep = category(s, pb.STYLE, "睡衣家居服", active=False)
        category(s, pb.STYLE, "睡裙", sleep)
    with rt.transaction() as s:
        assert categories.list_categories(s, "style", include_inactive=False) == []
        assert names(categories.list_categories(s, "style", include_inactive=True)) == [
            "睡衣家居服", "睡裙"]


def test_siblings_need_distinct_names_but_cousins_may_share(rt):
    with rt.transaction() as s:
        a = category(s, pb.STYLE, "文胸")
        b = category(s, pb.STYLE, "运动内衣")
        category(s, pb.STYLE, "黑色系", a)
        category(s, pb.STYLE, "黑色系", b)
        category(s, pb.BRAND, "文胸")  # another kind: another tree
    with pytest.raises(AlreadyExists) as err, rt.transaction() as s:
        category(s, pb.STYLE, "文胸")
    assert err.value.violations[0].field == "category.name"


def test_bad_category_input_names_each_field(rt):
    with rt.transaction() as s:
        brand = category(s, pb.BRAND, "云裳")
    with pytest.raises(InvalidArgument) as err, rt.transaction() as s:
        category(s, pb.STYLE, "", brand)
    assert {(v.field, v.rule) for v in err.value.violations} == {
        ("category.name", "length"), ("category.parent_id", "same_kind")}
    with pytest.raises(InvalidArgument) as err, rt.transaction() as s:
        category(s, 0, "无类别", "missing")
    assert {(v.field, v.rule) for v in err.value.violations} == {
        ("category.kind", "enum"), ("category.parent_id", "exists")}
    assert count(rt, Category) == 1


def test_moving_a_category_moves_its_subtree_and_refuses_cycles(rt):
    with rt.transaction() as s:
        a = category(s, pb.STYLE, "A")
        b = category(s, pb.STYLE, "B", a)
        c = category(s, pb.STYLE, "C", b)
        d = category(s, pb.STYLE, "D")
    with rt.transaction() as s:
        categories.update_category(s, b, pb.CategoryInput(kind=pb.STYLE, name="B", parent_id=d))
    with rt.transaction() as s:
        moved = s.get(Category, c)
        assert moved.path_ids() == [d, b, c] and moved.depth == 2
    with pytest.raises(InvalidArgument) as err, rt.transaction() as s:
        categories.update_category(s, d, pb.CategoryInput(kind=pb.STYLE, name="D", parent_id=c))
    assert err.value.violations[0].rule == "acyclic"
    with pytest.raises(InvalidArgument) as err, rt.transaction() as s:
        categories.update_category(s, d, pb.CategoryInput(kind=pb.BRAND, name="D"))
    assert err.value.violations[0].rule == "immutable"
    with pytest.raises(NotFound), rt.transaction() as s:
        categories.update_category(s, "missing", pb.CategoryInput(name="X"))
