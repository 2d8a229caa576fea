"""What a shopper's personal input must look like: birthdays, sizes, consents. Mobiles and
addresses follow the mall-wide rules of servicekit.addresses."""
from __future__ import annotations

from datetime import date

from servicekit import consents
from servicekit.errors import Violations

NAME_MAX = 32
BRA_BANDS = range(60, 115, 5)
BRA_CUPS = ("AA", "A", "B", "C", "D", "E", "F", "G", "H")
BOTTOMS_SIZES = ("XS", "S", "M", "L", "XL", "XXL", "XXXL")
CONSENT_PURPOSES = consents.PURPOSES  # marketing, analytics: named once, with the read model
SOURCE_MAX = 64


def check_birthday(v: Violations, raw: str, today: date, field: str = "birthday") -> None:
    try:
        born = date.fromisoformat(raw)
    except ValueError:
        v.add(field, "date", "a date as YYYY-MM-DD, e.g. 1995-04-18")
        return
    v.check(date(1900, 1, 1) <= born <= today, field, "range",
            f"between 1900-01-01 and today ({today.isoformat()})")


def check_sizes(v: Violations, band: int, cup: str, bottoms: str, field: str = "sizes") -> None:
    v.check(band == 0 or band in BRA_BANDS, f"{field}.bra_band", "known_size",
            "0 (unknown) or a band of 60..110 in steps of 5, e.g. 75")
    v.check(cup == "" or cup in BRA_CUPS, f"{field}.bra_cup", "known_size",
            f"empty or one of {' '.join(BRA_CUPS)}")
    v.check(bottoms == "" or bottoms in BOTTOMS_SIZES, f"{field}.bottoms_size", "known_size",
            f"empty or one of {' '.join(BOTTOMS_SIZES)}")
