"""Ids and numbers from requests are ASCII digits only: "²" and "٣" are not ids."""
import pytest

from servicekit import ids
from servicekit.errors import InvalidArgument, NotFound


@pytest.mark.parametrize("text", ["²", "١", "٣", "3²", " 3", "+3", "-3", "3.0", "", "1" * 19,
                                  "0x1", "3\x00"])
def test_what_is_not_an_id(text):
    assert ids.try_int_id(text) is None
    with pytest.raises(NotFound):
        ids.parse_int_id(text, "coupon_id", "coupon")
    with pytest.raises(InvalidArgument) as refused:
        ids.parse_int_id(text, "coupon_id", missing="invalid")
    assert refused.value.violations[0].field == "coupon_id"


def test_ascii_ids_and_numbers():
    assert ids.parse_int_id("3", "coupon_id") == 3 and ids.try_int_id("9" * 18) == 10**18 - 1
    assert ids.ascii_int("1700000000", max_digits=12) == 1700000000
    assert ids.ascii_int("١٧٠٠") is None and not ids.is_ascii_digits("²")


def test_an_error_never_echoes_a_whole_input():
    long = "x" * 100_000
    with pytest.raises(NotFound) as refused:
        ids.parse_int_id(long, "campaign_id", "campaign")
    assert len(refused.value.message) < 200 and "100000 characters" in refused.value.message
