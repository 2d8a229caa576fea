"""The gRPC face of logistics: checks the caller's role, runs a use case in one transaction,
translates the result. Validation and rules live in the use cases."""
from __future__ import annotations

import grpc
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2 as pb
from mall.logistics.v1 import logistics_pb2_grpc as pb_grpc
from sqlalchemy import select

from servicekit import context, roles
from servicekit.errors import InvalidArgument
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import (
    carriers,
    erasure,
    reservations,
    returns,
    shipment_queries,
    shipments,
    stock,
    tracking,
    warehouses,
)
from .availability import level
from .models import LedgerEntry, ReturnExpectation, Shipment, Stock, TrackingEvent, Warehouse

BULK_BOOKING_MAX = 50  # orders per "ship in bulk": a carrier round trip per shipment, in one call


def require_staff() -> str:
    return context.require_roles(*roles.STOCK_KEEPERS, action="stock administration").user_id

KINDS = {pb.RECEIPT: "receipt", pb.COUNT_CORRECTION: "count_correction", pb.DAMAGE: "damage",
         pb.TRANSFER: "transfer", pb.RESERVATION: "reservation", pb.RELEASE: "release",
         pb.COMMIT: "commit", pb.RETURN: "return", pb.QUARANTINE: "quarantine"}
KIND_VALUES = {name: value for value, name in KINDS.items()}
RESERVATION_STATUS = {"held": pb.HELD, "committed": pb.COMMITTED, "released": pb.RELEASED,
                      "expired": pb.EXPIRED}


def warehouse_message(w: Warehouse) -> pb.Warehouse:
    return pb.Warehouse(code=w.code, name=w.name, province=w.province, city=w.city,
                        district=w.district, latitude=w.latitude, longitude=w.longitude,
                        active=w.active, priority=w.priority, carriers=w.carriers or [])


def stock_message(s: Stock) -> pb.StockRecord:
    return pb.StockRecord(warehouse_code=s.warehouse.code, sku_id=s.sku_id, on_hand=s.on_hand,
                          reserved=s.reserved, safety_stock=s.safety_stock,
                          low_stock_threshold=s.low_stock_threshold, sellable=s.sellable,
                          level=level(s.sellable, s.low_stock_threshold),
                          quarantined=s.quarantined or 0)


def entry_message(e: LedgerEntry) -> pb.LedgerEntry:
    return pb.LedgerEntry(id=e.id, warehouse_code=e.warehouse.code, sku_id=e.sku_id,
                          kind=KIND_VALUES[e.kind], quantity=e.quantity,
                          on_hand_after=e.on_hand_after, actor_user_id=e.actor_user_id,
                          reason=e.reason, request_id=e.request_id,
                          created_at=rfc3339(e.created_at),
                          quarantine_change=e.quarantine_change or 0,
                          quarantined_after=e.quarantined_after or 0)


def reservation_message(r: reservations.Held) -> pb.Reservation:
    return pb.Reservation(
        order_id=r.order_id, status=RESERVATION_STATUS[r.status],
        allocations=[pb.StockAllocation(warehouse_code=code, sku_id=sku_id, quantity=quantity)
                     for code, sku_id, quantity in r.allocations],
        expires_at=rfc3339(r.expires_at), reason=r.reason,
        lines=[pb.ReserveLine(sku_id=line["sku_id"], quantity=line["quantity"])
               for line in r.lines])


def shipment_message(s: Shipment, steps: list[TrackingEvent] = ()) -> pb.Shipment:
    return pb.Shipment(
        id=s.id, order_id=s.order_id, order_no=s.order_no, member_id=s.member_id,
        warehouse_code=s.warehouse.code, carrier=s.carrier,
        carrier_name=carriers.CARRIERS.get(s.carrier, s.carrier), waybill_no=s.waybill_no or "",
        state=shipments.STATES[s.state], discreet=s.discreet, sender_name=s.sender_name,
        destination_province=s.destination_province, items=shipments.customer_items(s),
        timeline=[pb.TrackingStep(state=shipments.STATES[e.state],
                                  occurred_at=rfc3339(e.occurred_at), location=e.location,
                                  description=e.description) for e in steps],
        created_at=rfc3339(s.created_at), updated_at=rfc3339(s.updated_at),
        redemption_id=s.redemption_id or "", priority=s.priority,
        aftersale_request_id=s.aftersale_request_id or "")


def packing_list_message(s: Shipment) -> pb.PackingList:
    picking = [pb.PackingLine(sku_id=i["sku_id"], sku_code=i.get("sku_code", ""),
                              title=i["title"], sku_label=i["sku_label"], quantity=i["quantity"],
                              gift=bool(i.get("gift")))
               for i in s.items]
    customer = [pb.PackingLine(sku_id=i.sku_id, title=i.title, sku_label=i.sku_label,
                               quantity=i.quantity, gift=bool(raw.get("gift")))
                for i, raw in zip(shipments.customer_items(s), s.items, strict=True)]
    return pb.PackingList(shipment_id=s.id, order_no=s.order_no, warehouse_code=s.warehouse.code,
                          carrier=s.carrier, waybill_no=s.waybill_no or "", discreet=s.discreet,
                          plain_package=s.discreet, sender_name=s.sender_name, picking=picking,
                          customer_copy=customer, priority=s.priority)


def return_message(r: ReturnExpectation) -> pb.ReturnExpectation:
    w = r.warehouse
    message = pb.ReturnExpectation(
        request_id=r.request_id, order_id=r.order_id, member_id=r.member_id, kind=r.kind,
        lines=[pb.ReturnExpectedLine(line_id=x["line_id"], sku_id=x["sku_id"],
                                     product_id=x.get("product_id", ""), quantity=x["quantity"],
                                     exchange_sku_id=x.get("exchange_sku_id", ""),
                                     received=x.get("received", 0)) for x in r.lines],
        warehouse_code=w.code if w else "", free_return_shipping=r.free_return_shipping,
        return_by=rfc3339(r.return_by) if r.return_by else "", status=r.status,
        carrier=r.carrier, waybill_no=r.waybill_no, own_waybill=r.own_waybill,
        booked_at=rfc3339(r.booked_at) if r.booked_at else "",
        exchange_status=r.exchange_status, exchange_shipment_id=r.exchange_shipment_id,
        created_at=rfc3339(r.created_at),
        warehouse_address=f"{w.province} {w.city} {w.district} {w.name}".replace("  ", " ")
        if w else "")
    if r.inspection:
        i = r.inspection
        message.inspection.CopyFrom(pb.ReturnInspection(
            accepted=i["accepted"], seal_intact=i["seal_intact"], condition=i["condition"],
            lines=[pb.InspectedLine(line_id=line_id, quantity=q) for line_id, q in i["lines"]],
            restocked_to=i["restocked_to"], inspected_by=i["inspected_by"],
            inspected_at=i["inspected_at"], note=i["note"]))
    return message


def viewer() -> shipment_queries.Viewer:
    caller = context.require_user("reading shipments")
    return shipment_queries.Viewer(caller.user_id, caller.has_role(*roles.STOCK_KEEPERS))


def change_message(change: stock.StockChange) -> pb.StockChangeResponse:
    return pb.StockChangeResponse(stock=stock_message(change.stocks[0]),
                                  entry=entry_message(change.entries[0]),
                                  replayed=change.replayed)


class LogisticsServicer(pb_grpc.LogisticsServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def CreateWarehouse(self, request, context_):
        require_staff()
        w = request.warehouse
        spec = warehouses.WarehouseInput(
            code=w.code, name=w.name, province=w.province, city=w.city, district=w.district,
            latitude=w.latitude, longitude=w.longitude,
            active=w.active if w.HasField("active") else True, priority=w.priority,
            carriers=tuple(w.carriers))
        with self.runtime.transaction() as session:
            return warehouse_message(warehouses.create_warehouse(session, spec))

    def ListWarehouses(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            found = warehouses.list_warehouses(session, request.include_inactive)
            return pb.ListWarehousesResponse(warehouses=[warehouse_message(w) for w in found])

    def ReceiveStock(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            change = stock.receive_stock(self.runtime, session, request.warehouse_code,
                                         request.sku_id, request.quantity, request.reason)
            return change_message(change)

    def AdjustStock(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            change = stock.adjust_stock(self.runtime, session, request.warehouse_code,
                                        request.sku_id, KINDS.get(request.kind, ""),
                                        request.delta, request.reason)
            return change_message(change)

    def TransferStock(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            change = stock.transfer_stock(self.runtime, session, request.from_warehouse_code,
                                          request.to_warehouse_code, request.sku_id,
                                          request.quantity, request.reason)
            return pb.TransferStockResponse(
                from_stock=stock_message(change.stocks[0]), to_stock=stock_message(change.stocks[1]),
                entries=[entry_message(e) for e in change.entries], replayed=change.replayed)

    def SetStockPolicy(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            return stock_message(stock.set_stock_policy(
                self.runtime, session, request.warehouse_code, request.sku_id,
                request.safety_stock, request.low_stock_threshold))

    def GetStock(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            found = stock.get_stock(session, list(request.sku_ids))
            return pb.GetStockResponse(skus=[
                pb.SkuStock(sku_id=sku_id, warehouses=[stock_message(s) for s in rows])
                for sku_id, rows in found])

    # Public figures (catalog shows them on every product page): any caller may ask.
    def GetAvailability(self, request, context_):
        with self.runtime.transaction() as session:
            found = stock.get_availability(session, list(request.sku_ids))
            return pb.GetAvailabilityResponse(skus=[a.message() for a in found])

    def ListLedger(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            entries = stock.list_ledger(session, request.sku_id, request.warehouse_code,
                                        request.limit)
            return pb.ListLedgerResponse(entries=[entry_message(e) for e in entries])

    # Internal: order's checkout saga reserves, releases and commits; the gateway never exposes
    # these, so they ask for no role.
    def Reserve(self, request, context_):
        lines = [reservations.Line(line.sku_id, line.quantity) for line in request.lines]
        hold = request.hold_seconds if request.HasField("hold_seconds") else None
        with self.runtime.transaction() as session:
            return reservation_message(reservations.reserve(
                self.runtime, session, request.order_id, lines,
                request.shipping_address.province, hold))

    def Release(self, request, context_):
        with self.runtime.transaction() as session:
            return reservation_message(reservations.release(
                self.runtime, session, request.order_id, request.reason))

    def Commit(self, request, context_):
        with self.runtime.transaction() as session:
            return reservation_message(reservations.commit(self.runtime, session,
                                                           request.order_id))

    def GetReservation(self, request, context_):
        with self.runtime.transaction() as session:
            return reservation_message(reservations.get(session, request.order_id))

    def ListLowStock(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            rows = stock.low_stock(session, request.warehouse_code)
            return pb.ListLowStockResponse(stock=[stock_message(s) for s in rows])

    def ListShipments(self, request, context_):
        who = viewer()
        state = shipments.STATE_NAMES.get(request.state, "")
        with self.runtime.transaction() as session:
            rows, token = shipment_queries.list_shipments(
                session, who, shipment_queries.ShipmentFilter(
                    request.order_id, request.member_id, state, request.warehouse_code),
                request.page.page_size, request.page.page_token)
            return pb.ListShipmentsResponse(shipments=[shipment_message(s) for s in rows],
                                            page=common_pb2.PageInfo(next_page_token=token))

    def GetShipment(self, request, context_):
        who = viewer()
        with self.runtime.transaction() as session:
            found = shipment_queries.get_shipment(session, who, request.shipment_id)
            return shipment_message(found, shipment_queries.timeline(session, found))

    def GetPackingList(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            found = shipment_queries.get_shipment(
                session, shipment_queries.Viewer("", staff=True), request.shipment_id)
            return packing_list_message(found)

    def BookWaybills(self, request, context_):
        require_staff()
        order_ids = list(dict.fromkeys(request.order_ids))
        if not 1 <= len(order_ids) <= BULK_BOOKING_MAX or not all(order_ids):
            raise InvalidArgument.field("order_ids", "count",
                                        f"1 to {BULK_BOOKING_MAX} order ids, none empty")
        booked = shipments.book_pending(self.runtime, limit=BULK_BOOKING_MAX * 4,
                                        order_ids=order_ids)
        with self.runtime.transaction() as session:
            rows = session.scalars(select(Shipment).where(Shipment.order_id.in_(order_ids))
                                   .order_by(Shipment.order_id, Shipment.id)).all()
            return pb.BookWaybillsResponse(shipments=[shipment_message(s) for s in rows],
                                           booked_now=booked)

    # The carrier's signature authenticates the push; the gateway hands it on unchanged.
    def ExportMemberData(self, request, context_):
        context.require_self_or_roles(request.member_id, roles.ADMIN,
                                      action="exporting a member's shipments")
        with self.runtime.transaction() as session:
            return erasure.export(session, request.member_id, shipment_message)

    # After-sales returns: the shopper books her own request's return (another's is NOT_FOUND);
    # warehouse staff list and inspect them.
    def BookReturn(self, request, context_):
        caller = context.require_user("booking a return")
        request_id = returns.book_return(self.runtime, caller.user_id, returns.Booking(
            request.request_id, request.own_waybill, request.carrier, request.waybill_no,
            request.pickup_at))
        with self.runtime.transaction() as session:
            return return_message(session.get(ReturnExpectation, request_id))

    def ListReturns(self, request, context_):
        require_staff()
        with self.runtime.transaction() as session:
            rows, token = returns.list_returns(session, request.status, request.warehouse_code,
                                               request.request_id, request.page.page_size,
                                               request.page.page_token)
            return pb.ListReturnsResponse(returns=[return_message(r) for r in rows],
                                          page=common_pb2.PageInfo(next_page_token=token))

    def InspectReturn(self, request, context_):
        inspector = require_staff()
        with self.runtime.transaction() as session:
            found = returns.inspect(self.runtime, session, returns.Inspection(
                request.request_id, tuple((x.line_id, x.quantity) for x in request.lines),
                request.seal_intact, request.condition, request.accepted, request.note),
                inspector)
            shipment_id = found.exchange_shipment_id
        if shipment_id:  # book the replacement now (a carrier outage leaves it to the timer)
            shipments.book_pending(self.runtime, shipment_ids=[shipment_id])
        with self.runtime.transaction() as session:
            return return_message(session.get(ReturnExpectation, request.request_id))

    def HandleCarrierNotification(self, request, context_):
        status, body = tracking.handle_push(self.runtime, request.carrier, request.body)
        return pb.CarrierNotificationReply(http_status=status, body=body,
                                           content_type="application/json;charset=UTF-8")


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    pb_grpc.add_LogisticsServiceServicer_to_server(LogisticsServicer(runtime), server)
    return [pb.DESCRIPTOR.services_by_name["LogisticsService"].full_name]
