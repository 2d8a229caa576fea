"""Where each province is, for choosing the nearest warehouse: the coordinates of its capital.

Source: the city coordinates of GeoNames (https://www.geonames.org, CC BY 4.0) for each
provincial-level capital (municipalities: the city itself), WGS-84, rounded to 0.01°. A
province's distance to a warehouse is the great-circle (haversine) distance from its capital;
a warehouse's own coordinates are its own.
"""
from __future__ import annotations

import math

# short name → (capital, latitude, longitude)
CAPITALS: dict[str, tuple[str, float, float]] = {
    "北京": ("北京", 39.90, 116.41),
    "天津": ("天津", 39.13, 117.20),
    "河北": ("石家庄", 38.04, 114.51),
    "山西": ("太原", 37.87, 112.55),
    "内蒙古": ("呼和浩特", 40.84, 111.75),
    "辽宁": ("沈阳", 41.80, 123.43),
    "吉林": ("长春", 43.88, 125.32),
    "黑龙江": ("哈尔滨", 45.80, 126.53),
    "上海": ("上海", 31.23, 121.47),
    "江苏": ("南京", 32.06, 118.80),
    "浙江": ("杭州", 30.27, 120.16),
    "安徽": ("合肥", 31.82, 117.23),
    "福建": ("福州", 26.07, 119.30),
    "江西": ("南昌", 28.68, 115.86),
    "山东": ("济南", 36.65, 117.12),
    "河南": ("郑州", 34.75, 113.63),
    "湖北": ("武汉", 30.59, 114.31),
    "湖南": ("长沙", 28.23, 112.94),
    "广东": ("广州", 23.13, 113.26),
    "广西": ("南宁", 22.82, 108.37),
    "海南": ("海口", 20.04, 110.20),
    "重庆": ("重庆", 29.56, 106.55),
    "四川": ("成都", 30.57, 104.07),
    "贵州": ("贵阳", 26.65, 106.63),
    "云南": ("昆明", 25.04, 102.71),
    "西藏": ("拉萨", 29.65, 91.12),
    "陕西": ("西安", 34.34, 108.94),
    "甘肃": ("兰州", 36.06, 103.83),
    "青海": ("西宁", 36.62, 101.78),
    "宁夏": ("银川", 38.49, 106.23),
    "新疆": ("乌鲁木齐", 43.83, 87.62),
    "香港": ("香港", 22.32, 114.17),
    "澳门": ("澳门", 22.20, 113.54),
    "台湾": ("台北", 25.03, 121.57),
}

# Longest first, so "广西壮族自治区" loses "壮族自治区" and not just "自治区".
_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")

EARTH_RADIUS_KM = 6371.0


def short_name(province: str) -> str | None:
    """"广东省" / "广东" / "新疆维吾尔自治区" → the table's key, or None when unknown."""
    name = (province or "").strip()
    if name in CAPITALS:
        return name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in CAPITALS:
            return name[: -len(suffix)]
    return None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def distance_km(province_key: str, latitude: float, longitude: float) -> float:
    _, lat, lon = CAPITALS[province_key]
    return haversine_km(lat, lon, latitude, longitude)
