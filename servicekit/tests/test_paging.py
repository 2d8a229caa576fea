import pytest

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
