"""The providers' keys, ids and addresses, from the environment (production) or from the
development key directory (`make run`, tests: see devkeys.py).

Each value is MALL_PAYMENT_<NAME> (or MALL_<NAME>): PEM keys as their text, ids as strings; what
is not set is read from MALL_PAYMENT_KEY_DIR (default var/payment-keys).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from servicekit.config import GATEWAY_PORT, env, env_int, var_dir

SERVICE = "payment"


def key_dir() -> Path:
    return Path(env("KEY_DIR", str(var_dir() / "payment-keys"), SERVICE))


def _dev_ids(directory: Path) -> dict:
    path = directory / "ids.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _value(name: str, dev_ids: dict, directory: Path, file: str | None = None) -> str:
    value = env(name.upper(), None, SERVICE)
    if value:
        return value
    if file:
        path = directory / file
        if path.exists():
            return path.read_text()
    elif name in dev_ids:
        return dev_ids[name]
    raise RuntimeError(f"payment: MALL_PAYMENT_{name.upper()} is not set and no development "
                       f"value exists in {directory} (run `make run` once, or set it)")


def notify_base() -> str:
    """Where providers reach the gateway (a public https address in production)."""
    return env("NOTIFY_BASE_URL", f"http://127.0.0.1:{env('PORT', str(GATEWAY_PORT), 'gateway')}",
               SERVICE).rstrip("/")


@dataclass(frozen=True)
class WechatPayCredentials:
    mchid: str
    appid: str
    merchant_serial: str
    merchant_private_key: str
    apiv3_key: str
    # platform public key id -> PEM; more than one while WeChat rotates its key
    platform_public_keys: dict[str, str] = field(default_factory=dict)
    api_base: str = ""
    notify_url: str = ""

    @classmethod
    def load(cls) -> "WechatPayCredentials":
        directory = key_dir()
        ids = _dev_ids(directory)
        return cls(
            mchid=_value("wechatpay_mchid", ids, directory),
            appid=_value("wechatpay_appid", ids, directory),
            merchant_serial=_value("wechatpay_merchant_serial", ids, directory),
            merchant_private_key=_value("wechatpay_merchant_private_key", ids, directory,
                                        "wechatpay_merchant_private.pem"),
            apiv3_key=_value("wechatpay_apiv3_key", ids, directory),
            platform_public_keys={
                _value("wechatpay_platform_public_key_id", ids, directory):
                    _value("wechatpay_platform_public_key", ids, directory, "wechatpay_platform_public.pem")},
            api_base=env("WECHATPAY_API_BASE", f"http://127.0.0.1:{env('WECHATPAY_STANDIN_PORT', '8093')}",
                         SERVICE).rstrip("/"),
            notify_url=notify_base() + "/v1/payments/notify/wechatpay",
        )


@dataclass(frozen=True)
class AlipayCredentials:
    app_id: str
    seller_id: str
    app_private_key: str
    alipay_public_key: str
    gateway: str = ""
    notify_url: str = ""

    @classmethod
    def load(cls) -> "AlipayCredentials":
        directory = key_dir()
        ids = _dev_ids(directory)
        return cls(
            app_id=_value("alipay_app_id", ids, directory),
            seller_id=_value("alipay_seller_id", ids, directory),
            app_private_key=_value("alipay_app_private_key", ids, directory, "alipay_app_private.pem"),
            alipay_public_key=_value("alipay_public_key", ids, directory, "alipay_public.pem"),
            gateway=env("ALIPAY_GATEWAY", f"http://127.0.0.1:{env('ALIPAY_STANDIN_PORT', '8094')}/gateway.do",
                        SERVICE),
            notify_url=notify_base() + "/v1/payments/notify/alipay",
        )


@dataclass(frozen=True)
class CardCredentials:
    """The card acquirer, spoken in Stripe's PaymentIntents protocol."""
    secret_key: str
    webhook_secret: str
    api_base: str = ""

    @classmethod
    def load(cls) -> "CardCredentials":
        directory = key_dir()
        ids = _dev_ids(directory)
        return cls(
            secret_key=_value("card_secret_key", ids, directory),
            webhook_secret=_value("card_webhook_secret", ids, directory),
            api_base=env("CARD_API_BASE", f"http://127.0.0.1:{env('CARD_STANDIN_PORT', '8095')}",
                         SERVICE).rstrip("/"),
        )


@lru_cache(maxsize=None)
def provider_timeout_seconds() -> float:
    return float(env_int("PROVIDER_TIMEOUT_SECONDS", 5, SERVICE))
