"""Review photos: checked by the shop's one image check (servicekit.images: the type sniffed by
Pillow, at most 10 MiB and 50 Mpx each) and stored like the catalog's media (servicekit.media_storage:
the original, an HD and a thumbnail rendition under `reviews/<review id>/` in the media root,
served by the gateway at /media/<key>). Files are written before the rows commit and deleted
again if anything fails, so a refused review leaves nothing behind."""
from __future__ import annotations

import uuid

from servicekit import images
from servicekit.errors import InvalidArgument, Violations
from servicekit.media_storage import MediaStorage

from .models import ReviewPhoto

MAX_PHOTOS = 9
MAX_PHOTO_BYTES = images.MAX_IMAGE_BYTES


Checked = tuple[bytes, images.ImageRenditions]  # the original bytes and their renditions


def check(photos: list[bytes], name: str, v: Violations) -> list[Checked]:
    """Each photo through the image check; every refusal is added to `v` as `photos[i]`."""
    checked = []
    for i, data in enumerate(photos):
        try:
            checked.append((data, images.checked_image(data, f"{name}[{i}]")))
        except InvalidArgument as err:
            v.items.extend(err.violations)
    return checked


class Writer:
    """Writes a review's photo files; on an exception leaving the block, deletes them again."""

    def __init__(self, storage: MediaStorage):
        self.storage = storage
        self.written: list[str] = []

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            for key in self.written:
                self.storage.delete(key)

    def _put(self, key: str, data: bytes) -> str:
        self.storage.put(key, data)
        self.written.append(key)
        return key

    def files(self, folder: str, photo: Checked) -> dict:
        """Writes the original, the HD and the thumbnail under `folder`/<random>/: the columns
        a photo row keeps (content type, size, keys)."""
        original, image = photo
        base = f"{folder}/{uuid.uuid4().hex}"
        ext = images.EXTENSIONS[image.content_type]
        return dict(content_type=image.content_type, width=image.width, height=image.height,
                    size_bytes=len(original),
                    key=self._put(f"{base}/original.{ext}", original),
                    hd_key=self._put(f"{base}/hd.jpg", image.hd),
                    thumbnail_key=self._put(f"{base}/thumb.jpg", image.thumbnail))

    def store(self, review_id: int, position: int, photo: Checked, *,
              follow_up: bool) -> ReviewPhoto:
        return ReviewPhoto(review_id=review_id, follow_up=follow_up, position=position,
                           **self.files(f"reviews/{review_id}", photo))


def keys_of(photo) -> list[str]:
    return [photo.key, photo.hd_key, photo.thumbnail_key]
