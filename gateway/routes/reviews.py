"""Reviews (评价), kept by support: a product's reviews for anyone; a shopper's own reviews, what
she can still review, reviewing a delivered order line with photos and a follow-up; staff
replies, hiding and customer service's tasks for bad reviews. Photos are streamed to support,
which checks them (servicekit.images) and stores them under the media root."""
from __future__ import annotations

from typing import Annotated, AsyncIterator, Literal

import grpc
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from mall.common.v1 import common_pb2
from mall.member.v1 import profile_pb2
from mall.support.v1 import support_pb2
from pydantic import BaseModel, Field

from servicekit import roles
from servicekit.ids import ascii_int

from .. import auth
from ..convert import answer
from ..problems import Problem, from_rpc_error
from ..proto_models import model_of
from ..schemas import Id, PageSize, PageToken
from ..services import MEDIA_UPLOAD_DEADLINE, Profile, ReviewAdmin, Reviews

public_router = APIRouter(prefix="/v1", tags=["reviews"])
router = APIRouter(prefix="/v1/me", tags=["me-reviews"], dependencies=[Depends(auth.customer)])
staff_router = APIRouter(prefix="/v1/admin", tags=["admin-reviews"])

CHUNK = 1024 * 1024  # the contract's largest photo chunk
MAX_PHOTOS = 9
# Nine photos of at most 10 MiB each, with the form's fields and boundaries.
MAX_REVIEW_UPLOAD_BYTES = MAX_PHOTOS * 10 * 1024 * 1024 + 1024 * 1024

FitName = Literal["runs_small", "true_to_size", "runs_large"]
Stars = Annotated[int, Field(ge=1, le=5)]
ReviewText = Annotated[str, Field(max_length=1000)]
SizeText = Annotated[str, Field(max_length=16)]

Review = model_of(support_pb2.Review)
ReviewList = model_of(support_pb2.ListReviewsResponse)


def _refuse_too_large(request: Request) -> None:
    length = request.headers.get("content-length", "")
    if (declared := ascii_int(length)) is not None and declared > MAX_REVIEW_UPLOAD_BYTES:
        raise Problem(413, "too-large", f"a review's photos are at most {MAX_PHOTOS} of 10 MiB")


async def _stream(header: support_pb2.ReviewUploadRequest,
                  photos: list[UploadFile]) -> AsyncIterator[support_pb2.ReviewUploadRequest]:
    """The contract's stream: the header, then each photo's bytes in order."""
    yield header
    for index, photo in enumerate(photos):
        while chunk := await photo.read(CHUNK):
            yield support_pb2.ReviewUploadRequest(
                photo=support_pb2.PhotoChunk(index=index, data=chunk))


async def _send(call, header, photos: list[UploadFile]) -> Response:
    try:
        review = await call(_stream(header, photos), timeout=MEDIA_UPLOAD_DEADLINE)
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(err) from None
    return answer(review, 201)


# ------------------------------------------------------------------ anyone

@public_router.get("/products/{product_id}/reviews",
                   summary="A product's reviews, newest first, with its rating and fit summary",
                   response_model=model_of(support_pb2.ListProductReviewsResponse))
async def list_product_reviews(
        reviews: Reviews, product_id: Id, with_photos: bool = False,
        stars: Annotated[list[Stars], Query(max_length=5, description="only these ratings")] = [],  # noqa: B006
        size: Annotated[str, Query(max_length=16, description="only reviews of this size bought")] = "",
        page_size: PageSize = 20, page_token: PageToken = "") -> Response:
    return answer(await reviews.ListProductReviews(support_pb2.ListProductReviewsRequest(
        product_id=product_id, with_photos=with_photos, stars=stars, size=size,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


# ------------------------------------------------------------------ the shopper

@router.post("/reviews", status_code=201, response_model=Review,
             summary="Review a delivered order line: stars, text, up to 9 photos, the fit",
             responses={413: {"description": "The photos are larger than 9 × 10 MiB"}})
async def create_review(
        request: Request, reviews: Reviews, profile: Profile,
        order_id: Annotated[Id, Form()], line_id: Annotated[Id, Form()],
        stars: Annotated[int, Form(ge=1, le=5)],
        text: Annotated[ReviewText, Form()] = "",
        fit: Annotated[FitName | None, Form(description="how the size fitted")] = None,
        usual_size: Annotated[SizeText, Form(description="the size she usually wears")] = "",
        anonymous: Annotated[bool, Form(description="show the nickname masked")] = False,
        photos: Annotated[list[UploadFile], File(description="JPEG, PNG, WebP or GIF, up to 9 "
                                                             "of 10 MiB each")] = [],  # noqa: B006
) -> Response:
    _refuse_too_large(request)
    me = await profile.GetProfile(profile_pb2.GetProfileRequest())
    header = support_pb2.ReviewUploadRequest(review=support_pb2.ReviewDraft(
        order_id=order_id, line_id=line_id, stars=stars, text=text,
        fit=fit.upper() if fit else None, usual_size=usual_size, anonymous=anonymous,
        nickname=me.nickname[:64]))
    return await _send(reviews.CreateReview, header, photos)


@router.post("/reviews/{review_id}/follow-up", status_code=201, response_model=Review,
             summary="Add the one follow-up review (追评) to my review",
             responses={413: {"description": "The photos are larger than 9 × 10 MiB"}})
async def add_follow_up(
        request: Request, reviews: Reviews, review_id: Id,
        text: Annotated[ReviewText, Form()],
        photos: Annotated[list[UploadFile], File(description="up to 9 images")] = [],  # noqa: B006
) -> Response:
    _refuse_too_large(request)
    header = support_pb2.ReviewUploadRequest(follow_up=support_pb2.FollowUpDraft(
        review_id=review_id, text=text))
    return await _send(reviews.AddFollowUp, header, photos)


@router.get("/reviews", summary="My reviews, newest first (hidden ones with the reason)",
            response_model=ReviewList)
async def list_my_reviews(reviews: Reviews, page_size: PageSize = 20,
                          page_token: PageToken = "") -> Response:
    return answer(await reviews.ListMyReviews(support_pb2.ListMyReviewsRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@router.get("/reviewable", summary="My delivered order lines not reviewed yet",
            response_model=model_of(support_pb2.ListReviewableResponse))
async def list_reviewable(reviews: Reviews, page_size: PageSize = 20,
                          page_token: PageToken = "") -> Response:
    return answer(await reviews.ListReviewable(support_pb2.ListReviewableRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


# ------------------------------------------------------------------ staff

class ReplyBody(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=1000)]


class HideBody(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class TaskDoneBody(BaseModel):
    note: Annotated[str, Field(max_length=500)] = ""


REVIEW_DESK = [Depends(auth.staff(*roles.REVIEW_DESK))]
CUSTOMER_SERVICE = [Depends(auth.staff(*roles.CUSTOMER_SERVICE))]


@staff_router.get("/reviews", dependencies=REVIEW_DESK, response_model=ReviewList,
                  summary="Every review (hidden too), newest first")
async def list_reviews(
        review_admin: ReviewAdmin, product_id: Annotated[Id, Query()] = "",
        stars: Annotated[list[Stars], Query(max_length=5)] = [],  # noqa: B006
        hidden_only: bool = False, page_size: PageSize = 20,
        page_token: PageToken = "") -> Response:
    return answer(await review_admin.ListReviews(support_pb2.ListReviewsRequest(
        product_id=product_id, stars=stars, hidden_only=hidden_only,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@staff_router.put("/reviews/{review_id}/reply", dependencies=REVIEW_DESK, response_model=Review,
                  summary="The merchant's public reply to a review (written, or edited)")
async def reply_to_review(review_admin: ReviewAdmin, review_id: Id, body: ReplyBody) -> Response:
    return answer(await review_admin.ReplyToReview(support_pb2.ReplyToReviewRequest(
        review_id=review_id, text=body.text)))


@staff_router.post("/reviews/{review_id}/hide", dependencies=REVIEW_DESK, response_model=Review,
                   summary="Hide a review that breaks the rules, with the reason (never edit it)")
async def hide_review(review_admin: ReviewAdmin, review_id: Id, body: HideBody) -> Response:
    return answer(await review_admin.HideReview(support_pb2.HideReviewRequest(
        review_id=review_id, reason=body.reason)))


@staff_router.get("/review-tasks", dependencies=CUSTOMER_SERVICE,
                  response_model=model_of(support_pb2.ListReviewTasksResponse),
                  summary="Customer service's follow-ups of bad reviews (2 stars or fewer)")
async def list_review_tasks(review_admin: ReviewAdmin, status: Literal["open", "done"] = "open",
                            page_size: PageSize = 20, page_token: PageToken = "") -> Response:
    return answer(await review_admin.ListReviewTasks(support_pb2.ListReviewTasksRequest(
        status=status, page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@staff_router.post("/review-tasks/{task_id}/done", dependencies=CUSTOMER_SERVICE,
                   response_model=model_of(support_pb2.ReviewTask),
                   summary="Close a bad review's follow-up, with a note")
async def complete_review_task(review_admin: ReviewAdmin, task_id: Id,
                               body: TaskDoneBody) -> Response:
    return answer(await review_admin.CompleteReviewTask(support_pb2.CompleteReviewTaskRequest(
        task_id=task_id, note=body.note)))
