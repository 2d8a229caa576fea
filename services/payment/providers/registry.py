"""Which adapter serves which method, built once per process from the credentials."""
from __future__ import annotations

import threading

from ..credentials import AlipayCredentials, WechatPayCredentials, provider_timeout_seconds

METHOD_PROVIDER = {"wechat_jsapi": "wechatpay", "alipay": "alipay", "card": "card"}
_adapters: dict[str, object] = {}
_lock = threading.Lock()


def _build(name: str):
    timeout = provider_timeout_seconds()
    if name == "wechatpay":
        from .wechatpay import WechatPay
        return WechatPay(WechatPayCredentials.load(), timeout=timeout)
    if name == "alipay":
        from .alipay import Alipay
        return Alipay(AlipayCredentials.load(), timeout=timeout)
    if name == "card":
        from ..credentials import CardCredentials
        from .card import CardAcquirer
        return CardAcquirer(CardCredentials.load(), timeout=timeout)
    raise KeyError(name)


def provider(name: str):
    """The adapter for provider `name` (wechatpay, alipay, card); KeyError for another name."""
    if name not in METHOD_PROVIDER.values():
        raise KeyError(name)
    with _lock:
        if name not in _adapters:
            _adapters[name] = _build(name)
        return _adapters[name]


def for_method(method: str):
    return provider(METHOD_PROVIDER[method])


def reset() -> None:
    """Forgets the adapters (tests that change keys or addresses)."""
    with _lock:
        for adapter in _adapters.values():
            adapter.close_client()
        _adapters.clear()
