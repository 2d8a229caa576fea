"""Alipay (with Huabei installments) through python-alipay-sdk: RSA2-signed order strings for the
client (`alipay.trade.wap.pay`), `alipay.trade.query`, `alipay.trade.close`, `alipay.trade.refund`
with their answers' signatures verified, and asynchronous notifications verified RSA2 over the
sorted parameters without `sign` and `sign_type`, as Alipay documents ("异步通知验签")."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from servicekit.times import SHANGHAI

from ..credentials import AlipayCredentials
from . import (
    CLOSED,
    OPEN,
    PAID,
    Answer,
    NotificationRefused,
    PrepayRequest,
    ProviderError,
    ProviderRefund,
    ProviderTrade,
    VerifiedNotification,
)

TRADE_STATES = {"TRADE_SUCCESS": PAID, "TRADE_FINISHED": PAID, "WAIT_BUYER_PAY": OPEN,
                "TRADE_CLOSED": CLOSED}
# alipay.trade.refund's answers Alipay documents as "try again later with the same out_request_no"
# (a system error; the merchant's balance short until topped up): the refund stays `requested`
# and the reconciliation timer sends it again.
REFUND_RETRY_LATER = frozenset({"ACQ.SYSTEM_ERROR", "ACQ.SELLER_BALANCE_NOT_ENOUGH"})
_YUAN = re.compile(r"^(0|[1-9]\d{0,11})(?:\.(\d{1,2}))?$")


def yuan(fen: int) -> str:
    """Alipay's amounts are yuan strings with two decimals: 12345 fen -> "123.45"."""
    return f"{fen // 100}.{fen % 100:02d}"


def fen(amount: str) -> int:
    """ "123.45" -> 12345; anything that is not a plain yuan amount raises ValueError."""
    match = _YUAN.match(amount or "")
    if not match:
        raise ValueError(f"not a yuan amount: {amount!r}")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _beijing(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _parse_beijing(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).astimezone(timezone.utc)


class _MallAliPay(AliPay):
    """The SDK with our gateway (the stand-in locally) and Beijing time in `timestamp`, which
    Alipay reads as GMT+8 (the SDK uses the host's local time, UTC on our servers)."""

    def __init__(self, credentials: AlipayCredentials, timeout: float):
        super().__init__(appid=credentials.app_id, app_notify_url=credentials.notify_url,
                         app_private_key_string=credentials.app_private_key,
                         alipay_public_key_string=credentials.alipay_public_key,
                         sign_type="RSA2", config=AliPayConfig(timeout=timeout))
        self._gateway = credentials.gateway

    def build_body(self, method, biz_content=None, **kwargs):
        data = super().build_body(method, biz_content, **kwargs)
        data["timestamp"] = _beijing(datetime.now(timezone.utc))
        return data


class Alipay:
    name = "alipay"

    def __init__(self, credentials: AlipayCredentials, *, timeout: float = 5.0):
        self.credentials = credentials
        self._sdk = _MallAliPay(credentials, timeout)

    def _server_call(self, call, *args, **kwargs) -> dict:
        try:
            return call(*args, **kwargs)
        except AliPayValidationError as err:
            raise ProviderError("Alipay's answer failed verification", "SIGN_ERROR") from err
        except AliPayException as err:
            raise ProviderError(f"Alipay refused: {err}", str(getattr(err, "code", ""))) from err
        except OSError as err:  # urllib: unreachable, timed out, HTTP error
            raise ProviderError(f"Alipay unreachable: {err}", "UNREACHABLE", retryable=True) from err

    # --- payments -------------------------------------------------------------------------
    def prepay(self, request: PrepayRequest) -> dict:
        """The signed order string the Alipay client (or the H5 page) opens."""
        extra = {}
        if request.expires_at:
            extra["time_expire"] = _beijing(request.expires_at)
        if request.installments:
            extra["extend_params"] = {"hb_fq_num": str(request.installments),
                                      "hb_fq_seller_percent": str(request.seller_percent)}
        order_string = self._sdk.api_alipay_trade_wap_pay(
            subject=request.description[:256], out_trade_no=request.out_trade_no,
            total_amount=yuan(request.amount_fen), **extra)
        return {"order_string": order_string}

    def query(self, out_trade_no: str) -> ProviderTrade:
        data = self._server_call(self._sdk.api_alipay_trade_query, out_trade_no=out_trade_no)
        if data.get("code") != "10000":
            if data.get("sub_code") == "ACQ.TRADE_NOT_EXIST":  # the shopper never opened it
                return ProviderTrade(out_trade_no, OPEN, "TRADE_NOT_EXIST")
            raise ProviderError(f"alipay.trade.query: {data.get('sub_msg') or data.get('msg')}",
                                data.get("sub_code", data.get("code", "")))
        return self._trade(data)

    def close(self, out_trade_no: str) -> None:
        data = self._server_call(self._sdk.api_alipay_trade_close, out_trade_no=out_trade_no)
        if data.get("code") != "10000" and data.get("sub_code") != "ACQ.TRADE_NOT_EXIST":
            raise ProviderError(f"alipay.trade.close: {data.get('sub_msg') or data.get('msg')}",
                                data.get("sub_code", ""))

    def refund(self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int,
               reason: str) -> ProviderRefund:
        """alipay.trade.refund answers at once: fund_change Y means the money moved now."""
        data = self._server_call(self._sdk.api_alipay_trade_refund, refund_amount=yuan(amount_fen),
                                 out_trade_no=out_trade_no, out_request_no=out_refund_no,
                                 refund_reason=reason[:256])
        if data.get("code") != "10000":
            code = data.get("sub_code", data.get("code", ""))
            raise ProviderError(f"alipay.trade.refund: {data.get('sub_msg') or data.get('msg')}", code,
                                retryable=code in REFUND_RETRY_LATER)
        return ProviderRefund(out_refund_no=out_refund_no, state="succeeded",
                              provider_state="fund_change=" + data.get("fund_change", ""),
                              refund_id=data.get("trade_no", ""), amount_fen=amount_fen,
                              out_trade_no=out_trade_no)

    def query_refund(self, *, out_trade_no: str, out_refund_no: str, provider_refund_id: str) -> ProviderRefund:
        data = self._server_call(self._sdk.api_alipay_trade_fastpay_refund_query, out_refund_no,
                                 out_trade_no=out_trade_no)
        if data.get("code") != "10000":
            raise ProviderError(f"alipay.trade.fastpay.refund.query: {data.get('sub_msg') or data.get('msg')}",
                                data.get("sub_code", data.get("code", "")))
        done = data.get("refund_status") == "REFUND_SUCCESS"
        return ProviderRefund(out_refund_no=out_refund_no, state="succeeded" if done else "processing",
                              provider_state=data.get("refund_status", ""), refund_id=data.get("trade_no", ""),
                              amount_fen=fen(data["refund_amount"]) if data.get("refund_amount") else 0,
                              out_trade_no=out_trade_no)

    def _trade(self, data: dict) -> ProviderTrade:
        state = data.get("trade_status", "")
        try:
            amount = fen(data.get("total_amount", ""))
        except ValueError:
            amount = -1  # never equal to an intent's amount: the caller refuses it
        return ProviderTrade(out_trade_no=data.get("out_trade_no", ""),
                             state=TRADE_STATES.get(state, OPEN), provider_state=state,
                             amount_fen=amount, currency="CNY", transaction_id=data.get("trade_no", ""),
                             paid_at=_parse_beijing(data.get("gmt_payment") or data.get("send_pay_date")))

    # --- notifications --------------------------------------------------------------------
    def verify_notification(self, headers: dict[str, str], body: bytes) -> VerifiedNotification:
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise NotificationRefused("the body is not a form-encoded notification") from None
        kind = params.get("trade_status", "")
        signature = params.pop("sign", "")
        if not signature:
            raise NotificationRefused("no sign parameter", kind)
        if params.get("sign_type") != "RSA2":
            raise NotificationRefused(f"sign_type {params.get('sign_type')!r}, expected RSA2", kind)
        try:
            verified = self._sdk.verify(dict(params), signature)
        except (AliPayException, ValueError, TypeError):
            verified = False
        if not verified:
            raise NotificationRefused("RSA2 signature does not verify", kind)
        if params.get("app_id") != self.credentials.app_id:
            raise NotificationRefused(f"for app_id {params.get('app_id')!r}, not ours", kind, signed=True)
        if params.get("seller_id") != self.credentials.seller_id:
            raise NotificationRefused(f"for seller_id {params.get('seller_id')!r}, not ours", kind,
                                     signed=True)
        if params.get("out_biz_no") and params.get("refund_fee"):  # a refund's notification
            return VerifiedNotification(kind or "refund", refund=ProviderRefund(
                out_refund_no=params["out_biz_no"], state="succeeded", provider_state="refund",
                refund_id=params.get("trade_no", ""), out_trade_no=params.get("out_trade_no", "")),
                extra=params)
        return VerifiedNotification(kind, trade=self._trade(params), extra=params)

    @staticmethod
    def answer(ok: bool, status: int = 200) -> Answer:
        """Alipay stops resending only on the literal `success`; anything else means "again"."""
        return Answer(200, "text/plain", b"success" if ok else b"fail")

    def close_client(self) -> None:
        pass
