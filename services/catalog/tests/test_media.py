import io

import pytest
from PIL import Image

from servicekit import images as renditions
from servicekit.errors import InvalidArgument, NotFound
from services.catalog import media
from services.catalog.models import Media

from .helpers import MP4_HEAD, add_image, bra_input, bra_skus, count, create, jpeg, png, product


def files(storage):
    return sorted(p.relative_to(storage.root).as_posix() for p in storage.root.rglob("*")
                  if p.is_file())


def test_an_image_gets_hd_and_thumbnail_renditions(rt, shop, storage):
    product_id = create(rt, bra_input(shop), bra_skus())
    media_id = add_image(rt, storage, product_id, angle="on_model", data=jpeg(2400, 3000))
    with rt.transaction() as s:
        row = s.get(Media, media_id)
    assert (row.kind, row.angle, row.width, row.height, row.content_type) == (
        "image", "on_model", 2400, 3000, "image/jpeg")
    with Image.open(storage.path(row.hd_key)) as hd:
        assert max(hd.size) == 1600 and hd.format == "JPEG"
    with Image.open(storage.path(row.thumbnail_key)) as thumb:
        assert max(thumb.size) == 400
    assert storage.path(row.key).read_bytes()[:2] == b"\xff\xd8"
    p = product(rt, product_id)
    assert p.cover_url == f"/media/{row.hd_key}" and p.cover_thumbnail_url == f"/media/{row.thumbnail_key}"


def test_small_and_transparent_images_are_never_enlarged_and_become_jpeg(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    media_id = add_image(rt, storage, product_id, data=png(300, 200, (0, 0, 0, 0), mode="RGBA"))
    with rt.transaction() as s:
        row = s.get(Media, media_id)
    with Image.open(storage.path(row.hd_key)) as hd:
        assert hd.size == (300, 200) and hd.mode == "RGB"
        assert hd.getpixel((10, 10)) == (255, 255, 255)  # transparency flattened on white


def test_the_cover_is_the_first_image_by_position(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    first = add_image(rt, storage, product_id, angle="front")
    add_image(rt, storage, product_id, angle="back")
    with rt.transaction() as s:
        hd_key = s.get(Media, first).hd_key
    assert product(rt, product_id).cover_url == f"/media/{hd_key}"
    media.delete(rt, storage, first)
    assert product(rt, product_id).cover_url != f"/media/{hd_key}"
    assert not storage.exists(hd_key)


@pytest.mark.parametrize("payload", [b"plain text, not an image", b"\x89PNG\r\n\x1a\n" + b"0" * 50,
                                     png()[:200]])
def test_bytes_that_are_not_an_image_are_refused_and_leave_nothing(rt, shop, storage, payload):
    product_id = create(rt, bra_input(shop))
    with pytest.raises(InvalidArgument) as err:
        add_image(rt, storage, product_id, data=payload)
    assert [(v.field, v.rule) for v in err.value.violations] == [("data", "image")]
    assert count(rt, Media) == 0 and files(storage) == []


def test_an_image_over_10_mib_is_refused_by_size(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    big = png() + b"\0" * renditions.MAX_IMAGE_BYTES
    with pytest.raises(InvalidArgument) as err:
        add_image(rt, storage, product_id, data=big)
    assert [(v.field, v.rule) for v in err.value.violations] == [("data", "max_size")]
    assert "10 MiB" in err.value.violations[0].description
    assert files(storage) == []


def test_an_image_needs_an_angle(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    with pytest.raises(InvalidArgument) as err:
        media.upload(rt, storage, product_id=product_id, kind="image", angle="", position=0,
                     data=io.BytesIO(png()), data_size=len(png()), poster=b"")
    assert err.value.violations[0].field == "header.angle"


def test_a_video_is_recognised_by_magic_bytes_and_keeps_its_poster(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    row = media.upload(rt, storage, product_id=product_id, kind="video", angle="", position=0,
                       data=io.BytesIO(MP4_HEAD), data_size=len(MP4_HEAD), poster=png(1920, 1080))
    assert row.content_type == "video/mp4" and row.key.endswith("video.mp4")
    assert storage.path(row.key).read_bytes() == MP4_HEAD
    with Image.open(storage.path(row.poster_key)) as poster:
        assert poster.size == (1600, 900)
    assert product(rt, product_id).cover_url == ""  # a video is not a cover


def test_webm_is_accepted_and_other_videos_are_not(rt, shop, storage):
    assert renditions.video_type(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01B\x82\x84webm") == "video/webm"
    with pytest.raises(renditions.NotAVideo):
        renditions.video_type(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01B\x82\x88matroska")
    product_id = create(rt, bra_input(shop))
    with pytest.raises(InvalidArgument) as err:
        media.upload(rt, storage, product_id=product_id, kind="video", angle="", position=0,
                     data=io.BytesIO(b"RIFF....AVI LIST"), data_size=16, poster=png())
    assert err.value.violations[0].rule == "video"


def test_a_video_without_poster_or_with_a_bad_poster_is_refused(rt, shop, storage):
    product_id = create(rt, bra_input(shop))
    for poster, rule in ((b"", "required"), (b"not an image", "image")):
        with pytest.raises(InvalidArgument) as err:
            media.upload(rt, storage, product_id=product_id, kind="video", angle="", position=0,
                         data=io.BytesIO(MP4_HEAD), data_size=len(MP4_HEAD), poster=poster)
        assert [(v.field, v.rule) for v in err.value.violations] == [("poster", rule)]
    assert files(storage) == [] and count(rt, Media) == 0


def test_a_video_over_100_mib_is_refused_before_reading_it(rt, shop, storage):
    with pytest.raises(InvalidArgument) as err:
        media.check_size("data", "video", renditions.MAX_VIDEO_BYTES + 1)
    assert err.value.violations[0].rule == "max_size" and "100 MiB" in err.value.message


def test_upload_to_an_unknown_product_is_not_found(rt, shop, storage):
    with pytest.raises(NotFound):
        add_image(rt, storage, "00000000-0000-0000-0000-000000000000")
    assert files(storage) == []


def test_a_published_product_keeps_its_last_image(rt, shop, storage):
    from servicekit.errors import FailedPrecondition

    from .helpers import published
    product_id = published(rt, storage, bra_input(shop), bra_skus())
    with rt.transaction() as s:
        (only,) = s.query(Media.id).filter(Media.product_id == product_id).all()
    with pytest.raises(FailedPrecondition):
        media.delete(rt, storage, only.id)
    second = add_image(rt, storage, product_id, angle="back")
    media.delete(rt, storage, only.id)
    with rt.transaction() as s:
        assert s.get(Media, second) is not None and s.get(Media, only.id) is None
