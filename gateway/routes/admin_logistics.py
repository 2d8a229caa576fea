"""Stock and shipments for staff (roles warehouse or admin) under /v1/admin/logistics: warehouses,
stock by SKU and warehouse, receipts, adjustments, transfers, low stock, the ledger, shipments by
state and each shipment's packing list. Logistics checks the rules; the gateway checks shapes."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2, logistics_pb2_grpc
from pydantic import BaseModel, BeforeValidator, Field

from .. import auth
from ..convert import from_json, to_json

router = APIRouter(prefix="/v1/admin/logistics", tags=["admin-logistics"],
                   dependencies=[Depends(auth.staff(auth.WAREHOUSE, auth.ADMIN))])

MAX_UNITS = 1_000_000


def _upper(value):
    return value.upper() if isinstance(value, str) else value


# Whole units only: strict, so 1.5 and "3" are refused with the field named, not rounded.
Units = Annotated[int, Field(strict=True, ge=1, le=MAX_UNITS,
                             description=f"whole units, 1..{MAX_UNITS}")]
AdjustmentKind = Annotated[Literal["COUNT_CORRECTION", "DAMAGE"], BeforeValidator(_upper)]
ShipmentState = Annotated[Literal["CREATED", "PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY",
                                  "DELIVERED", "EXCEPTION", "RETURNED"], BeforeValidator(_upper)]
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
    carriers: list[str] = Field(default_factory=list, max_length=10, examples=[["sf", "zto"]])


class Receipt(BaseModel):
    warehouse_code: WarehouseCode
    sku_id: SkuId
    quantity: Units
    reason: str = Field("", max_length=500)


class Adjustment(BaseModel):
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


async def _call(request: Request, method: str, message, timeout: float | None = None) -> dict:
    stub = request.app.state.clients.stub("logistics", logistics_pb2_grpc.LogisticsServiceStub)
    return to_json(await request.app.state.clients.call(getattr(stub, method), message,
                                                        timeout=timeout))


@router.get("/warehouses", summary="Warehouses, highest priority first")
async def list_warehouses(request: Request, include_inactive: bool = False) -> dict:
    return await _call(request, "ListWarehouses",
                       logistics_pb2.ListWarehousesRequest(include_inactive=include_inactive))


@router.post("/warehouses", status_code=201, summary="Create a warehouse")
async def create_warehouse(body: WarehouseInput, request: Request) -> dict:
    return await _call(request, "CreateWarehouse", logistics_pb2.CreateWarehouseRequest(
        warehouse=from_json(body.model_dump(), logistics_pb2.Warehouse)))


@router.get("/stock", summary="Stock of these SKUs in every warehouse holding them")
async def get_stock(request: Request,
                    sku_id: Annotated[list[str], Query(min_length=1, max_length=200)]) -> dict:
    return await _call(request, "GetStock", logistics_pb2.GetStockRequest(sku_ids=sku_id))


@router.get("/low-stock", summary="Stock at or below its threshold, every active warehouse")
async def low_stock(request: Request) -> dict:
    return await _call(request, "ListLowStock", logistics_pb2.ListLowStockRequest())


@router.get("/warehouses/{warehouse_code}/low-stock",
            summary="Stock at or below its threshold in one warehouse")
async def warehouse_low_stock(warehouse_code: str, request: Request) -> dict:
    return await _call(request, "ListLowStock",
                       logistics_pb2.ListLowStockRequest(warehouse_code=warehouse_code))


@router.post("/stock/receipts", status_code=201,
             summary="Goods arrived (send Idempotency-Key to make a retry harmless)")
async def receive(body: Receipt, request: Request) -> dict:
    return await _call(request, "ReceiveStock",
                       from_json(body.model_dump(), logistics_pb2.ReceiveStockRequest))


@router.post("/stock/adjustments", status_code=201,
             summary="A count correction or damaged goods written off; never below zero")
async def adjust(body: Adjustment, request: Request) -> dict:
    return await _call(request, "AdjustStock",
                       from_json(body.model_dump(), logistics_pb2.AdjustStockRequest))


@router.post("/stock/transfers", status_code=201, summary="Move unreserved goods between warehouses")
async def transfer(body: Transfer, request: Request) -> dict:
    return await _call(request, "TransferStock",
                       from_json(body.model_dump(), logistics_pb2.TransferStockRequest))


@router.put("/stock/policy", summary="Safety stock and low-stock threshold of a SKU in a warehouse")
async def set_policy(body: StockPolicy, request: Request) -> dict:
    return await _call(request, "SetStockPolicy",
                       from_json(body.model_dump(), logistics_pb2.SetStockPolicyRequest))


@router.get("/ledger", summary="Every change of a SKU's stock, newest first")
async def ledger(request: Request, sku_id: SkuId, warehouse_code: str = "",
                 limit: int = Query(50, ge=1, le=500)) -> dict:
    return await _call(request, "ListLedger", logistics_pb2.ListLedgerRequest(
        sku_id=sku_id, warehouse_code=warehouse_code, limit=limit))


@router.get("/shipments", summary="Shipments, newest first, by state, order, member, warehouse")
async def list_shipments(request: Request, state: ShipmentState | None = None,
                         order_id: str = "", member_id: str = "", warehouse_code: str = "",
                         page_size: int = Query(20, ge=1, le=100), page_token: str = "") -> dict:
    return await _call(request, "ListShipments", logistics_pb2.ListShipmentsRequest(
        order_id=order_id, member_id=member_id, warehouse_code=warehouse_code,
        state=f"SHIPMENT_{state}" if state else "SHIPMENT_STATE_UNSPECIFIED",
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)))


@router.get("/shipments/{shipment_id}", summary="A shipment and its tracking timeline")
async def get_shipment(shipment_id: str, request: Request) -> dict:
    return await _call(request, "GetShipment",
                       logistics_pb2.GetShipmentRequest(shipment_id=shipment_id))


@router.get("/shipments/{shipment_id}/packing-list",
            summary="The picking list (real names) and the parcel's copy (masked when discreet)")
async def packing_list(shipment_id: str, request: Request) -> dict:
    return await _call(request, "GetPackingList",
                       logistics_pb2.GetPackingListRequest(shipment_id=shipment_id))


class BulkShip(BaseModel):
    order_ids: list[str] = Field(min_length=1, max_length=50, description="paid orders to ship now")


@router.post("/waybills", summary="Ship in bulk: book these orders' waybills now, for printing")
async def book_waybills(body: BulkShip, request: Request) -> dict:
    return await _call(request, "BookWaybills",
                       logistics_pb2.BookWaybillsRequest(order_ids=body.order_ids), timeout=60)
