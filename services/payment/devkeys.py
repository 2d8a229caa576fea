"""Development keys and ids for the payment providers: `make run` writes them into
var/payment-keys on first start (deploy/local/devkeys.py), the tests into their own temp var/.
Never committed, never used in production (there every key comes from the environment).

Both sides of each provider are here, because the local stand-ins play the provider: the stand-in
verifies with the merchant's public key and signs with the platform's private key, as WeChat and
Alipay do with keys that never leave them.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

IDS_FILE = "ids.json"
KEY_PAIRS = ("wechatpay_merchant", "wechatpay_platform", "alipay_app", "alipay")
DEV_WECHAT_APPID = "wx0000000000000dev"  # the mini-program's dev appid (member's stand-in has it too)


def _write_key_pair(directory: Path, name: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_private(directory / f"{name}_private.pem", private)
    (directory / f"{name}_public.pem").write_bytes(public)


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)


def _new_ids() -> dict[str, str]:
    return {
        "wechatpay_mchid": "1900000109",
        "wechatpay_appid": DEV_WECHAT_APPID,
        "wechatpay_merchant_serial": secrets.token_hex(20).upper(),
        "wechatpay_platform_public_key_id": "PUB_KEY_ID_" + "".join(
            secrets.choice("0123456789") for _ in range(28)),
        "wechatpay_apiv3_key": secrets.token_hex(16),  # 32 characters: AES-256's key
        "alipay_app_id": "2021000000000001",
        "alipay_seller_id": "2088000000000001",
        "card_secret_key": "sk_test_" + secrets.token_hex(12),
        "card_webhook_secret": "whsec_" + secrets.token_hex(16),
    }


def ensure(directory: Path) -> Path:
    """Creates what is missing (keys, ids); keeps what is there. Returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in KEY_PAIRS:
        if not (directory / f"{name}_public.pem").exists():
            _write_key_pair(directory, name)
    path = directory / IDS_FILE
    existing = json.loads(path.read_text()) if path.exists() else {}
    ids = {**_new_ids(), **existing}
    if ids != existing:
        _write_private(path, json.dumps(ids, indent=2).encode())
    return directory
