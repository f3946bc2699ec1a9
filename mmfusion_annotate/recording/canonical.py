"""Reproducible CDR bytes for generated bags: the same input must give byte-identical files (the
simulator's drives for a seed, dataset imports).

``rclpy.serialization`` leaves the alignment padding of its CDR buffer uninitialised (the bytes after a
string before the next 4- or 8-byte aligned field), so one message can serialize to different bytes from
call to call. ``rosbags`` writes that padding as zeros. Each installed-type message is therefore
encoded by rclpy (the encoder a publisher uses) and passed once through a rosbags round trip built from
the installed ``.msg`` texts: every field byte stays as it was and the padding becomes zero. Carried
types are encoded by rosbags already.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from mmfusion_annotate.interfaces.cdr import serialize
from mmfusion_annotate.interfaces.definitions import dependencies, is_carried, msg_text, normalize_msgtype

_LOCK = threading.Lock()


@cache
def _installed_store() -> Typestore:
    return get_typestore(Stores.EMPTY)


def _store_with(msgtype: str) -> Typestore:
    store = _installed_store()
    with _LOCK:
        if msgtype not in store.types:
            definitions = {}
            for name in (msgtype, *dependencies(msgtype)):
                if name not in store.types:
                    definitions.update(get_types_from_msg(msg_text(name), name))
            store.register(definitions)
    return store


def canonical_cdr(msgtype: str, msg: Any) -> bytes:
    """CDR bytes of ``msg`` with zeroed padding (identical for identical messages)."""
    name = normalize_msgtype(msgtype)
    data = serialize(name, msg)
    if is_carried(name):
        return data
    store = _store_with(name)
    return bytes(store.serialize_cdr(store.deserialize_cdr(data, name), name))
