"""The demo shop's catalog, through catalog's own admin RPCs (as the merchant's staff would).

    skus = seed(channel)   # [{"sku_id", "id", "code", "product_id", "size", "colour", "price_fen"}]

Creates the facet categories (style tree, function facets, brands) and 40 lingerie products with
SKUs (bras band x cup x colour, the rest S..XL x colour), four generated placeholder images each
(Pillow: a coloured canvas with the product and the angle drawn on it), and publishes them.

Idempotent: every category, product (known by its SKU codes), image and publication is looked up
before it is created, so a second run finds the shop seeded, writes nothing, and returns the same
SKUs (so the logistics seed can replay its receipts).
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from mall.catalog.v1 import catalog_pb2 as pb
from mall.catalog.v1 import catalog_pb2_grpc as pb_grpc
from mall.common.v1 import common_pb2
from PIL import Image, ImageDraw, ImageFont

STAFF = (("x-mall-user-id", "make-run-seed"), ("x-mall-roles", "admin"))
TIMEOUT = 15.0
CHUNK = 512 * 1024

# The style tree (parent -> children), function facets and brands.
STYLES = {"文胸": ["无钢圈文胸", "聚拢文胸", "哺乳文胸"], "内裤": [], "睡衣家居服": [],
          "塑身衣": [], "运动内衣": [], "背心吊带": []}
FUNCTIONS = ["无钢圈", "聚拢", "运动", "塑形", "哺乳", "无痕", "透气", "大胸显小"]
BRANDS = ["云裳", "初恋", "素肌", "蜜桃时光"]
COLOURS = {"黑色": ((40, 40, 46), "BK"), "肤色": ((232, 196, 170), "NU"),
           "白色": ((245, 245, 240), "WH"), "豆沙粉": ((214, 150, 150), "PK"),
           "雾霾蓝": ((140, 160, 185), "BL"), "酒红色": ((120, 30, 50), "RD"),
           "香槟色": ((230, 210, 170), "CH"), "灰色": ((150, 150, 150), "GY")}
ANGLES = [(pb.FRONT, "FRONT"), (pb.BACK, "BACK"), (pb.SIDE, "SIDE"), (pb.DETAIL, "DETAIL")]

CARE = {"lace": "30℃以下手洗, 不可漂白, 不可滚筒烘干, 平铺阴干, 建议使用洗衣袋",
        "cotton": "可机洗(使用洗衣袋), 30℃以下, 不可漂白, 中温熨烫",
        "silk": "专业干洗或冷水手洗, 中性洗涤剂, 不可拧干, 避光阴干, 低温熨烫",
        "sport": "30℃以下手洗或轻柔机洗, 不可使用柔顺剂, 不可烘干"}


@dataclass
class Item:
    code: str
    title: str
    subtitle: str
    style: str
    functions: list[str]
    brand: str
    material: str
    composition: str
    care: str
    price_yuan: int
    colours: list[str]
    origin: str = "中国广东"
    bra: bool = field(init=False)

    def __post_init__(self):
        self.bra = self.style in ("文胸", "无钢圈文胸", "聚拢文胸", "哺乳文胸", "运动内衣")


P = Item  # one short name keeps the table below readable
CATALOG = [
    P("BR01", "云朵无钢圈蕾丝文胸", "软支撑 不压胸 一整天的轻盈", "无钢圈文胸", ["无钢圈", "透气"], "云裳",
      "锦纶, 蕾丝", "面料: 锦纶82% 氨纶18%; 蕾丝: 锦纶90% 氨纶10%", "lace", 199, ["黑色", "肤色"]),
    P("BR02", "法式三角杯蕾丝文胸", "法式浪漫 薄杯透气", "无钢圈文胸", ["无钢圈"], "初恋",
      "蕾丝, 锦纶", "蕾丝: 锦纶88% 氨纶12%; 里料: 棉100%", "lace", 169, ["酒红色", "黑色"]),
    P("BR03", "小胸聚拢加厚文胸", "上托聚拢 告别空杯", "聚拢文胸", ["聚拢"], "蜜桃时光",
      "锦纶, 氨纶", "面料: 锦纶80% 氨纶20%; 模杯: 聚氨酯海绵", "lace", 189, ["豆沙粉", "黑色"]),
    P("BR04", "收副乳调整型聚拢文胸", "侧收副乳 防外扩", "聚拢文胸", ["聚拢"], "云裳",
      "锦纶, 蕾丝", "面料: 锦纶78% 氨纶22%", "lace", 229, ["肤色", "黑色"]),
    P("BR05", "大胸显小全罩杯文胸", "全包容 视觉小一码", "文胸", ["大胸显小"], "素肌",
      "锦纶, 氨纶", "面料: 锦纶85% 氨纶15%; 侧比: 涤纶100%", "lace", 259, ["肤色", "灰色"]),
    P("BR06", "纯棉前扣哺乳文胸", "单手开扣 哺乳更方便", "哺乳文胸", ["哺乳", "无钢圈"], "素肌",
      "纯棉", "面料: 棉95% 氨纶5%", "cotton", 139, ["肤色", "白色"]),
    P("BR07", "孕期睡眠哺乳文胸", "交叉设计 夜间哺乳", "哺乳文胸", ["哺乳", "无钢圈", "透气"], "初恋",
      "莫代尔", "面料: 莫代尔92% 氨纶8%", "cotton", 119, ["豆沙粉", "灰色"]),
    P("BR08", "无痕一片式文胸", "隐形贴身 夏日不闷", "无钢圈文胸", ["无痕", "无钢圈", "透气"], "云裳",
      "冰丝, 锦纶", "面料: 锦纶75% 氨纶25%", "lace", 159, ["肤色", "黑色"]),
    P("BR09", "真丝蕾丝边文胸", "桑蚕丝亲肤 蕾丝点缀", "文胸", ["无钢圈"], "蜜桃时光",
      "真丝, 蕾丝", "面料: 桑蚕丝93% 氨纶7%; 蕾丝: 锦纶100%", "silk", 329, ["香槟色", "黑色"]),
    P("BR10", "美背吊带蕾丝文胸", "美背设计 外穿内搭皆宜", "无钢圈文胸", ["无钢圈"], "初恋",
      "蕾丝", "蕾丝: 锦纶85% 氨纶15%", "lace", 179, ["白色", "黑色"]),
    P("BR11", "钢圈承托蕾丝文胸", "软钢圈稳稳承托", "文胸", ["聚拢", "大胸显小"], "素肌",
      "蕾丝, 锦纶", "面料: 锦纶80% 氨纶20%", "lace", 239, ["酒红色", "肤色"]),
    P("BR12", "少女无钢圈学生文胸", "纯棉亲肤 成长期舒适", "无钢圈文胸", ["无钢圈", "透气"], "蜜桃时光",
      "纯棉", "面料: 棉92% 氨纶8%", "cotton", 89, ["白色", "豆沙粉"]),
    P("SP01", "高强度防震运动内衣", "跑步跳绳 稳稳不晃", "运动内衣", ["运动", "聚拢"], "素肌",
      "锦纶, 氨纶", "面料: 锦纶72% 氨纶28%; 内衬: 涤纶100%", "sport", 219, ["黑色", "雾霾蓝"]),
    P("SP02", "瑜伽美背运动文胸", "中强度 交叉美背", "运动内衣", ["运动", "无钢圈"], "云裳",
      "锦纶, 氨纶", "面料: 锦纶75% 氨纶25%", "sport", 159, ["灰色", "豆沙粉"]),
    P("SP03", "速干透气运动背心式内衣", "吸湿速干 一体成型", "运动内衣", ["运动", "透气", "无痕"], "初恋",
      "涤纶, 氨纶", "面料: 涤纶85% 氨纶15%", "sport", 139, ["黑色", "白色"]),
    P("SP04", "前拉链高支撑运动内衣", "前拉链穿脱方便", "运动内衣", ["运动"], "蜜桃时光",
      "锦纶, 氨纶", "面料: 锦纶70% 氨纶30%", "sport", 249, ["雾霾蓝", "黑色"]),
    P("PT01", "莫代尔高腰内裤", "亲肤透气 收腹不勒", "内裤", ["透气"], "素肌",
      "莫代尔", "面料: 莫代尔95% 氨纶5%; 裆部: 棉100%", "cotton", 49, ["肤色", "黑色"]),
    P("PT02", "冰丝无痕三角裤", "隐形无痕 夏日清凉", "内裤", ["无痕", "透气"], "云裳",
      "冰丝, 锦纶", "面料: 锦纶82% 氨纶18%; 裆部: 棉100%", "cotton", 39, ["肤色", "黑色"]),
    P("PT03", "蕾丝低腰三角裤", "性感蕾丝 舒适不勒", "内裤", [], "初恋",
      "蕾丝", "蕾丝: 锦纶88% 氨纶12%; 裆部: 棉100%", "lace", 45, ["酒红色", "黑色"]),
    P("PT04", "纯棉中腰平角裤", "纯棉抗菌 防走光", "内裤", ["透气"], "蜜桃时光",
      "纯棉", "面料: 棉95% 氨纶5%", "cotton", 35, ["白色", "灰色"]),
    P("PT05", "高腰收腹提臀内裤", "收小腹 提臀塑形", "内裤", ["塑形"], "素肌",
      "锦纶, 氨纶", "面料: 锦纶75% 氨纶25%", "cotton", 69, ["肤色", "黑色"]),
    P("PT06", "真丝蕾丝边内裤", "桑蚕丝贴肤 细腻柔滑", "内裤", [], "蜜桃时光",
      "真丝, 蕾丝", "面料: 桑蚕丝93% 氨纶7%", "silk", 99, ["香槟色", "黑色"]),
    P("PT07", "孕妇低腰纯棉内裤", "托腹设计 孕期可穿", "内裤", ["透气"], "初恋",
      "纯棉", "面料: 棉95% 氨纶5%", "cotton", 42, ["肤色", "豆沙粉"]),
    P("PT08", "运动速干平角裤", "防卷边 运动不走光", "内裤", ["运动", "无痕"], "云裳",
      "锦纶, 氨纶", "面料: 锦纶80% 氨纶20%", "sport", 59, ["黑色", "灰色"]),
    P("SL01", "真丝吊带睡裙", "桑蚕丝垂坠 贴肤凉爽", "睡衣家居服", [], "蜜桃时光",
      "真丝", "面料: 桑蚕丝100%", "silk", 599, ["香槟色", "酒红色"], origin="中国浙江"),
    P("SL02", "纯棉长袖睡衣套装", "春秋家居 宽松舒适", "睡衣家居服", ["透气"], "素肌",
      "纯棉", "面料: 棉100%", "cotton", 259, ["雾霾蓝", "豆沙粉"]),
    P("SL03", "莫代尔短袖家居服套装", "柔软垂顺 居家外出", "睡衣家居服", ["透气"], "云裳",
      "莫代尔", "面料: 莫代尔92% 氨纶8%", "cotton", 229, ["灰色", "豆沙粉"]),
    P("SL04", "蕾丝拼接冰丝睡裙", "蕾丝点缀 清凉一夏", "睡衣家居服", [], "初恋",
      "冰丝, 蕾丝", "面料: 粘纤95% 氨纶5%; 蕾丝: 锦纶100%", "lace", 189, ["黑色", "香槟色"]),
    P("SL05", "珊瑚绒加厚睡袍", "冬季保暖 柔软亲肤", "睡衣家居服", [], "蜜桃时光",
      "涤纶", "面料: 涤纶100%", "cotton", 199, ["灰色", "豆沙粉"]),
    P("SL06", "孕产哺乳月子服", "侧开哺乳 纯棉透气", "睡衣家居服", ["哺乳", "透气"], "素肌",
      "纯棉", "面料: 棉100%", "cotton", 269, ["豆沙粉", "雾霾蓝"]),
    P("SH01", "高腰收腹塑身裤", "强力收腹 平坦小腹", "塑身衣", ["塑形"], "素肌",
      "锦纶, 氨纶", "面料: 锦纶70% 氨纶30%", "cotton", 159, ["肤色", "黑色"]),
    P("SH02", "无痕连体塑身衣", "一体塑形 隐形无痕", "塑身衣", ["塑形", "无痕"], "云裳",
      "锦纶, 氨纶", "面料: 锦纶72% 氨纶28%", "cotton", 299, ["肤色", "黑色"]),
    P("SH03", "产后束腰收腹带", "产后修复 分段加压", "塑身衣", ["塑形"], "初恋",
      "锦纶, 氨纶", "面料: 锦纶80% 氨纶20%", "cotton", 189, ["肤色", "黑色"]),
    P("SH04", "提臀塑形平角裤", "翘臀 防卷边", "塑身衣", ["塑形", "无痕"], "蜜桃时光",
      "锦纶, 氨纶", "面料: 锦纶75% 氨纶25%", "cotton", 129, ["肤色", "黑色"]),
    P("SH05", "美背塑形背心", "挺拔体态 收副乳", "塑身衣", ["塑形", "大胸显小"], "素肌",
      "锦纶, 氨纶", "面料: 锦纶78% 氨纶22%", "cotton", 219, ["肤色", "白色"]),
    P("CM01", "莫代尔吊带背心", "自带胸垫 免穿内衣", "背心吊带", ["无钢圈", "透气"], "云裳",
      "莫代尔", "面料: 莫代尔92% 氨纶8%", "cotton", 79, ["白色", "黑色"]),
    P("CM02", "蕾丝抹胸", "防走光 打底百搭", "背心吊带", ["无钢圈"], "初恋",
      "蕾丝", "蕾丝: 锦纶85% 氨纶15%", "lace", 69, ["黑色", "白色"]),
    P("CM03", "真丝吊带背心", "桑蚕丝 内搭外穿", "背心吊带", [], "蜜桃时光",
      "真丝", "面料: 桑蚕丝100%", "silk", 289, ["香槟色", "黑色"], origin="中国浙江"),
    P("CM04", "冰丝无痕背心", "清凉透气 一片式无痕", "背心吊带", ["无痕", "透气"], "素肌",
      "冰丝", "面料: 锦纶80% 氨纶20%", "cotton", 59, ["肤色", "灰色"]),
    P("CM05", "纯棉运动背心", "吸汗透气 运动居家", "背心吊带", ["运动", "透气"], "云裳",
      "纯棉", "面料: 棉95% 氨纶5%", "cotton", 55, ["白色", "灰色"]),
]

BANDS, CUPS = (75, 80), ("B", "C")
LETTER_SIZES = ("S", "M", "L", "XL")
CUP_DIFF_CM = {"A": 10.0, "B": 12.5, "C": 15.0, "D": 17.5}
LETTER_CHART = {"S": ("80-84", "62-66", "86-90"), "M": ("84-88", "66-70", "90-94"),
                "L": ("88-92", "70-74", "94-98"), "XL": ("92-96", "74-78", "98-102")}


def ean13(code: str) -> str:
    """A deterministic EAN-13 (prefix 69 = China) with a valid check digit."""
    body = "69" + f"{zlib.crc32(code.encode()) % 10**10:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def size_chart(item: Item) -> pb.SizeChart:
    if item.bra:
        rows = [pb.SizeChartRow(size=f"{b}{c}", values=[f"{b - 2}-{b + 2}",
                                                         f"{b + CUP_DIFF_CM[c]:g}±1"])
                for b in BANDS for c in CUPS]
        return pb.SizeChart(columns=["下胸围(cm)", "上胸围(cm)"], rows=rows)
    return pb.SizeChart(columns=["胸围(cm)", "腰围(cm)", "臀围(cm)"],
                        rows=[pb.SizeChartRow(size=s, values=list(LETTER_CHART[s]))
                              for s in LETTER_SIZES])


def sku_inputs(item: Item) -> list[pb.SkuInput]:
    price = item.price_yuan * 100
    out = []
    for colour in item.colours:
        tag = COLOURS[colour][1]
        if item.bra:
            for band in BANDS:
                for cup in CUPS:
                    code = f"{item.code}-{band}{cup}-{tag}"
                    out.append(pb.SkuInput(code=code, band=band, cup=cup, colour=colour,
                                           price_fen=price + (1000 if cup == "C" else 0),
                                           barcode=ean13(code)))
        else:
            for size in LETTER_SIZES:
                code = f"{item.code}-{size}-{tag}"
                out.append(pb.SkuInput(code=code, size=size, colour=colour, price_fen=price,
                                       barcode=ean13(code)))
    return out


def _font(size: int):
    """A CJK font when the machine has one (the title is drawn), else Pillow's own (the code)."""
    for path in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                 "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                 "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
                 "/System/Library/Fonts/PingFang.ttc"):
        if Path(path).exists():
            return ImageFont.truetype(path, size), True
    return ImageFont.load_default(size=size), False


def placeholder(item: Item, angle: str, colour: str) -> bytes:
    """800 x 1000 JPEG: the colour of the product, a garment-ish silhouette, the name and angle."""
    rgb = COLOURS[colour][0]
    image = Image.new("RGB", (800, 1000), tuple(min(255, c + 40) for c in rgb))
    draw = ImageDraw.Draw(image)
    ink = (255, 255, 255) if sum(rgb) < 380 else (40, 40, 40)
    if item.bra:
        draw.ellipse((170, 330, 400, 560), fill=rgb, outline=ink, width=4)
        draw.ellipse((400, 330, 630, 560), fill=rgb, outline=ink, width=4)
        draw.line((120, 450, 680, 450), fill=ink, width=8)
    else:
        draw.rounded_rectangle((220, 280, 580, 680), radius=60, fill=rgb, outline=ink, width=4)
    big, cjk = _font(56)
    small, _ = _font(40)
    draw.text((400, 130), item.title if cjk else item.code, font=big, fill=ink, anchor="mm")
    draw.text((400, 820), angle, font=small, fill=ink, anchor="mm")
    draw.text((400, 890), item.code, font=small, fill=ink, anchor="mm")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class _Admin:
    def __init__(self, channel):
        self.stub = pb_grpc.CatalogAdminServiceStub(channel)

    def __getattr__(self, name):
        method = getattr(self.stub, name)
        return lambda request: method(request, metadata=STAFF, timeout=TIMEOUT)


def _categories(admin: _Admin) -> dict[tuple[int, str], str]:
    """(kind, name) -> id, creating what is missing."""
    existing = {(c.kind, c.name, c.parent_id): c.id
                for c in admin.ListCategories(pb.ListCategoriesRequest()).categories}

    def ensure(kind: int, name: str, parent_id: str = "", order: int = 0) -> str:
        key = (kind, name, parent_id)
        if key not in existing:
            existing[key] = admin.CreateCategory(pb.CreateCategoryRequest(category=pb.CategoryInput(
                kind=kind, name=name, parent_id=parent_id, sort_order=order))).id
        return existing[key]

    ids = {}
    for order, (style, children) in enumerate(STYLES.items()):
        ids[(pb.STYLE, style)] = ensure(pb.STYLE, style, order=order)
        for child_order, child in enumerate(children):
            ids[(pb.STYLE, child)] = ensure(pb.STYLE, child, ids[(pb.STYLE, style)], child_order)
    for order, name in enumerate(FUNCTIONS):
        ids[(pb.FUNCTION, name)] = ensure(pb.FUNCTION, name, order=order)
    for order, name in enumerate(BRANDS):
        ids[(pb.BRAND, name)] = ensure(pb.BRAND, name, order=order)
    return ids


def _existing_products(admin: _Admin) -> dict[str, pb.Product]:
    """Seed code (the SKU code's first part) -> the product already in the shop."""
    found, token = {}, ""
    while True:
        page = admin.ListProducts(pb.AdminListProductsRequest(
            page=common_pb2.PageRequest(page_size=100, page_token=token)))
        for summary in page.products:
            product = admin.GetProduct(pb.ProductIdRequest(product_id=summary.id))
            for sku in product.skus:
                found.setdefault(sku.code.split("-", 1)[0], product)
        token = page.page.next_page_token
        if not token:
            return found


def _upload(admin: _Admin, product_id: str, angle: int, data: bytes) -> None:
    def stream():
        yield pb.UploadMediaRequest(header=pb.UploadMediaHeader(
            product_id=product_id, kind=pb.IMAGE, angle=angle, filename="placeholder.jpg"))
        for start in range(0, len(data), CHUNK):
            yield pb.UploadMediaRequest(data=data[start:start + CHUNK])
    admin.UploadMedia(stream())


def _product_input(item: Item, ids) -> pb.ProductInput:
    return pb.ProductInput(
        title=item.title, subtitle=item.subtitle,
        description=pb.ProductDescription(
            material=item.material, composition=item.composition, care=CARE[item.care],
            origin=item.origin,
            body=f"{item.title}: {item.subtitle}。面料 {item.material}, 贴身衣物请按洗护说明打理。"),
        category_id=ids[(pb.STYLE, item.style)],
        function_ids=[ids[(pb.FUNCTION, f)] for f in item.functions],
        brand_id=ids[(pb.BRAND, item.brand)], size_system=pb.BRA if item.bra else pb.LETTER,
        size_chart=size_chart(item))


def seed(channel) -> list[dict]:
    admin = _Admin(channel)
    ids = _categories(admin)
    existing = _existing_products(admin)
    skus: list[dict] = []
    for item in CATALOG:
        product = existing.get(item.code)
        if product is None:
            product = admin.CreateProduct(pb.CreateProductRequest(
                product=_product_input(item, ids), skus=sku_inputs(item)))
        have = {m.angle for m in product.media}
        for angle, label in ANGLES:
            if angle not in have:
                _upload(admin, product.id, angle, placeholder(item, label, item.colours[0]))
        if product.status == pb.DRAFT:  # one unpublished by staff since stays so
            product = admin.PublishProduct(pb.ProductIdRequest(product_id=product.id))
        skus += [{"sku_id": s.id, "id": s.id, "code": s.code, "product_id": product.id,
                  "size": s.size, "colour": s.colour, "price_fen": s.price_fen}
                 for s in product.skus if s.active]
    return skus
