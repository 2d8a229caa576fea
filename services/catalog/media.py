"""Uploading and deleting a product's media. Files are written before the row, and removed again
if anything fails before the commit, so a refused or failed upload leaves nothing behind."""
from __future__ import annotations

from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servicekit import images as renditions
from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound
from servicekit.media_storage import MediaStorage

from .models import Media, Product, new_id
from .products import get_for_update, touched


def check_size(field: str, kind: str, size: int) -> None:
    """Called while bytes stream in, so an oversized upload stops early."""
    if kind == "video" and field == "data":
        if size > renditions.MAX_VIDEO_BYTES:
            raise renditions.too_large(field, "video", renditions.MAX_VIDEO_BYTES)
    else:
        renditions.check_image_size(field, size)


def _image(data: bytes, field: str) -> renditions.ImageRenditions:
    return renditions.checked_image(data, field)


def refresh_cover(session: Session, product: Product, storage: MediaStorage) -> None:
    """The cover is the first image by position."""
    session.flush()
    first = session.scalars(select(Media).where(Media.product_id == product.id, Media.kind == "image")
                            .order_by(Media.position, Media.created_at, Media.id).limit(1)).first()
    product.cover_url = storage.url(first.hd_key) if first else ""
    product.cover_thumbnail_url = storage.url(first.thumbnail_key) if first else ""


def upload(rt, storage: MediaStorage, *, product_id: str, kind: str, angle: str, position: int,
           data: BinaryIO, data_size: int, poster: bytes) -> Media:
    """kind "image" (angle required) or "video" (poster image required); data is rewound here."""
    written: list[str] = []

    def put(key: str, payload) -> str:
        storage.put(key, payload)
        written.append(key)
        return key

    try:
        with rt.transaction() as session:
            product = session.get(Product, product_id)
            if product is None:
                raise NotFound(f"no product has id {product_id!r}")
            data.seek(0)
            media_id = new_id()
            base = f"products/{product_id}/{media_id}"
            media = Media(id=media_id, product_id=product_id, kind=kind, size_bytes=data_size)
            if kind == "image":
                if not angle:
                    raise InvalidArgument.field("header.angle", "required",
                                                "an image needs its angle: FRONT, BACK, SIDE, "
                                                "DETAIL or ON_MODEL")
                check_size("data", "image", data_size)
                raw = data.read()
                image = _image(raw, "data")
                ext = renditions.EXTENSIONS[image.content_type]
                media.angle, media.content_type = angle, image.content_type
                media.width, media.height = image.width, image.height
                media.key = put(f"{base}/original.{ext}", raw)
                media.hd_key = put(f"{base}/hd.jpg", image.hd)
                media.thumbnail_key = put(f"{base}/thumb.jpg", image.thumbnail)
            else:
                check_size("data", "video", data_size)
                if data_size == 0:
                    raise InvalidArgument.field("data", "required", "no bytes were sent; send the "
                                                                    "video file")
                try:
                    content_type = renditions.video_type(data.read(64))
                except renditions.NotAVideo as err:
                    raise InvalidArgument.field("data", "video",
                                                f"{err}; send an MP4 or WebM file") from None
                if not poster:
                    raise InvalidArgument.field("poster", "required",
                                                "a video needs its poster image; send it in "
                                                "`poster` chunks")
                image = _image(poster, "poster")
                media.content_type, media.width, media.height = content_type, image.width, image.height
                media.key = put(f"{base}/video.{renditions.EXTENSIONS[content_type]}", data)
                media.poster_key = put(f"{base}/poster.jpg", image.hd)
                media.thumbnail_key = put(f"{base}/poster-thumb.jpg", image.thumbnail)
            product = get_for_update(session, product_id)
            media.position = position or (session.scalar(
                select(func.coalesce(func.max(Media.position), 0))
                .where(Media.product_id == product_id)) + 1)
            session.add(media)
            refresh_cover(session, product, storage)
            touched(rt, session, product)
        return media
    except BaseException:
        for key in written:
            storage.delete(key)
        raise


def delete(rt, storage: MediaStorage, media_id: str) -> None:
    with rt.transaction() as session:
        media = session.get(Media, media_id)
        if media is None:
            raise NotFound(f"no media has id {media_id!r}")
        product = get_for_update(session, media.product_id)
        if media.kind == "image" and product.status == "published" and session.scalar(
                select(func.count()).select_from(Media).where(
                    Media.product_id == product.id, Media.kind == "image")) == 1:
            raise FailedPrecondition("a published product keeps at least one image; upload "
                                     "another first or unpublish the product")
        keys = [media.key, media.hd_key, media.thumbnail_key, media.poster_key]
        session.delete(media)
        refresh_cover(session, product, storage)
        touched(rt, session, product)
    for key in keys:  # after the commit: a failed delete leaves an orphan file, never a dead link
        storage.delete(key)
