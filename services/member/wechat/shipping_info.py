"""WeChat's shipping-info management (小程序发货信息管理服务): the two calls this shop makes.

For a mini-program selling physical goods, WeChat Pay holds the shopper's money until the merchant
uploads the shipping information and the shopper confirms receipt.

- `POST {base}/wxa/sec/order/upload_shipping_info?access_token=...` (发货信息录入):
  `{"order_key": {"order_number_type": 2, "transaction_id"}, "logistics_type": 1,
  "delivery_mode": 1 (UNIFIED_DELIVERY) | 2 (SPLIT_DELIVERY, with "is_all_delivered"),
  "shipping_list": [{"tracking_no", "express_company", "item_desc", "contact":
  {"consignor_contact"}}], "upload_time": RFC 3339, "payer": {"openid"}}`.
  The order is named by WeChat Pay's transaction id (type 2: payment.succeeded carries it);
  logistics_type 1 is a carrier's parcel; express_company is WeChat's carrier code (get_delivery_list:
  SF, ZTO ...); item_desc at most 120 characters; the contact is required for SF, either the
  sender's or the recipient's, masked except its last 4 digits: the shop's own (sender) number is
  sent, so no shopper's phone leaves the shop.
- `POST {base}/wxa/sec/order/notify_confirm_receive?access_token=...` (确认收货提醒):
  `{"transaction_id", "received_time": Unix seconds}`; once per order, after the goods were
  shipped, with a signing time after the shipping time.

Both answer `{"errcode", "errmsg"}`. What an errcode means here (`Outcome.status`):
- `done`: 0; and a repeat WeChat already has: 10060023 (发货信息未更新, the same info again) for
  an upload, 10060030 (已使用提醒收货机会) for the reminder;
- `retry` (later, by the worker's timer, with backoff): -1 / 10060012 / 10060019 (system busy,
  after a few quick attempts), 10060001 (支付单不存在: a payment reaches WeChat's index up to a
  few minutes late), 10060028 (reminder before WeChat saw the shipment), WeChat unreachable,
  a token it keeps rejecting;
- `failed`: anything else (our data or configuration: 10060005 logistics type, 10060008/9 item
  description, 10060014 parameters, 10060031 payer, 268485216 upload time ...), for an operator.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from servicekit.times import SHANGHAI, as_utc

from .openapi import WechatOpenApi

UPLOAD_PATH = "/wxa/sec/order/upload_shipping_info"
CONFIRM_PATH = "/wxa/sec/order/notify_confirm_receive"

ORDER_BY_MCHID, ORDER_BY_TRANSACTION = 1, 2
LOGISTICS_EXPRESS = 1                 # 实体物流配送 (2 同城配送, 3 虚拟商品, 4 用户自提)
UNIFIED_DELIVERY, SPLIT_DELIVERY = 1, 2
ITEM_DESC_MAX = 120
SHIPPING_LIST_MAX = 15
CONTACT_REQUIRED = {"SF"}             # WeChat: the contact is required when the carrier is SF

ERR_ORDER_NOT_FOUND = 10060001
ERR_NOT_SHIPPED = 10060028
ERR_NOT_UPDATED = 10060023
ERR_ALREADY_REMINDED = 10060030
BUSY = frozenset({-1, 10060012, 10060019})
_LATER = {ERR_ORDER_NOT_FOUND, *BUSY}

DONE, RETRY, FAILED = "done", "retry", "failed"

# Our carrier codes (logistics' `carrier`) -> WeChat's delivery ids (get_delivery_list).
DEFAULT_EXPRESS_COMPANIES = {"sf": "SF", "zto": "ZTO", "yto": "YTO", "sto": "STO", "yd": "YD",
                             "jd": "JD", "ems": "EMS", "db": "DBL"}


@dataclass(frozen=True)
class Outcome:
    status: str                 # done | retry | failed
    errcode: int | None         # WeChat's last, None when it never answered one
    errmsg: str
    calls: int                  # calls made to the endpoint


def upload_time(moment: datetime) -> str:
    """RFC 3339 as WeChat's example writes it: milliseconds, Shanghai offset."""
    return as_utc(moment).astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def masked_phone(number: str) -> str:
    """A phone as WeChat wants it: every digit masked but the first three and the last four
    (`189****1234`); shorter numbers keep only their last four (`****1234`)."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 4:
        raise ValueError("a contact number needs at least 4 digits")
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * (len(digits) - 4) + digits[-4:]


def item_desc(items) -> str:
    """"title*qty" per item, joined by "；", cut to WeChat's 120 characters. The titles are the
    ones the shipment event carries (already masked for discreet parcels)."""
    text = "；".join(f"{(i.title or i.sku_id).strip()}*{i.quantity}" for i in items)
    text = " ".join(text.split()) or "商品"
    return text if len(text) <= ITEM_DESC_MAX else text[:ITEM_DESC_MAX - 1] + "…"


@dataclass(frozen=True)
class WaybillUpload:
    transaction_id: str
    openid: str
    tracking_no: str
    express_company: str
    item_desc: str
    consignor_contact: str      # masked
    split: bool                 # the order ships in several parcels
    all_delivered: bool         # (split) this upload completes the order's shipping
    at: datetime

    def body(self) -> dict:
        entry = {"tracking_no": self.tracking_no, "express_company": self.express_company,
                 "item_desc": self.item_desc}
        if self.consignor_contact:
            entry["contact"] = {"consignor_contact": self.consignor_contact}
        body = {"order_key": {"order_number_type": ORDER_BY_TRANSACTION,
                              "transaction_id": self.transaction_id},
                "logistics_type": LOGISTICS_EXPRESS,
                "delivery_mode": SPLIT_DELIVERY if self.split else UNIFIED_DELIVERY,
                "shipping_list": [entry],
                "upload_time": upload_time(self.at),
                "payer": {"openid": self.openid}}
        if self.split:
            body["is_all_delivered"] = self.all_delivered
        return body


@dataclass(frozen=True)
class ReceiptReminder:
    transaction_id: str
    received_at: datetime

    def body(self) -> dict:
        return {"transaction_id": self.transaction_id,
                "received_time": int(as_utc(self.received_at).timestamp())}


class ShippingInfoClient:
    """The two calls, through the process's shared WeChat caller (token cache, pool)."""

    def __init__(self, api: WechatOpenApi):
        self.api = api

    def upload(self, upload: WaybillUpload) -> Outcome:
        return self._call(UPLOAD_PATH, upload.body(), already=ERR_NOT_UPDATED)

    def remind_receipt(self, reminder: ReceiptReminder) -> Outcome:
        return self._call(CONFIRM_PATH, reminder.body(), already=ERR_ALREADY_REMINDED,
                          later={ERR_NOT_SHIPPED})

    def _call(self, path: str, body: dict, *, already: int, later=frozenset()) -> Outcome:
        answer = self.api.post(path, body, busy=BUSY)
        if answer.failure:
            # Unreachable, busy, a refused token, or an answer that is not JSON (perhaps taken,
            # perhaps not): asking again later is safe, since a repeat of what WeChat already
            # has is answered `already` and counted done.
            return Outcome(RETRY, answer.errcode, answer.errmsg or answer.failure, answer.calls)
        if answer.errcode in (0, already):
            return Outcome(DONE, answer.errcode, answer.errmsg, answer.calls)
        if answer.errcode in _LATER or answer.errcode in later:
            return Outcome(RETRY, answer.errcode, answer.errmsg, answer.calls)
        return Outcome(FAILED, answer.errcode, answer.errmsg, answer.calls)
