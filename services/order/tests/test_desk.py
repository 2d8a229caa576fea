"""The merchant's order desk over gRPC: filters, sorts, cursor pages, remarks, staff cancel,
and exports streamed as CSV and Excel."""
import csv
import io
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from mall.order.v1 import order_pb2, order_pb2_grpc
from openpyxl import load_workbook

from servicekit.errors import violations_from_trailers
from services.order import orders, placement
from services.order.models import Order

from .orders_helpers import place, priced, succeeded

OPERATOR = (("x-mall-user-id", "s-1"), ("x-mall-roles", "operator"))
WAREHOUSE = (("x-mall-user-id", "s-2"), ("x-mall-roles", "warehouse"))
SHOPPER = (("x-mall-user-id", "m-1"),)


@pytest.fixture
def desk(runtime, grpc_stub_for):
    return grpc_stub_for("order", order_pb2_grpc.OrderDeskServiceStub)


@pytest.fixture
def shop(runtime):
    """Five orders: three of m-1 (one paid), one of m-2 with a big basket, one of m-3 yesterday."""
    now = datetime.now(timezone.utc)
    big = priced(lines=[placement.PricedLine(sku_id="sku-set", product_id="p-9", title="礼盒套装",
                                             quantity=3, unit_price_fen=50000, paid_fen=150000,
                                             category_ids=("c-gift",))])
    ids = {
        "a": place(runtime, "m-1", now=now - timedelta(minutes=3)),
        "b": place(runtime, "m-1", now=now - timedelta(minutes=2)),
        "c": place(runtime, "m-1", now=now - timedelta(minutes=1)),
        "big": place(runtime, "m-2", now=now, pricing=big),
        "old": place(runtime, "m-3", now=now - timedelta(days=1)),
    }
    with runtime.transaction() as session:
        orders.on_payment_succeeded(session, runtime, succeeded(ids["a"], 43415))
    return ids


def listed(desk, sort="", size=0, token="", **filters):
    reply = desk.ListOrders(order_pb2.ListOrdersRequest(
        filter=order_pb2.OrderFilter(**filters), sort=sort,
        page={"page_size": size, "page_token": token}), metadata=OPERATOR)
    return [o.order_id for o in reply.orders], reply.page.next_page_token


def test_filters(desk, shop):
    assert listed(desk, statuses=["paid"])[0] == [shop["a"]]
    assert set(listed(desk, member_id="m-1")[0]) == {shop["a"], shop["b"], shop["c"]}
    assert listed(desk, category_id="c-gift")[0] == [shop["big"]]
    assert set(listed(desk, category_id="c-bra")[0]) == {shop[k] for k in ("a", "b", "c", "old")}
    assert listed(desk, product_id="p-9")[0] == [shop["big"]]
    assert listed(desk, min_payable_fen=100000)[0] == [shop["big"]]
    assert shop["big"] not in listed(desk, max_payable_fen=100000)[0]
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert shop["old"] not in listed(desk, created_from=since)[0]
    assert listed(desk, created_to=since)[0] == [shop["old"]]
    assert listed(desk, channel="import:erp")[0] == []


def test_imported_orders_by_channel_batch_date_and_category(runtime, desk, shop):
    with runtime.transaction() as session:  # as the import would record them
        for key, batch in (("big", "batch-1"), ("old", "batch-1"), ("c", "batch-2")):
            order = session.get(Order, shop[key])
            order.channel, order.import_batch_id = "import:erp", batch
    assert set(listed(desk, channel="import:erp")[0]) == {shop["big"], shop["old"], shop["c"]}
    assert set(listed(desk, import_batch_id="batch-1")[0]) == {shop["big"], shop["old"]}
    assert listed(desk, import_batch_id="batch-1", category_id="c-gift")[0] == [shop["big"]]
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert listed(desk, import_batch_id="batch-1", created_from=since)[0] == [shop["big"]]
    assert listed(desk, import_batch_id="batch-9")[0] == []
    assert listed(desk, channel="miniprogram", import_batch_id="batch-2")[0] == []
    view = desk.GetOrder(order_pb2.GetOrderRequest(order_id=shop["big"]), metadata=OPERATOR)
    assert (view.channel, view.import_batch_id) == ("import:erp", "batch-1")


def test_sorts_and_pages_cover_everything_once(desk, shop):
    newest_first = [shop[k] for k in ("big", "c", "b", "a", "old")]
    assert listed(desk)[0] == newest_first
    assert listed(desk, sort="created_asc")[0] == newest_first[::-1]
    assert listed(desk, sort="payable_desc")[0][0] == shop["big"]
    for sort in ("created_desc", "payable_asc"):
        seen, token = [], ""
        while True:
            page, token = listed(desk, sort=sort, size=2, token=token)
            seen += page
            if not token:
                break
        assert sorted(seen) == sorted(shop.values()) and len(seen) == 5


def test_bad_filters_name_their_fields(desk, shop):
    with pytest.raises(grpc.RpcError) as err:
        listed(desk, statuses=["placing", "lost"], created_from="yesterday",
               min_payable_fen=500, max_payable_fen=100)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in violations_from_trailers(err.value.trailing_metadata())} == {
        "filter.statuses", "filter.created_from", "filter.max_payable_fen"}
    with pytest.raises(grpc.RpcError) as err:
        listed(desk, sort="cheapest")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_only_desk_roles_reach_the_desk(desk, shop):
    for metadata, code in ((WAREHOUSE, grpc.StatusCode.PERMISSION_DENIED),
                           (SHOPPER, grpc.StatusCode.PERMISSION_DENIED),
                           ((), grpc.StatusCode.UNAUTHENTICATED)):
        with pytest.raises(grpc.RpcError) as err:
            desk.ListOrders(order_pb2.ListOrdersRequest(), metadata=metadata)
        assert err.value.code() == code


def test_remarks_and_staff_cancel_with_a_reason(desk, shop, runtime):
    desk.AddRemark(order_pb2.AddRemarkRequest(order_id=shop["a"], text="客户要求周末送达"),
                   metadata=OPERATOR)
    assert [r.text for r in desk.ListRemarks(order_pb2.ListRemarksRequest(order_id=shop["a"]),
                                             metadata=OPERATOR).remarks] == ["客户要求周末送达"]
    with pytest.raises(grpc.RpcError) as err:
        desk.AddRemark(order_pb2.AddRemarkRequest(order_id=shop["a"], text="  "), metadata=OPERATOR)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        desk.CancelOrder(order_pb2.CancelOrderRequest(order_id=shop["a"]), metadata=OPERATOR)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    view = desk.CancelOrder(order_pb2.CancelOrderRequest(order_id=shop["a"], reason="缺货"),
                            metadata=OPERATOR)
    assert view.status == "cancelled" and view.timeline[-1].actor_kind == "staff"


def export(desk, fmt, **filters) -> tuple[bytes, str]:
    chunks = list(desk.ExportOrders(order_pb2.ExportOrdersRequest(
        filter=order_pb2.OrderFilter(**filters), format=fmt), metadata=OPERATOR))
    return b"".join(c.data for c in chunks), chunks[0].content_type


def test_exports_in_csv_and_excel(desk, shop):
    data, content_type = export(desk, "csv", member_id="m-1")
    assert content_type.startswith("text/csv") and data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "订单号 order_no" and len(rows) == 4
    assert {r[1] for r in rows[1:]} == {"paid", "pending_payment"}
    assert "无钢圈聚拢文胸 75B 黑色 ×2" in rows[1][6]
    data, _ = export(desk, "xlsx")
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 6 and values[0][12] == "应付 payable_fen"
    assert sorted(v[12] for v in values[1:])[-1] == 150000
    with pytest.raises(grpc.RpcError) as err:
        export(desk, "pdf")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_export_larger_than_a_batch_streams_in_several_chunks(desk, runtime, monkeypatch):
    from services.order import desk as desk_module
    monkeypatch.setattr(desk_module, "EXPORT_BATCH", 3)
    for _ in range(7):
        place(runtime)
    chunks = list(desk.ExportOrders(order_pb2.ExportOrdersRequest(format="csv"), metadata=OPERATOR))
    assert len(chunks) >= 3
    assert len(b"".join(c.data for c in chunks).decode("utf-8-sig").splitlines()) == 8


def test_a_page_reads_its_orders_lines_in_one_query_not_one_per_order(desk, shop, runtime):
    from sqlalchemy import event

    selects = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        reply = desk.ListOrders(order_pb2.ListOrdersRequest(page={"page_size": 10}),
                                metadata=OPERATOR)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert len(reply.orders) == 5
    assert len([s for s in selects if "order_lines" in s]) == 1
    by_id = {o.order_id: o for o in reply.orders}
    assert [(ln.sku_id, ln.quantity) for ln in by_id[shop["big"]].lines] == [("sku-set", 3)]
    assert all(o.lines and all(ln.line_id for ln in o.lines) for o in reply.orders)
