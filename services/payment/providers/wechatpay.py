"""WeChat Pay API v3 for the mini-program (JSAPI), spoken with httpx and `cryptography`.

Documented calls used (pay.weixin.qq.com/doc/v3/merchant): JSAPI prepay
`POST /v3/pay/transactions/jsapi`, query `GET /v3/pay/transactions/out-trade-no/{no}?mchid=`,
close `POST /v3/pay/transactions/out-trade-no/{no}/close`, refund
`POST /v3/refund/domestic/refunds`; payment and refund notifications. Every request is signed
with the merchant key; every answer and notification is verified with the platform public key
named by `Wechatpay-Serial` (an unknown one is refused, never fetched) inside a ±5-minute window.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import httpx
from cryptography.exceptions import InvalidTag

from servicekit.ids import ascii_int
from servicekit.times import SHANGHAI

from ..credentials import WechatPayCredentials
from . import (
    CLOSED,
    FAILED,
    OPEN,
    PAID,
    REFUNDED,
    Answer,
    NotificationRefused,
    PrepayRequest,
    ProviderError,
    ProviderRefund,
    ProviderTrade,
    VerifiedNotification,
)
from . import wechatpay_protocol as protocol

CLOCK_SKEW_SECONDS = 300  # WeChat's documented window for Wechatpay-Timestamp
TRADE_STATES = {"SUCCESS": PAID, "NOTPAY": OPEN, "USERPAYING": OPEN, "CLOSED": CLOSED,
                "REVOKED": CLOSED, "PAYERROR": FAILED, "REFUND": REFUNDED}
REFUND_STATES = {"SUCCESS": "succeeded", "PROCESSING": "processing", "CLOSED": "failed",
                 "ABNORMAL": "failed"}
# Error codes WeChat Pay documents as "call again later with the same request" (a refund short of
# the merchant's balance, rate limiting, a system error): retryable, so a refund stays
# `requested` and the reconciliation timer sends it again with the same out_refund_no.
RETRY_LATER = frozenset({"NOT_ENOUGH", "FREQUENCY_LIMITED", "SYSTEM_ERROR"})
FAIL_BODY = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()


def _compact(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _rfc3339_shanghai(moment: datetime) -> str:
    """WeChat's time_expire: RFC 3339 with the +08:00 offset."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(timezone.utc) if text else None


def lower_headers(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in dict(headers).items()}


class WechatPay:
    name = "wechatpay"

    def __init__(self, credentials: WechatPayCredentials, *, timeout: float = 5.0,
                 clock=time.time):
        self.credentials = credentials
        self._merchant_key = protocol.load_private_key(credentials.merchant_private_key)
        self._platform_keys = {serial: protocol.load_public_key(pem)
                               for serial, pem in credentials.platform_public_keys.items()}
        self._http = httpx.Client(base_url=credentials.api_base, timeout=timeout)
        self._clock = clock

    # --- signed calls ---------------------------------------------------------------------
    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        body = _compact(payload) if payload is not None else ""
        auth = protocol.authorization(
            mchid=self.credentials.mchid, serial_no=self.credentials.merchant_serial,
            private_key=self._merchant_key, method=method, path=path, body=body,
            timestamp=str(int(self._clock())), nonce_str=protocol.nonce())
        try:
            reply = self._http.request(method, path, content=body.encode() if body else None,
                                       headers={"Authorization": auth, "Accept": "application/json",
                                                "Content-Type": "application/json"})
        except httpx.HTTPError as err:
            raise ProviderError(f"WeChat Pay unreachable: {err}", "UNREACHABLE", retryable=True) from err
        if reply.status_code >= 300:
            try:
                problem = reply.json()
            except ValueError:
                problem = {}
            raise ProviderError(f"WeChat Pay answered {reply.status_code}: "
                                f"{problem.get('message', reply.text[:200])}",
                                problem.get("code", str(reply.status_code)),
                                retryable=reply.status_code >= 500 or problem.get("code") in RETRY_LATER)
        reason = self._signature_problem(lower_headers(reply.headers), reply.text)
        if reason:
            raise ProviderError(f"WeChat Pay's answer failed verification: {reason}", "SIGN_ERROR")
        return reply.json() if reply.content else {}

    def _signature_problem(self, headers: dict[str, str], body: str) -> str:
        """Why the signed message is not WeChat's, or "" when it is."""
        serial = headers.get("wechatpay-serial", "")
        key = self._platform_keys.get(serial)
        if key is None:
            return f"unknown Wechatpay-Serial {serial!r}"
        stamp = headers.get("wechatpay-timestamp", "")
        seconds = ascii_int(stamp, max_digits=12)
        if seconds is None:
            return "missing or malformed Wechatpay-Timestamp"
        if abs(self._clock() - seconds) > CLOCK_SKEW_SECONDS:
            return f"Wechatpay-Timestamp {stamp} is outside the ±{CLOCK_SKEW_SECONDS}s window"
        if not protocol.verify(key, protocol.answer_message(stamp, headers.get("wechatpay-nonce", ""), body),
                               headers.get("wechatpay-signature", "")):
            return "signature does not verify"
        return ""

    # --- payments -------------------------------------------------------------------------
    def prepay(self, request: PrepayRequest) -> dict:
        """JSAPI prepay, then what wx.requestPayment takes."""
        if not request.payer_openid:
            raise ProviderError("WeChat JSAPI needs the payer's openid", "PARAM_ERROR")
        order = {"appid": self.credentials.appid, "mchid": self.credentials.mchid,
                 "description": request.description[:127], "out_trade_no": request.out_trade_no,
                 "notify_url": self.credentials.notify_url,
                 "amount": {"total": request.amount_fen, "currency": "CNY"},
                 "payer": {"openid": request.payer_openid}}
        if request.expires_at:
            order["time_expire"] = _rfc3339_shanghai(request.expires_at)
        prepay_id = self._call("POST", "/v3/pay/transactions/jsapi", order).get("prepay_id")
        if not prepay_id:
            raise ProviderError("WeChat Pay answered without a prepay_id", "NO_PREPAY_ID")
        return self.client_parameters(prepay_id)

    def client_parameters(self, prepay_id: str) -> dict:
        time_stamp, nonce_str, package = str(int(self._clock())), protocol.nonce(), f"prepay_id={prepay_id}"
        return {"app_id": self.credentials.appid, "time_stamp": time_stamp, "nonce_str": nonce_str,
                "package": package, "sign_type": "RSA",
                "pay_sign": protocol.pay_sign(self._merchant_key, self.credentials.appid, time_stamp,
                                              nonce_str, package)}

    def query(self, out_trade_no: str) -> ProviderTrade:
        try:
            data = self._call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}"
                                     f"?mchid={self.credentials.mchid}")
        except ProviderError as err:
            if err.code == "ORDER_NOT_EXIST":  # never reached WeChat: nobody can pay it
                return ProviderTrade(out_trade_no, CLOSED, "ORDER_NOT_EXIST")
            raise
        return self._trade(data)

    def close(self, out_trade_no: str) -> None:
        self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
                   {"mchid": self.credentials.mchid})

    def refund(self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int,
               reason: str) -> ProviderRefund:
        request = {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
                   "notify_url": self.credentials.notify_url,
                   "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"}}
        if reason:
            request["reason"] = reason[:80]  # shown to the shopper; optional, never null
        data = self._call("POST", "/v3/refund/domestic/refunds", request)
        return self._refund(data, status_field="status")

    def query_refund(self, *, out_trade_no: str, out_refund_no: str, provider_refund_id: str) -> ProviderRefund:
        return self._refund(self._call("GET", f"/v3/refund/domestic/refunds/{out_refund_no}"),
                            status_field="status")

    def _trade(self, data: dict) -> ProviderTrade:
        amount = data.get("amount") or {}
        state = data.get("trade_state", "")
        return ProviderTrade(out_trade_no=data.get("out_trade_no", ""),
                             state=TRADE_STATES.get(state, OPEN), provider_state=state,
                             amount_fen=int(amount.get("total", 0)), currency=amount.get("currency", ""),
                             transaction_id=data.get("transaction_id", ""),
                             paid_at=_parse_time(data.get("success_time")))

    @staticmethod
    def _refund(data: dict, status_field: str) -> ProviderRefund:
        state = data.get(status_field, "")
        return ProviderRefund(out_refund_no=data.get("out_refund_no", ""),
                              state=REFUND_STATES.get(state, "processing"), provider_state=state,
                              refund_id=data.get("refund_id", ""),
                              amount_fen=int((data.get("amount") or {}).get("refund", 0)),
                              out_trade_no=data.get("out_trade_no", ""))

    # --- notifications --------------------------------------------------------------------
    def verify_notification(self, headers: dict[str, str], body: bytes) -> VerifiedNotification:
        headers = lower_headers(headers)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationRefused("the body is not UTF-8") from None
        reason = self._signature_problem(headers, text)
        if reason:
            raise NotificationRefused(reason)
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            kind = envelope.get("event_type", "")
        except (ValueError, KeyError, TypeError):
            raise NotificationRefused("signed, but not a notification envelope", signed=True) from None
        if resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise NotificationRefused(f"unexpected algorithm {resource.get('algorithm')!r}", kind, signed=True)
        try:
            data = json.loads(protocol.decrypt_resource(self.credentials.apiv3_key, resource))
        except (InvalidTag, KeyError, ValueError, TypeError):
            raise NotificationRefused("the resource does not decrypt with the APIv3 key", kind,
                                     signed=True) from None
        if data.get("mchid") != self.credentials.mchid:
            raise NotificationRefused(f"for merchant {data.get('mchid')!r}, not ours", kind, signed=True)
        if kind.startswith("REFUND."):
            return VerifiedNotification(kind, refund=self._refund(data, status_field="refund_status"))
        if data.get("appid") != self.credentials.appid:
            raise NotificationRefused(f"for appid {data.get('appid')!r}, not ours", kind, signed=True)
        return VerifiedNotification(kind, trade=self._trade(data))

    @staticmethod
    def answer(ok: bool, status: int = 400) -> Answer:
        """WeChat's documented answers: 204 without a body when accepted; otherwise a 4xx/5xx
        with {"code": "FAIL", "message": "失败"}, and WeChat sends again later."""
        if ok:
            return Answer(204, "application/json", b"")
        return Answer(status, "application/json", FAIL_BODY)

    def close_client(self) -> None:
        self._http.close()
