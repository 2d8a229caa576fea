"""Stock and shipments for staff (roles warehouse or admin) under /v1/admin/logistics: warehouses,
stock by SKU and warehouse, receipts, adjustments, transfers, low stock, the ledger, shipments by
state and each shipment's packing list. Logistics checks the rules; the gateway checks shapes."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer, from_json
from ..proto_models import model_of
from ..schemas import BY_NAME, IDEMPOTENT, Code, Id, PageTokenText
from ..services import BATCH_DEADLINE, Logistics

router = APIRouter(prefix="/v1/admin/logistics", tags=["admin-logistics"],
                   dependencies=[Depends(auth.staff(roles.WAREHOUSE, roles.ADMIN))])

MAX_UNITS = 1_000_000


# Whole units only: strict, so 1.5 and "3" are refused with the field named, not rounded.
Units = Annotated[int, Field(strict=True, ge=1, le=MAX_UNITS,
                             description=f"whole units, 1..{MAX_UNITS}")]
AdjustmentKind = Annotated[Literal["COUNT_CORRECTION", "DAMAGE"], BY_NAME]
ShipmentState = Annotated[Literal["CREATED", "PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY",
                                  "DELIVERED", "EXCEPTION", "RETURNED"], BY_NAME]
WarehouseCode = Annotated[str, Field(min_length=1, max_length=32, examples=["SH-EAST"])]
SkuId = Annotated[str, Field(min_length=1, max_length=64)]


class WarehouseInput(BaseModel):
    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$",
                      examples=["SH-EAST"])
    name: str = Field(min_length=1, max_length=100)
    province: str = Field(min_length=1, max_length=50, examples=["上海市"])
    city: str = Field(min_length=1, max_length=50)
    district: str = Field("", max_length=50)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    active: bool = True
    priority: int = Field(0, ge=0, le=1000)
    carriers: list[Code] = Field(default_factory=list, max_length=10, examples=[["sf", "zto"]])


class Receipt(BaseModel):
    warehouse_code: WarehouseCode
    sku_id: SkuId
    quantity: Units
    reason: str = Field("", max_length=500)


class StockAdjustment(BaseModel):
    warehouse_code: WarehouseCode
    sku_id: SkuId
    kind: AdjustmentKind
    delta: int = Field(strict=True, ge=-MAX_UNITS, le=MAX_UNITS,
                       description="non-zero whole units; DAMAGE is negative")
    reason: str = Field(min_length=1, max_length=500, description="why, e.g. 盘点差异")


class Transfer(BaseModel):
    from_warehouse_code: WarehouseCode
    to_warehouse_code: WarehouseCode
    sku_id: SkuId
    quantity: Units
    reason: str = Field("", max_length=500)


class StockPolicy(BaseModel):
    warehouse_code: WarehouseCode
    sku_id: SkuId
    safety_stock: int = Field(strict=True, ge=0, le=MAX_UNITS)
    low_stock_threshold: int = Field(strict=True, ge=0, le=MAX_UNITS)


@router.get("/warehouses", summary="Warehouses, highest priority first",
            response_model=model_of(logistics_pb2.ListWarehousesResponse))
async def list_warehouses(logistics: Logistics, include_inactive: bool = False) -> Response:
    return answer(await logistics.ListWarehouses(
        logistics_pb2.ListWarehousesRequest(include_inactive=include_inactive)))


@router.post("/warehouses", status_code=201, summary="Create a warehouse",
             response_model=model_of(logistics_pb2.Warehouse))
async def create_warehouse(logistics: Logistics, body: WarehouseInput) -> Response:
    return answer(await logistics.CreateWarehouse(logistics_pb2.CreateWarehouseRequest(
        warehouse=from_json(body.model_dump(), logistics_pb2.Warehouse))), 201)


@router.get("/stock", summary="Stock of these SKUs in every warehouse holding them",
            response_model=model_of(logistics_pb2.GetStockResponse))
async def get_stock(logistics: Logistics,
                    sku_id: Annotated[list[Id], Query(min_length=1, max_length=200)]) -> Response:
    return answer(await logistics.GetStock(logistics_pb2.GetStockRequest(sku_ids=sku_id)))


@router.get("/low-stock", summary="Stock at or below its threshold, every active warehouse",
            response_model=model_of(logistics_pb2.ListLowStockResponse))
async def list_low_stock(logistics: Logistics) -> Response:
    return answer(await logistics.ListLowStock(logistics_pb2.ListLowStockRequest()))


@router.get("/warehouses/{warehouse_code}/low-stock",
            summary="Stock at or below its threshold in one warehouse",
            response_model=model_of(logistics_pb2.ListLowStockResponse))
async def list_warehouse_low_stock(logistics: Logistics, warehouse_code: Id) -> Response:
    return answer(await logistics.ListLowStock(
        logistics_pb2.ListLowStockRequest(warehouse_code=warehouse_code)))


@router.post("/stock/receipts", status_code=201,
             summary="Goods arrived (send Idempotency-Key to make a retry harmless)",
             dependencies=[IDEMPOTENT],
             response_model=model_of(logistics_pb2.StockChangeResponse))
async def receive_stock(logistics: Logistics, body: Receipt) -> Response:
    return answer(await logistics.ReceiveStock(
        from_json(body.model_dump(), logistics_pb2.ReceiveStockRequest)), 201)


@router.post("/stock/adjustments", status_code=201,
             summary="A count correction or damaged goods written off; never below zero",
             dependencies=[IDEMPOTENT],
             response_model=model_of(logistics_pb2.StockChangeResponse))
async def adjust_stock(logistics: Logistics, body: StockAdjustment) -> Response:
    return answer(await logistics.AdjustStock(
        from_json(body.model_dump(), logistics_pb2.AdjustStockRequest)), 201)


@router.post("/stock/transfers", status_code=201, summary="Move unreserved goods between warehouses",
             dependencies=[IDEMPOTENT],
             response_model=model_of(logistics_pb2.TransferStockResponse))
async def transfer_stock(logistics: Logistics, body: Transfer) -> Response:
    return answer(await logistics.TransferStock(
        from_json(body.model_dump(), logistics_pb2.TransferStockRequest)), 201)


@router.put("/stock/policy", summary="Safety stock and low-stock threshold of a SKU in a warehouse",
            response_model=model_of(logistics_pb2.StockRecord))
async def set_stock_policy(logistics: Logistics, body: StockPolicy) -> Response:
    return answer(await logistics.SetStockPolicy(
        from_json(body.model_dump(), logistics_pb2.SetStockPolicyRequest)))


@router.get("/ledger", summary="Every change of a SKU's stock, newest first",
            response_model=model_of(logistics_pb2.ListLedgerResponse))
async def list_ledger(logistics: Logistics, sku_id: SkuId, warehouse_code: Id = "",
                      limit: int = Query(50, ge=1, le=500)) -> Response:
    return answer(await logistics.ListLedger(logistics_pb2.ListLedgerRequest(
        sku_id=sku_id, warehouse_code=warehouse_code, limit=limit)))


@router.get("/shipments", summary="Shipments, newest first, by state, order, member, warehouse",
            response_model=model_of(logistics_pb2.ListShipmentsResponse))
async def list_shipments(logistics: Logistics, state: ShipmentState | None = None,
                         order_id: Id = "", member_id: Id = "", warehouse_code: Id = "",
                         page_size: int = Query(20, ge=1, le=100), page_token: PageTokenText = "") -> Response:
    return answer(await logistics.ListShipments(logistics_pb2.ListShipmentsRequest(
        order_id=order_id, member_id=member_id, warehouse_code=warehouse_code,
        state=f"SHIPMENT_{state}" if state else "SHIPMENT_STATE_UNSPECIFIED",
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@router.get("/shipments/{shipment_id}", summary="A shipment and its tracking timeline",
            response_model=model_of(logistics_pb2.Shipment))
async def get_shipment(logistics: Logistics, shipment_id: Id) -> Response:
    return answer(await logistics.GetShipment(logistics_pb2.GetShipmentRequest(shipment_id=shipment_id)))


@router.get("/shipments/{shipment_id}/packing-list",
            summary="The picking list (real names) and the parcel's copy (masked when discreet)",
            response_model=model_of(logistics_pb2.PackingList))
async def get_packing_list(logistics: Logistics, shipment_id: Id) -> Response:
    return answer(await logistics.GetPackingList(
        logistics_pb2.GetPackingListRequest(shipment_id=shipment_id)))


class BulkShip(BaseModel):
    order_ids: list[Id] = Field(min_length=1, max_length=50, description="paid orders to ship now")


@router.post("/waybills", summary="Ship in bulk: book these orders' waybills now, for printing",
             response_model=model_of(logistics_pb2.BookWaybillsResponse))
async def book_waybills(logistics: Logistics, body: BulkShip) -> Response:
    return answer(await logistics.BookWaybills(
        logistics_pb2.BookWaybillsRequest(order_ids=body.order_ids), timeout=BATCH_DEADLINE))
