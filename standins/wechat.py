"""A local stand-in for WeChat's `GET /sns/jscode2session`, `POST /cgi-bin/stable_token` and
`POST /cgi-bin/message/subscribe/send`, answering as WeChat does (HTTP 200, errcode/errmsg on
failure), for `make run` and the tests.

    python -m standins.wechat --port 8090

Codes (the mini-program's wx.login() gives them on a real phone; here anyone makes them up):
- each code works once; a second use answers 40163 (code been used);
- the shopper is the part before the first "~": "alice~1" and "alice~2" sign in the same
  shopper (same openid, same unionid), "alice" alone is also that shopper;
- "invalid..." answers 40029; "ratelimited..." 45011; "risky..." 40226;
- "busy<n>~..." answers -1 (system busy) n times, then signs in, so retries can be tested.
The appid and secret must match the ones it was started with (else 40013 / 40125).

Subscribe messages: stable_token issues tokens that expire after `token_ttl` seconds (the same
token to every caller while it lives, as WeChat's normal mode does; `expire_tokens()` ends them
early). subscribe/send checks the token (41001 missing, 40001 unknown, 42001 expired), the
template id against `templates` (40037), each data value against WeChat's rules for its key type
(47003), answers 43101 for openids in `refusing`, -1 while `busy_sends` > 0, and records every
accepted message in `sent`. With `templates` None (`make run`) any template id is accepted.
`GET /standin/subscribe-messages` (the stand-in's own, not WeChat's) lists `sent`, so a journey
through a suite of processes sees what reached the shopper.

Shipping-info management (发货信息管理, shipping.py): `POST /wxa/sec/order/upload_shipping_info`
and `POST /wxa/sec/order/notify_confirm_receive` check the token like subscribe/send, then every
documented rule: the order key (268485194-7), logistics type (10060005), delivery mode (268485224,
10060006, 10060007, 268485228), the shipping list (47001 when not a list, 10060024 above 15), each
entry (item_desc 10060008/9, tracking_no 268485226/10060026, express_company 268485227/10060025,
SF's contact and its mask 10060014), upload_time in RFC 3339 (268485216), the payer (10060014,
10060031 when not the order's payer), the order (10060001), and its state: a finished order
answers 10060023 to the same info again, takes one re-shipment and then 10060003; the reminder
needs a shipped order (10060028), a signing time after the shipment and not in the future
(10060029), and goes once (10060030). Accepted calls are kept in `uploads` / `reminders` (and
`GET /standin/shipping?transaction_id=...` answers them, for tests in another process); every
call, accepted or not, in `shipping_calls`. `busy_shipping` > 0 answers -1 that many times.

Which orders exist: in the tests, those given to `add_transaction` (as the WeChat Pay stand-in
would have them; `known_transactions_only=True`). Under `make run` and the end-to-end tests the
two stand-ins are separate processes with nothing shared, so any transaction id of WeChat Pay's
form (1-32 letters and digits) is an order, its payer the first openid that uploads for it: every
other rule is still checked, and a shared file would only couple two stand-ins' internals.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from servicekit.config import env
from servicekit.standin_http import KeepAliveHandler
from services.member.wechat.login import DEV_APPID, DEV_SECRET

_BUSY = re.compile(r"^busy(\d+)")
# WeChat's value rules per key type (the ones the member service fills).
_VALUE_RULES = {
    "thing": lambda v: 0 < len(v) <= 20,
    "character_string": lambda v: re.fullmatch(r"[!-~]{1,32}", v) is not None,
    "time": lambda v: re.fullmatch(r"(\d{4}-\d{2}-\d{2} |\d{4}年\d{1,2}月\d{1,2}日 )?"
                                   r"\d{1,2}:\d{2}", v) is not None,
    "date": lambda v: re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日( \d{1,2}:\d{2})?", v) is not None,
}


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_TRANSACTION_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")
_WAITING, _SHIPPED = 1, 2  # WeChat's order_state: 1 待发货, 2 已发货 (3 确认收货 ...)


@dataclass
class ShippingOrder:
    """What WeChat knows of one payment's shipping."""
    transaction_id: str
    payer: str | None
    state: int = _WAITING
    logistics_type: int = 0
    delivery_mode: int = 0
    shipping_list: list[dict] = field(default_factory=list)
    finish_count: int = 0           # finish_shipping_count: 1 shipped, 2 shipped again
    uploaded_at: float = 0.0        # Unix seconds of the last accepted upload
    reminded: bool = False


def _parse_time(text: str) -> datetime | None:
    if not isinstance(text, str) or not _RFC3339.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _masked(contact: str) -> bool:
    """WeChat's mask rule: masked with *, its last four digits not masked."""
    kept = re.sub(r"[^0-9*]", "", contact)
    return "*" in kept and re.fullmatch(r".*\d{4}", kept) is not None


def _entry_key(entry: dict) -> tuple:
    contact = entry.get("contact") or {}
    return (entry.get("tracking_no"), entry.get("express_company"), entry.get("item_desc"),
            contact.get("consignor_contact"), contact.get("receiver_contact"))


def _rid() -> str:
    return f"{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}"


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode()[:27]  # 28 chars, like WeChat's


class WechatStandin:
    """The stand-in's state: used codes and busy counters, shared by the server's threads."""

    def __init__(self, appid: str = DEV_APPID, secret: str = DEV_SECRET, with_unionid: bool = True,
                 *, templates: set[str] | None = None, token_ttl: int = 7200):
        self.appid = appid
        self.secret = secret
        self.with_unionid = with_unionid
        self.calls = 0
        self.session_keys: list[str] = []  # what it handed out, so tests can prove none leaks
        self._used: set[str] = set()
        self._busy_answers: dict[str, int] = {}
        self._lock = threading.Lock()
        # subscribe messages
        self.templates = templates      # accepted template ids; None: any
        self.token_ttl = token_ttl
        self.refusing: set[str] = set()  # openids that did not accept (43101)
        self.busy_sends = 0             # the next n sends answer -1
        self.token_calls = 0
        self.send_calls = 0
        self.sent: list[dict] = []      # every accepted subscribe/send body, in order
        self._tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self._current_token: str | None = None
        # shipping-info management
        self.known_transactions_only = False
        self.shipping_orders: dict[str, ShippingOrder] = {}
        self.uploads: list[dict] = []        # every accepted upload_shipping_info body
        self.reminders: list[dict] = []      # every accepted notify_confirm_receive body
        self.shipping_calls: list[tuple[str, dict, dict]] = []  # (endpoint, body, answer)
        self.busy_shipping = 0               # the next n shipping calls answer -1

    def add_transaction(self, transaction_id: str, payer_openid: str) -> None:
        """A WeChat Pay payment WeChat knows (from then on, only the known ones exist)."""
        with self._lock:
            self.known_transactions_only = True
            self.shipping_orders[transaction_id] = ShippingOrder(transaction_id, payer_openid)

    def shipping_of(self, transaction_id: str = "") -> dict:
        """The accepted uploads and reminders of one payment ("": of all)."""
        with self._lock:
            return {"uploads": [u for u in self.uploads if not transaction_id
                                or u["order_key"].get("transaction_id") == transaction_id],
                    "reminders": [r for r in self.reminders if not transaction_id
                                  or r.get("transaction_id") == transaction_id]}

    def openid_of(self, shopper: str) -> str:
        """The openid jscode2session gives the shopper whose codes start with `shopper`."""
        return _stable_id("o", self.appid, shopper)

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on (as if its 2 hours had passed)."""
        with self._lock:
            self._tokens = {token: 0.0 for token in self._tokens}
            self._current_token = None

    def stable_token(self, body: dict) -> dict:
        with self._lock:
            self.token_calls += 1
            if body.get("grant_type") != "client_credential":
                return _error(40002, "invalid grant_type")
            if body.get("appid") != self.appid:
                return _error(40013, "invalid appid")
            if body.get("secret") != self.secret:
                return _error(40125, "invalid appsecret")
            now = time.monotonic()
            current = self._current_token
            if body.get("force_refresh") or current is None or self._tokens[current] <= now:
                if current is not None and body.get("force_refresh"):
                    self._tokens[current] = 0.0  # force_refresh ends the previous token
                current = self._current_token = f"ST{secrets.token_urlsafe(48)}"
                self._tokens[current] = now + self.token_ttl
            # round, not int: (now + 7200) - now is 7199.99… for some clock values, which WeChat never says
            return {"access_token": current, "expires_in": max(1, round(self._tokens[current] - now))}

    def _token_problem(self, access_token: str | None) -> dict | None:
        if not access_token:
            return _error(41001, "access_token missing")
        if access_token not in self._tokens:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if self._tokens[access_token] <= time.monotonic():
            return _error(42001, "access_token expired")
        return None

    def upload_shipping_info(self, access_token: str | None, body: dict) -> dict:
        with self._lock:
            answer = self._token_problem(access_token) or self._upload(body)
            self.shipping_calls.append(("upload_shipping_info", body, answer))
            return answer

    def notify_confirm_receive(self, access_token: str | None, body: dict) -> dict:
        with self._lock:
            answer = self._token_problem(access_token) or self._remind(body)
            self.shipping_calls.append(("notify_confirm_receive", body, answer))
            return answer

    def _busy(self) -> bool:
        if self.busy_shipping > 0:
            self.busy_shipping -= 1
            return True
        return False

    def _order_for(self, transaction_id: str) -> ShippingOrder | None:
        order = self.shipping_orders.get(transaction_id)
        if order is None and not self.known_transactions_only \
                and _TRANSACTION_ID.match(transaction_id):
            order = self.shipping_orders[transaction_id] = ShippingOrder(transaction_id, None)
        return order

    def _upload(self, body: dict) -> dict:  # noqa: C901 (one documented rule per branch)
        if self._busy():
            return _error(-1, "system error")
        key = body.get("order_key")
        if not isinstance(key, dict):
            return _error(47001, "data format error")
        number_type = key.get("order_number_type")
        if number_type not in (1, 2):
            return _error(268485194, "订单单号类型非法")
        if number_type == 2 and not key.get("transaction_id"):
            return _error(268485195, "微信支付单号形式下 transaction_id 字段不能为空")
        if number_type == 1 and not key.get("mchid"):
            return _error(268485196, "商户侧单号形式下 mchid 字段不能为空")
        if number_type == 1 and not key.get("out_trade_no"):
            return _error(268485197, "商户侧单号形式下 out_trade_no 字段不能为空")
        logistics_type = body.get("logistics_type")
        if logistics_type not in (1, 2, 3, 4):
            return _error(10060005, "物流类型有误")
        mode = body.get("delivery_mode")
        if mode not in (1, 2):
            return _error(268485224, "发货模式非法")
        if mode == 2 and logistics_type != 1:
            return _error(10060006, "非快递发货时不允许分拆发货")
        if mode == 2 and not isinstance(body.get("is_all_delivered"), bool):
            return _error(10060007, "分拆发货模式下必须填写 is_all_delivered 字段")
        entries = body.get("shipping_list")
        if not isinstance(entries, list) or not entries \
                or not all(isinstance(e, dict) for e in entries):
            return _error(47001, "data format error")
        if len(entries) > 15:
            return _error(10060024, "物流信息列表太长")
        if mode == 1 and len(entries) != 1:
            return _error(268485228, "统一发货模式下，物流信息列表长度必须为 1")
        for entry in entries:
            problem = self._entry_problem(entry, logistics_type)
            if problem:
                return problem
        if _parse_time(body.get("upload_time")) is None:
            return _error(268485216, "上传时间非法，请按照 RFC 3339 格式填写")
        payer = body.get("payer")
        openid = payer.get("openid") if isinstance(payer, dict) else None
        if not isinstance(openid, str) or not 1 <= len(openid.encode()) <= 128:
            return _error(10060014, "参数错误: payer.openid")
        transaction_id = key.get("transaction_id") if number_type == 2 \
            else f"{key.get('mchid')}/{key.get('out_trade_no')}"
        order = self._order_for(str(transaction_id))
        if order is None:
            return _error(10060001, "支付单不存在")
        if order.payer is not None and order.payer != openid:
            return _error(10060031, "该笔支付单不属于 openid 所指定的用户")
        if order.state > _SHIPPED:
            return _error(10060002, "支付单已完成发货，无法继续发货")
        keys = [_entry_key(e) for e in entries]
        if order.state == _SHIPPED:
            if all(k in [_entry_key(e) for e in order.shipping_list] for k in keys):
                return _error(10060023, "发货信息未更新")
            if order.finish_count >= 2:
                return _error(10060003, "支付单已使用重新发货机会")
            order.shipping_list, order.finish_count = list(entries), 2  # the one re-shipment
        elif mode == 2:
            order.shipping_list = [e for e in order.shipping_list
                                   if e.get("tracking_no") not in {k[0] for k in keys}] + entries
        else:
            order.shipping_list = list(entries)
        order.payer = order.payer or openid
        order.logistics_type, order.delivery_mode = logistics_type, mode
        order.uploaded_at = time.time()
        if mode == 1 or body.get("is_all_delivered"):
            order.state = _SHIPPED
            order.finish_count = max(order.finish_count, 1)
        self.uploads.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _entry_problem(entry: dict, logistics_type: int) -> dict | None:
        desc = entry.get("item_desc")
        if not isinstance(desc, str) or not desc.strip():
            return _error(10060008, "商品描述 item_desc 字段不能为空")
        if len(desc) > 120:
            return _error(10060009, "商品描述 item_desc 字段太长")
        if logistics_type != 1:
            return None
        tracking_no, company = entry.get("tracking_no"), entry.get("express_company")
        if not isinstance(tracking_no, str) or not tracking_no:
            return _error(268485226, "物流单号不能为空")
        if len(tracking_no.encode()) > 128:
            return _error(10060026, "物流单号太长")
        if not isinstance(company, str) or not company:
            return _error(268485227, "物流公司编码不能为空")
        if len(company.encode()) > 128:
            return _error(10060025, "物流公司编码太长")
        contact = entry.get("contact")
        if contact is not None and not isinstance(contact, dict):
            return _error(47001, "data format error")
        numbers = [v for v in ((contact or {}).get("consignor_contact"),
                               (contact or {}).get("receiver_contact")) if v]
        if company == "SF" and not numbers:
            return _error(10060014, "参数错误: 顺丰快递需填写寄件人或收件人联系方式")
        if any(not isinstance(n, str) or len(n) > 1024 or not _masked(n) for n in numbers):
            return _error(10060014, "参数错误: 联系方式须采用掩码传输，最后4位数字不能打掩码")
        return None

    def _remind(self, body: dict) -> dict:
        if self._busy():
            return _error(-1, "system error")
        received = body.get("received_time")
        if isinstance(received, bool) or not isinstance(received, int):
            return _error(47001, "data format error")
        if body.get("transaction_id"):
            transaction_id = str(body["transaction_id"])
        elif body.get("merchant_id") and body.get("merchant_trade_no"):
            transaction_id = f"{body['merchant_id']}/{body['merchant_trade_no']}"
        else:
            return _error(268485195, "微信支付单号形式下 transaction_id 字段不能为空")
        order = self._order_for(transaction_id)
        if order is None:
            return _error(10060001, "支付单不存在")
        if order.state != _SHIPPED:
            return _error(10060028, "支付单不是已发货状态")
        if order.logistics_type != 1:
            return _error(10060032, "只有物流快递发货时允许提醒用户确认收货")
        if order.reminded:
            return _error(10060030, "支付单已使用提醒收货机会")
        if not order.uploaded_at < received <= time.time() + 60:  # milliseconds land here too
            return _error(10060029, "签收时间非法")
        order.reminded = True
        self.reminders.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    def subscribe_send(self, access_token: str | None, body: dict) -> dict:
        with self._lock:
            self.send_calls += 1
            problem = self._token_problem(access_token)
            if problem:
                return problem
            if self.busy_sends > 0:
                self.busy_sends -= 1
                return _error(-1, "system error")
            touser = body.get("touser")
            if not isinstance(touser, str) or not touser:
                return _error(40003, "invalid openid")
            template_id = body.get("template_id")
            if not template_id or (self.templates is not None and template_id not in self.templates):
                return _error(40037, "invalid template_id")
            data = body.get("data")
            if not isinstance(data, dict) or not data:
                return _error(47003, "argument invalid! data is empty")
            for key, item in data.items():
                value = item.get("value") if isinstance(item, dict) else None
                rule = _VALUE_RULES.get(re.sub(r"\d+$", "", key))
                if not isinstance(value, str) or not value:
                    return _error(47003, f"argument invalid! data.{key}.value is empty")
                if rule is not None and not rule(value):
                    return _error(47003, f"argument invalid! data.{key}.value invalid")
            if body.get("miniprogram_state", "formal") not in ("formal", "trial", "developer"):
                return _error(47001, "data format error")
            if touser in self.refusing:
                return _error(43101, "user refuse to accept the msg")
            self.sent.append(body)
            return {"errcode": 0, "errmsg": "ok"}

    def answer(self, query: dict[str, str]) -> dict:
        with self._lock:
            self.calls += 1
            return self._answer(query)

    def _answer(self, q: dict[str, str]) -> dict:
        if not q.get("appid") or q["appid"] != self.appid:
            return _error(40013, "invalid appid")
        if not q.get("secret") or q["secret"] != self.secret:
            return _error(40125, "invalid appsecret")
        if q.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type")
        code = q.get("js_code", "")
        if not code:
            return _error(41008, "missing code")
        if code.startswith("invalid"):
            return _error(40029, "invalid code")
        if code.startswith("ratelimited"):
            return _error(45011, "api minute-quota reach limit  mustslower  retry next minute")
        if code.startswith("risky"):
            return _error(40226, "high risk user")
        busy = _BUSY.match(code)
        if busy and self._busy_answers.get(code, 0) < int(busy.group(1)):
            self._busy_answers[code] = self._busy_answers.get(code, 0) + 1
            return _error(-1, "system error")
        if code in self._used:
            return _error(40163, "code been used")
        self._used.add(code)
        shopper = code.split("~", 1)[0]
        answer = {"session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
                  "openid": _stable_id("o", self.appid, shopper)}
        self.session_keys.append(answer["session_key"])
        if self.with_unionid:
            answer["unionid"] = _stable_id("u", "open-platform", shopper)
        return answer


def _error(errcode: int, errmsg: str) -> dict:
    return {"errcode": errcode, "errmsg": f"{errmsg}, rid: {_rid()}"}


def _handler_for(standin: WechatStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(200, _error(47001, "data format error"), "application/json")
                return
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            if url.path == "/cgi-bin/stable_token":
                self._send(200, standin.stable_token(body), "application/json")
            elif url.path == "/cgi-bin/message/subscribe/send":
                self._send(200, standin.subscribe_send(query.get("access_token"), body),
                           "application/json")
            elif url.path == "/wxa/sec/order/upload_shipping_info":
                self._send(200, standin.upload_shipping_info(query.get("access_token"), body),
                           "application/json")
            elif url.path == "/wxa/sec/order/notify_confirm_receive":
                self._send(200, standin.notify_confirm_receive(query.get("access_token"), body),
                           "application/json")
            else:
                self._send(404, {"errcode": 404, "errmsg": "not found"})

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlsplit(self.path)
            if url.path == "/standin/subscribe-messages":
                with standin._lock:
                    sent = list(standin.sent)
                self._send(200, {"sent": sent}, "application/json")
                return
            if url.path == "/standin/shipping":  # what was uploaded, for tests in another process
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                self._send(200, standin.shipping_of(query.get("transaction_id", "")),
                           "application/json")
                return
            if url.path != "/sns/jscode2session":
                self._send(404, {"errcode": 404, "errmsg": "not found"})
                return
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            self._send(200, standin.answer(query))

        def _send(self, status: int, body: dict, content_type: str = "text/plain") -> None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # the query holds a secret or token
            pass

    return Handler


class RunningStandin:
    """A stand-in serving in a background thread (tests): `.base_url`, `.standin`, `.stop()`."""

    def __init__(self, standin: WechatStandin, host: str = "127.0.0.1", port: int = 0):
        self.standin = standin
        self._server = ThreadingHTTPServer((host, port), _handler_for(standin))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="wechat-standin",
                                        daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_in_thread(appid: str = DEV_APPID, secret: str = DEV_SECRET, *,
                    with_unionid: bool = True, templates: set[str] | None = None,
                    token_ttl: int = 7200) -> RunningStandin:
    return RunningStandin(WechatStandin(appid, secret, with_unionid, templates=templates,
                                        token_ttl=token_ttl))


@contextmanager
def serving_member(appid: str, secret: str) -> Iterator[RunningStandin]:
    """The stand-in for a test session, with member's settings pointed at it (set before member's
    server is built: it reads MALL_MEMBER_WECHAT_* once, when its servicers are registered)."""
    from servicekit.testing import environment

    running = start_in_thread(appid, secret)
    try:
        with environment(MALL_MEMBER_WECHAT_API_BASE=running.base_url,
                         MALL_MEMBER_WECHAT_APPID=appid, MALL_MEMBER_WECHAT_SECRET=secret):
            yield running
    finally:
        running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    standin = WechatStandin(env("WECHAT_APPID", DEV_APPID, "member"),
                            env("WECHAT_SECRET", DEV_SECRET, "member"))
    # Openids listed here answer 43101, to see a refusal in `make run`.
    standin.refusing = set(filter(None, os.environ.get("MALL_WECHAT_STANDIN_REFUSING", "").split(",")))
    server = ThreadingHTTPServer((args.host, args.port), _handler_for(standin))
    print(f"WeChat stand-in on http://{args.host}:{server.server_address[1]} (jscode2session, "
          "stable_token, subscribe/send, shipping info)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
