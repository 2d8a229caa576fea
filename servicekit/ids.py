"""Ids and numbers from the outside, parsed as ASCII only.

`str.isdigit()` says yes to "²" and "٣" (Unicode digits): `int("²")` then raises, and `int("٣")`
is 3, so a request for coupon "٣" would act on coupon 3. Every id and every number a request or
a provider sends is read here: ASCII digits only, bounded in length.
"""
from __future__ import annotations

import re

from .errors import InvalidArgument, NotFound

# The largest integer a JSON client reads exactly (JavaScript's Number.MAX_SAFE_INTEGER): protobuf's
# JSON prints an int64 beyond it as a string. Amounts and counts the mall stores and shows back
# stay within it (2^53 fen is 90 trillion yuan).
JSON_SAFE_MAX = 2**53 - 1

# A BIGINT id: 1 to 18 ASCII digits (below 2^63 whatever the digits), no sign, no spaces.
_INT_ID = re.compile(r"[0-9]{1,18}")
_ASCII_DIGITS = re.compile(r"[0-9]+")
MAX_EXCERPT = 64


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only (not "²", "٣", " 1" or "+1")."""
    return _ASCII_DIGITS.fullmatch(text) is not None


def ascii_int(text: str, max_digits: int = 18) -> int | None:
    """The integer `text` spells in ASCII digits (at most `max_digits`), or None."""
    if len(text) > max_digits or not is_ascii_digits(text):
        return None
    return int(text)


# Another service's id we keep as given (a SKU, a product, a member): its form only, the owner
# knows whether it exists. 1-64 printable ASCII characters, no spaces.
_REFERENCE = re.compile(r"[\x21-\x7e]{1,64}")


def is_reference(text: str) -> bool:
    """True when `text` has the form of an id another service gave out (not "²", not 5 KB)."""
    return _REFERENCE.fullmatch(text) is not None


def check_references(v, at: str, values) -> None:
    """Adds a violation to `v` (servicekit.errors.Violations) for each of `values` (at most 5
    named) that does not have the form of an id: `at[i]`."""
    bad = [i for i, value in enumerate(values) if not is_reference(value)]
    for i in bad[:5]:
        v.add(f"{at}[{i}]", "format", f"{excerpt(values[i])} is not an id (1 to 64 printable "
                                      "ASCII characters, no spaces)")


def excerpt(text: str, limit: int = MAX_EXCERPT) -> str:
    """`text` quoted for a message, cut to `limit` characters: an error never echoes a whole
    input (an over-long id would not fit in gRPC's metadata)."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text)} characters)"


def try_int_id(text: str) -> int | None:
    """A BIGINT id, or None for anything that is not one (a probe, a typo, a Unicode digit)."""
    return int(text) if _INT_ID.fullmatch(text) else None


def parse_int_id(text: str, field: str, what: str = "", *, missing: str = "not_found") -> int:
    """A BIGINT id from a request. Not an id: NotFound naming `what` (an id in a path: it names
    nothing that exists) or, with missing="invalid", InvalidArgument naming `field`."""
    row_id = try_int_id(text)
    if row_id is not None:
        return row_id
    if missing == "invalid":
        raise InvalidArgument.field(field, "format", f"{excerpt(text)} is not an id "
                                                    "(1 to 18 ASCII digits)")
    raise NotFound(f"there is no {what or field} {excerpt(text)}")
