"""A local stand-in for the carriers' Fengqiao (丰桥) open platform, for `make run` and the tests:
it books waybills, walks every parcel through its route on a short clock, pushes each step to
logistics' webhook signed as SF signs, and answers route queries.

    python -m standins.carrier --port 8091

- `POST /std/service`, a form of partnerID, requestID, serviceCode, timestamp, msgData,
  msgDigest, checked as SF checks it (the partner and checkword of each carrier are logistics'
  own settings, MALL_LOGISTICS_CARRIER_<CODE>_PARTNER_ID / _CHECKWORD, so both sides agree):
  `EXP_RECE_CREATE_ORDER` answers a waybill (the same one again for the same orderId),
  `EXP_RECE_CREATE_REVERSE_ORDER` (a return picked up at the shopper's door) exactly so,
  `EXP_RECE_SEARCH_ROUTES` the routes so far,
  `EXP_RECE_UPDATE_ORDER` with dealType 2 cancels an order before the courier collected it
  (msgData {orderId, resStatus 2, waybillNoInfoList}; again for a cancelled one); once collected
  it answers success false, errorCode 8252 (the stand-in's code for "collected, cannot cancel":
  logistics acts on success false, not on the number),
  `EXP_RECE_WANTED_INTERCEPT` with serviceCode 2 (退回) and newDestAddress accepts the
  interception of a collected, undelivered parcel (msgData null), which then goes back: one step
  later a route with opCode 99 (退回); a delivered or cancelled parcel is refused (success false).
  A wrong digest answers A1006, a stale timestamp A1002, an unknown partner A1004.
- Each parcel then takes one step every `--step-seconds` (opCodes 50 picked up, 30 in transit,
  44 out for delivery, 80 delivered) and each step is pushed to `<push-url>/<carrier>`; a push
  not answered with return_code 0000 is tried again on the next tick. `--no-push` stops the
  pushes (only polling then sees the parcels move).
- For tests (not SF's API): `POST /standin/hold {"order_id", "steps"}` lets the parcel booked
  under that orderId take at most `steps` steps (0: it stays uncollected) until
  `POST /standin/release {"order_id"}`; `GET /standin/parcels` lists every parcel with its
  routes' opCodes and whether it was cancelled or intercepted.
"""
from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from servicekit import httpclient
from servicekit.config import env, env_float
from servicekit.standin_http import KeepAliveHandler
from services.logistics import carriers, fengqiao

log = logging.getLogger(__name__)

ROUTE = (("50", "快递员已收取快件"), ("30", "快件已发车，正在运往目的地"),
         ("44", "快件交给派送员，正在派送途中"), ("80", "快件已签收，感谢使用"))
WAYBILL_PREFIX = {"sf": "SF", "zto": "ZT"}


@dataclass
class Parcel:
    carrier: str
    order_id: str
    waybill_no: str
    city: str
    booked_at: float                 # monotonic, for the clock
    booked_wall: datetime            # Beijing wall-clock time, for the routes' acceptTime
    sender: str = ""
    cargo: list[str] = field(default_factory=list)   # as printed on the waybill
    routes: list[dict] = field(default_factory=list)
    pushed: int = 0
    cancelled: bool = False
    intercepted_to: dict | None = None               # the address it goes back to
    intercepted_at_step: int = 0                     # routes it had when intercepted

    @property
    def collected(self) -> bool:
        return bool(self.routes)

    @property
    def delivered(self) -> bool:
        return any(r["opCode"] == "80" for r in self.routes)

    def summary(self) -> dict:
        return {"carrier": self.carrier, "order_id": self.order_id, "waybill_no": self.waybill_no,
                "op_codes": [r["opCode"] for r in self.routes], "cancelled": self.cancelled,
                "intercepted": self.intercepted_to is not None}


class CarrierStandin:
    def __init__(self, step_seconds: float = 5.0, push_url: str = "", push: bool = True):
        self.step_seconds, self.push_url, self.push = step_seconds, push_url.rstrip("/"), push
        self.partners = {carriers.account(c).partner_id: carriers.account(c)
                         for c in carriers.CARRIERS}
        self.parcels: dict[str, Parcel] = {}       # waybill -> parcel
        self.by_order: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()
        self.counter = 0
        self.holds: dict[str, int] = {}            # orderId -> most steps its parcel may take

    # -- the API
    def answer(self, form: dict[str, str]) -> dict:
        account = self.partners.get(form.get("partnerID", ""))
        if account is None:
            return self._error("A1004", "无对应服务权限")
        try:
            msg = fengqiao.verify(form, account.checkword, 300)
        except fengqiao.SignatureError as err:
            stale = "away from now" in str(err)
            return self._error("A1002" if stale else "A1006",
                               "请求时效已过期" if stale else f"数字签名无效: {err}")
        service = form.get("serviceCode")
        if service in (fengqiao.CREATE_ORDER, fengqiao.CREATE_REVERSE_ORDER):
            # a return (退货下单) is booked and walked exactly as an outbound order
            return self._ok(self._create(account.code, msg))
        if service == fengqiao.SEARCH_ROUTES:
            return self._ok(self._routes(account.code, msg))
        if service == fengqiao.UPDATE_ORDER:
            return self._update_order(account.code, msg)
        if service == fengqiao.WANTED_INTERCEPT:
            return self._intercept(account.code, msg)
        return self._error("A1004", f"无对应服务权限: {service}")

    def _update_order(self, carrier: str, msg: dict) -> dict:
        with self.lock:
            waybill = self.by_order.get((carrier, str(msg.get("orderId", ""))))
            parcel = self.parcels.get(waybill or "")
            if parcel is None:
                return self._refused("8018", "未获取到订单信息")
            if str(msg.get("dealType", "1")) != str(fengqiao.CANCEL):
                return self._ok({"orderId": parcel.order_id, "resStatus": 1,
                                 "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill}]})
            if parcel.collected and not parcel.cancelled:
                return self._refused("8252", "快件已收取，不能取消订单")
            parcel.cancelled = True
            return self._ok({"orderId": parcel.order_id, "resStatus": fengqiao.CANCELLED,
                             "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill}]})

    def _intercept(self, carrier: str, msg: dict) -> dict:
        address = msg.get("newDestAddress") or {}
        if str(msg.get("serviceCode")) != fengqiao.INTERCEPT_RETURN:
            return self._refused("20001", f"serviceCode {msg.get('serviceCode')} 未开通")
        missing = [k for k in ("province", "city", "county", "address") if not address.get(k)]
        if missing or not msg.get("role") or not msg.get("payMode"):
            return self._refused("20002", f"参数缺失: {missing or 'role/payMode'}")
        with self.lock:
            parcel = self.parcels.get(str(msg.get("waybillNo", "")))
            if parcel is None or parcel.carrier != carrier:
                return self._refused("20010", "运单号不存在")
            if parcel.cancelled or parcel.delivered:
                return self._refused("20011", "快件已签收或已取消，不能拦截")
            if parcel.intercepted_to is None:
                parcel.intercepted_to, parcel.intercepted_at_step = address, len(parcel.routes)
        return self._ok(None)

    def hold(self, order_id: str, steps: int) -> None:
        with self.lock:
            self.holds[order_id] = steps

    def release(self, order_id: str) -> None:
        with self.lock:
            self.holds.pop(order_id, None)

    def parcel_list(self) -> list[dict]:
        with self.lock:
            return [p.summary() for p in self.parcels.values()]

    def _create(self, carrier: str, msg: dict) -> dict:
        contacts = {c.get("contactType"): c for c in msg.get("contactInfoList", [])}
        recipient, sender = contacts.get(2, {}), contacts.get(1, {})
        with self.lock:
            key = (carrier, str(msg["orderId"]))
            if key not in self.by_order:
                self.counter += 1
                waybill = f"{WAYBILL_PREFIX[carrier]}{int(time.time()) % 10**8:08d}{self.counter:05d}"
                self.parcels[waybill] = Parcel(
                    carrier, key[1], waybill, recipient.get("city", ""), time.monotonic(),
                    datetime.now(fengqiao.SHANGHAI), sender.get("contact", ""),
                    [c["name"] for c in msg.get("cargoDetails", [])])
                self.by_order[key] = waybill
            waybill = self.by_order[key]
        return {"orderId": msg["orderId"],
                "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill}]}

    def _routes(self, carrier: str, msg: dict) -> dict:
        with self.lock:
            found = [self.parcels[w] for w in msg.get("trackingNumber", [])
                     if w in self.parcels and self.parcels[w].carrier == carrier]
            return {"routeResps": [{"mailNo": p.waybill_no,
                                    "routes": [{k: r[k] for k in ("acceptTime", "acceptAddress",
                                                                  "remark", "opCode")}
                                               for r in p.routes]} for p in found]}

    @staticmethod
    def _ok(msg_data: dict) -> dict:
        result = {"success": True, "errorCode": "S0000", "errorMsg": None, "msgData": msg_data}
        return {"apiResultCode": "A1000", "apiErrorMsg": "", "apiResponseID": uuid.uuid4().hex,
                "apiResultData": json.dumps(result, ensure_ascii=False)}

    @staticmethod
    def _refused(code: str, message: str) -> dict:
        """Understood, and refused: the API call succeeded, the business did not."""
        result = {"success": False, "errorCode": code, "errorMsg": message, "msgData": None}
        return {"apiResultCode": "A1000", "apiErrorMsg": "", "apiResponseID": uuid.uuid4().hex,
                "apiResultData": json.dumps(result, ensure_ascii=False)}

    @staticmethod
    def _error(code: str, message: str) -> dict:
        return {"apiResultCode": code, "apiErrorMsg": message, "apiResponseID": uuid.uuid4().hex,
                "apiResultData": None}

    # -- the clock
    def tick(self) -> None:
        now = time.monotonic()
        with self.lock:
            for parcel in self.parcels.values():
                if parcel.cancelled:
                    continue
                due = int((now - parcel.booked_at) / self.step_seconds)
                if parcel.order_id in self.holds:
                    due = min(due, self.holds[parcel.order_id])
                if parcel.intercepted_to is not None:  # one step later it is on its way back
                    if due > parcel.intercepted_at_step and (not parcel.routes or parcel.routes[-1]["opCode"] != "99"):
                        self._step(parcel, "99", "快件已拦截，退回寄件人")
                    continue
                while len(parcel.routes) < min(len(ROUTE), due):
                    self._step(parcel, *ROUTE[len(parcel.routes)])
            unpushed = [(p, p.routes[p.pushed:]) for p in self.parcels.values()
                        if p.pushed < len(p.routes)]
        if self.push and self.push_url:
            for parcel, routes in unpushed:
                if self._push(parcel.carrier, routes):
                    with self.lock:
                        parcel.pushed += len(routes)

    def _step(self, parcel: Parcel, op: str, remark: str) -> None:
        at = parcel.booked_wall + timedelta(seconds=self.step_seconds * (len(parcel.routes) + 1))
        parcel.routes.append({
            "id": uuid.uuid4().hex[:16], "mailno": parcel.waybill_no, "orderid": parcel.order_id,
            "opCode": op, "remark": remark, "acceptAddress": parcel.city or "转运中心",
            "acceptTime": at.strftime("%Y-%m-%d %H:%M:%S")})

    def _push(self, carrier: str, routes: list[dict]) -> bool:
        account = carriers.account(carrier)
        form = fengqiao.signed_form(account.partner_id, fengqiao.ROUTE_PUSH,
                                    {"WaybillRoute": routes}, account.checkword)
        try:
            # pooled: a Client per push was most of the stand-in's CPU (a TLS context each)
            reply = httpclient.client().post(f"{self.push_url}/{carrier}", data=form, timeout=5)
            return reply.json().get("return_code") == "0000"
        except (httpx.HTTPError, ValueError) as err:
            log.info("push to %s failed (tried again next tick): %s", self.push_url, err)
            return False


def _handler_for(standin: CarrierStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            if self.path.split("?")[0] != "/standin/parcels":
                self.send_error(404)
                return
            self._reply({"parcels": standin.parcel_list()})

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            path = self.path.split("?")[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path in ("/standin/hold", "/standin/release"):
                data = json.loads(body or b"{}")
                if path == "/standin/hold":
                    standin.hold(str(data["order_id"]), int(data.get("steps", 0)))
                else:
                    standin.release(str(data["order_id"]))
                self._reply({"ok": True})
                return
            if path != "/std/service":
                self.send_error(404)
                return
            try:
                reply = standin.answer(fengqiao.parse_form(body))
            except (UnicodeDecodeError, KeyError, ValueError) as err:
                reply = standin._error("A1099", f"系统异常: {err}")
            self._reply(reply)

        def _reply(self, reply: dict) -> None:
            data = json.dumps(reply, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            log.debug(format, *args)
    return Handler


class RunningStandin:
    """The stand-in serving on a thread, with its clock ticking (tests, and main below)."""

    def __init__(self, standin: CarrierStandin, host: str = "127.0.0.1", port: int = 0,
                 tick_seconds: float = 0.2):
        self.standin = standin
        self._server = ThreadingHTTPServer((host, port), _handler_for(standin))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True,
                                          name="carrier-standin"),
                         threading.Thread(target=self._clock, args=(tick_seconds,), daemon=True,
                                          name="carrier-standin-clock")]
        for thread in self._threads:
            thread.start()

    def _clock(self, tick_seconds: float) -> None:
        while not self._stop.wait(tick_seconds):
            try:
                self.standin.tick()
            except Exception:  # a bad tick must not stop the clock
                log.exception("carrier stand-in tick failed")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/std/service"

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env("CARRIER_STANDIN_PORT",
                                                             str(carriers.STANDIN_PORT))))
    parser.add_argument("--step-seconds", type=float,
                        default=env_float("CARRIER_STANDIN_STEP_SECONDS", 5.0))
    parser.add_argument("--push-url", default=env(
        "CARRIER_STANDIN_PUSH_URL",
        f"http://127.0.0.1:{env('GATEWAY_PORT', '8000')}/v1/logistics/notify"))
    parser.add_argument("--no-push", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    running = RunningStandin(CarrierStandin(args.step_seconds, args.push_url, not args.no_push),
                             args.host, args.port)
    log.info("carrier stand-in on %s, pushing to %s", running.url, args.push_url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
