"""gRPC: reviews for shoppers (ReviewService) and staff (ReviewAdminService)."""
from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from mall.common.v1 import common_pb2
from mall.support.v1 import support_pb2 as pb
from mall.support.v1 import support_pb2_grpc
from sqlalchemy import select

from servicekit import context, images, paging, roles
from servicekit.errors import InvalidArgument
from servicekit.media_storage import MediaStorage
from servicekit.runtime import Runtime

from . import eligibility, photos, reviews, summary
from .models import OrderLine, Review, ReviewPhoto, ReviewTask

FIT_CODES = {pb.RUNS_SMALL: "runs_small", pb.TRUE_TO_SIZE: "true_to_size",
             pb.RUNS_LARGE: "runs_large", pb.FIT_UNSPECIFIED: ""}
FIT_ENUMS = {code: value for value, code in FIT_CODES.items()}
CHUNK_LIMIT = 1024 * 1024 + 64  # a photo chunk is at most 1 MiB


def _ts(moment) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def photo_pb(photo: ReviewPhoto, storage: MediaStorage) -> pb.ReviewPhoto:
    return pb.ReviewPhoto(id=str(photo.id), url=storage.url(photo.hd_key),
                          thumbnail_url=storage.url(photo.thumbnail_key), width=photo.width,
                          height=photo.height)


def review_pb(review: Review, its_photos: list[ReviewPhoto], storage: MediaStorage, *,
              public: bool) -> pb.Review:
    """`public`: as any shopper sees it (no member, order or hiding)."""
    message = pb.Review(
        id=str(review.id), product_id=review.product_id, sku_id=review.sku_id, size=review.size,
        sku_label=review.sku_label, display_name=reviews.display_name(review),
        anonymous=review.anonymous, stars=review.stars, text=review.text,
        photos=[photo_pb(p, storage) for p in its_photos if not p.follow_up],
        fit=FIT_ENUMS.get(review.fit, pb.FIT_UNSPECIFIED), usual_size=review.usual_size,
        created_at=_ts(review.created_at), title=review.title)
    if not public:
        message.order_id, message.line_id, message.member_id = \
            review.order_id, review.line_id, review.member_id
        message.hidden = review.hidden_at is not None
        message.hidden_reason = review.hidden_reason or ""
    if review.follow_up_at is not None:
        message.follow_up.CopyFrom(pb.ReviewFollowUp(
            text=review.follow_up_text or "", created_at=_ts(review.follow_up_at),
            photos=[photo_pb(p, storage) for p in its_photos if p.follow_up]))
    if review.reply_at is not None:
        message.reply.CopyFrom(pb.MerchantReply(
            text=review.reply_text or "", created_at=_ts(review.reply_at),
            updated_at=_ts(review.reply_updated_at or review.reply_at)))
    return message


def reviews_pb(session, rows: list[Review], storage: MediaStorage, *, public: bool) -> list[pb.Review]:
    found = reviews.photos_of(session, rows)
    return [review_pb(r, found[r.id], storage, public=public) for r in rows]


def summary_pb(product_id: str, data: dict) -> pb.ReviewSummary:
    return pb.ReviewSummary(
        product_id=product_id, review_count=data["review_count"],
        average_rating=data["average_rating"], runs_small=data["runs_small"],
        true_to_size=data["true_to_size"], runs_large=data["runs_large"],
        sizes=[pb.SizeSummary(**size) for size in data["sizes"]],
        star_counts=data["star_counts"], with_photos=data["with_photos"])


def task_pb(task: ReviewTask, review: pb.Review | None = None) -> pb.ReviewTask:
    return pb.ReviewTask(id=str(task.id), review_id=str(task.review_id), product_id=task.product_id,
                         stars=task.stars, status=task.status, created_at=_ts(task.created_at),
                         done_at=_ts(task.done_at), done_by=task.done_by or "", note=task.note,
                         review=review)


def line_pb(line: OrderLine, delivered_at) -> pb.ReviewableLine:
    return pb.ReviewableLine(order_id=line.order_id, order_no=line.order_no, line_id=line.line_id,
                             product_id=line.product_id, sku_id=line.sku_id, title=line.title,
                             sku_label=line.sku_label, size=line.size,
                             delivered_at=_ts(delivered_at))


def receive_upload(request_iterator, header_part: str):
    """The stream: the header (`header_part`) first, then photo chunks, photo after photo. Stops
    as soon as a photo passes the size limit or a tenth photo begins."""
    header, parts = None, []
    for message in request_iterator:
        part = message.WhichOneof("part")
        if header is None:
            if part != header_part:
                raise InvalidArgument.field(header_part, "first",
                                            f"send the `{header_part}` message before any photo")
            header = getattr(message, header_part)
            continue
        if part != "photo":
            raise InvalidArgument.field(part or "part", "once",
                                        f"one `{header_part}` message, then photo chunks")
        index = message.photo.index
        if index >= photos.MAX_PHOTOS:
            raise InvalidArgument.field("photos", "max_items",
                                        f"at most {photos.MAX_PHOTOS} photos")
        if index == len(parts):
            parts.append(bytearray())
        elif index != len(parts) - 1:
            raise InvalidArgument.field(f"photos[{index}]", "order",
                                        "send the photos one after the other, from index 0")
        if len(message.photo.data) > CHUNK_LIMIT:
            raise InvalidArgument.field(f"photos[{index}]", "chunk_size",
                                        "a chunk is at most 1 MiB")
        parts[index] += message.photo.data
        images.check_image_size(f"photos[{index}]", len(parts[index]), photos.MAX_PHOTO_BYTES)
    if header is None:
        raise InvalidArgument.field(header_part, "required", f"send the `{header_part}` message")
    return header, [bytes(p) for p in parts]


class ReviewService(support_pb2_grpc.ReviewServiceServicer):
    def __init__(self, runtime: Runtime, storage: MediaStorage):
        self.runtime, self.storage = runtime, storage

    def _one(self, review: Review) -> pb.Review:
        with self.runtime.transaction() as session:
            return reviews_pb(session, [review], self.storage, public=False)[0]

    def CreateReview(self, request_iterator, ctx):
        member_id = context.require_user("reviewing").user_id
        draft, images_ = receive_upload(request_iterator, "review")
        review = reviews.create(self.runtime, self.storage, member_id, reviews.Draft(
            order_id=draft.order_id, line_id=draft.line_id, stars=draft.stars, text=draft.text,
            fit=FIT_CODES.get(draft.fit, "?"), usual_size=draft.usual_size,
            anonymous=draft.anonymous, nickname=draft.nickname, photos=images_))
        return self._one(review)

    def AddFollowUp(self, request_iterator, ctx):
        member_id = context.require_user("following up a review").user_id
        follow_up, images_ = receive_upload(request_iterator, "follow_up")
        review = reviews.add_follow_up(self.runtime, self.storage, member_id,
                                       follow_up.review_id, follow_up.text, images_)
        return self._one(review)

    def ListProductReviews(self, request, ctx):
        if not request.product_id:
            raise InvalidArgument.field("product_id", "required", "the product whose reviews to list")
        stars = sorted(set(request.stars))
        reviews.check_stars_filter(list(request.stars))
        size = paging.page_size(request.page.page_size)
        query = paging.fingerprint("product-reviews", request.product_id, request.with_photos,
                                   stars, request.size)
        after = paging.decode("support", request.page.page_token, query)
        with self.runtime.transaction() as session:
            rows = reviews.page(session, size, after[0] if after else None,
                                product_id=request.product_id, with_photos=request.with_photos,
                                stars=stars, size=request.size)
            shown = rows[:size]
            return pb.ListProductReviewsResponse(
                reviews=reviews_pb(session, shown, self.storage, public=True),
                page=_next(rows, size, query),
                summary=summary_pb(request.product_id, summary.current(session, request.product_id)))

    def ListMyReviews(self, request, ctx):
        member_id = context.require_user("your reviews").user_id
        size = paging.page_size(request.page.page_size)
        query = paging.fingerprint("my-reviews", member_id)
        after = paging.decode("support", request.page.page_token, query)
        with self.runtime.transaction() as session:
            rows = reviews.page(session, size, after[0] if after else None, member_id=member_id,
                                visible_only=False)
            return pb.ListReviewsResponse(
                reviews=reviews_pb(session, rows[:size], self.storage, public=False),
                page=_next(rows, size, query))

    def ListReviewable(self, request, ctx):
        member_id = context.require_user("what you can review").user_id
        size = paging.page_size(request.page.page_size)
        query = paging.fingerprint("reviewable", member_id)
        after = paging.decode("support", request.page.page_token, query)
        with self.runtime.transaction() as session:
            rows = eligibility.reviewable(session, member_id, size, after[0] if after else None)
            return pb.ListReviewableResponse(
                lines=[line_pb(line, eligibility.delivered_at(session, line)) for line in rows[:size]],
                page=_next(rows, size, query))


def _next(rows: list, size: int, query: str) -> common_pb2.PageInfo:
    more = len(rows) > size
    return common_pb2.PageInfo(
        next_page_token=paging.encode("support", [rows[size - 1].id], query) if more else "")


class ReviewAdminService(support_pb2_grpc.ReviewAdminServiceServicer):
    def __init__(self, runtime: Runtime, storage: MediaStorage):
        self.runtime, self.storage = runtime, storage

    def _one(self, review: Review) -> pb.Review:
        with self.runtime.transaction() as session:
            return reviews_pb(session, [review], self.storage, public=False)[0]

    def ListReviews(self, request, ctx):
        context.require_roles(*roles.REVIEW_DESK, action="listing reviews")
        stars = sorted(set(request.stars))
        reviews.check_stars_filter(list(request.stars))
        size = paging.page_size(request.page.page_size)
        query = paging.fingerprint("staff-reviews", request.product_id, stars, request.hidden_only)
        after = paging.decode("support", request.page.page_token, query)
        with self.runtime.transaction() as session:
            rows = reviews.page(session, size, after[0] if after else None,
                                product_id=request.product_id, visible_only=False, stars=stars,
                                hidden_only=request.hidden_only)
            return pb.ListReviewsResponse(
                reviews=reviews_pb(session, rows[:size], self.storage, public=False),
                page=_next(rows, size, query))

    def ReplyToReview(self, request, ctx):
        staff = context.require_roles(*roles.REVIEW_DESK, action="replying to a review")
        return self._one(reviews.reply(self.runtime, staff.user_id, request.review_id,
                                       request.text))

    def HideReview(self, request, ctx):
        staff = context.require_roles(*roles.REVIEW_DESK, action="hiding a review")
        return self._one(reviews.hide(self.runtime, staff.user_id, request.review_id,
                                      request.reason))

    def ListReviewTasks(self, request, ctx):
        context.require_roles(*roles.CUSTOMER_SERVICE, action="the review tasks")
        status = request.status or "open"
        if status not in ("open", "done"):
            raise InvalidArgument.field("status", "known", "open or done")
        size = paging.page_size(request.page.page_size)
        query = paging.fingerprint("review-tasks", status)
        after = paging.decode("support", request.page.page_token, query)
        with self.runtime.transaction() as session:
            rows = reviews.tasks_page(session, status, size, after[0] if after else None)
            shown = rows[:size]
            its = list(session.scalars(select(Review).where(
                Review.id.in_([t.review_id for t in shown])))) if shown else []
            messages = {m.id: m for m in reviews_pb(session, its, self.storage, public=False)}
            return pb.ListReviewTasksResponse(
                tasks=[task_pb(t, messages.get(str(t.review_id))) for t in shown],
                page=_next(rows, size, query))

    def CompleteReviewTask(self, request, ctx):
        staff = context.require_roles(*roles.CUSTOMER_SERVICE, action="completing a review task")
        task = reviews.complete_task(self.runtime, staff.user_id, request.task_id, request.note)
        with self.runtime.transaction() as session:
            review = session.get(Review, task.review_id)
            message = reviews_pb(session, [review], self.storage, public=False)[0] if review else None
        return task_pb(task, message)
