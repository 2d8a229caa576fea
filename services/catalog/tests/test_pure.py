"""Logic without a database: tokenising, sizes."""
from services.catalog import search, sizes


def test_lingerie_words_are_kept_whole():
    assert search.query_terms("无钢圈文胸") == ["无钢圈", "文胸"]
    assert search.query_terms("莫代尔高腰内裤女") == ["莫代尔", "高腰", "内裤"]
    assert "蕾丝" in search.index_terms("法式蕾丝边三角杯文胸")  # sub-words are indexed
    assert search.query_terms("  ，。！ 的 ") == []


def test_sizes_sort_the_way_a_shopper_reads_them():
    assert sorted(["80B", "75C", "75B", "70D"], key=sizes.size_order) == ["70D", "75B", "75C", "80B"]
    assert sorted(["XL", "S", "M"], key=sizes.size_order) == ["S", "M", "XL"]
    assert sizes.is_valid_size("bra", "75B") and not sizes.is_valid_size("bra", "M")
