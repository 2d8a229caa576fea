"""Reviews (评价): a member reviews each delivered order line of hers once (1–5 stars, text, up
to 9 photos, how the size fitted and her usual size, anonymous if she likes), and may add one
follow-up later. The merchant replies publicly (one reply, editable); staff hide a review that
breaks the rules, the reason kept, never editing it; a review of 2 stars or fewer opens a task
for customer service. Each change of what is visible refreshes the product's summary
(summary.refresh: review.summary_changed). Bad input is refused whole: nothing is stored."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit import erasure
from servicekit.db import row_by_id, take_turns
from servicekit.errors import AlreadyExists, FailedPrecondition, FieldViolation, Violations
from servicekit.ids import excerpt
from servicekit.times import utcnow

from . import eligibility, photos, summary
from .models import FITS, OrderLine, Review, ReviewPhoto, ReviewTask

MAX_TEXT = 1000          # characters of a review, a follow-up or a reply
MAX_REASON = 500         # characters of a hiding reason or a task's note
MAX_USUAL_SIZE = 16
MAX_NICKNAME = 64
MAX_PHOTOS = photos.MAX_PHOTOS
BAD_REVIEW_STARS = 2     # a review of this many stars or fewer opens a task for customer service


@dataclass
class Draft:
    """A new review as the member sent it (fit: "" or one of models.FITS)."""
    order_id: str
    line_id: str
    stars: int
    text: str = ""
    fit: str = ""
    usual_size: str = ""
    anonymous: bool = False
    nickname: str = ""
    photos: list[bytes] = field(default_factory=list)


def _text(v: Violations, value: str, name: str, *, required: bool, limit: int = MAX_TEXT) -> None:
    if required:
        v.check(bool(value.strip()), name, "required", f"write the {name.replace('_', ' ')}")
    v.check(len(value) <= limit, name, "max_length",
            f"at most {limit} characters ({len(value)} sent)")


def check_draft(draft: Draft) -> list[FieldViolation]:
    """Every problem of a draft at once, before anything is looked up (pure)."""
    v = Violations()
    v.check(bool(draft.order_id), "order_id", "required", "the order the line belongs to")
    v.check(bool(draft.line_id), "line_id", "required", "the order line to review")
    v.check(1 <= draft.stars <= 5, "stars", "range", f"1 to 5 stars ({draft.stars} sent)")
    _text(v, draft.text, "text", required=False)
    v.check(draft.fit in ("", *FITS), "fit", "known",
            "runs_small, true_to_size or runs_large (or nothing)")
    v.check(len(draft.usual_size) <= MAX_USUAL_SIZE, "usual_size", "max_length",
            f"at most {MAX_USUAL_SIZE} characters, e.g. 75B or M")
    v.check(len(draft.nickname) <= MAX_NICKNAME, "nickname", "max_length",
            f"at most {MAX_NICKNAME} characters")
    v.check(len(draft.photos) <= MAX_PHOTOS, "photos", "max_items",
            f"at most {MAX_PHOTOS} photos ({len(draft.photos)} sent)")
    return v.items


def display_name(review: Review) -> str:
    """Her nickname, or masked when she asked to be anonymous: the first character and ***."""
    name = review.nickname.strip()
    if review.anonymous:
        return f"{name[:1] or '匿'}***"
    return name or "买家"


def _line_of(session: Session, member_id: str, order_id: str, line_id: str) -> OrderLine:
    line = session.scalar(select(OrderLine).where(OrderLine.order_id == order_id,
                                                  OrderLine.line_id == line_id))
    if line is None or line.member_id != member_id:
        # Another shopper's line answers exactly like one that does not exist.
        raise FailedPrecondition(
            f"no order line {excerpt(line_id)} of order {excerpt(order_id)} was delivered to you",
            [FieldViolation("line_id", "delivered", "review a line of one of your orders once "
                                                    "it has been delivered to you")])
    if eligibility.delivered_at(session, line) is None:
        raise FailedPrecondition(
            f"order line {excerpt(line_id)} has not been delivered yet",
            [FieldViolation("line_id", "delivered", "a line can be reviewed once it has been "
                                                    "delivered to you")])
    return line


def create(runtime, storage, member_id: str, draft: Draft) -> Review:
    v = Violations()
    v.items.extend(check_draft(draft))
    checked = photos.check(draft.photos[:MAX_PHOTOS], "photos", v)
    v.raise_if_any("the review has invalid fields")
    with photos.Writer(storage) as writer, runtime.transaction() as session:
        line = _line_of(session, member_id, draft.order_id, draft.line_id)
        if erasure.is_erased(session, member_id):
            raise FailedPrecondition("this account was erased")
        # Two submissions of one line at once: the second waits, then finds the first.
        take_turns(session, f"support.review:{line.order_id}:{line.line_id}")
        if session.scalar(select(Review.id).where(Review.order_id == line.order_id,
                                                  Review.line_id == line.line_id)) is not None:
            raise AlreadyExists(f"order line {excerpt(line.line_id)} is already reviewed",
                                [FieldViolation("line_id", "once", "each order line is reviewed "
                                                "once; add a follow-up to your review instead")])
        review = Review(
            member_id=member_id, order_id=line.order_id, line_id=line.line_id,
            product_id=line.product_id, sku_id=line.sku_id, size=line.size,
            sku_label=line.sku_label, title=line.title, stars=draft.stars, text=draft.text.strip(),
            fit=draft.fit, usual_size=draft.usual_size.strip(), anonymous=draft.anonymous,
            nickname=draft.nickname.strip(), has_photos=bool(checked), created_at=utcnow())
        session.add(review)
        session.flush()
        for position, image in enumerate(checked, start=1):
            session.add(writer.store(review.id, position, image, follow_up=False))
        if review.stars <= BAD_REVIEW_STARS:
            session.add(ReviewTask(review_id=review.id, product_id=review.product_id,
                                   stars=review.stars, status="open", created_at=review.created_at,
                                   note=""))
        summary.refresh(runtime, session, review.product_id)
        session.flush()
        session.expunge(review)
    return review


def add_follow_up(runtime, storage, member_id: str, review_id: str, text: str,
                  images: list[bytes]) -> Review:
    v = Violations()
    v.check(bool(review_id), "review_id", "required", "the review to follow up")
    _text(v, text, "text", required=True)
    v.check(len(images) <= MAX_PHOTOS, "photos", "max_items",
            f"at most {MAX_PHOTOS} photos ({len(images)} sent)")
    checked = photos.check(images[:MAX_PHOTOS], "photos", v)
    v.raise_if_any("the follow-up has invalid fields")
    with photos.Writer(storage) as writer, runtime.transaction() as session:
        review = row_by_id(session, Review, review_id, "review", for_update=True,
                           member_id=member_id)
        if review.follow_up_at is not None:
            raise AlreadyExists("this review already has its follow-up",
                                [FieldViolation("review_id", "once",
                                                "a review takes one follow-up")])
        review.follow_up_text, review.follow_up_at = text.strip(), utcnow()
        for position, image in enumerate(checked, start=1):
            session.add(writer.store(review.id, position, image, follow_up=True))
        if checked and not review.has_photos:
            review.has_photos = True
            summary.refresh(runtime, session, review.product_id)
        session.flush()
        session.expunge(review)
    return review


def _staff_review(session: Session, review_id: str) -> Review:
    return row_by_id(session, Review, review_id, "review", for_update=True)


def reply(runtime, staff_id: str, review_id: str, text: str) -> Review:
    v = Violations()
    _text(v, text, "text", required=True)
    v.raise_if_any("the reply has invalid fields")
    with runtime.transaction() as session:
        review = _staff_review(session, review_id)
        now = utcnow()
        if review.reply_at is None:
            review.reply_at = now
        else:
            review.reply_updated_at = now
        review.reply_text, review.reply_by = text.strip(), staff_id
        session.flush()
        session.expunge(review)
    return review


def hide(runtime, staff_id: str, review_id: str, reason: str) -> Review:
    v = Violations()
    _text(v, reason, "reason", required=True, limit=MAX_REASON)
    v.raise_if_any("hiding needs its reason")
    with runtime.transaction() as session:
        review = _staff_review(session, review_id)
        if review.hidden_at is None:  # hidden again: the first reason stays
            review.hidden_at, review.hidden_by = utcnow(), staff_id
            review.hidden_reason = reason.strip()
            summary.refresh(runtime, session, review.product_id)
        session.flush()
        session.expunge(review)
    return review


def complete_task(runtime, staff_id: str, task_id: str, note: str) -> ReviewTask:
    v = Violations()
    _text(v, note, "note", required=False, limit=MAX_REASON)
    v.raise_if_any("the task's note is invalid")
    with runtime.transaction() as session:
        task = row_by_id(session, ReviewTask, task_id, "review task", for_update=True)
        if task.status == "open":
            task.status, task.done_at, task.done_by, task.note = "done", utcnow(), staff_id, \
                note.strip()
        session.flush()
        session.expunge(task)
    return task


# ------------------------------------------------------------------ reading

def check_stars_filter(stars: list[int], name: str = "stars") -> None:
    v = Violations()
    for i, value in enumerate(stars[:5]):
        v.check(1 <= value <= 5, f"{name}[{i}]", "range", f"1 to 5 stars ({value} sent)")
    v.check(len(stars) <= 5, name, "max_items", "at most the five ratings")
    v.raise_if_any()


def page(session: Session, limit: int, after_id: int | None, *, product_id: str = "",
         member_id: str = "", visible_only: bool = True, with_photos: bool = False,
         stars: list[int] | None = None, size: str = "", hidden_only: bool = False) -> list[Review]:
    """Newest first (by id); `limit + 1` rows tell whether a next page exists."""
    query = select(Review).order_by(Review.id.desc()).limit(limit + 1)
    if product_id:
        query = query.where(Review.product_id == product_id)
    if member_id:
        query = query.where(Review.member_id == member_id)
    if visible_only:
        query = query.where(Review.hidden_at.is_(None))
    if hidden_only:
        query = query.where(Review.hidden_at.is_not(None))
    if with_photos:
        query = query.where(Review.has_photos.is_(True))
    if stars:
        query = query.where(Review.stars.in_(stars))
    if size:
        query = query.where(Review.size == size)
    if after_id is not None:
        query = query.where(Review.id < after_id)
    return list(session.scalars(query))


def photos_of(session: Session, reviews: list[Review]) -> dict[int, list[ReviewPhoto]]:
    found: dict[int, list[ReviewPhoto]] = {r.id: [] for r in reviews}
    if reviews:
        for photo in session.scalars(select(ReviewPhoto).where(
                ReviewPhoto.review_id.in_(list(found))).order_by(
                ReviewPhoto.review_id, ReviewPhoto.follow_up, ReviewPhoto.position)):
            found[photo.review_id].append(photo)
    return found


def tasks_page(session: Session, status: str, limit: int, after_id: int | None) -> list[ReviewTask]:
    """Oldest first: the task waiting longest is on top."""
    query = select(ReviewTask).where(ReviewTask.status == status).order_by(
        ReviewTask.id).limit(limit + 1)
    if after_id is not None:
        query = query.where(ReviewTask.id > after_id)
    return list(session.scalars(query))
