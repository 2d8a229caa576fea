"""WeChat Pay API v3's signatures and encryption, as documented (pay.weixin.qq.com, "签名生成",
"签名验证", "证书和回调报文解密"), shared by the adapter and the local stand-in.

- A merchant request: SHA256withRSA (PKCS#1 v1.5) over ``METHOD\\nPATH?QUERY\\ntimestamp\\nnonce\\nbody\\n``
  with the merchant private key, sent as ``Authorization: WECHATPAY2-SHA256-RSA2048
  mchid="..",nonce_str="..",signature="..",timestamp="..",serial_no=".."``.
- WeChat's answers and notifications: SHA256withRSA over ``timestamp\\nnonce\\nbody\\n`` with the
  platform key named by ``Wechatpay-Serial``.
- A notification's ``resource``: AEAD_AES_256_GCM with the 32-byte APIv3 key, its nonce and
  associated_data; the ciphertext is base64 with the 16-byte tag at its end.
- ``wx.requestPayment``'s paySign: SHA256withRSA over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``.
"""
from __future__ import annotations

import base64
import re
import secrets
import string

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
_NONCE_ALPHABET = string.ascii_uppercase + string.digits
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("WeChat Pay keys are RSA keys")
    return key


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("WeChat Pay keys are RSA keys")
    return key


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(private_key.sign(message.encode(), padding.PKCS1v15(),
                                             hashes.SHA256())).decode()


def verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message.encode(),
                          padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError):
        return False


def request_message(method: str, path: str, timestamp: str, nonce_str: str, body: str) -> str:
    return f"{method}\n{path}\n{timestamp}\n{nonce_str}\n{body}\n"


def answer_message(timestamp: str, nonce_str: str, body: str) -> str:
    """What WeChat signs on its answers and notifications (and what the stand-in signs)."""
    return f"{timestamp}\n{nonce_str}\n{body}\n"


def authorization(*, mchid: str, serial_no: str, private_key: rsa.RSAPrivateKey, method: str,
                  path: str, body: str, timestamp: str, nonce_str: str) -> str:
    signature = sign(private_key, request_message(method, path, timestamp, nonce_str, body))
    return (f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{serial_no}"')


def parse_authorization(header: str) -> dict[str, str]:
    """The parameters of an Authorization header; {} when it is not WeChat Pay's schema."""
    schema, _, params = (header or "").partition(" ")
    if schema != SCHEMA:
        return {}
    return dict(_AUTH_PARAM.findall(params))


def pay_sign(private_key: rsa.RSAPrivateKey, app_id: str, time_stamp: str, nonce_str: str,
             package: str) -> str:
    return sign(private_key, f"{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n")


def decrypt_resource(apiv3_key: str, resource: dict) -> bytes:
    """Raises cryptography.exceptions.InvalidTag when the key, nonce, associated data or
    ciphertext do not match (a tampered or misaddressed notification)."""
    return AESGCM(apiv3_key.encode()).decrypt(
        resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]),
        (resource.get("associated_data") or "").encode())


def encrypt_resource(apiv3_key: str, plaintext: bytes, *, original_type: str,
                     associated_data: str) -> dict:
    """The stand-in's side of decrypt_resource: a resource exactly as WeChat sends it."""
    resource_nonce = nonce(12)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(resource_nonce.encode(), plaintext,
                                                    associated_data.encode())
    return {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated_data, "nonce": resource_nonce}
