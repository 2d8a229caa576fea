"""The catalog's gRPC servicers: thin adapters from catalog.v1 messages to the use cases."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone

import grpc
from mall.catalog.v1 import catalog_pb2 as pb
from mall.catalog.v1 import catalog_pb2_grpc as pb_grpc
from sqlalchemy.exc import IntegrityError

from servicekit import context, roles
from servicekit.errors import AlreadyExists, InvalidArgument
from servicekit.media_storage import MediaStorage, default_storage
from servicekit.runtime import Runtime

from . import categories, early_access, listing, media, metrics, products, sales, search, skus, views
from .codes import ANGLES, KINDS, MEDIA_KINDS

CHUNK_LIMIT = 1024 * 1024  # bytes per upload message


def require_staff() -> None:
    context.require_roles(*roles.MERCHANDISERS, action="managing the catalog")


@contextmanager
def writing(rt: Runtime):
    """A staff write. The use cases check uniqueness first; when a concurrent request takes the
    same code or name between that check and the commit, the constraint answers ALREADY_EXISTS."""
    try:
        with rt.transaction() as session:
            yield session
    except IntegrityError as err:
        raise AlreadyExists("another request just created the same code, barcode or name; "
                            "reload and retry") from err


class CatalogServicer(pb_grpc.CatalogServiceServicer):
    def __init__(self, rt: Runtime, storage: MediaStorage):
        self.rt, self.storage = rt, storage
        self.sales = sales.SaleBook(rt.sessions)

    def ListProducts(self, request, ctx):
        book = self.sales.book()
        with self.rt.transaction() as session:
            page = listing.list_products(session, listing.Filters.for_shopper(request))
            sales.decorate_listing(session, book, page, datetime.now(timezone.utc))
        if request.query.strip() and not request.page.page_token:
            metrics.SEARCHES.labels("found" if page.products else "nothing").inc()
        return page

    def GetProduct(self, request, ctx):
        book = self.sales.book()
        with self.rt.transaction() as session:
            product = views.product_detail(session, request.product_id, self.storage, shopper=True,
                                           caller_id=context.current().user_id or "")
        sales.decorate_product(book, product, datetime.now(timezone.utc))
        return product

    def GetSkus(self, request, ctx):
        with self.rt.transaction() as session:
            return pb.GetSkusResponse(skus=skus.get_skus(session, request.sku_ids))

    def GetProductIds(self, request, ctx):
        with self.rt.transaction() as session:
            return pb.GetProductIdsResponse(
                product_ids=skus.known_products(session, request.product_ids))

    def ListCategories(self, request, ctx):
        return _list_categories(self.rt, request, include_inactive=False)


def _list_categories(rt: Runtime, request, *, include_inactive: bool) -> pb.ListCategoriesResponse:
    with rt.transaction() as session:
        rows = categories.list_categories(session, KINDS.get(request.kind),
                                          include_inactive=include_inactive)
        return pb.ListCategoriesResponse(categories=[views.category_pb(c) for c in rows])


class CatalogAdminServicer(pb_grpc.CatalogAdminServiceServicer):
    def __init__(self, rt: Runtime, storage: MediaStorage):
        self.rt, self.storage = rt, storage

    def _detail(self, session, product) -> pb.Product:
        return views.product_pb(session, product, self.storage, shopper=False)

    def CreateCategory(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return views.category_pb(categories.create_category(session, request.category))

    def UpdateCategory(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return views.category_pb(categories.update_category(session, request.category_id,
                                                                request.category))

    def ListCategories(self, request, ctx):
        require_staff()
        return _list_categories(self.rt, request, include_inactive=True)

    def CreateProduct(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return self._detail(session, products.create_product(self.rt, session, request.product,
                                                                 request.skus))

    def UpdateProduct(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return self._detail(session, products.update_product(self.rt, session,
                                                                 request.product_id, request.product))

    def GetProduct(self, request, ctx):
        require_staff()
        with self.rt.transaction() as session:
            return views.product_detail(session, request.product_id, self.storage, shopper=False)

    def ListProducts(self, request, ctx):
        require_staff()
        with self.rt.transaction() as session:
            return listing.list_products(session, listing.Filters.for_staff(request))

    def PublishProduct(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return self._detail(session, products.publish(self.rt, session, request.product_id))

    def UnpublishProduct(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return self._detail(session, products.unpublish(self.rt, session, request.product_id))

    def AddSkus(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return self._detail(session, products.add_skus(self.rt, session, request.product_id,
                                                           request.skus))

    def UpdateSku(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            sku = products.update_sku(self.rt, session, request.sku_id, request.sku)
            return views.sku_pb(sku, views.availability_of(session, [sku.id]).get(sku.id))

    def SetEarlyAccess(self, request, ctx):
        require_staff()
        with writing(self.rt) as session:
            return self._detail(session, early_access.set_rule(self.rt, session, request))

    def InviteToTrial(self, request, ctx):
        caller = context.require_roles(*roles.MERCHANDISERS, action="inviting members to a trial")
        with writing(self.rt) as session:
            return early_access.invite(self.rt, session, request, caller.user_id)

    def UploadMedia(self, request_iterator, ctx):
        require_staff()
        seen = {"kind": "unknown"}  # known once the header has arrived, for the counter
        try:
            header, data, poster, size = _receive_upload(request_iterator, seen)
            kind = seen["kind"]
            try:
                created = media.upload(self.rt, self.storage, product_id=header.product_id,
                                       kind=kind, angle=ANGLES.get(header.angle, ""),
                                       position=header.position, data=data, data_size=size,
                                       poster=poster)
            finally:
                data.close()
        except InvalidArgument:
            metrics.UPLOADS.labels(seen["kind"], "refused").inc()
            raise
        metrics.UPLOADS.labels(kind, "stored").inc()
        return views.media_pb(created, self.storage)

    def DeleteMedia(self, request, ctx):
        require_staff()
        media.delete(self.rt, self.storage, request.media_id)
        return pb.DeleteMediaResponse()


def _receive_upload(request_iterator, seen: dict):
    """Reads the stream: a header first, then data and poster chunks. Stops as soon as a limit is
    passed, so a too-large upload is refused without being read to its end."""
    header = None
    data = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
    poster = bytearray()
    size = 0
    try:
        for message in request_iterator:
            part = message.WhichOneof("part")
            if header is None:
                if part != "header":
                    raise InvalidArgument.field("header", "first", "send the header message "
                                                                   "before any bytes")
                header = message.header
                if header.kind not in MEDIA_KINDS:
                    raise InvalidArgument.field("header.kind", "enum", "kind must be IMAGE or VIDEO")
                seen["kind"] = MEDIA_KINDS[header.kind]
                if not header.product_id:
                    raise InvalidArgument.field("header.product_id", "required",
                                                "name the product the media belongs to")
                continue
            chunk = getattr(message, part) if part in ("data", "poster") else b""
            if part == "header":
                raise InvalidArgument.field("header", "once", "send the header only once")
            if len(chunk) > CHUNK_LIMIT:
                raise InvalidArgument.field(part, "chunk_size",
                                            f"send the bytes in chunks of at most {CHUNK_LIMIT}")
            if part == "data":
                size += len(chunk)
                media.check_size("data", MEDIA_KINDS[header.kind], size)
                data.write(chunk)
            elif part == "poster":
                if header.kind != pb.VIDEO:
                    raise InvalidArgument.field("poster", "video_only", "only a video has a poster")
                poster += chunk
                media.check_size("poster", "image", len(poster))
        if header is None:
            raise InvalidArgument.field("header", "required", "the upload sent no header")
        return header, data, bytes(poster), size
    except BaseException:
        data.close()
        raise


def register(server: grpc.Server, rt: Runtime) -> list[str]:
    storage = default_storage("catalog")
    search.tokenizer()  # load jieba's dictionary now, not during the first search
    pb_grpc.add_CatalogServiceServicer_to_server(CatalogServicer(rt, storage), server)
    pb_grpc.add_CatalogAdminServiceServicer_to_server(CatalogAdminServicer(rt, storage), server)
    return [pb.DESCRIPTOR.services_by_name["CatalogService"].full_name,
            pb.DESCRIPTOR.services_by_name["CatalogAdminService"].full_name]
