import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit import paging
from servicekit.errors import InvalidArgument


def test_round_trip_and_binding():
    token = paging.encode("support", [42, "2026-11-23"], "inbox:m1")
    assert paging.decode("support", token, "inbox:m1") == [42, "2026-11-23"]
    assert paging.decode("support", "", "inbox:m1") is None
    with pytest.raises(InvalidArgument) as other_query:
        paging.decode("support", token, "inbox:m2")
    assert other_query.value.violations[0].field == "page.page_token"


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
                                    lambda t: "x" + t, lambda t: t.replace(".", ""), lambda t: "…"])
def test_tampered_tokens_are_refused(mangle):
    token = paging.encode("support", [1], "q")
    with pytest.raises(InvalidArgument) as err:
        paging.decode("support", mangle(token), "q", field="page_token")
    assert err.value.violations[0].field == "page_token"
    assert err.value.violations[0].rule == "signed"


def test_tokens_of_one_service_do_not_open_another():
    token = paging.encode("support", [1], "q")
    with pytest.raises(InvalidArgument):
        paging.decode("promotion", token, "q")


def test_page_size_bounds():
    assert paging.page_size(0) == paging.DEFAULT_PAGE_SIZE
    assert paging.page_size(100) == 100
    for bad in (-1, 101):
        with pytest.raises(InvalidArgument) as err:
            paging.page_size(bad)
        assert err.value.violations[0].field == "page.page_size"


def test_a_token_signed_with_another_secret_is_refused(monkeypatch):
    token = paging.encode("catalog", ["2026-11-23T10:00:00Z", "abc"], "q1")
    monkeypatch.setenv("MALL_CATALOG_PAGE_TOKEN_SECRET", "another secret")
    with pytest.raises(InvalidArgument):
        paging.decode("catalog", token, "q1")


TOKEN = paging.encode("catalog", [19900, "4f1c2a9e-0000-4000-8000-000000000001"], "bound")


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(TOKEN) - 1), replacement=st.characters(
    whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="-_.="))
def test_any_changed_character_of_a_token_is_refused(position, replacement):
    forged = TOKEN[:position] + replacement + TOKEN[position + 1:]
    if forged == TOKEN:
        return
    try:
        key = paging.decode("catalog", forged, "bound", field="page_token")
    except InvalidArgument as err:
        assert err.violations[0].field == "page_token"
    else:  # base64 padding bits can change without changing the bytes: then it is the same key
        assert key == [19900, "4f1c2a9e-0000-4000-8000-000000000001"]
