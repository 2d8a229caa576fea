"""Request and response models more than one route module uses."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query
from pydantic import BaseModel, BeforeValidator, Field

from servicekit.addresses import ADDRESS_LIMITS


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# An enum value by its proto name, in any case ("style" or "STYLE"):
# Annotated[Literal["STYLE", ...], BY_NAME].
BY_NAME = BeforeValidator(_upper)

# Money: an integer number of fen (1/100 yuan), within int64.
Fen = Annotated[int, Field(ge=0, lt=2**63, description="fen (1/100 yuan), an integer")]
PositiveFen = Annotated[int, Field(gt=0, lt=2**63, description="fen (1/100 yuan), an integer")]

PageSize = Annotated[int, Query(ge=1, le=100)]
PageToken = Annotated[str, Query(max_length=2048, description="next_page_token of the previous "
                                                              "page")]


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
        alias="Idempotency-Key",
        description="Your id for this request: a retry with the same key answers the first "
                    "request's result instead of acting again"
)] = None) -> None:
    """Declares the header in the document; RequestContextMiddleware reads it for every request
    and hands it to the services."""


IDEMPOTENT = Depends(_idempotency_key)
