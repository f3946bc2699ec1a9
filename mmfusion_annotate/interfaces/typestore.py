"""The ``rosbags`` type store that encodes the carried message types (foxglove_msgs, tf2_msgs, events).

Why rosbags: its ``typesys`` is a public, documented API that builds CDR (de)serializers from ``.msg`` text
and computes REP-2011 hashes; ``mcap_ros2``'s dynamic serializer would do the CDR part too, but only
through a private module (``mcap_ros2._dynamic``). The store is built from exactly the text written into
the bag's schemas (carried files plus the installed dependencies), so encoding and schema cannot disagree.
"""

from __future__ import annotations

from functools import cache

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from mmfusion_annotate.interfaces.definitions import (
    CARRIED_DIR,
    carried_packages,
    dependencies,
    msg_text,
)


def carried_types() -> list[str]:
    """Every carried message type, ``pkg/msg/Type``, sorted."""
    return sorted(
        f"{package}/msg/{path.stem}"
        for package in carried_packages()
        for path in (CARRIED_DIR / package / "msg").glob("*.msg")
    )


@cache
def carried_typestore() -> Typestore:
    """A type store holding the carried types and everything they depend on."""
    store = get_typestore(Stores.EMPTY)
    definitions = {}
    for name in carried_types():
        for each in (name, *dependencies(name)):
            definitions.update(get_types_from_msg(msg_text(each), each))
    store.register(definitions)
    return store
