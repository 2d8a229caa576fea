"""What support promises the gateway: the shopper's notification inbox (NotificationService) and
reviews (ReviewService, ReviewAdminService) through its real gRPC server. Support has no RPC
that writes a notice: the inbox is filled the way it is in production, by the order and coupon
events its worker consumes; so are the delivered lines a shopper may review."""
from __future__ import annotations

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import promotion_events_pb2 as promotion_events
from mall.support.v1 import support_pb2 as pb
from mall.support.v1 import support_pb2_grpc as pb_grpc

from tests.contract.support_b import deliver, refused, running_worker, violations

ALICE = (("x-mall-user-id", "alice"),)
BOB = (("x-mall-user-id", "bob"),)


@pytest.fixture(scope="module")
def worker():
    with running_worker("support") as running:
        yield running


@pytest.fixture
def stub(runtime_for, worker, grpc_stub_for):
    """Alice has five notices (oldest first: order created, paid, shipped, a coupon about to
    expire, another order cancelled); Bob one."""
    support = runtime_for("support")
    for source, event_type, message in (
            ("member", "member.consent_changed", member_events.ConsentChanged(  # for the reminder
                member_id="alice", purpose="marketing", granted=True, version=1)),
            ("order", "order.created", order_events.OrderCreated(
                order_id="o-1", order_no="N-1", member_id="alice", payable_fen=19900,
                pay_deadline="2026-11-24T12:30:00Z")),
            ("order", "order.paid", order_events.OrderPaid(
                order_id="o-1", order_no="N-1", member_id="alice", paid_fen=19900)),
            ("order", "order.status_changed", order_events.OrderStatusChanged(
                order_id="o-1", order_no="N-1", member_id="alice", from_status="paid",
                to_status="shipped", summary="您的订单")),
            ("promotion", "coupon.expiring", promotion_events.CouponExpiring(
                coupon_id="c-1", member_id="alice", name="满200减30", amount_fen=3000,
                valid_until="2026-11-27T16:00:00Z")),
            ("order", "order.cancelled", order_events.OrderCancelled(
                order_id="o-2", order_no="N-2", member_id="alice", reason="timeout")),
            ("order", "order.paid", order_events.OrderPaid(
                order_id="o-9", order_no="N-9", member_id="bob", paid_fen=100))):
        deliver(support, source, event_type, message)
    return grpc_stub_for("support", pb_grpc.NotificationServiceStub)


def list_all(stub, metadata, size=2, unread_only=False):
    seen, token, unread = [], "", None
    while True:
        reply = stub.ListNotifications(pb.ListNotificationsRequest(
            page=common_pb2.PageRequest(page_size=size, page_token=token),
            unread_only=unread_only), metadata=metadata)
        seen += list(reply.notifications)
        unread = reply.unread_count
        token = reply.page.next_page_token
        if not token:
            return seen, unread


def test_list_notifications_pages_the_callers_inbox_newest_first(stub):
    alice, unread = list_all(stub, ALICE)
    assert [(n.kind, n.kind_code, n.order_id, n.coupon_id) for n in alice] == [
        (pb.ORDER_CANCELLED, "order_cancelled", "o-2", ""),
        (pb.COUPON_EXPIRING, "coupon_expiring", "", "c-1"),
        (pb.ORDER_SHIPPED, "order_shipped", "o-1", ""),
        (pb.ORDER_PAID, "order_paid", "o-1", ""),
        (pb.ORDER_CREATED, "order_created", "o-1", "")]
    assert unread == 5 and not any(n.read for n in alice)
    assert all(n.id and n.title and n.body and n.created_at.seconds for n in alice)
    assert "N-2" in alice[0].body and "199" in alice[3].body  # the order number, yuan from fen
    bob, bobs_unread = list_all(stub, BOB)
    assert [n.order_id for n in bob] == ["o-9"] and bobs_unread == 1


def test_a_page_token_is_bound_to_its_member_and_nobody_is_anonymous(stub):
    first = stub.ListNotifications(pb.ListNotificationsRequest(
        page=common_pb2.PageRequest(page_size=1)), metadata=ALICE)
    err = refused(stub.ListNotifications, pb.ListNotificationsRequest(
        page=common_pb2.PageRequest(page_token=first.page.next_page_token)), metadata=BOB)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in violations(err)} == {"page.page_token"}
    for call, request in ((stub.ListNotifications, pb.ListNotificationsRequest()),
                          (stub.MarkNotificationsRead, pb.MarkNotificationsReadRequest(all=True))):
        assert refused(call, request).code() == grpc.StatusCode.UNAUTHENTICATED


def test_mark_notifications_read_by_id_or_all_and_only_ones_own(stub):
    alice, _ = list_all(stub, ALICE)
    reply = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(
        ids=[alice[0].id, alice[1].id]), metadata=ALICE)
    assert (reply.marked_count, reply.unread_count) == (2, 3)
    again = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(ids=[alice[0].id]), metadata=ALICE)
    assert (again.marked_count, again.unread_count) == (0, 3)  # already read: nothing changes
    unread, count = list_all(stub, ALICE, unread_only=True)
    assert [n.id for n in unread] == [n.id for n in alice[2:]] and count == 3

    [bobs] = list_all(stub, BOB)[0]
    err = refused(stub.MarkNotificationsRead, pb.MarkNotificationsReadRequest(
        ids=[alice[2].id, bobs.id]), metadata=ALICE)
    assert err.code() == grpc.StatusCode.NOT_FOUND  # as if it did not exist; nothing marked
    assert list_all(stub, ALICE)[1] == 3 and list_all(stub, BOB)[1] == 1

    everything = stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(all=True), metadata=ALICE)
    assert (everything.marked_count, everything.unread_count) == (3, 0)


@pytest.mark.parametrize("request_fields,expected", [
    ({}, {("ids", "exactly_one")}),
    ({"ids": ["1"], "all": True}, {("ids", "exactly_one")}),
    ({"ids": ["x1"]}, {("ids[0]", "format")}),
    ({"ids": [str(i) for i in range(1, 102)]}, {("ids", "max_items")}),
])
def test_mark_notifications_read_names_bad_input(stub, request_fields, expected):
    err = refused(stub.MarkNotificationsRead, pb.MarkNotificationsReadRequest(**request_fields),
                  metadata=ALICE)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and violations(err) == expected


def test_export_member_data_gives_a_shopper_her_own_notices_only(stub):
    request = common_pb2.ExportMemberDataRequest(member_id="alice")
    exported = stub.ExportMemberData(request, metadata=ALICE)
    assert [n.kind_code for n in exported.notifications] == [
        "order_created", "order_paid", "order_shipped", "coupon_expiring", "order_cancelled"]
    assert stub.ExportMemberData(request, metadata=(("x-mall-user-id", "s-1"),
                                                    ("x-mall-roles", "admin"))) == exported
    assert refused(stub.ExportMemberData, request, metadata=BOB).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    assert refused(stub.ExportMemberData, request).code() == grpc.StatusCode.UNAUTHENTICATED


# ------------------------------------------------------------------ reviews (ReviewService, ReviewAdminService)

def jpeg(width=80, height=60) -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (width, height), (230, 190, 200)).save(out, "JPEG")
    return out.getvalue()


def upload(header, photos=(), chunk=64 * 1024):
    """The CreateReview / AddFollowUp stream: the header, then each photo in chunks."""
    yield pb.ReviewUploadRequest(**header)
    for index, data in enumerate(photos):
        for at in range(0, len(data), chunk):
            yield pb.ReviewUploadRequest(photo=pb.PhotoChunk(index=index, data=data[at:at + chunk]))


CAROL = (("x-mall-user-id", "carol"),)
DAN = (("x-mall-user-id", "dan"),)
CS = (("x-mall-user-id", "s-cs"), ("x-mall-roles", "cs_agent"))
OPERATOR = (("x-mall-user-id", "s-op"), ("x-mall-roles", "operator"))


@pytest.fixture
def review_stubs(runtime_for, worker, grpc_stub_for):
    """Carol bought two lines of p-r (75B and 80B) in order o-r; one parcel delivered both."""
    from mall.events.v1 import logistics_events_pb2 as logistics_events
    support = runtime_for("support")
    deliver(support, "order", "order.paid", order_events.OrderPaid(
        order_id="o-r", order_no="N-R", member_id="carol", paid_fen=39800, lines=[
            order_events.OrderEventLine(line_id=f"l-{size}", product_id="p-r", sku_id=f"k-{size}",
                                        size=size, sku_label=f"{size} 黑色", title="云朵文胸",
                                        quantity=1) for size in ("75B", "80B")]))
    deliver(support, "logistics", "shipment.delivered", logistics_events.ShipmentChanged(
        shipment_id="s-r", order_id="o-r", member_id="carol",
        state=logistics_events.SHIPMENT_DELIVERED, occurred_at="2026-12-01T08:00:00Z",
        items=[logistics_events.ShipmentItem(sku_id=f"k-{size}", quantity=1)
               for size in ("75B", "80B")]))
    return (grpc_stub_for("support", pb_grpc.ReviewServiceStub),
            grpc_stub_for("support", pb_grpc.ReviewAdminServiceStub))


def review_of(line="l-75B", **fields):
    return {"review": pb.ReviewDraft(order_id="o-r", line_id=line, **fields)}


def test_create_review_list_it_and_what_is_left_to_review(review_stubs):
    shopper, _ = review_stubs
    left = shopper.ListReviewable(pb.ListReviewableRequest(), metadata=CAROL)
    assert [line.line_id for line in left.lines] == ["l-80B", "l-75B"]
    assert all(line.delivered_at.seconds and line.order_no == "N-R" for line in left.lines)
    review = shopper.CreateReview(upload(review_of(
        stars=4, text="很舒服，偏小一点", fit=pb.RUNS_SMALL, usual_size="75B", anonymous=True,
        nickname="小美"), [jpeg(), jpeg(2000, 1500)]), metadata=CAROL)
    assert (review.stars, review.size, review.fit, review.display_name, review.member_id) == (
        4, "75B", pb.RUNS_SMALL, "小***", "carol")
    assert [p.width for p in review.photos] == [80, 2000]
    assert all(p.url.startswith("/media/reviews/") and p.thumbnail_url for p in review.photos)
    assert [line.line_id for line in shopper.ListReviewable(
        pb.ListReviewableRequest(), metadata=CAROL).lines] == ["l-80B"]
    listed = shopper.ListProductReviews(pb.ListProductReviewsRequest(product_id="p-r"))
    [public] = listed.reviews
    assert (public.id, public.member_id, public.order_id, public.display_name) == (
        review.id, "", "", "小***")
    assert (listed.summary.review_count, listed.summary.average_rating, listed.summary.runs_small,
            list(listed.summary.star_counts), listed.summary.with_photos) == (
        1, 4.0, 1, [0, 0, 0, 1, 0], 1)
    assert [(s.size, s.review_count) for s in listed.summary.sizes] == [("75B", 1)]
    mine = shopper.ListMyReviews(pb.ListMyReviewsRequest(), metadata=CAROL)
    assert [r.id for r in mine.reviews] == [review.id]
    assert not shopper.ListMyReviews(pb.ListMyReviewsRequest(), metadata=DAN).reviews


def test_create_review_refuses_bad_input_naming_field_and_rule(review_stubs):
    shopper, _ = review_stubs
    err = refused(shopper.CreateReview, upload(review_of(stars=0, text="x" * 1001)),
                  metadata=CAROL)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {("stars", "range"), ("text", "max_length")}
    err = refused(shopper.CreateReview, upload(review_of(stars=5), [b"GIF89a-nope"]),
                  metadata=CAROL)
    assert violations(err) == {("photos[0]", "image")}
    err = refused(shopper.CreateReview, upload(review_of(stars=5), [jpeg()] * 10), metadata=CAROL)
    assert violations(err) == {("photos", "max_items")}
    big = jpeg() + b"\0" * (10 * 1024 * 1024)
    err = refused(shopper.CreateReview, upload(review_of(stars=5), [big], chunk=1024 * 1024),
                  metadata=CAROL)
    assert violations(err) == {("photos[0]", "max_size")}
    err = refused(shopper.CreateReview, upload(review_of(stars=5)), metadata=DAN)  # not hers
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violations(err) == {("line_id", "delivered")}
    err = refused(shopper.CreateReview, iter([pb.ReviewUploadRequest(
        photo=pb.PhotoChunk(index=0, data=b"x"))]), metadata=CAROL)
    assert violations(err) == {("review", "first")}
    assert refused(shopper.CreateReview, upload(review_of(stars=5))).code() == \
        grpc.StatusCode.UNAUTHENTICATED
    shopper.CreateReview(upload(review_of(stars=5)), metadata=CAROL)
    err = refused(shopper.CreateReview, upload(review_of(stars=3)), metadata=CAROL)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and violations(err) == {("line_id", "once")}
    assert len(shopper.ListMyReviews(pb.ListMyReviewsRequest(), metadata=CAROL).reviews) == 1


def test_add_follow_up_once(review_stubs):
    shopper, _ = review_stubs
    review = shopper.CreateReview(upload(review_of(stars=5)), metadata=CAROL)
    follow = {"follow_up": pb.FollowUpDraft(review_id=review.id, text="洗了几次也不变形")}
    assert refused(shopper.AddFollowUp, upload(follow), metadata=DAN).code() == \
        grpc.StatusCode.NOT_FOUND
    later = shopper.AddFollowUp(upload(follow, [jpeg()]), metadata=CAROL)
    assert later.follow_up.text == "洗了几次也不变形" and len(later.follow_up.photos) == 1
    assert not later.photos
    err = refused(shopper.AddFollowUp, upload(follow), metadata=CAROL)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and violations(err) == {("review_id", "once")}


def test_list_product_reviews_filters_and_pages(review_stubs):
    shopper, _ = review_stubs
    five = shopper.CreateReview(upload(review_of(stars=5), [jpeg()]), metadata=CAROL)
    two = shopper.CreateReview(upload(review_of("l-80B", stars=2, fit=pb.RUNS_LARGE)),
                               metadata=CAROL)

    def ids(**filters):
        return [r.id for r in shopper.ListProductReviews(
            pb.ListProductReviewsRequest(product_id="p-r", **filters)).reviews]
    assert ids() == [two.id, five.id]
    assert ids(with_photos=True) == [five.id]
    assert ids(stars=[1, 2]) == [two.id]
    assert ids(size="75B") == [five.id]
    first = shopper.ListProductReviews(pb.ListProductReviewsRequest(
        product_id="p-r", page=common_pb2.PageRequest(page_size=1)))
    assert [r.id for r in first.reviews] == [two.id] and first.page.next_page_token
    rest = shopper.ListProductReviews(pb.ListProductReviewsRequest(
        product_id="p-r", page=common_pb2.PageRequest(page_size=1,
                                                      page_token=first.page.next_page_token)))
    assert [r.id for r in rest.reviews] == [five.id] and not rest.page.next_page_token
    err = refused(shopper.ListProductReviews, pb.ListProductReviewsRequest(
        product_id="p-r", stars=[2], page=common_pb2.PageRequest(
            page_token=first.page.next_page_token)))
    assert {f for f, _ in violations(err)} == {"page.page_token"}  # bound to its filters
    err = refused(shopper.ListProductReviews, pb.ListProductReviewsRequest(product_id="p-r",
                                                                           stars=[6]))
    assert violations(err) == {("stars[0]", "range")}


def test_staff_reply_hide_and_close_the_bad_reviews_task(review_stubs):
    shopper, admin = review_stubs
    bad = shopper.CreateReview(upload(review_of(stars=1, text="加微信买更便宜")), metadata=CAROL)
    for call, request in ((admin.ListReviews, pb.ListReviewsRequest()),
                          (admin.ReplyToReview, pb.ReplyToReviewRequest(review_id=bad.id, text="x")),
                          (admin.HideReview, pb.HideReviewRequest(review_id=bad.id, reason="x")),
                          (admin.ListReviewTasks, pb.ListReviewTasksRequest())):
        assert refused(call, request).code() == grpc.StatusCode.UNAUTHENTICATED
        assert refused(call, request, metadata=CAROL).code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused(admin.ListReviewTasks, pb.ListReviewTasksRequest(),
                   metadata=OPERATOR).code() == grpc.StatusCode.PERMISSION_DENIED

    replied = admin.ReplyToReview(pb.ReplyToReviewRequest(review_id=bad.id, text="抱歉"),
                                  metadata=OPERATOR)
    edited = admin.ReplyToReview(pb.ReplyToReviewRequest(review_id=bad.id, text="抱歉，已联系您"),
                                 metadata=CS)
    assert edited.reply.text == "抱歉，已联系您"
    assert edited.reply.created_at == replied.reply.created_at
    err = refused(admin.HideReview, pb.HideReviewRequest(review_id=bad.id), metadata=CS)
    assert violations(err) == {("reason", "required")}
    hidden = admin.HideReview(pb.HideReviewRequest(review_id=bad.id, reason="含联系方式"),
                              metadata=CS)
    assert (hidden.hidden, hidden.hidden_reason, hidden.text) == (True, "含联系方式", "加微信买更便宜")
    assert not shopper.ListProductReviews(pb.ListProductReviewsRequest(product_id="p-r")).reviews
    assert [r.id for r in admin.ListReviews(pb.ListReviewsRequest(hidden_only=True),
                                            metadata=CS).reviews] == [bad.id]
    [mine] = shopper.ListMyReviews(pb.ListMyReviewsRequest(), metadata=CAROL).reviews
    assert mine.hidden and mine.hidden_reason == "含联系方式"

    [task] = admin.ListReviewTasks(pb.ListReviewTasksRequest(), metadata=CS).tasks
    assert (task.review_id, task.stars, task.status, task.review.text) == (
        bad.id, 1, "open", "加微信买更便宜")
    done = admin.CompleteReviewTask(pb.CompleteReviewTaskRequest(task_id=task.id, note="已退款"),
                                    metadata=CS)
    assert (done.status, done.done_by, done.note) == ("done", "s-cs", "已退款")
    assert not admin.ListReviewTasks(pb.ListReviewTasksRequest(), metadata=CS).tasks
    assert [t.id for t in admin.ListReviewTasks(pb.ListReviewTasksRequest(status="done"),
                                                metadata=CS).tasks] == [task.id]


def test_export_member_data_holds_her_reviews(review_stubs, stub):
    shopper, _ = review_stubs
    review = shopper.CreateReview(upload(review_of(stars=5, text="好")), metadata=CAROL)
    exported = stub.ExportMemberData(common_pb2.ExportMemberDataRequest(member_id="carol"),
                                     metadata=CAROL)
    assert [(r.id, r.text, r.order_id) for r in exported.reviews] == [(review.id, "好", "o-r")]


# ------------------------------------------------------------------ after-sales (售后)

DORA = (("x-mall-user-id", "dora"),)
ADMIN = (("x-mall-user-id", "s-admin"), ("x-mall-roles", "admin"))


def aftersale_upload(header: dict, photos=(), chunk=64 * 1024):
    yield pb.AfterSaleUploadRequest(**header)
    for index, data in enumerate(photos):
        for start in range(0, len(data), chunk):
            yield pb.AfterSaleUploadRequest(photo=pb.PhotoChunk(index=index,
                                                                data=data[start:start + chunk]))


@pytest.fixture
def aftersale_stubs(runtime_for, worker, grpc_stub_for, grpc_target_for, monkeypatch):
    """Dora bought 2 of a bra (two SKUs in a real catalog) and a tee in o-as, delivered yesterday;
    the merchant says the bra's category touches the skin."""
    from datetime import datetime, timedelta, timezone

    from mall.catalog.v1 import catalog_pb2 as cpb
    from mall.catalog.v1 import catalog_pb2_grpc
    from mall.events.v1 import logistics_events_pb2 as logistics_events
    monkeypatch.setenv("MALL_SUPPORT_CHECK_CATALOG", "1")
    monkeypatch.setenv("MALL_CATALOG_GRPC_TARGET", grpc_target_for("catalog"))
    admin = grpc_stub_for("catalog", catalog_pb2_grpc.CatalogAdminServiceStub)
    style = admin.CreateCategory(cpb.CreateCategoryRequest(category=cpb.CategoryInput(
        kind=cpb.STYLE, name="文胸")), metadata=OPERATOR).id
    bra = admin.CreateProduct(cpb.CreateProductRequest(
        product=cpb.ProductInput(title="云朵文胸", category_id=style, size_system=cpb.LETTER),
        skus=[cpb.SkuInput(code=f"AS-{size}", size=size, colour="黑色", price_fen=9900)
              for size in ("M", "L")]), metadata=OPERATOR)
    m, big = bra.skus[0].id, bra.skus[1].id
    support = runtime_for("support")
    deliver(support, "order", "order.paid", order_events.OrderPaid(
        order_id="o-as", order_no="N-AS", member_id="dora", paid_fen=29700,
        exclusive_service=True, lines=[
            order_events.OrderEventLine(line_id="l-bra", product_id=bra.id, sku_id=m, size="M",
                                        quantity=2, paid_fen=19800, category_ids=[style]),
            order_events.OrderEventLine(line_id="l-tee", product_id="p-tee", sku_id="k-tee",
                                        size="M", quantity=1, paid_fen=9900)]))
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    deliver(support, "logistics", "shipment.delivered", logistics_events.ShipmentChanged(
        shipment_id="s-as", order_id="o-as", member_id="dora", occurred_at=yesterday,
        state=logistics_events.SHIPMENT_DELIVERED,
        items=[logistics_events.ShipmentItem(sku_id=s, quantity=1) for s in (m, "k-tee")]))
    shopper = grpc_stub_for("support", pb_grpc.AfterSaleServiceStub)
    desk = grpc_stub_for("support", pb_grpc.AfterSaleAdminServiceStub)
    settings = desk.GetAfterSaleSettings(pb.GetAfterSaleSettingsRequest(), metadata=CS)
    settings.intimate_category_ids[:] = [style]
    desk.UpdateAfterSaleSettings(settings, metadata=ADMIN)
    return shopper, desk, {"m": m, "l": big, "product": bra.id}


def test_aftersale_options_reasons_and_the_settings(aftersale_stubs):
    shopper, desk, skus = aftersale_stubs
    reasons = shopper.ListAfterSaleReasons(pb.ListAfterSaleReasonsRequest(), metadata=DORA)
    assert {r.code: r.label for r in reasons.reasons}["no_reason_7_days"] == "七天无理由退换"
    options = shopper.GetAfterSaleOptions(pb.GetAfterSaleOptionsRequest(order_id="o-as"),
                                          metadata=DORA)
    bra = {k.kind: k for k in options.lines[0].kinds}
    assert options.lines[0].intimate and bra["return_refund"].allowed
    assert bra["return_refund"].seal_required and bra["return_refund"].window_ends_at.seconds
    assert (bra["refund_only"].allowed, bra["refund_only"].why_not) == (False, "delivered")
    assert bra["repair"].why_not == "repair_not_offered"
    assert refused(shopper.GetAfterSaleOptions, pb.GetAfterSaleOptionsRequest(order_id="o-as"),
                   metadata=CAROL).code() == grpc.StatusCode.NOT_FOUND
    settings = desk.GetAfterSaleSettings(pb.GetAfterSaleSettingsRequest(), metadata=CS)
    assert (settings.no_reason_days, settings.quality_days, settings.version) == (7, 15, 1)
    settings.no_reason_days = 0
    err = refused(desk.UpdateAfterSaleSettings, settings, metadata=ADMIN)
    assert violations(err) == {("no_reason_days", "range")}
    assert refused(desk.UpdateAfterSaleSettings, settings, metadata=CS).code() == \
        grpc.StatusCode.PERMISSION_DENIED


def test_apply_refuses_bad_input_naming_field_and_rule(aftersale_stubs):
    shopper, _, skus = aftersale_stubs
    err = refused(shopper.ApplyAfterSale, aftersale_upload({"application": pb.AfterSaleDraft(
        order_id="o-as", kind="exchange", reason_code="wrong_size", seal_intact=True,
        lines=[pb.AfterSaleLineDraft(line_id="l-bra", quantity=1, exchange_sku_id="k-tee")])}),
        metadata=DORA)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violations(err) == {("lines[0].exchange_sku_id", "same_product")}
    err = refused(shopper.ApplyAfterSale, aftersale_upload({"application": pb.AfterSaleDraft(
        order_id="o-as", kind="return_refund", reason_code="wrong_size",
        lines=[pb.AfterSaleLineDraft(line_id="l-bra", quantity=3)])}), metadata=DORA)
    assert violations(err) == {("lines[0].quantity", "available"), ("lines[0]", "seal")}
    err = refused(shopper.ApplyAfterSale, aftersale_upload({"application": pb.AfterSaleDraft(
        order_id="o-as", kind="mend", reason_code="quality")}, [b"nope"]), metadata=DORA)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {("kind", "known"), ("lines", "required"), ("photos[0]", "image")}
    assert refused(shopper.ApplyAfterSale, aftersale_upload({"application": pb.AfterSaleDraft(
        order_id="o-as", kind="return_refund", reason_code="quality",
        lines=[pb.AfterSaleLineDraft(line_id="l-tee", quantity=1)])}),
        metadata=CAROL).code() == grpc.StatusCode.NOT_FOUND


def test_apply_ask_photos_add_them_approve_refuse_and_withdraw(aftersale_stubs):
    shopper, desk, skus = aftersale_stubs
    exchange = shopper.ApplyAfterSale(aftersale_upload({"application": pb.AfterSaleDraft(
        order_id="o-as", kind="exchange", reason_code="wrong_size", seal_intact=True,
        text="偏小", lines=[pb.AfterSaleLineDraft(line_id="l-bra", quantity=1,
                                                 exchange_sku_id=skus["l"])])}, [jpeg()]),
        metadata=DORA)
    assert (exchange.state, exchange.priority, exchange.order_no) == ("applied", True, "N-AS")
    assert exchange.photos[0].url.startswith("/media/aftersales/")
    assert exchange.lines[0].paid_fen == 9900 and exchange.deadline.seconds
    asked = desk.AskForAfterSalePhotos(pb.DecideAfterSaleRequest(
        request_id=exchange.id, note="请拍吊牌"), metadata=CS)
    assert (asked.state, asked.note) == ("awaiting_photos", "请拍吊牌")
    more = shopper.AddAfterSalePhotos(aftersale_upload({"more_photos": pb.AfterSalePhotosDraft(
        request_id=exchange.id, note="吊牌在")}, [jpeg()]), metadata=DORA)
    assert (more.state, len(more.photos)) == ("applied", 2)
    approved = desk.ApproveAfterSale(pb.DecideAfterSaleRequest(request_id=exchange.id),
                                     metadata=CS)
    assert approved.state == "awaiting_return"
    assert [h.state for h in approved.history] == ["applied", "awaiting_photos", "applied",
                                                   "approved", "awaiting_return"]
    tee = shopper.ApplyAfterSale(aftersale_upload({"application": pb.AfterSaleDraft(
        order_id="o-as", kind="return_refund", reason_code="quality",
        lines=[pb.AfterSaleLineDraft(line_id="l-tee", quantity=1)])}), metadata=DORA)
    err = refused(desk.RefuseAfterSale, pb.DecideAfterSaleRequest(request_id=tee.id),
                  metadata=CS)
    assert violations(err) == {("note", "required")}
    assert desk.RefuseAfterSale(pb.DecideAfterSaleRequest(request_id=tee.id, note="已超过"),
                                metadata=CS).outcome == "refused"
    withdrawn = shopper.WithdrawAfterSale(pb.AfterSaleIdRequest(request_id=exchange.id),
                                          metadata=DORA)
    assert (withdrawn.state, withdrawn.outcome) == ("closed", "withdrawn")
    assert refused(shopper.WithdrawAfterSale, pb.AfterSaleIdRequest(request_id=exchange.id),
                   metadata=DORA).code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused(desk.ApproveAfterSale, pb.DecideAfterSaleRequest(request_id=tee.id),
                   metadata=OPERATOR).code() == grpc.StatusCode.PERMISSION_DENIED


def test_list_get_and_refund_partially(aftersale_stubs, runtime_for, grpc_stub_for):
    from mall.events.v1 import logistics_events_pb2 as logistics_events
    shopper, desk, _ = aftersale_stubs
    made = shopper.ApplyAfterSale(aftersale_upload({"application": pb.AfterSaleDraft(
        order_id="o-as", kind="return_refund", reason_code="quality",
        lines=[pb.AfterSaleLineDraft(line_id="l-tee", quantity=1)])}), metadata=DORA)
    mine = shopper.ListMyAfterSales(pb.ListMyAfterSalesRequest(), metadata=DORA)
    assert made.id in [r.id for r in mine.requests]
    assert shopper.GetMyAfterSale(pb.AfterSaleIdRequest(request_id=made.id),
                                  metadata=DORA).reason_label == "质量问题"
    assert refused(shopper.GetMyAfterSale, pb.AfterSaleIdRequest(request_id=made.id),
                   metadata=CAROL).code() == grpc.StatusCode.NOT_FOUND
    listed = desk.ListAfterSales(pb.ListAfterSalesRequest(state="applied", reason_code="quality",
                                                          product_id="p-tee"), metadata=CS)
    assert made.id in [r.id for r in listed.requests]
    err = refused(desk.ListAfterSales, pb.ListAfterSalesRequest(state="lost"), metadata=CS)
    assert violations(err) == {("state", "known")}
    desk.ApproveAfterSale(pb.DecideAfterSaleRequest(request_id=made.id), metadata=CS)
    deliver(runtime_for("support"), "logistics", "return.inspected",
            logistics_events.ReturnInspected(request_id=made.id, accepted=False, note="污渍"))
    assert desk.GetAfterSale(pb.AfterSaleIdRequest(request_id=made.id),
                             metadata=CS).state == "inspection_failed"
    err = refused(desk.RefundAfterSalePartially, pb.PartialRefundRequest(
        request_id=made.id, reason="部分", lines=[pb.PartialRefundLine(line_id="l-tee",
                                                                      refund_fen=9901)]),
        metadata=CS)
    assert violations(err) == {("lines[0].refund_fen", "range")}
    part = desk.RefundAfterSalePartially(pb.PartialRefundRequest(
        request_id=made.id, reason="污渍,退一半", lines=[pb.PartialRefundLine(
            line_id="l-tee", refund_fen=4950)]), metadata=CS)
    assert (part.state, part.refund_fen) == ("refunding", 4950)
    notices = grpc_stub_for("support", pb_grpc.NotificationServiceStub)
    from mall.common.v1 import common_pb2 as common
    exported = notices.ExportMemberData(common.ExportMemberDataRequest(member_id="dora"),
                                        metadata=DORA)
    assert [(a.id, a.state) for a in exported.aftersales] == [(made.id, "refunding")]
    assert "aftersale_inspection_failed" in [n.kind_code for n in exported.notifications]
