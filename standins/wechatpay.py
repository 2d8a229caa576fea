"""A local stand-in for WeChat Pay API v3 (JSAPI), for `make run` and the tests. It checks what
WeChat checks and signs what WeChat signs, with the development keys (devkeys.py):

- every request's `Authorization` (WECHATPAY2-SHA256-RSA2048) is verified with the merchant's
  public key, its serial and mchid, and a ±5-minute timestamp; anything else answers 401 SIGN_ERROR;
- every answer carries Wechatpay-Serial/-Timestamp/-Nonce/-Signature from the platform key;
- `POST /v3/pay/transactions/jsapi` (prepay), `GET /v3/pay/transactions/out-trade-no/{no}`,
  `POST .../{no}/close`, `POST /v3/refund/domestic/refunds` answer as documented;
- `POST /standin/refunds {"out_trade_no"}` lists the trade's refunds (what the merchant platform
  shows; for tests);
- payments are completed by `POST /standin/pay {"out_trade_no"}` (what the shopper's tap on
  wx.requestPayment would do), or by themselves after MALL_WECHATPAY_STANDIN_AUTOPAY_SECONDS;
  then a signed, AES-256-GCM-encrypted TRANSACTION.SUCCESS notification goes to the notify_url
  of the prepay, resent until it is answered 2xx. Refunds are notified (REFUND.SUCCESS) likewise.

    python -m standins.wechatpay --port 8093
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from servicekit.config import env
from servicekit.times import SHANGHAI
from services.payment import credentials
from services.payment.providers import wechatpay_protocol as protocol

from .server import Reply, deliver, main, query_params

SKEW = 300


@dataclass(frozen=True)
class WechatPayKeys:
    mchid: str
    appid: str
    merchant_serial: str
    merchant_public_key: str
    platform_private_key: str
    platform_key_id: str
    apiv3_key: str

    @classmethod
    def from_dir(cls, directory=None) -> "WechatPayKeys":
        directory = directory or credentials.key_dir()
        ids = json.loads((directory / "ids.json").read_text())
        return cls(ids["wechatpay_mchid"], ids["wechatpay_appid"], ids["wechatpay_merchant_serial"],
                   (directory / "wechatpay_merchant_public.pem").read_text(),
                   (directory / "wechatpay_platform_private.pem").read_text(),
                   ids["wechatpay_platform_public_key_id"], ids["wechatpay_apiv3_key"])


def _now_text() -> str:
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


class WechatPayStandin:
    def __init__(self, keys: WechatPayKeys, autopay_seconds: float = 0.0):
        self.keys = keys
        self.autopay_seconds = autopay_seconds
        self._merchant_key = protocol.load_public_key(keys.merchant_public_key)
        self._platform_key = protocol.load_private_key(keys.platform_private_key)
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.RLock()

    # --- signing ----------------------------------------------------------------------------
    def signed_headers(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        stamp, nonce_str = str(int(timestamp if timestamp is not None else time.time())), protocol.nonce()
        return {"Wechatpay-Serial": self.keys.platform_key_id, "Wechatpay-Timestamp": stamp,
                "Wechatpay-Nonce": nonce_str, "Wechatpay-Signature-Type": protocol.SCHEMA,
                "Wechatpay-Signature": protocol.sign(self._platform_key,
                                                     protocol.answer_message(stamp, nonce_str, body)),
                "Request-ID": uuid.uuid4().hex}

    def _answer(self, status: int, data: dict | None = None) -> Reply:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) if data is not None else ""
        return Reply(status, text.encode(), headers=self.signed_headers(text))

    def _error(self, status: int, code: str, message: str) -> Reply:
        return self._answer(status, {"code": code, "message": message})

    def notification(self, event_type: str, original_type: str, data: dict, summary: str,
                     *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        """A notification exactly as WeChat sends it: the body and its headers."""
        resource = protocol.encrypt_resource(self.keys.apiv3_key,
                                             json.dumps(data, ensure_ascii=False).encode(),
                                             original_type=original_type, associated_data=original_type)
        body = json.dumps({"id": str(uuid.uuid4()), "create_time": _now_text(),
                           "resource_type": "encrypt-resource", "event_type": event_type,
                           "summary": summary, "resource": resource},
                          ensure_ascii=False, separators=(",", ":"))
        headers = {"Content-Type": "application/json", **self.signed_headers(body, timestamp)}
        return body.encode(), headers

    # --- requests ---------------------------------------------------------------------------
    def _authorization_problem(self, method: str, path_and_query: str, headers: dict, body: str) -> str:
        params = protocol.parse_authorization(headers.get("Authorization", ""))
        if not params:
            return "Authorization is not WECHATPAY2-SHA256-RSA2048"
        if params.get("mchid") != self.keys.mchid:
            return f"unknown mchid {params.get('mchid')!r}"
        if params.get("serial_no") != self.keys.merchant_serial:
            return f"unknown merchant certificate serial {params.get('serial_no')!r}"
        stamp = params.get("timestamp", "")
        if not (stamp.isascii() and stamp.isdigit()) or abs(time.time() - int(stamp)) > SKEW:
            return "timestamp outside the ±5-minute window"
        message = protocol.request_message(method, path_and_query, stamp, params.get("nonce_str", ""), body)
        if not protocol.verify(self._merchant_key, message, params.get("signature", "")):
            return "signature does not verify with the merchant's public key"
        return ""

    def handle(self, method: str, path: str, query: str, headers: dict, body: bytes) -> Reply:
        if path.startswith("/standin/"):
            return self._standin_call(path, body)
        text = body.decode("utf-8")
        problem = self._authorization_problem(method, path + (f"?{query}" if query else ""), headers, text)
        if problem:
            return self._error(401, "SIGN_ERROR", problem)
        self.requests.append((method, path))
        data = json.loads(text) if text else {}
        with self._lock:
            if method == "POST" and path == "/v3/pay/transactions/jsapi":
                return self._prepay(data)
            prefix = "/v3/pay/transactions/out-trade-no/"
            if path.startswith(prefix):
                out_trade_no, _, action = path[len(prefix):].partition("/")
                if method == "GET" and not action:
                    return self._query(out_trade_no, query_params(query).get("mchid"))
                if method == "POST" and action == "close":
                    return self._close(out_trade_no, data)
            if method == "POST" and path == "/v3/refund/domestic/refunds":
                return self._refund(data)
            if method == "GET" and path.startswith("/v3/refund/domestic/refunds/"):
                refund = self.refunds.get(path.rsplit("/", 1)[-1])
                if refund is None:
                    return self._error(404, "RESOURCE_NOT_EXISTS", "refund does not exist")
                return self._answer(200, refund["answer"])
        return self._error(404, "NOT_FOUND", f"no such API: {method} {path}")

    def _prepay(self, data: dict) -> Reply:
        missing = [f for f in ("appid", "mchid", "description", "out_trade_no", "notify_url")
                   if not data.get(f)]
        amount, payer = data.get("amount") or {}, data.get("payer") or {}
        if missing or not payer.get("openid") or not isinstance(amount.get("total"), int):
            return self._error(400, "PARAM_ERROR", f"missing {missing or 'amount.total/payer.openid'}")
        if data["appid"] != self.keys.appid or data["mchid"] != self.keys.mchid:
            return self._error(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
        if amount["total"] <= 0 or amount.get("currency", "CNY") != "CNY":
            return self._error(400, "PARAM_ERROR", "amount.total must be positive fen in CNY")
        trade = self.trades.get(data["out_trade_no"])
        if trade is not None:
            if trade["request"] != data:
                return self._error(400, "INVALID_REQUEST", "out_trade_no was used with other parameters")
            return self._answer(200, {"prepay_id": trade["prepay_id"]})
        trade = {"request": data, "prepay_id": "wx" + uuid.uuid4().hex, "trade_state": "NOTPAY",
                 "transaction_id": "", "success_time": "", "refunded": 0}
        self.trades[data["out_trade_no"]] = trade
        if self.autopay_seconds:
            threading.Timer(self.autopay_seconds, self.pay, (data["out_trade_no"],)).start()
        return self._answer(200, {"prepay_id": trade["prepay_id"]})

    def _transaction(self, out_trade_no: str) -> dict:
        trade = self.trades[out_trade_no]
        request = trade["request"]
        data = {"appid": request["appid"], "mchid": request["mchid"], "out_trade_no": out_trade_no,
                "trade_type": "JSAPI", "trade_state": trade["trade_state"],
                "trade_state_desc": trade["trade_state"], "payer": request["payer"],
                "amount": {"total": request["amount"]["total"], "currency": "CNY"}}
        if trade["transaction_id"]:
            data.update(transaction_id=trade["transaction_id"], success_time=trade["success_time"],
                        bank_type="OTHERS")
            data["amount"].update(payer_total=request["amount"]["total"], payer_currency="CNY")
        return data

    def _query(self, out_trade_no: str, mchid: str | None) -> Reply:
        if mchid != self.keys.mchid:
            return self._error(400, "PARAM_ERROR", "mchid is required and must be the merchant's")
        if out_trade_no not in self.trades:
            return self._error(404, "ORDER_NOT_EXIST", "order does not exist")
        return self._answer(200, self._transaction(out_trade_no))

    def _close(self, out_trade_no: str, data: dict) -> Reply:
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return self._error(404, "ORDER_NOT_EXIST", "order does not exist")
        if trade["trade_state"] in ("SUCCESS", "REFUND"):
            return self._error(400, "ORDERPAID", "order paid")
        trade["trade_state"] = "CLOSED"
        return self._answer(204)

    def _refund(self, data: dict) -> Reply:
        trade = self.trades.get(data.get("out_trade_no", ""))
        amount = data.get("amount") or {}
        if trade is None or not trade["transaction_id"]:
            return self._error(404, "RESOURCE_NOT_EXISTS", "the order was not paid")
        if data.get("out_refund_no") in self.refunds:
            return self._answer(200, self.refunds[data["out_refund_no"]]["answer"])
        total = trade["request"]["amount"]["total"]
        if amount.get("total") != total or not 0 < amount.get("refund", 0) <= total - trade["refunded"]:
            return self._error(400, "INVALID_REQUEST", "refund exceeds what remains of the payment")
        trade["refunded"] += amount["refund"]
        trade["trade_state"] = "REFUND"
        answer = {"refund_id": "50" + uuid.uuid4().hex[:30], "out_refund_no": data["out_refund_no"],
                  "transaction_id": trade["transaction_id"], "out_trade_no": data["out_trade_no"],
                  "channel": "ORIGINAL", "status": "PROCESSING", "create_time": _now_text(),
                  "amount": {"total": total, "refund": amount["refund"], "payer_total": total,
                             "payer_refund": amount["refund"], "currency": "CNY"}}
        self.refunds[data["out_refund_no"]] = {"answer": answer, "notify_url": data.get("notify_url")}
        if data.get("notify_url"):
            threading.Timer(0.2, self.refund_succeeded, (data["out_refund_no"],)).start()
        return self._answer(200, answer)

    # --- what the shopper and WeChat's back office do -----------------------------------------
    def pay(self, out_trade_no: str) -> int:
        """The shopper paid: the trade succeeds and WeChat notifies. Returns the first answer's status."""
        with self._lock:
            trade = self.trades[out_trade_no]
            if trade["trade_state"] == "NOTPAY":
                trade.update(trade_state="SUCCESS", transaction_id="42" + uuid.uuid4().hex[:26],
                             success_time=_now_text())
            data = self._transaction(out_trade_no)
        body, headers = self.notification("TRANSACTION.SUCCESS", "transaction", data, "支付成功")
        return deliver(trade["request"]["notify_url"], body, headers, lambda r: 200 <= r.status_code < 300)

    def refund_succeeded(self, out_refund_no: str) -> int:
        with self._lock:
            refund = self.refunds[out_refund_no]
            answer = refund["answer"]
            answer["status"] = "SUCCESS"
            data = {"mchid": self.keys.mchid, "out_trade_no": answer["out_trade_no"],
                    "transaction_id": answer["transaction_id"], "out_refund_no": out_refund_no,
                    "refund_id": answer["refund_id"], "refund_status": "SUCCESS",
                    "success_time": _now_text(), "user_received_account": "支付用户零钱",
                    "amount": {k: answer["amount"][k] for k in ("total", "refund", "payer_total", "payer_refund")}}
        body, headers = self.notification("REFUND.SUCCESS", "refund", data, "退款成功")
        return deliver(refund["notify_url"], body, headers, lambda r: 200 <= r.status_code < 300)

    def _standin_call(self, path: str, body: bytes) -> Reply:
        data = json.loads(body or b"{}")
        if path == "/standin/pay" and data.get("out_trade_no") in self.trades:
            status = self.pay(data["out_trade_no"])
            return Reply(200, json.dumps({"notified": status}).encode())
        if path == "/standin/refunds":  # what the merchant platform lists for a trade (tests)
            with self._lock:
                found = [{"out_refund_no": no, "refund": r["answer"]["amount"]["refund"],
                          "status": r["answer"]["status"]} for no, r in self.refunds.items()
                         if r["answer"]["out_trade_no"] == data.get("out_trade_no")]
            return Reply(200, json.dumps({"refunds": found}).encode())
        return Reply(404, b'{"code":"NOT_FOUND","message":"unknown out_trade_no or stand-in call"}')


def from_environment() -> WechatPayStandin:
    """With the dev keys of var/payment-keys; MALL_WECHATPAY_STANDIN_AUTOPAY_SECONDS > 0 pays each trade
    by itself after that many seconds."""
    return WechatPayStandin(WechatPayKeys.from_dir(), float(env("WECHATPAY_STANDIN_AUTOPAY_SECONDS", "0") or 0))


if __name__ == "__main__":
    main(__doc__, 8093, from_environment)
