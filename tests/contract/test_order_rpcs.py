"""What order promises its callers: the shopper's cart and orders, the staff's order desk, and
the order-import process, through the real gRPC servers (the checkout saga itself:
test_order_checkout.py). Payments and shipments reach an order as their events, handed to
order's own handlers."""
from __future__ import annotations

import csv
import io
import uuid

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.order.v1 import order_import_pb2 as imports
from mall.order.v1 import order_pb2 as pb
from mall.order.v1 import order_pb2_grpc
from support_a import (
    IMPORT_STAFF,
    OPERATOR,
    as_user,
    checkout,
    code_of,
    delivered,
    import_header,
    import_row,
    imported,
    keyed,
    paid,
    refusal,
    violated_fields,
)
from support_a import importer as importer  # noqa: F401 (a fixture)
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)

Code = grpc.StatusCode
PARTNER = as_user("acme", "partner")


# --- CartService --------------------------------------------------------------------------

def test_the_cart_holds_what_the_shopper_adds(shop):
    cart = shop.cart.AddCartItem(pb.AddCartItemRequest(sku_id="sku-75b-black", quantity=2),
                                 metadata=shop.me)
    assert cart.subtotal_fen == 39800 and cart.lines[0].attributes["colour"] == "黑色"
    cart = shop.cart.UpdateCartItem(pb.UpdateCartItemRequest(sku_id="sku-75b-black", quantity=3),
                                    metadata=shop.me)
    assert cart.lines[0].line_total_fen == 59700
    shop.cart.AddCartItem(pb.AddCartItemRequest(sku_id="sku-80c-nude", quantity=1),
                          metadata=shop.me)
    cart = shop.cart.RemoveCartItem(pb.RemoveCartItemRequest(sku_id="sku-75b-black"),
                                    metadata=shop.me)
    assert [line.sku_id for line in cart.lines] == ["sku-80c-nude"]
    assert shop.cart.GetCart(pb.GetCartRequest(), metadata=shop.me) == cart

    err = refusal(shop.cart.AddCartItem, pb.AddCartItemRequest(sku_id="sku-nope", quantity=1),
                  metadata=shop.me)
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"sku_id"}
    err = refusal(shop.cart.UpdateCartItem, pb.UpdateCartItemRequest(
        sku_id="sku-80c-nude", quantity=1000), metadata=shop.me)
    assert violated_fields(err) == {"quantity"}
    assert code_of(shop.cart.GetCart, pb.GetCartRequest()) == Code.UNAUTHENTICATED


# --- OrderService -------------------------------------------------------------------------

def test_a_preview_prices_the_checkout_and_takes_nothing(shop):
    preview = shop.orders.PreviewCheckout(checkout(("sku-75b-black", 2), coupons=[shop.coupon_id]),
                                          metadata=shop.me)
    assert (preview.list_total_fen, preview.discount_fen) == (39800, 3000)
    assert preview.total_fen == 39800 - 3000 + preview.shipping_fee_fen
    assert shop.orders.ListMyOrders(pb.ListMyOrdersRequest(), metadata=shop.me).orders == []
    err = refusal(shop.orders.PreviewCheckout, checkout(("sku-75b-black", 0)), metadata=shop.me)
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"lines[0].quantity"}


def test_a_shopper_sees_pays_and_cancels_their_orders(shop):
    order = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "a"))
    payable = shop.orders.GetPayable(pb.GetPayableRequest(order_id=order.order_id),
                                     metadata=shop.me)
    assert (payable.order_no, payable.payable_fen, payable.currency) == (
        order.order_no, order.payable_fen, "CNY")
    listed = shop.orders.ListMyOrders(pb.ListMyOrdersRequest(), metadata=shop.me)
    assert [o.order_id for o in listed.orders] == [order.order_id]
    stranger = as_user(str(uuid.uuid4()))
    assert code_of(shop.orders.GetOrder, pb.GetOrderRequest(order_id=order.order_id),
                   metadata=stranger) == Code.NOT_FOUND  # another's order is nobody's
    assert code_of(shop.orders.ListMyOrders, pb.ListMyOrdersRequest(tab="nope"),
                   metadata=shop.me) == Code.INVALID_ARGUMENT

    cancelled = shop.orders.CancelOrder(pb.CancelOrderRequest(order_id=order.order_id,
                                                              reason="买错了"), metadata=shop.me)
    assert cancelled.status == "cancelled" and cancelled.timeline[-1].to_status == "cancelled"
    assert code_of(shop.orders.GetPayable, pb.GetPayableRequest(order_id=order.order_id),
                   metadata=shop.me) == Code.FAILED_PRECONDITION
    assert code_of(shop.orders.CancelOrder, pb.CancelOrderRequest(order_id=order.order_id),
                   metadata=stranger) == Code.NOT_FOUND


def test_a_shopper_exports_her_own_orders_with_their_addresses_and_her_cart(shop):
    order = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "x"))
    shop.cart.AddCartItem(pb.AddCartItemRequest(sku_id="sku-80c-nude", quantity=1),
                          metadata=shop.me)
    request = common_pb2.ExportMemberDataRequest(member_id=order.member_id)
    exported = shop.orders.ExportMemberData(request, metadata=shop.me)
    assert [(o.order_id, o.shipping_address.recipient) for o in exported.orders] == [
        (order.order_id, "林小姐")]
    assert [line.sku_id for line in exported.cart.lines] == ["sku-80c-nude"]
    assert shop.orders.ExportMemberData(request, metadata=as_user("s-1", "admin")) == exported
    for stranger in (as_user(str(uuid.uuid4())), OPERATOR):
        assert code_of(shop.orders.ExportMemberData, request,
                       metadata=stranger) == Code.PERMISSION_DENIED
    assert code_of(shop.orders.ExportMemberData, common_pb2.ExportMemberDataRequest(),
                   metadata=shop.me) == Code.INVALID_ARGUMENT


def test_a_delivered_order_is_confirmed_by_its_shopper(shop):
    order = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "b"))
    assert code_of(shop.orders.ConfirmReceipt, pb.ConfirmReceiptRequest(order_id=order.order_id),
                   metadata=shop.me) == Code.FAILED_PRECONDITION  # not delivered yet
    paid(order)
    delivered(order)
    shown = shop.orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id), metadata=shop.me)
    assert shown.status == "delivered" and shown.paid_fen == order.payable_fen
    assert [(s.carrier, s.waybill_no) for s in shown.shipments] == [("sf", "SF1")]
    confirmed = shop.orders.ConfirmReceipt(pb.ConfirmReceiptRequest(order_id=order.order_id),
                                           metadata=shop.me)
    assert confirmed.status == "completed" and confirmed.completed_at


# --- OrderDeskService ---------------------------------------------------------------------

def test_the_order_desk_finds_remarks_cancels_and_exports_orders(shop):
    first = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "c"))
    second = shop.orders.PlaceOrder(checkout(("sku-80c-nude", 1)), metadata=keyed(shop.me, "d"))
    found = shop.desk.ListOrders(pb.ListOrdersRequest(filter=pb.OrderFilter(
        sku_id="sku-80c-nude")), metadata=OPERATOR)
    assert [o.order_id for o in found.orders] == [second.order_id]
    assert shop.desk.GetOrder(pb.GetOrderRequest(order_id=first.order_id),
                              metadata=OPERATOR).order_no == first.order_no
    assert code_of(shop.desk.GetOrder, pb.GetOrderRequest(order_id=str(uuid.uuid4())),
                   metadata=OPERATOR) == Code.NOT_FOUND
    assert code_of(shop.desk.ListOrders, pb.ListOrdersRequest(),
                   metadata=shop.me) == Code.PERMISSION_DENIED

    remark = shop.desk.AddRemark(pb.AddRemarkRequest(order_id=first.order_id, text="顾客来电改地址"),
                                 metadata=OPERATOR)
    assert (remark.staff_id, remark.text) == ("staff-operator", "顾客来电改地址")
    assert [r.remark_id for r in shop.desk.ListRemarks(pb.ListRemarksRequest(
        order_id=first.order_id), metadata=OPERATOR).remarks] == [remark.remark_id]
    assert code_of(shop.desk.AddRemark, pb.AddRemarkRequest(order_id=first.order_id, text=""),
                   metadata=OPERATOR) == Code.INVALID_ARGUMENT

    err = refusal(shop.desk.CancelOrder, pb.CancelOrderRequest(order_id=first.order_id),
                  metadata=OPERATOR)
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"reason"}
    cancelled = shop.desk.CancelOrder(pb.CancelOrderRequest(order_id=first.order_id,
                                                            reason="缺货"), metadata=OPERATOR)
    assert cancelled.status == "cancelled"

    chunks = list(shop.desk.ExportOrders(pb.ExportOrdersRequest(format="csv"), metadata=OPERATOR))
    assert chunks[0].content_type.startswith("text/csv") and chunks[0].filename
    rows = list(csv.reader(io.StringIO(b"".join(c.data for c in chunks).decode("utf-8-sig"))))
    assert {first.order_no, second.order_no} <= {cell for row in rows for cell in row}
    assert code_of(lambda: list(shop.desk.ExportOrders(pb.ExportOrdersRequest(format="pdf"),
                                                       metadata=OPERATOR))) == \
        Code.INVALID_ARGUMENT


# --- OrderImport --------------------------------------------------------------------------

def test_staff_and_partners_import_orders_and_read_the_reports(importer):
    stub = importer("127.0.0.1:1")  # member is away: customers stay unmatched
    template = list(stub.GetImportTemplate(imports.GetImportTemplateRequest(format="xlsx"),
                                           metadata=IMPORT_STAFF))
    assert template[0].filename.endswith(".xlsx") and b"".join(c.data for c in template)
    header = import_header(stub)
    job = imported(stub, header, [import_row(header, "A"), import_row(header, "B", quantity="二")])
    assert (job.status, job.counts.orders_imported, job.counts.rows_error) == ("done", 1, 1)

    def upload(data: bytes, metadata=IMPORT_STAFF, **meta):
        def messages():
            yield imports.UploadChunk(meta=imports.UploadMeta(filename="orders.csv", **meta))
            yield imports.UploadChunk(data=data)
        return stub.UploadFile(messages(), metadata=metadata)

    rows = io.StringIO()
    csv.writer(rows).writerows([header, import_row(header, "C", sku_code="NOPE")])
    uploaded = upload(rows.getvalue().encode(), metadata=PARTNER, error_policy="reject_file")
    assert uploaded.partner == "acme"
    assert code_of(stub.ImportRows, imports.ImportRowsRequest(meta=imports.UploadMeta(
        partner="acme", filename="rows.csv")), metadata=IMPORT_STAFF) == Code.INVALID_ARGUMENT
    assert code_of(stub.UploadFile, iter([imports.UploadChunk(data=b"x")]),
                   metadata=IMPORT_STAFF) == Code.INVALID_ARGUMENT  # the meta comes first
    assert code_of(upload, b"", metadata=PARTNER, partner="globex") == Code.PERMISSION_DENIED

    report = b"".join(c.data for c in stub.GetImportReport(imports.GetImportReportRequest(
        job_id=job.job_id, format="csv", problems_only=True), metadata=IMPORT_STAFF))
    assert "二" in report.decode("utf-8-sig")
    jobs = stub.ListImportJobs(imports.ListImportJobsRequest(partner="acme"), metadata=PARTNER)
    assert job.job_id in {j.job_id for j in jobs.jobs}
    assert code_of(stub.GetImportJob, imports.GetImportJobRequest(job_id=str(uuid.uuid4())),
                   metadata=IMPORT_STAFF) == Code.NOT_FOUND
    assert code_of(stub.ListImportJobs, imports.ListImportJobsRequest(),
                   metadata=as_user("m-1")) == Code.PERMISSION_DENIED

    saved = stub.SaveImportProfile(imports.ImportProfile(
        partner="acme", name="taobao", column_map={"宝贝编码": "sku_code"}), metadata=PARTNER)
    assert saved.updated_at and dict(saved.column_map) == {"宝贝编码": "sku_code"}
    assert [p.name for p in stub.ListImportProfiles(imports.ListImportProfilesRequest(),
                                                    metadata=PARTNER).profiles] == ["taobao"]
    assert code_of(stub.SaveImportProfile, imports.ImportProfile(partner="acme", name=""),
                   metadata=PARTNER) == Code.INVALID_ARGUMENT


# --- who may call what ------------------------------------------------------------------------

SHOPPERS_OWN = [  # (stub, rpc, request): the signed-in shopper's
    ("CartServiceStub", "GetCart", pb.GetCartRequest()),
    ("CartServiceStub", "AddCartItem", pb.AddCartItemRequest(sku_id="sku-75b-black", quantity=1)),
    ("CartServiceStub", "UpdateCartItem", pb.UpdateCartItemRequest(sku_id="sku-75b-black",
                                                                   quantity=1)),
    ("CartServiceStub", "RemoveCartItem", pb.RemoveCartItemRequest(sku_id="sku-75b-black")),
    ("OrderServiceStub", "PreviewCheckout", pb.CheckoutRequest()),
    ("OrderServiceStub", "PlaceOrder", pb.CheckoutRequest()),
    ("OrderServiceStub", "GetOrder", pb.GetOrderRequest(order_id="o-1")),
    ("OrderServiceStub", "ListMyOrders", pb.ListMyOrdersRequest()),
    ("OrderServiceStub", "CancelOrder", pb.CancelOrderRequest(order_id="o-1")),
    ("OrderServiceStub", "ConfirmReceipt", pb.ConfirmReceiptRequest(order_id="o-1")),
    ("OrderServiceStub", "GetPayable", pb.GetPayableRequest(order_id="o-1")),
]
DESK = [  # staff at the order desk only
    ("ListOrders", pb.ListOrdersRequest()),
    ("GetOrder", pb.GetOrderRequest(order_id="o-1")),
    ("CancelOrder", pb.CancelOrderRequest(order_id="o-1", reason="缺货")),
    ("AddRemark", pb.AddRemarkRequest(order_id="o-1", text="x")),
    ("ListRemarks", pb.ListRemarksRequest(order_id="o-1")),
    ("GetRefundTerms", pb.RefundTermsRequest(order_id="o-1")),
]


@pytest.mark.parametrize("stub, rpc, request_", SHOPPERS_OWN, ids=[r for _, r, _ in SHOPPERS_OWN])
def test_shopper_rpcs_need_a_signed_in_caller(grpc_stub_for, stub, rpc, request_):
    call = getattr(grpc_stub_for("order", getattr(order_pb2_grpc, stub)), rpc)
    assert code_of(call, request_) == Code.UNAUTHENTICATED


@pytest.mark.parametrize("rpc, request_", DESK, ids=[r for r, _ in DESK])
def test_the_order_desk_refuses_a_shopper(grpc_stub_for, rpc, request_):
    desk = grpc_stub_for("order", order_pb2_grpc.OrderDeskServiceStub)
    assert code_of(getattr(desk, rpc), request_, metadata=as_user("m-1")) == Code.PERMISSION_DENIED
    assert code_of(getattr(desk, rpc), request_, metadata=as_user("w-1", "warehouse")) == \
        Code.PERMISSION_DENIED


def test_exports_and_imports_refuse_a_shopper(grpc_stub_for, importer):
    desk = grpc_stub_for("order", order_pb2_grpc.OrderDeskServiceStub)
    assert code_of(lambda: list(desk.ExportOrders(pb.ExportOrdersRequest(format="csv"),
                                                  metadata=as_user("m-1")))) == \
        Code.PERMISSION_DENIED
    stub = importer("127.0.0.1:1")
    shopper = as_user("m-1")
    assert code_of(stub.GetImportJob, imports.GetImportJobRequest(job_id="j"),
                   metadata=shopper) == Code.PERMISSION_DENIED
    assert code_of(stub.ListImportProfiles, imports.ListImportProfilesRequest(),
                   metadata=shopper) == Code.PERMISSION_DENIED
    assert code_of(lambda: list(stub.GetImportReport(imports.GetImportReportRequest(job_id="j"),
                                                     metadata=shopper))) == Code.PERMISSION_DENIED


def test_refund_terms_name_the_order_and_its_lines(shop):
    """GetRefundTerms (payment asks it before a staff refund by lines; gifts with purchase in
    tests/contract/test_order_gifts.py): an unknown order, bad lines, an unpaid order."""
    staff = as_user("staff-1", "operator")
    assert code_of(shop.desk.GetRefundTerms, pb.RefundTermsRequest(
        order_id="no-such-order", lines=[pb.RefundTermsLine(line_id="x", quantity=1)]),
        metadata=staff) == Code.NOT_FOUND
    order = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)),
                                   metadata=keyed(shop.me, "terms"))
    (line,) = order.lines
    err = refusal(shop.desk.GetRefundTerms, pb.RefundTermsRequest(
        order_id=order.order_id, lines=[pb.RefundTermsLine(line_id=line.line_id, quantity=5)]),
        metadata=staff)
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"lines[0].quantity"}
    err = refusal(shop.desk.GetRefundTerms, pb.RefundTermsRequest(
        order_id=order.order_id, lines=[pb.RefundTermsLine(line_id=line.line_id, quantity=1)]),
        metadata=staff)
    assert err.code() == Code.FAILED_PRECONDITION  # never paid: nothing to refund
