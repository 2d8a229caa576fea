"""Reviews on PostgreSQL: who may review what (order.paid lines, deliveries in either order),
once per line, bad input refused whole (no row, no file), follow-up once, replies, hiding with
the reason kept, tasks for bad reviews, summaries per product and size announced with versions,
and a member's erasure."""
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mall.events.v1 import logistics_events_pb2 as logistics_events
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from PIL import Image
from sqlalchemy import func, select

from servicekit import images
from servicekit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from servicekit.media_storage import LocalDiskStorage, default_storage
from servicekit.testing import deliver_in_process, outbox_events
from services.support import eligibility, reviews, summary
from services.support.models import FITS, OrderLine, Review, ReviewPhoto, ReviewSummary, ReviewTask
from services.support.summary import Rated


def jpeg(width=64, height=48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 130)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def storage(tmp_path):
    return LocalDiskStorage(tmp_path / "media")


def files(storage):
    return sorted(p for p in storage.root.rglob("*") if p.is_file())


def paid(order_id="o-1", member_id="m-1", lines=(("l-1", "p-1", "k-75b", "75B"),)):
    return order_events.OrderPaid(order_id=order_id, order_no=f"N{order_id}", member_id=member_id,
                                  lines=[order_events.OrderEventLine(
                                      line_id=line_id, product_id=product_id, sku_id=sku_id,
                                      size=size, sku_label=f"{size} 黑色", title="无钢圈文胸",
                                      quantity=1) for line_id, product_id, sku_id, size in lines])


def delivered(order_id="o-1", skus=("k-75b",)):
    return logistics_events.ShipmentChanged(
        shipment_id=f"s-{order_id}", order_id=order_id, member_id="m-1",
        state=logistics_events.SHIPMENT_DELIVERED, occurred_at="2026-12-01T08:00:00Z",
        items=[logistics_events.ShipmentItem(sku_id=sku, quantity=1) for sku in skus])


def bought_and_delivered(runtime, order_id="o-1", member_id="m-1", lines=None):
    lines = lines or (("l-1", "p-1", "k-75b", "75B"),)
    with runtime.transaction() as session:
        eligibility.on_order_paid(session, paid(order_id, member_id, lines))
        eligibility.on_shipment_delivered(session, delivered(order_id, [line[2] for line in lines]))


def draft(**fields):
    values = dict(order_id="o-1", line_id="l-1", stars=5, text="很舒服", fit="true_to_size",
                  usual_size="75B", nickname="小美")
    values.update(fields)
    return reviews.Draft(**values)


def count(runtime, model):
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


# ------------------------------------------------------------------ the summary, as a table

@pytest.mark.parametrize("rows, expected", [
    ([], {"review_count": 0, "average_rating": 0.0, "runs_small": 0, "true_to_size": 0,
          "runs_large": 0, "star_counts": [0, 0, 0, 0, 0], "with_photos": 0, "sizes": []}),
    ([Rated(5, "true_to_size", "75B", True), Rated(4, "runs_small", "75B"),
      Rated(1, "", "70A")],
     {"review_count": 3, "average_rating": 3.33, "runs_small": 1, "true_to_size": 1,
      "runs_large": 0, "star_counts": [1, 0, 0, 1, 1], "with_photos": 1,
      "sizes": [{"size": "70A", "review_count": 1, "average_rating": 1.0, "runs_small": 0,
                 "true_to_size": 0, "runs_large": 0},
                {"size": "75B", "review_count": 2, "average_rating": 4.5, "runs_small": 1,
                 "true_to_size": 1, "runs_large": 0}]}),
])
def test_summarise(rows, expected):
    assert summary.summarise(rows) == expected


def test_sizes_are_in_the_order_shoppers_read_them():
    assert sorted(["XL", "S", "M", "80A", "75C", "75B", "F", "ONE"], key=summary.size_key) == [
        "S", "M", "XL", "F", "75B", "75C", "80A", "ONE"]


@pytest.mark.parametrize("anonymous, nickname, shown", [
    (False, "小美", "小美"), (True, "小美", "小***"), (True, "", "匿***"), (False, "", "买家")])
def test_anonymous_display_masks_the_nickname(anonymous, nickname, shown):
    assert reviews.display_name(Review(anonymous=anonymous, nickname=nickname)) == shown


# ------------------------------------------------------------------ who may review what

def test_a_delivered_line_is_reviewed_once_with_photos(runtime, storage):
    bought_and_delivered(runtime)
    review = reviews.create(runtime, storage, "m-1", draft(photos=[jpeg(), jpeg(2000, 1000)]))
    assert (review.stars, review.size, review.product_id, review.has_photos) == (5, "75B", "p-1", True)
    assert len(files(storage)) == 6  # original, HD and thumbnail of each
    with runtime.transaction() as session:
        photos = list(session.scalars(select(ReviewPhoto).order_by(ReviewPhoto.position)))
    assert [(p.position, p.width) for p in photos] == [(1, 64), (2, 2000)]
    with pytest.raises(AlreadyExists) as err:
        reviews.create(runtime, storage, "m-1", draft(stars=1))
    assert [(v.field, v.rule) for v in err.value.violations] == [("line_id", "once")]
    assert count(runtime, Review) == 1 and count(runtime, ReviewTask) == 0


def test_not_delivered_someone_elses_or_unknown_lines_are_refused(runtime, storage):
    with runtime.transaction() as session:
        eligibility.on_order_paid(session, paid())
    for member, fields in (("m-1", {}), ("m-2", {}), ("m-1", {"line_id": "l-9"})):
        with pytest.raises(FailedPrecondition) as err:
            reviews.create(runtime, storage, member, draft(**fields))
        assert [(v.field, v.rule) for v in err.value.violations] == [("line_id", "delivered")]
    bought_and_delivered(runtime)
    with pytest.raises(FailedPrecondition):  # delivered, but Alice's
        reviews.create(runtime, storage, "m-2", draft())
    assert count(runtime, Review) == 0 and files(storage) == []


def test_a_delivery_heard_before_the_payment_still_counts(runtime, storage):
    with runtime.transaction() as session:
        eligibility.on_shipment_delivered(session, delivered())
        eligibility.on_order_paid(session, paid())
        eligibility.on_order_paid(session, paid())  # a repeat adds nothing
    assert count(runtime, OrderLine) == 1
    assert reviews.create(runtime, storage, "m-1", draft()).id


def test_an_order_delivered_as_a_whole_makes_every_line_reviewable(runtime, storage):
    with runtime.transaction() as session:
        eligibility.on_order_paid(session, paid(lines=(("l-1", "p-1", "k-1", "M"),
                                                       ("l-2", "p-2", "k-2", "L"))))
        eligibility.on_order_status_changed(session, order_events.OrderStatusChanged(
            order_id="o-1", member_id="m-1", to_status="delivered"))
        assert [line.line_id for line in eligibility.reviewable(session, "m-1", 10, None)] == [
            "l-2", "l-1"]
    reviews.create(runtime, storage, "m-1", draft())
    with runtime.transaction() as session:
        assert [line.line_id for line in eligibility.reviewable(session, "m-1", 10, None)] == ["l-2"]


def test_gifts_with_purchase_are_not_reviewable(runtime):
    message = paid()
    message.lines.add(line_id="l-g", product_id="p-g", sku_id="k-g", gift=True)
    with runtime.transaction() as session:
        assert eligibility.on_order_paid(session, message) == 1


def test_a_line_without_size_takes_it_from_its_label():
    assert eligibility.line_size(order_events.OrderEventLine(sku_label="80C 肤色")) == "80C"


# ------------------------------------------------------------------ bad input, nothing changed

def test_every_bad_field_is_named_at_once_and_nothing_is_stored(runtime, storage):
    bought_and_delivered(runtime)
    with pytest.raises(InvalidArgument) as err:
        reviews.create(runtime, storage, "m-1", draft(
            stars=6, text="好" * 1001, fit="tight", usual_size="x" * 17,
            photos=[jpeg(), b"%PDF-1.4 not an image", b""]))
    assert sorted((v.field, v.rule) for v in err.value.violations) == [
        ("fit", "known"), ("photos[1]", "image"), ("photos[2]", "required"),
        ("stars", "range"), ("text", "max_length"), ("usual_size", "max_length")]
    assert count(runtime, Review) == 0 and files(storage) == []


@pytest.mark.parametrize("stars", [0, -1, 6])
def test_stars_outside_one_to_five(runtime, storage, stars):
    bought_and_delivered(runtime)
    with pytest.raises(InvalidArgument) as err:
        reviews.create(runtime, storage, "m-1", draft(stars=stars))
    assert [(v.field, v.rule) for v in err.value.violations] == [("stars", "range")]


def test_too_many_or_too_large_photos(runtime, storage):
    bought_and_delivered(runtime)
    with pytest.raises(InvalidArgument) as err:
        reviews.create(runtime, storage, "m-1", draft(photos=[jpeg()] * 10))
    assert [(v.field, v.rule) for v in err.value.violations] == [("photos", "max_items")]
    with pytest.raises(InvalidArgument) as err:
        reviews.create(runtime, storage, "m-1", draft(
            photos=[jpeg() + b"\0" * images.MAX_IMAGE_BYTES]))
    assert [(v.field, v.rule) for v in err.value.violations] == [("photos[0]", "max_size")]
    assert count(runtime, Review) == 0 and files(storage) == []


def test_a_failure_after_the_files_were_written_removes_them(runtime, storage, monkeypatch):
    bought_and_delivered(runtime)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(summary, "refresh", broken)
    with pytest.raises(RuntimeError):
        reviews.create(runtime, storage, "m-1", draft(photos=[jpeg()]))
    assert count(runtime, Review) == 0 and files(storage) == []


# ------------------------------------------------------------------ follow-up, reply, hide, tasks

def test_one_follow_up_only_by_her(runtime, storage):
    bought_and_delivered(runtime)
    review = reviews.create(runtime, storage, "m-1", draft())
    with pytest.raises(NotFound):
        reviews.add_follow_up(runtime, storage, "m-2", str(review.id), "洗过之后也不变形", [])
    with pytest.raises(InvalidArgument) as err:
        reviews.add_follow_up(runtime, storage, "m-1", str(review.id), " ", [b"nope"])
    assert sorted((v.field, v.rule) for v in err.value.violations) == [
        ("photos[0]", "image"), ("text", "required")]
    later = reviews.add_follow_up(runtime, storage, "m-1", str(review.id), "洗过之后也不变形",
                                  [jpeg()])
    assert later.follow_up_text == "洗过之后也不变形" and later.has_photos
    with pytest.raises(AlreadyExists) as err:
        reviews.add_follow_up(runtime, storage, "m-1", str(review.id), "再说一次", [])
    assert [(v.field, v.rule) for v in err.value.violations] == [("review_id", "once")]


def test_reply_is_one_and_editable(runtime, storage):
    bought_and_delivered(runtime)
    review = reviews.create(runtime, storage, "m-1", draft())
    first = reviews.reply(runtime, "s-1", str(review.id), "谢谢亲的支持")
    edited = reviews.reply(runtime, "s-2", str(review.id), "谢谢亲的支持！")
    assert (edited.reply_text, edited.reply_by, edited.reply_at) == (
        "谢谢亲的支持！", "s-2", first.reply_at)
    assert edited.reply_updated_at is not None
    with pytest.raises(InvalidArgument):
        reviews.reply(runtime, "s-1", str(review.id), "")
    with pytest.raises(NotFound):
        reviews.reply(runtime, "s-1", "999999", "x")


def test_a_bad_review_opens_a_task_and_hiding_keeps_its_text_and_reason(runtime, storage):
    bought_and_delivered(runtime, lines=(("l-1", "p-1", "k-1", "75B"), ("l-2", "p-1", "k-2", "80B")))
    good = reviews.create(runtime, storage, "m-1", draft(stars=5))
    bad = reviews.create(runtime, storage, "m-1", draft(line_id="l-2", stars=2, fit="runs_small",
                                                        text="广告 加微信"))
    with runtime.transaction() as session:
        [task] = reviews.tasks_page(session, "open", 10, None)
        assert (task.review_id, task.stars) == (bad.id, 2)
        assert summary.current(session, "p-1")["review_count"] == 2
    hidden = reviews.hide(runtime, "s-1", str(bad.id), "含广告信息")
    again = reviews.hide(runtime, "s-2", str(bad.id), "另一个原因")
    assert (again.hidden_reason, again.hidden_by, again.text) == ("含广告信息", "s-1", "广告 加微信")
    assert hidden.hidden_at == again.hidden_at
    with runtime.transaction() as session:
        current = summary.current(session, "p-1")
        assert (current["review_count"], current["average_rating"], current["runs_small"]) == (1, 5.0, 0)
        assert [r.id for r in reviews.page(session, 10, None, product_id="p-1")] == [good.id]
    done = reviews.complete_task(runtime, "s-3", str(task.id), "已联系顾客")
    assert (done.status, done.done_by, done.note) == ("done", "s-3", "已联系顾客")
    assert reviews.complete_task(runtime, "s-4", str(task.id), "").done_by == "s-3"


def test_each_change_of_the_summary_is_announced_with_the_next_version(runtime, storage):
    bought_and_delivered(runtime, lines=(("l-1", "p-1", "k-1", "75B"), ("l-2", "p-1", "k-2", "80B")))
    first = reviews.create(runtime, storage, "m-1", draft(stars=4, fit="runs_small"))
    reviews.add_follow_up(runtime, storage, "m-1", str(first.id), "还是偏小", [])  # no change
    reviews.create(runtime, storage, "m-1", draft(line_id="l-2", stars=2, fit="runs_large"))
    reviews.hide(runtime, "s-1", str(first.id), "重复内容")
    announced = [e["data"] for e in outbox_events(runtime, "review.summary_changed")]
    assert [(d["version"], d["reviewCount"], d["averageRating"]) for d in announced] == [
        ("1", 1, 4.0), ("2", 2, 3.0), ("3", 1, 2.0)]
    assert announced[1]["runsSmall"] == 1 and announced[1]["runsLarge"] == 1
    assert [s["size"] for s in announced[1]["sizes"]] == ["75B", "80B"]


# ------------------------------------------------------------------ erasure

def test_erasure_deletes_her_reviews_photos_and_lines_and_republishes(runtime):
    storage = default_storage("support")
    bought_and_delivered(runtime)
    bought_and_delivered(runtime, order_id="o-2", member_id="m-2", lines=(("l-9", "p-1", "k-1", "M"),))
    mine = reviews.create(runtime, storage, "m-1", draft(stars=1, photos=[jpeg()]))
    reviews.create(runtime, storage, "m-2", draft(order_id="o-2", line_id="l-9", stars=5))
    with runtime.transaction() as session:
        keys = [p.hd_key for p in session.scalars(select(ReviewPhoto))]
    assert storage.exists(keys[0])
    deliver_in_process("support", "member", "member.deleted",
                       member_events.MemberDeleted(member_id="m-1"))
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Review).where(
            Review.member_id == "m-1")) == 0
        assert session.get(Review, mine.id) is None
        assert session.scalar(select(func.count()).select_from(ReviewTask)) == 0
        assert session.scalar(select(func.count()).select_from(OrderLine).where(
            OrderLine.member_id == "m-1")) == 0
        assert session.get(ReviewSummary, "p-1").summary["review_count"] == 1
    assert not storage.exists(keys[0])
    with runtime.transaction() as session:  # a late order.paid about her is not kept
        assert eligibility.on_order_paid(session, paid(order_id="o-3")) == 0


# ------------------------------------------------------------------ the summary, as properties

RATED = st.builds(Rated, stars=st.integers(1, 5), fit=st.sampled_from(["", *FITS]),
                  size=st.sampled_from(["", "S", "M", "75B", "80C"]), has_photos=st.booleans())


@given(st.lists(RATED, max_size=40))
def test_a_summary_adds_up_whatever_the_reviews(rows):
    result = summary.summarise(rows)
    assert result["review_count"] == len(rows) == sum(result["star_counts"])
    assert (result["average_rating"] == 0.0) == (not rows)
    if rows:
        assert 1.0 <= result["average_rating"] <= 5.0
        assert abs(result["average_rating"] - sum(r.stars for r in rows) / len(rows)) <= 0.005
    assert result["runs_small"] + result["true_to_size"] + result["runs_large"] == sum(
        1 for r in rows if r.fit)
    assert sum(s["review_count"] for s in result["sizes"]) == sum(1 for r in rows if r.size)
    assert summary.summarise(list(reversed(rows))) == result  # the order reviews came in is moot


def test_a_page_of_product_reviews_costs_a_fixed_number_of_queries(runtime, storage,
                                                                    grpc_stub_for):
    """The reviews, their photos in one query, the summary: 3 SELECTs whatever the page holds."""
    from mall.common.v1 import common_pb2
    from mall.support.v1 import support_pb2 as pb
    from mall.support.v1 import support_pb2_grpc
    from sqlalchemy import event

    lines = tuple((f"l-{i}", "p-q", f"k-{i}", "M") for i in range(12))
    bought_and_delivered(runtime, lines=lines)
    for line_id, *_ in lines:
        reviews.create(runtime, storage, "m-1", draft(line_id=line_id, photos=[jpeg()]))
    stub = grpc_stub_for("support", support_pb2_grpc.ReviewServiceStub)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)
    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        for size in (2, 10):
            statements.clear()
            page = stub.ListProductReviews(pb.ListProductReviewsRequest(
                product_id="p-q", page=common_pb2.PageRequest(page_size=size)))
            assert len(page.reviews) == size and all(r.photos for r in page.reviews)
            assert len(statements) == 3, statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
