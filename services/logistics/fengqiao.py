"""SF Express's Fengqiao (丰桥) open-platform protocol: the adapter for booking waybills
(EXP_RECE_CREATE_ORDER), cancelling a booked order before pick-up (EXP_RECE_UPDATE_ORDER with
dealType 2), intercepting a collected parcel back to the sender (EXP_RECE_WANTED_INTERCEPT,
serviceCode 2 "退回"), querying routes (EXP_RECE_SEARCH_ROUTES) and checking route pushes.

Every message is an HTTP form POST of partnerID, requestID, serviceCode, timestamp, msgData
(JSON) and msgDigest = Base64(MD5(urlencode(msgData + timestamp + checkWord))), UTF-8, the
urlencoding being SF's (its Python SDK uses quote_plus). A push whose digest is wrong, or whose
timestamp is further than the allowed skew from now, is refused. SF answers a push with
{"return_code": "0000", "return_msg": "成功"}; anything else makes SF push again later.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote_plus

import httpx

from servicekit import httpclient
from servicekit.ids import ascii_int, excerpt

CREATE_ORDER = "EXP_RECE_CREATE_ORDER"
# 退货下单: a return parcel collected at the shopper's door and delivered to the warehouse
CREATE_REVERSE_ORDER = "EXP_RECE_CREATE_REVERSE_ORDER"
PAY_RECEIVER = 2                            # payMethod: 1 sender (the shopper), 2 receiver (us)
UPDATE_ORDER = "EXP_RECE_UPDATE_ORDER"      # dealType 1 confirm, 2 cancel (only before pick-up)
WANTED_INTERCEPT = "EXP_RECE_WANTED_INTERCEPT"
CANCEL = 2                                  # UPDATE_ORDER's dealType for a cancellation
CANCELLED = 2                               # its resStatus when the order is cancelled
INTERCEPT_RETURN = "2"                      # WANTED_INTERCEPT's serviceCode: back to the sender
ROLE_SENDER = "1"                           # who asks: 1 sender, 2 recipient, 3 third party
PAY_SENDER = "1"                            # who pays the way back: 1 the sender
SEARCH_ROUTES = "EXP_RECE_SEARCH_ROUTES"
ROUTE_PUSH = "EXP_RECE_ROUTE_PUSH"
SHANGHAI = timezone(timedelta(hours=8))  # SF's acceptTime is Beijing time without a zone

# SF route opCodes → our states. Codes not listed are kept in the timeline without moving the
# shipment (SF sends many intermediate scans).
OP_CODES = {
    "50": "picked_up", "54": "picked_up",
    "30": "in_transit", "31": "in_transit", "36": "in_transit", "105": "in_transit",
    "44": "out_for_delivery", "204": "out_for_delivery",
    "80": "delivered", "8000": "delivered",
    "33": "exception", "70": "exception", "77": "exception",
    "99": "returned", "648": "returned",
}
STATE_OP_CODES = {"picked_up": "50", "in_transit": "30", "out_for_delivery": "44",
                  "delivered": "80", "exception": "70", "returned": "99"}


class SignatureError(Exception):
    """The push was not signed by the carrier (or not recently): refuse it."""


class CarrierError(Exception):
    """The carrier's API answered with an error or could not be reached."""


class CarrierRefused(CarrierError):
    """The carrier understood the request and said no (success false, its errorCode): asking
    again will not help (a cancel after pick-up, an intercept of a delivered parcel)."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


def digest(msg_data: str, timestamp: str, checkword: str) -> str:
    raw = quote_plus(msg_data + timestamp + checkword).encode("utf-8")
    return base64.b64encode(hashlib.md5(raw).digest()).decode()  # noqa: S324 (SF's protocol)


def signed_form(partner_id: str, service_code: str, msg_data: dict, checkword: str,
                now: float | None = None) -> dict[str, str]:
    body = json.dumps(msg_data, ensure_ascii=False, separators=(",", ":"))
    timestamp = str(int((now if now is not None else time.time()) * 1000))
    return {"partnerID": partner_id, "requestID": uuid.uuid4().hex, "serviceCode": service_code,
            "timestamp": timestamp, "msgData": body,
            "msgDigest": digest(body, timestamp, checkword)}


def parse_form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}


def verify(form: dict[str, str], checkword: str, max_skew_seconds: float,
           now: float | None = None) -> dict:
    """The msgData of a correctly signed, recent message; SignatureError otherwise."""
    for name in ("timestamp", "msgData", "msgDigest"):
        if not form.get(name):
            raise SignatureError(f"{name} is missing")
    stamp = form["timestamp"]
    number = ascii_int(stamp, max_digits=15)
    if number is None:
        raise SignatureError(f"timestamp {excerpt(stamp)} is not a number")
    seconds = number / 1000 if len(stamp) > 11 else number  # SF sends ms (or s)
    skew = abs((now if now is not None else time.time()) - seconds)
    if skew > max_skew_seconds:
        raise SignatureError(f"timestamp is {skew:.0f}s away from now "
                             f"(at most {max_skew_seconds:.0f}s accepted)")
    expected = digest(form["msgData"], stamp, checkword)
    if not hmac.compare_digest(expected, form["msgDigest"]):
        raise SignatureError("msgDigest does not match msgData, timestamp and our checkword")
    try:
        return json.loads(form["msgData"])
    except ValueError as err:
        raise SignatureError(f"msgData is not JSON: {err}") from None


def push_reply(ok: bool, message: str = "成功") -> bytes:
    return json.dumps({"return_code": "0000" if ok else "1000", "return_msg": message},
                      ensure_ascii=False).encode()


@dataclass(frozen=True)
class Route:
    waybill_no: str
    route_id: str
    op_code: str
    accepted_at: datetime      # UTC
    address: str
    remark: str

    @property
    def state(self) -> str | None:
        return OP_CODES.get(self.op_code)

    @classmethod
    def from_sf(cls, waybill_no: str, item: dict) -> "Route":
        local = datetime.strptime(item["acceptTime"], "%Y-%m-%d %H:%M:%S")
        return cls(waybill_no=waybill_no, route_id=str(item.get("id") or ""),
                   op_code=str(item.get("opCode", "")),
                   accepted_at=local.replace(tzinfo=SHANGHAI).astimezone(timezone.utc),
                   address=str(item.get("acceptAddress", ""))[:200],
                   remark=str(item.get("remark", ""))[:500])


def routes_of_push(msg_data: dict) -> list[Route]:
    return [Route.from_sf(str(item["mailno"]), item)
            for item in msg_data.get("WaybillRoute", [])]


class FengqiaoClient:
    def __init__(self, url: str, partner_id: str, checkword: str, timeout: float = 5.0):
        self.url, self.partner_id, self.checkword = url, partner_id, checkword
        self.timeout = timeout

    def call(self, service_code: str, msg_data: dict) -> dict:
        form = signed_form(self.partner_id, service_code, msg_data, self.checkword)
        try:
            # the process's pooled client: a Client per call costs a TLS context each time
            response = httpclient.client().post(self.url, data=form, timeout=self.timeout)
            response.raise_for_status()
            reply = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise CarrierError(f"{service_code}: {err}") from err
        if reply.get("apiResultCode") != "A1000":
            raise CarrierError(f"{service_code}: {reply.get('apiResultCode')} "
                               f"{reply.get('apiErrorMsg')}")
        result = json.loads(reply.get("apiResultData") or "{}")
        if not result.get("success"):
            raise CarrierRefused(f"{service_code}: {result.get('errorCode')} "
                                 f"{result.get('errorMsg')}", str(result.get("errorCode") or ""))
        return result.get("msgData") or {}

    def cancel_order(self, order_id: str) -> None:
        """Cancels the booked order (our shipment id) before the courier collected it; SF
        refuses (CarrierRefused) once it has. Cancelling a cancelled order answers success."""
        data = self.call(UPDATE_ORDER, {"orderId": order_id, "dealType": CANCEL})
        if int(data.get("resStatus") or 0) != CANCELLED:
            raise CarrierRefused(f"{UPDATE_ORDER}: resStatus {data.get('resStatus')} "
                                 f"(not cancelled)", str(data.get("resStatus") or ""))

    def intercept_return(self, waybill_no: str, return_to: dict) -> None:
        """Asks SF to stop a collected parcel and send it back to `return_to` (province, city,
        county, address, contact, phone: the warehouse). SF answers msgData null when accepted."""
        self.call(WANTED_INTERCEPT, {"waybillNo": waybill_no, "serviceCode": INTERCEPT_RETURN,
                                     "role": ROLE_SENDER, "payMode": PAY_SENDER,
                                     "newDestAddress": return_to})

    def create_order(self, order_id: str, sender: dict, recipient: dict,
                     cargo: list[tuple[str, int]]) -> str:
        """Books a parcel; SF answers the same waybill again for the same orderId."""
        data = self.call(CREATE_ORDER, {
            "language": "zh-CN", "orderId": order_id, "expressTypeId": 1,
            "contactInfoList": [{"contactType": 1, **sender}, {"contactType": 2, **recipient}],
            "cargoDetails": [{"name": name, "count": count} for name, count in cargo]})
        waybills = data.get("waybillNoInfoList") or []
        if not waybills or not waybills[0].get("waybillNo"):
            raise CarrierError(f"{CREATE_ORDER}: no waybill number in the answer")
        return str(waybills[0]["waybillNo"])

    def create_return_order(self, order_id: str, shopper: dict, warehouse: dict,
                            cargo: list[tuple[str, int]], merchant_pays: bool,
                            pickup_at: datetime | None = None) -> str:
        """Books a return (退货下单): the courier collects at `shopper` (contactType 1, the
        sender) and delivers to `warehouse` (contactType 2); isDocall 1 sends a courier to her
        door. The merchant pays (payMethod 2) when the return is free for her. SF answers the
        same waybill again for the same orderId, as for an outbound order."""
        msg = {"language": "zh-CN", "orderId": order_id, "expressTypeId": 1, "isDocall": 1,
               "payMethod": PAY_RECEIVER if merchant_pays else int(PAY_SENDER),
               "contactInfoList": [{"contactType": 1, **shopper},
                                   {"contactType": 2, **warehouse}],
               "cargoDetails": [{"name": name, "count": count} for name, count in cargo]}
        if pickup_at is not None:
            msg["sendStartTm"] = pickup_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        data = self.call(CREATE_REVERSE_ORDER, msg)
        waybills = data.get("waybillNoInfoList") or []
        if not waybills or not waybills[0].get("waybillNo"):
            raise CarrierError(f"{CREATE_REVERSE_ORDER}: no waybill number in the answer")
        return str(waybills[0]["waybillNo"])

    def search_routes(self, waybill_nos: list[str]) -> list[Route]:
        data = self.call(SEARCH_ROUTES, {"language": "zh-CN", "trackingType": "1",
                                         "trackingNumber": waybill_nos, "methodType": "1"})
        return [Route.from_sf(str(resp["mailNo"]), item)
                for resp in data.get("routeResps", []) for item in resp.get("routes", [])]
