"""The carriers logistics books, and the rules that choose one for a shipment.

Rules (MALL_LOGISTICS_CARRIER_RULES, JSON, every key optional; defaults below):
- `fastest`: the carriers from fastest to slowest. An order whose member has the tier benefit
  priority shipping (`order.paid`'s `priority_shipping`, set by staff on the tier) ships with the
  fastest carrier that collects at the warehouse and serves the destination;
- `preference`: every other order (and an order.paid from before the flag, which says nothing)
  ships with the first of these that collects at the warehouse and serves the destination (a
  warehouse listing no carriers is collected by all of them);
- `not_served`: per carrier, the provinces (short names, e.g. 西藏) it does not deliver to.
Every carrier speaks SF's Fengqiao open-platform protocol (see fengqiao.py); where its API is,
and its credentials, come from MALL_LOGISTICS_CARRIER_<CODE>_URL / _PARTNER_ID / _CHECKWORD.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from servicekit.config import env

from . import fengqiao, provinces

CARRIERS = {"sf": "顺丰速运", "zto": "中通快递"}
STANDIN_PORT = 8091

DEFAULT_RULES = {
    "fastest": ["sf", "zto"],
    "preference": ["zto", "sf"],
    "not_served": {"zto": ["西藏", "新疆", "香港", "澳门", "台湾"], "sf": ["台湾"]},
}


@dataclass(frozen=True)
class CarrierAccount:
    code: str
    url: str
    partner_id: str
    checkword: str


def rules() -> dict:
    return {**DEFAULT_RULES, **json.loads(env("CARRIER_RULES", "{}", "logistics"))}


def account(code: str) -> CarrierAccount:
    prefix = f"CARRIER_{code.upper()}_"
    port = env("CARRIER_STANDIN_PORT", str(STANDIN_PORT))
    return CarrierAccount(
        code=code,
        url=env(prefix + "URL", f"http://127.0.0.1:{port}/std/service", "logistics"),
        partner_id=env(prefix + "PARTNER_ID", f"MALL{code.upper()}", "logistics"),
        checkword=env(prefix + "CHECKWORD", f"standin-checkword-{code}", "logistics"))


def client(code: str) -> fengqiao.FengqiaoClient:
    """The Fengqiao client of a carrier's account (book, cancel, intercept, query)."""
    found = account(code)
    return fengqiao.FengqiaoClient(found.url, found.partner_id, found.checkword)


def serves(code: str, province: str, chosen_rules: dict | None = None) -> bool:
    key = provinces.short_name(province) or province
    return key not in (chosen_rules or rules())["not_served"].get(code, [])


def choose(warehouse_carriers: list[str], province: str, priority: bool) -> str:
    """The carrier for a parcel from a warehouse to a province: the warehouse's fastest for a
    member with priority shipping, else the preferred one."""
    r = rules()
    order = r["fastest"] if priority else r["preference"]
    collecting = [c for c in (warehouse_carriers or r["preference"]) if c in CARRIERS]
    usable = [c for c in collecting if serves(c, province, r)]
    for code in order:
        if code in usable:
            return code
    if usable:
        return usable[0]
    # Nobody collecting here serves the destination: book whoever does; the warehouse calls them.
    anywhere = [c for c in order if serves(c, province, r)]
    return anywhere[0] if anywhere else r["fastest"][0]
