"""Request and response models more than one route module uses."""
from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le, MaxLen
from fastapi import Depends, Header, Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from servicekit import ids
from servicekit.addresses import ADDRESS_LIMITS


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# An enum value by its proto name, in any case ("style" or "STYLE"):
# Annotated[Literal["STYLE", ...], BY_NAME].
BY_NAME = BeforeValidator(_upper)

# ---- integers: every integer a route takes is one of these (or a Field with ge and le), so
# none reaches a service beyond its proto field's range (gateway/tests/test_input_bounds.py).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
Int64 = Annotated[int, Ge(INT64_MIN), Le(INT64_MAX)]
Int32 = Annotated[int, Ge(INT32_MIN), Le(INT32_MAX)]
NonNegativeInt32 = Annotated[int, Ge(0), Le(INT32_MAX)]

# An amount or a count the shop stores and shows back stays within servicekit.ids.JSON_SAFE_MAX:
# beyond it protobuf's JSON prints an int64 as a string, where the document promises an integer.
JSON_SAFE_MAX = ids.JSON_SAFE_MAX
# Money: an integer number of fen (1/100 yuan).
Fen = Annotated[int, Field(ge=0, le=JSON_SAFE_MAX, description="fen (1/100 yuan), an integer")]
PositiveFen = Annotated[int, Field(gt=0, le=JSON_SAFE_MAX, description="fen (1/100 yuan), an integer")]
# Points a shopper spends: an int64 on the wire; member refuses more than the balance.
Points = Annotated[int, Field(ge=0, le=JSON_SAFE_MAX, description="points, an integer")]
# Units of a SKU on an order line (a refund line): at most 9,999 (an imported line; the cart
# stops at 99), as payment and order check too.
MAX_LINE_QUANTITY = 9999
Quantity = Annotated[int, Field(ge=0, le=MAX_LINE_QUANTITY, description="units, an integer")]
# A bra band in centimetres (65..100 in catalog's size system; 0 when not a bra).
BraBand = Annotated[int, Field(ge=0, le=200, description="bras only, e.g. 75")]

# ---- strings: every string a route takes has a length bound, so no over-long input reaches a
# service (which would echo it past gRPC's metadata limit).
MAX_ID = 64


def _id_form(value: str) -> str:
    """The kit's one rule for an id's form (servicekit.ids): "²", "٣" or a space is not one."""
    if value and not ids.is_reference(value):
        raise PydanticCustomError("format", "not an id: 1 to 64 printable ASCII characters, "
                                            "no spaces")
    return value


Id = Annotated[str, MaxLen(MAX_ID), AfterValidator(_id_form)]  # ids of every kind, anywhere
Code = Annotated[str, MaxLen(32)]              # short codes: tiers, warehouses, carriers, roles
Word = Annotated[str, MaxLen(32)]              # an enum-like word: a format, a tab, a sort, a kind
Timestamp = Annotated[str, MaxLen(40)]         # RFC 3339 text
Label = Annotated[str, MaxLen(200)]            # a name, a title, a filter text
Prose = Annotated[str, MaxLen(2000)]           # a paragraph
MediaKey = Annotated[str, MaxLen(512)]         # a stored file's key under the media root
PageTokenText = Annotated[str, MaxLen(2048)]   # a page token (signed, opaque)

PageSize = Annotated[int, Query(ge=1, le=100)]
PageToken = Annotated[str, Query(max_length=2048, description="next_page_token of the previous "
                                                              "page")]

# The Idempotency-Key header: servicekit.idempotency's rule (1-128 printable ASCII, no space).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"


class Address(BaseModel):
    """A mainland China address. The gateway checks lengths; member and order check the rest
    (servicekit.addresses: province, city and detail required, the phone a mainland mobile)
    and name the field in their answer."""
    recipient: str = Field(max_length=ADDRESS_LIMITS["recipient"])
    phone: str = Field(max_length=20, description="mainland mobile; +86, spaces, dashes accepted")
    province: str = Field(default="", max_length=ADDRESS_LIMITS["province"],
                          description="e.g. 广东省")
    city: str = Field(default="", max_length=ADDRESS_LIMITS["city"])
    district: str = Field(default="", max_length=ADDRESS_LIMITS["district"])
    detail: str = Field(default="", max_length=ADDRESS_LIMITS["detail"])
    postal_code: str = Field(default="", max_length=6, description="empty or 6 digits")


async def _idempotency_key(key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=128, pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Your id for this request: a retry with the same key answers the first "
                    "request's result instead of acting again"
)] = None) -> None:
    """Declares the header in the document; RequestContextMiddleware reads it for every request
    and hands it to the services."""


IDEMPOTENT = Depends(_idempotency_key)
