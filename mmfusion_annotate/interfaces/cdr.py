"""CDR encoding of messages: rclpy for installed types, ``rosbags`` for the carried ones.

Installed types go through ``rclpy.serialization`` (the same C type support a publisher uses, imported
lazily so the rest of ``recording`` stays ROS-free). Carried types (``foxglove_msgs``, ``tf2_msgs``, the
event type) are rosbags dataclasses; ``new_message`` builds them with defaults for omitted fields and
accepts nested values as those dataclasses, as mappings, or as any object with the same attributes (an
rclpy ``geometry_msgs/Pose`` for example).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.serde import SerdeError

from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.interfaces.definitions import is_carried, normalize_msgtype
from mmfusion_annotate.interfaces.typestore import carried_typestore

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
    cls = installed_message_class(name)
    if cls is None:
        package, _, type_name = name.split("/")
        raise BagError(f"message type '{name}' is not installed (no {package}.msg.{type_name})")
    return cls


def installed_message_class(msgtype: str) -> type | None:
    """The generated rclpy class of ``msgtype`` when its package is installed here, else None.

    Live subscriptions and publishers need it (its type support); carried types have none.
    """
    package, _, type_name = normalize_msgtype(msgtype).split("/")
    try:
        cls = getattr(importlib.import_module(f"{package}.msg"), type_name)
    except (ImportError, AttributeError):
        return None
    return cls if hasattr(cls, "_TYPE_SUPPORT") else None


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
    """The message encoded in ``data``: an rclpy message, or a rosbags dataclass for carried types.

    A payload that does not decode (cut off, corrupt) is a ``CodecError`` naming the type; a type that is
    not installed stays a ``BagError``.
    """
    name = normalize_msgtype(msgtype)
    if is_carried(name):
        try:
            return carried_typestore().deserialize_cdr(data, name)
        except SerdeError as error:
            raise CodecError(f"{name}: undecodable CDR payload of {len(data)} bytes ({error})") from None
    from rclpy.serialization import deserialize_message

    cls = message_class(name)
    try:
        return deserialize_message(bytes(data), cls)
    except RuntimeError as error:  # rclpy's RMWError: the CDR bytes do not fit the type
        raise CodecError(f"{name}: undecodable CDR payload of {len(data)} bytes ({error})") from None


def _coerce_struct(value: Any, typename: str) -> Any:
    """``value`` as the store's dataclass of ``typename`` (defaults for what it does not have).

    Omitted fields of carried types are zero/empty (their .msg files declare no defaults).
    """
    return _struct_coercer(typename)(value)


Coercer = Callable[[Any], Any]


@cache
def _struct_coercer(typename: str) -> Coercer:
    """The coercer of one type, its field coercers built once (a frame's scene has ~1,400 fields: the
    per-field type dispatch, repeated for every message, was most of the cost of building outputs)."""
    store = carried_typestore()
    cls = store.types[typename]
    carried = is_carried(typename)
    fields = [(name, _field_coercer(desc)) for name, desc in store.fielddefs[typename][1]]

    def coerce(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping) and not carried:
            value = message_class(typename)(**value)  # the installed class knows the .msg defaults (w=1)
        if isinstance(value, Mapping):
            return cls(**{name: convert(value.get(name)) for name, convert in fields})
        return cls(**{name: convert(getattr(value, name, None)) for name, convert in fields})

    return coerce


def _field_coercer(desc: tuple) -> Coercer:
    """One field's coercer: the form rosbags' serializer expects (numpy arrays for primitive arrays)."""
    kind, args = desc
    if kind == Nodetype.BASE:
        return _base_coercer(args[0])
    if kind == Nodetype.NAME:
        return lambda value: _struct_coercer(args)({} if value is None else value)
    (sub_kind, sub_args), length = args
    fixed = kind == Nodetype.ARRAY
    if sub_kind == Nodetype.BASE and sub_args[0] != "string":
        dtype = _NUMPY[sub_args[0]]

        def primitive_array(value: Any) -> np.ndarray:
            if value is None:
                return np.zeros(length, dtype) if fixed else np.asarray([], dtype)
            array = np.asarray(bytearray(value) if isinstance(value, bytes | bytearray) else value)
            return array.astype(dtype, copy=False).reshape(-1)

        return primitive_array
    item = _field_coercer((sub_kind, sub_args))

    def sequence(value: Any) -> list:
        items = ([None] * length if fixed else []) if value is None else value
        return [item(v) for v in items]

    return sequence


def _base_coercer(base: str) -> Coercer:
    if base == "string":
        return lambda value: "" if value is None else str(value)
    if base == "bool":
        return lambda value: False if value is None else bool(value)
    if base.startswith("float"):
        return lambda value: 0.0 if value is None else float(value)
    return lambda value: 0 if value is None else int(value)
