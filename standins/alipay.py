"""A local stand-in for Alipay's open API gateway (`/gateway.do`), for `make run` and the tests.
It checks what Alipay checks and signs what Alipay signs, with the development keys:

- every request is verified RSA2 with the app's public key over its sorted parameters without
  `sign`; a bad one answers `isv.invalid-signature`;
- answers are `{"<method>_response": {...}, "sign": RSA2 over that object's JSON text}`;
- `alipay.trade.wap.pay` (the shopper opening the order string) records the trade and checks
  Huabei's `extend_params` (hb_fq_num 3/6/12, hb_fq_seller_percent 0/100); `alipay.trade.query`,
  `alipay.trade.close`, `alipay.trade.refund` (synchronous, by out_request_no) answer as documented;
- `POST /standin/pay {"order_string"}` or `{"out_trade_no"}` is the shopper paying: the trade
  becomes TRADE_SUCCESS and a form-encoded notification, signed RSA2 over the sorted parameters
  without `sign` and `sign_type`, goes to the notify_url, resent until answered `success`.

    python -m standins.alipay --port 8094
"""
from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from servicekit.config import env
from servicekit.times import SHANGHAI
from services.payment import credentials
from services.payment.providers.alipay import fen, yuan

from .server import Reply, deliver, main

# Alipay's documented Huabei values, kept here on their own so the stand-in checks the adapter
# rather than agreeing with it by construction.
HB_FQ_NUM = {"3", "6", "12"}
HB_FQ_SELLER_PERCENT = {"0", "100"}


@dataclass(frozen=True)
class AlipayKeys:
    app_id: str
    seller_id: str
    app_public_key: str
    alipay_private_key: str

    @classmethod
    def from_dir(cls, directory=None) -> "AlipayKeys":
        directory = directory or credentials.key_dir()
        ids = json.loads((directory / "ids.json").read_text())
        return cls(ids["alipay_app_id"], ids["alipay_seller_id"],
                   (directory / "alipay_app_public.pem").read_text(),
                   (directory / "alipay_private.pem").read_text())


def signing_string(params: dict[str, str], *, without: tuple[str, ...]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in without and v != "")


def _now() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


class AlipayStandin:
    def __init__(self, keys: AlipayKeys, autopay_seconds: float = 0.0):
        self.keys = keys
        self.autopay_seconds = autopay_seconds
        self._app_key = serialization.load_pem_public_key(keys.app_public_key.encode())
        self._alipay_key = serialization.load_pem_private_key(keys.alipay_private_key.encode(), None)
        self.trades: dict[str, dict] = {}
        self._lock = threading.RLock()
        # Tests: the sub_code the next refunds are refused with (e.g. ACQ.SELLER_BALANCE_NOT_ENOUGH,
        # the merchant's Alipay balance short), "" to refund normally.
        self.refund_refusal = ""

    def sign(self, text: str) -> str:
        return base64.b64encode(self._alipay_key.sign(text.encode(), padding.PKCS1v15(),
                                                      hashes.SHA256())).decode()

    def _verified(self, params: dict[str, str]) -> bool:
        try:
            self._app_key.verify(base64.b64decode(params.get("sign", "")),
                                 signing_string(params, without=("sign",)).encode(),
                                 padding.PKCS1v15(), hashes.SHA256())
            return True
        except (InvalidSignature, ValueError):
            return False

    def _response(self, method: str, content: dict) -> Reply:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        key = method.replace(".", "_") + "_response"
        body = f'{{"{key}":{text},"sign":"{self.sign(text)}"}}'
        return Reply(200, body.encode(), "application/json;charset=utf-8")

    @staticmethod
    def _fail(code: str, msg: str, sub_code: str, sub_msg: str) -> dict:
        return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}

    # --- the gateway ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: dict, body: bytes) -> Reply:
        if path.startswith("/standin/"):
            return self._standin_call(path, body)
        if path != "/gateway.do":
            return Reply(404, b"not found", "text/plain")
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
        api = params.get("method", "")
        if params.get("app_id") != self.keys.app_id:
            return self._response(api, self._fail("40002", "Invalid Arguments", "isv.invalid-app-id",
                                                  "无效的AppID参数"))
        if params.get("sign_type") != "RSA2" or not self._verified(params):
            return self._response(api, self._fail("40002", "Invalid Arguments", "isv.invalid-signature",
                                                  "验签出错"))
        biz = json.loads(params.get("biz_content") or "{}")
        with self._lock:
            if api == "alipay.trade.wap.pay":
                return self._open(params, biz)
            if api == "alipay.trade.query":
                return self._response(api, self._query(biz))
            if api == "alipay.trade.close":
                return self._response(api, self._close(biz))
            if api == "alipay.trade.refund":
                return self._response(api, self._refund(biz))
            if api == "alipay.trade.fastpay.refund.query":
                return self._response(api, self._refund_query(biz))
        return self._response(api, self._fail("40004", "Business Failed", "isv.invalid-method", "不存在的方法名"))

    def _open(self, params: dict, biz: dict) -> Reply:
        """The cashier page the order string opens; the trade exists from now on."""
        problem = self._order_problem(biz)
        if problem:
            return Reply(400, problem.encode(), "text/plain; charset=utf-8")
        trade = self.trades.setdefault(biz["out_trade_no"], {
            "out_trade_no": biz["out_trade_no"], "total_amount": biz["total_amount"],
            "subject": biz.get("subject", ""), "notify_url": params.get("notify_url", ""),
            "extend_params": biz.get("extend_params") or {}, "trade_status": "WAIT_BUYER_PAY",
            "trade_no": "", "gmt_create": _now(), "gmt_payment": "", "refunds": {}})
        if self.autopay_seconds:
            threading.Timer(self.autopay_seconds, self.pay, (trade["out_trade_no"],)).start()
        return Reply(200, f"<html><body>支付宝收银台 {trade['out_trade_no']} ¥{trade['total_amount']}"
                          "</body></html>".encode(), "text/html; charset=utf-8")

    @staticmethod
    def _order_problem(biz: dict) -> str:
        try:
            fen(biz.get("total_amount", ""))
        except ValueError:
            return "total_amount must be yuan with at most two decimals"
        if not biz.get("out_trade_no"):
            return "out_trade_no is required"
        extend = biz.get("extend_params") or {}
        if "hb_fq_num" in extend or "hb_fq_seller_percent" in extend:
            if str(extend.get("hb_fq_num")) not in HB_FQ_NUM:
                return "hb_fq_num must be 3, 6 or 12"
            if str(extend.get("hb_fq_seller_percent")) not in HB_FQ_SELLER_PERCENT:
                return "hb_fq_seller_percent must be 0 or 100"
        return ""

    def _query(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._fail("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        answer = {"code": "10000", "msg": "Success", "out_trade_no": trade["out_trade_no"],
                  "trade_status": trade["trade_status"], "total_amount": trade["total_amount"]}
        if trade["trade_no"]:
            answer.update(trade_no=trade["trade_no"], send_pay_date=trade["gmt_payment"],
                          buyer_pay_amount=trade["total_amount"])
        return answer

    def _close(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._fail("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade["trade_status"] != "WAIT_BUYER_PAY":
            return self._fail("40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade["trade_status"] = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "out_trade_no": trade["out_trade_no"]}

    def _refund(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None or not trade["trade_no"]:
            return self._fail("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        request_no = biz.get("out_request_no") or trade["out_trade_no"]
        if self.refund_refusal and request_no not in trade["refunds"]:
            return self._fail("40004", "Business Failed", self.refund_refusal, "卖家余额不足")
        if request_no not in trade["refunds"]:
            amount = fen(biz.get("refund_amount", ""))
            left = fen(trade["total_amount"]) - sum(trade["refunds"].values())
            if not 0 < amount <= left:
                return self._fail("40004", "Business Failed", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            trade["refunds"][request_no] = amount
        return {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"],
                "out_trade_no": trade["out_trade_no"], "fund_change": "Y",
                "refund_fee": yuan(sum(trade["refunds"].values())), "gmt_refund_pay": _now()}

    def _refund_query(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        amount = trade and trade["refunds"].get(biz.get("out_request_no", ""))
        if not amount:  # Alipay answers 10000 without refund_status for a refund it never made
            return {"code": "10000", "msg": "Success", "out_request_no": biz.get("out_request_no", "")}
        return {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"],
                "out_trade_no": trade["out_trade_no"], "out_request_no": biz["out_request_no"],
                "refund_amount": yuan(amount), "total_amount": trade["total_amount"],
                "refund_status": "REFUND_SUCCESS"}

    # --- the shopper paying -----------------------------------------------------------------
    def notification(self, trade: dict, **overrides: str) -> dict[str, str]:
        """A trade_status_sync notification's parameters, signed as Alipay signs them."""
        params = {"notify_time": _now(), "notify_type": "trade_status_sync",
                  "notify_id": uuid.uuid4().hex, "app_id": self.keys.app_id, "charset": "utf-8",
                  "version": "1.0", "sign_type": "RSA2", "trade_no": trade["trade_no"],
                  "out_trade_no": trade["out_trade_no"], "trade_status": trade["trade_status"],
                  "total_amount": trade["total_amount"], "receipt_amount": trade["total_amount"],
                  "buyer_pay_amount": trade["total_amount"], "seller_id": self.keys.seller_id,
                  "subject": trade["subject"], "gmt_create": trade["gmt_create"],
                  "gmt_payment": trade["gmt_payment"]}
        params.update(overrides)
        params = {k: v for k, v in params.items() if v != ""}  # Alipay sends no empty parameters
        params["sign"] = self.sign(signing_string(params, without=("sign", "sign_type")))
        return params

    def pay(self, out_trade_no: str) -> int:
        with self._lock:
            trade = self.trades[out_trade_no]
            if trade["trade_status"] == "WAIT_BUYER_PAY":
                trade.update(trade_status="TRADE_SUCCESS", trade_no="2026" + uuid.uuid4().hex[:24],
                             gmt_payment=_now())
            params = self.notification(trade)
        return deliver(trade["notify_url"], urlencode(params).encode(),
                       {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                       lambda r: r.text == "success")

    def _standin_call(self, path: str, body: bytes) -> Reply:
        data = json.loads(body or b"{}")
        if path == "/standin/pay":
            if data.get("order_string"):
                opened = self.handle("GET", "/gateway.do", data["order_string"], {}, b"")
                if opened.status != 200:
                    return opened
                data["out_trade_no"] = json.loads(dict(parse_qsl(data["order_string"]))["biz_content"])["out_trade_no"]
            if data.get("out_trade_no") in self.trades:
                return Reply(200, json.dumps({"notified": self.pay(data["out_trade_no"])}).encode())
        return Reply(404, b'{"code":"NOT_FOUND","message":"unknown trade or stand-in call"}')


def from_environment() -> AlipayStandin:
    """With the dev keys of var/payment-keys; MALL_ALIPAY_STANDIN_AUTOPAY_SECONDS > 0 pays each trade
    by itself after that many seconds."""
    return AlipayStandin(AlipayKeys.from_dir(), float(env("ALIPAY_STANDIN_AUTOPAY_SECONDS", "0") or 0))


if __name__ == "__main__":
    main(__doc__, 8094, from_environment)
