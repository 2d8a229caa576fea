"""Personal data in events: sealed when an event is written, opened only where it is needed.

A field marked ``[(mall.common.v1.personal) = true]`` in the contracts (the recipient, phone and
street of a ``common.v1.Address``, wherever an event carries one) never travels in clear. When an
event is written, the kit takes every marked field out of its ``data`` and puts them, in the same
JSON shape, into one AES-GCM ciphertext beside it: ``envelope["sealed"]``. The outbox, the broker,
dead letters and every consumer's copy of the envelope then hold only the ciphertext.

The ciphertext is under the *events key ring* (``pii.Cipher``, so rotation works as for data at
rest), bound to its event (``events/<id>/<type>``): copied into another event it does not open.
Only the services that need the fields hold that ring (`EVENT_KEY_HOLDERS`): a handler there gets
its message with the fields back in place; anywhere else they are simply empty, and the envelope a
handler sees (``event.raw``) never has them, so analytics stores facts without them.

Keys: ``MALL_EVENT_PII_KEYS`` (the ring, as ``MALL_<SERVICE>_PII_KEYS``) is read by the holders
only; ``MALL_<SERVICE>_EVENT_PII_KEYS`` gives a ring to that one service (a new holder, a test).
Without either, `make run` generates one into ``var/event_pii_keys`` for the holders.

Cost: an event whose message has no personal field is not touched (the answer is cached per
message type); one with some costs one AES-GCM encryption when written and one decryption per
holding consumer.
"""
from __future__ import annotations

import functools
import importlib
import json
import os
from typing import Any

from .config import env
from .devsecrets import read_or_create
from .pii import Cipher, KeyConfigError, KeyRing, _new_key_ring

# The services that read personal fields of events: order writes them (order.paid's address),
# member will (a gift's address), logistics ships to them. Analytics and support never hold it.
EVENT_KEY_HOLDERS = frozenset({"order", "member", "logistics"})
SETTING = "EVENT_PII_KEYS"
SEALED = "sealed"  # the envelope key of the ciphertext

# A plan says where a message type's personal fields are: (JSON name, kind, plan of the nested
# message) for each field that is personal or leads to one. None: the type has none.
PERSONAL, NESTED, REPEATED = "personal", "nested", "repeated"
Plan = tuple[tuple[str, str, Any], ...]
# The option's extension (by import_module: protoc's stub for a module-level extension is not
# valid for mypy). Descriptors are typed Any below: protobuf's C and Python ones differ in type.
_PERSONAL = importlib.import_module("mall.common.v1.options_pb2").personal


def is_personal(field: Any) -> bool:
    """Whether a field descriptor is marked `[(mall.common.v1.personal) = true]`."""
    return bool(field.GetOptions().Extensions[_PERSONAL])


@functools.cache
def plan_for(descriptor: Any) -> Plan | None:
    """Where the personal fields of a message type (its descriptor) are; None: it has none."""
    return _plan(descriptor, frozenset())


def _plan(descriptor: Any, seen: frozenset[str]) -> Plan | None:
    if descriptor.full_name in seen:  # a recursive message: its personal fields are found once
        return None
    steps: list[tuple[str, str, Any]] = []
    for field in descriptor.fields:
        if is_personal(field):
            steps.append((field.json_name, PERSONAL, None))
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            inner = _plan(field.message_type, seen | {descriptor.full_name})
            if inner:
                steps.append((field.json_name, REPEATED if field.is_repeated else NESTED, inner))
    return tuple(steps) or None


def split(plan: Plan, data: dict) -> tuple[dict, dict | None]:
    """(`data` without its personal fields, those fields in the same shape or None when there are
    none). `data` itself is left as it is: only the dicts on the way to a personal field are copied."""
    public = dict(data)
    taken: dict = {}
    for name, kind, inner in plan:
        value = public.get(name)
        if kind == PERSONAL:
            public.pop(name, None)
            if value not in (None, "", [], {}):
                taken[name] = value
        elif kind == NESTED and isinstance(value, dict):
            public[name], personal = split(inner, value)
            if personal:
                taken[name] = personal
        elif kind == REPEATED and isinstance(value, list):
            pairs = [split(inner, item) if isinstance(item, dict) else (item, None) for item in value]
            public[name] = [p for p, _ in pairs]
            if any(personal for _, personal in pairs):
                taken[name] = [personal or {} for _, personal in pairs]
    return public, (taken or None)


def merge(plan: Plan, public: dict, personal: dict) -> dict:
    """`public` with `personal` (from `split`) put back in place; neither is changed."""
    merged = dict(public)
    for name, kind, inner in plan:
        value = personal.get(name)
        if value is None:
            continue
        if kind == PERSONAL:
            merged[name] = value
        elif kind == NESTED:
            merged[name] = merge(inner, merged.get(name) or {}, value)
        else:
            items = list(merged.get(name) or [])
            items += [{}] * (len(value) - len(items))
            merged[name] = [merge(inner, item, value[i]) if i < len(value) else item
                            for i, item in enumerate(items)]
    return merged


# --- keys ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def cipher_from(spec: str, setting: str = f"MALL_{SETTING}") -> Cipher:
    return Cipher(KeyRing.parse(spec, setting))


@functools.lru_cache(maxsize=8)
def _development_ring(var_dir: str) -> str:
    return read_or_create("event_pii_keys", _new_key_ring)


def event_cipher(service: str) -> Cipher | None:
    """The events key ring of `service`, or None when it holds none."""
    specific = os.environ.get(f"MALL_{service.upper()}_{SETTING}")
    if specific:
        return cipher_from(specific, f"MALL_{service.upper()}_{SETTING}")
    if service not in EVENT_KEY_HOLDERS:
        return None
    spec = env(SETTING) or _development_ring(env("VAR_DIR", ""))
    return cipher_from(spec)


def _context(envelope: dict) -> str:
    return f"events/{envelope['id']}/{envelope['type']}"


# --- the envelope -------------------------------------------------------------------------------

def seal(envelope: dict, descriptor: Any, cipher: Cipher | None = None) -> dict:
    """Moves the personal fields of `envelope["data"]` (a `descriptor` message's JSON) into
    `envelope["sealed"]`, under `cipher` or else the source's events key; the envelope is changed
    in place and returned. A writer without the key is refused: it would publish them in clear."""
    plan = plan_for(descriptor)
    if plan is None:
        return envelope
    public, personal = split(plan, envelope["data"])
    if personal is None:
        return envelope
    cipher = cipher or event_cipher(envelope["source"])
    if cipher is None:
        raise KeyConfigError(
            f"{envelope['source']} writes {envelope['type']} with personal fields but holds no "
            f"events key: set MALL_{envelope['source'].upper()}_{SETTING} (or add it to "
            "sealing.EVENT_KEY_HOLDERS)")
    envelope["data"] = public
    envelope[SEALED] = cipher.encrypt(json.dumps(personal, ensure_ascii=False, separators=(",", ":")),
                                      _context(envelope))
    return envelope


def open_for(reader: str | None, envelope: dict, descriptor: Any) -> tuple[dict, dict]:
    """(the envelope without personal fields in its data, the data to parse for `reader`).

    A holder gets the personal fields back (opened, or as sent by a producer that did not seal);
    anyone else gets them empty. A ciphertext a holder cannot open raises KeyConfigError."""
    plan = plan_for(descriptor)
    if plan is None:
        return envelope, envelope["data"]
    public, clear = split(plan, envelope["data"])
    stripped = {**envelope, "data": public} if clear else envelope
    cipher = event_cipher(reader) if reader else None
    if cipher is None:
        return stripped, public
    sealed = envelope.get(SEALED)
    personal = json.loads(cipher.decrypt(sealed, _context(envelope))) if sealed else clear
    return stripped, (merge(plan, public, personal) if personal else public)
