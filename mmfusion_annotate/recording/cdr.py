"""CDR encoding of messages: rclpy for installed types, ``rosbags`` for the carried ones.

Installed types go through ``rclpy.serialization`` (the same C type support a publisher uses, imported
lazily so the rest of ``recording`` stays ROS-free). Carried types (``foxglove_msgs``, ``tf2_msgs``, the
event type) are rosbags dataclasses; ``new_message`` builds them with defaults for omitted fields and
accepts nested values as those dataclasses, as mappings, or as any object with the same attributes (an
rclpy ``geometry_msgs/Pose`` for example).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording.definitions import is_carried, normalize_msgtype
from mmfusion_annotate.recording.typestore import carried_typestore

_NUMPY = {
    "bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
    "uint64": np.uint64, "float32": np.float32, "float64": np.float64,
}  # fmt: skip


def message_class(msgtype: str) -> type:
    """The Python class of ``msgtype``: the rclpy class if installed, else the carried rosbags dataclass."""
    name = normalize_msgtype(msgtype)
    if is_carried(name):
        return carried_typestore().types[name]
    package, _, type_name = name.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), type_name)
    except (ImportError, AttributeError) as error:
        raise BagError(f"message type '{name}' cannot be imported: {error}") from None


def new_message(msgtype: str, **fields: Any) -> Any:
    """A message of ``msgtype`` with ``fields`` set and every other field at its default."""
    name = normalize_msgtype(msgtype)
    if is_carried(name):
        return _coerce_struct(fields, name)
    return message_class(name)(**fields)


def serialize(msgtype: str, msg: Any) -> bytes:
    """CDR bytes of ``msg`` (little endian, with the 4-byte encapsulation header)."""
    name = normalize_msgtype(msgtype)
    if is_carried(name):
        return bytes(carried_typestore().serialize_cdr(_coerce_struct(msg, name), name))
    from rclpy.serialization import serialize_message

    return serialize_message(msg)


def deserialize(msgtype: str, data: bytes | memoryview) -> Any:
    """The message encoded in ``data``: an rclpy message, or a rosbags dataclass for carried types."""
    name = normalize_msgtype(msgtype)
    if is_carried(name):
        return carried_typestore().deserialize_cdr(data, name)
    from rclpy.serialization import deserialize_message

    return deserialize_message(bytes(data), message_class(name))


def _coerce_struct(value: Any, typename: str) -> Any:
    """``value`` as the store's dataclass of ``typename`` (defaults for what it does not have).

    Omitted fields of carried types are zero/empty (their .msg files declare no defaults).
    """
    store = carried_typestore()
    cls = store.types[typename]
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping) and not is_carried(typename):
        value = message_class(typename)(**value)  # the installed class knows the .msg defaults (w=1)
    get = value.get if isinstance(value, Mapping) else (lambda key, default: getattr(value, key, default))
    kwargs = {}
    for field_name, desc in store.fielddefs[typename][1]:
        given = get(field_name, None)
        kwargs[field_name] = _coerce(given, desc)
    return cls(**kwargs)


def _coerce(value: Any, desc: tuple) -> Any:
    """One field value in the form rosbags' serializer expects (numpy arrays for primitive arrays)."""
    kind, args = desc
    if kind == Nodetype.BASE:
        base = args[0]
        if base == "string":
            return "" if value is None else str(value)
        if value is None:
            return False if base == "bool" else 0.0 if base.startswith("float") else 0
        return bool(value) if base == "bool" else float(value) if base.startswith("float") else int(value)
    if kind == Nodetype.NAME:
        return _coerce_struct({} if value is None else value, args)
    (sub_kind, sub_args), length = args
    items = [] if value is None else value
    if sub_kind == Nodetype.BASE and sub_args[0] != "string":
        array = np.asarray(bytearray(items) if isinstance(items, bytes | bytearray) else items)
        array = array.astype(_NUMPY[sub_args[0]], copy=False).reshape(-1)
        if kind == Nodetype.ARRAY and value is None:
            array = np.zeros(length, _NUMPY[sub_args[0]])
        return array
    if kind == Nodetype.ARRAY and value is None:
        items = [None] * length
    return [_coerce(item, (sub_kind, sub_args)) for item in items]
