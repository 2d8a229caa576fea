"""Logic without a database: page tokens, tokenising, sizes."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.errors import InvalidArgument
from services.catalog import paging, search, sizes


def test_a_token_round_trips_and_is_bound_to_its_query(monkeypatch):
    token = paging.encode(["2026-11-23T10:00:00Z", "abc"], "q1")
    assert paging.decode(token, "q1") == ["2026-11-23T10:00:00Z", "abc"]
    with pytest.raises(InvalidArgument):
        paging.decode(token, "q2")
    monkeypatch.setenv("MALL_CATALOG_PAGE_TOKEN_SECRET", "another secret")
    with pytest.raises(InvalidArgument):  # signed with another secret
        paging.decode(token, "q1")


def test_lingerie_words_are_kept_whole():
    assert search.query_terms("无钢圈文胸") == ["无钢圈", "文胸"]
    assert search.query_terms("莫代尔高腰内裤女") == ["莫代尔", "高腰", "内裤"]
    assert "蕾丝" in search.index_terms("法式蕾丝边三角杯文胸")  # sub-words are indexed
    assert search.query_terms("  ，。！ 的 ") == []


def test_sizes_sort_the_way_a_shopper_reads_them():
    assert sorted(["80B", "75C", "75B", "70D"], key=sizes.size_order) == ["70D", "75B", "75C", "80B"]
    assert sorted(["XL", "S", "M"], key=sizes.size_order) == ["S", "M", "XL"]
    assert sizes.is_valid_size("bra", "75B") and not sizes.is_valid_size("bra", "M")

TOKEN = paging.encode([19900, "4f1c2a9e-0000-4000-8000-000000000001"], "bound")


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(TOKEN) - 1), replacement=st.characters(
    whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="-_.="))
def test_any_changed_character_of_a_token_is_refused(position, replacement):
    forged = TOKEN[:position] + replacement + TOKEN[position + 1:]
    if forged == TOKEN:
        return
    try:
        key = paging.decode(forged, "bound")
    except InvalidArgument as err:
        assert err.violations[0].field == "page_token"
    else:  # base64 padding bits can change without changing the bytes: then it is the same key
        assert key == [19900, "4f1c2a9e-0000-4000-8000-000000000001"]
