"""Checks uploaded media by their content and makes the image renditions (Pillow), for every
service that takes images from outside (catalog's product media, support's review photos).

An image is whatever Pillow can open as JPEG, PNG, WebP or GIF; its HD rendition fits in
1600 x 1600 px and its thumbnail in 400 x 400 px, both JPEG, turned upright from EXIF. A video is
MP4 (an `ftyp` box) or WebM (an EBML header whose doc type is "webm"), recognised by magic bytes.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from servicekit.errors import FieldViolation, InvalidArgument

HD_PX, THUMB_PX = 1600, 400
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_VIDEO_BYTES = 100 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 10 MB file can still decompress to gigabytes: refuse above this
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
              "video/mp4": "mp4", "video/webm": "webm"}


class NotAnImage(ValueError):
    pass


class NotAVideo(ValueError):
    pass


@dataclass(frozen=True)
class ImageRenditions:
    content_type: str
    width: int
    height: int
    hd: bytes
    thumbnail: bytes


def _jpeg(image: Image.Image, box: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((box, box), Image.Resampling.LANCZOS)  # only ever shrinks
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: transparent areas become white, palettes become RGB."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        canvas = Image.new("RGB", image.size, (255, 255, 255))
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    return image.convert("RGB") if image.mode != "RGB" else image


def image_renditions(data: bytes) -> ImageRenditions:
    """Raises NotAnImage (with a reason) when `data` is not an image the shop accepts."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                width, height = probe.size
                if fmt not in IMAGE_FORMATS:
                    raise NotAnImage(f"{fmt} images are not accepted; use JPEG, PNG, WebP or GIF")
                if width * height > MAX_PIXELS:
                    raise NotAnImage(f"{width}x{height} px is too many pixels; at most "
                                     f"{MAX_PIXELS:,} are accepted")
                probe.verify()  # a truncated or corrupt file fails here
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)  # GIF: the first frame
                upright = _flatten(ImageOps.exif_transpose(image))
                return ImageRenditions(IMAGE_FORMATS[fmt], width, height,
                                       _jpeg(upright, HD_PX), _jpeg(upright, THUMB_PX))
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:
        raise NotAnImage(f"the bytes are not an image Pillow can open ({type(err).__name__})") \
            from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt
        raise NotAnImage(f"the image is damaged or truncated ({err})") from None


def video_type(head: bytes) -> str:
    """video/mp4 or video/webm from the first bytes of the file; raises NotAVideo otherwise."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in head[:64]:
        return "video/webm"
    raise NotAVideo("the bytes are not an MP4 or WebM video")


def too_large(field: str, what: str, limit: int) -> InvalidArgument:
    return InvalidArgument(f"{field}: the {what} is larger than {limit // (1024 * 1024)} MiB", [
        FieldViolation(field, "max_size", f"the {what} must be at most {limit // (1024 * 1024)} MiB "
                                          f"({limit} bytes)")])


def check_image_size(field: str, size: int, limit: int = MAX_IMAGE_BYTES) -> None:
    """Called while bytes stream in, so an oversized image stops early."""
    if size > limit:
        raise too_large(field, "image", limit)


def checked_image(data: bytes, field: str) -> ImageRenditions:
    """The one image check of the shop: bytes that are an image (type sniffed by Pillow, not by
    name or declared type), at most MAX_IMAGE_BYTES and MAX_PIXELS, with their renditions; else
    INVALID_ARGUMENT naming `field` and the rule (`required`, `max_size`, `image`)."""
    if not data:
        raise InvalidArgument.field(field, "required", "no bytes were sent; send the image file")
    check_image_size(field, len(data))
    try:
        return image_renditions(data)
    except NotAnImage as err:
        raise InvalidArgument.field(field, "image",
                                    f"{err}; send a JPEG, PNG, WebP or GIF image") from None
