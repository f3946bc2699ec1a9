"""Which carried output types also go out live over DDS, and under which installed type.

Bags get every output encoded from the carried definitions. Where the real package is installed
(``foxglove_msgs`` from the ROS distribution; ``mmfusion_annotate_msgs``, the interface package in
``interfaces/``, under colcon) the same CDR bytes can be published with that package's type support
(rclpy publishes serialized bytes as they are), so Foxglove, foxglove_bridge and ``ros2 bag`` see the
pre-labels and events live. The bytes are only right when the installed definition is the carried one
(rosidl's RIHS01 hash of the installed type equals the hash of the carried text under the installed
name: field names, types and order, comments aside). Another release of the package (foxglove_msgs adds
fields now and then) gets each message converted field by field instead (``to_installed``): the fields
both have are copied, the installed type's others keep their defaults.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from mmfusion_annotate.interfaces.cdr import installed_message_class
from mmfusion_annotate.interfaces.definitions import (
    dependencies,
    installed_type_hash,
    msg_text,
    normalize_msgtype,
    type_hash,
)
from mmfusion_annotate.interfaces.msgtypes import EVENT, INSTALLED_EVENT

INSTALLED_NAMES = {EVENT: INSTALLED_EVENT}
"""Carried types whose installed package has another name: the Python package cannot also be the
interface package (ament_python), so the event type installs as ``mmfusion_annotate_msgs``."""


@dataclass(frozen=True)
class LiveType:
    """A carried type's live face: ``cls`` is the installed class to publish with, None with a ``reason``."""

    carried: str
    installed: str
    cls: type | None
    reason: str = ""
    convert: bool = False
    """True: publish ``to_installed(msg, cls)``; False: the carried CDR bytes as they are."""


def installed_name(carried: str) -> str:
    name = normalize_msgtype(carried)
    return INSTALLED_NAMES.get(name, name)


def hash_as(carried: str, name: str, text: str | None = None) -> str:
    """RIHS01 hash of the carried type's definition (or ``text``) registered under ``name``, with the
    carried type's dependencies: what rosidl computes for an installed type of that name and fields."""
    carried = normalize_msgtype(carried)
    if name == carried and text is None:
        return type_hash(carried)
    store = get_typestore(Stores.EMPTY)
    definitions = dict(get_types_from_msg(msg_text(carried) if text is None else text, name))
    for dep in dependencies(carried):
        definitions.update(get_types_from_msg(msg_text(dep), dep))
    store.register(definitions)
    return store.hash_rihs01(name)


@cache
def live_type(carried: str) -> LiveType:
    """Whether (and as what) the carried type ``carried`` can be published over DDS on this install."""
    carried = normalize_msgtype(carried)
    name = installed_name(carried)
    cls = installed_message_class(name)
    if cls is None:
        return LiveType(carried, name, None, f"{name.split('/')[0]} is not installed: bag only")
    installed = installed_type_hash(name)
    if not installed or installed != hash_as(carried, name):
        why = f"the installed {name} differs from the carried definition: converted field by field"
        return LiveType(carried, name, cls, why, convert=True)
    return LiveType(carried, name, cls)


def to_installed(msg: Any, cls: Any) -> Any:
    """``msg`` (a carried message) as an instance of the installed class ``cls`` (rosidl-generated, so
    untyped), field by field: each field of ``cls`` that ``msg`` has is copied (nested messages and
    sequences recursively); the others keep their defaults, and fields only the carried type has are
    left out."""
    out = cls()
    for name, spelled in cls.get_fields_and_field_types().items():
        if hasattr(msg, name):
            setattr(out, name, _value(getattr(msg, name), spelled))
    return out


_SEQUENCE = re.compile(r"^sequence<(.+?)(?:, \d+)?>$|^(.+?)\[\d+\]$")


def _value(value: Any, spelled: str) -> Any:
    """``value`` for a field rosidl spells ``spelled`` (``pkg/Type``, ``sequence<pkg/Type>``, ``double[9]``,
    ``string``...)."""
    nested = _SEQUENCE.match(spelled)
    element = (nested.group(1) or nested.group(2)) if nested else spelled
    if "/" in element:
        element_class = _message_class(element)
        if nested:
            return [to_installed(v, element_class) for v in value]
        return to_installed(value, element_class)
    if element == "octet":  # rclpy holds bytes of length 1; rosbags numbers
        return [bytes([int(v)]) for v in value] if nested else bytes([int(value)])
    if nested:
        return value.tolist() if isinstance(value, np.ndarray) else list(value)
    return value.item() if isinstance(value, np.generic) else value


@cache
def _message_class(spelled: str) -> type:
    package, name = spelled.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)
