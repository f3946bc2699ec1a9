"""Definitions: dependency parsing; the RIHS01 computation for carried types checked on installed ones."""

from __future__ import annotations

import pytest

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.interfaces.definitions import (
    dependencies,
    direct_dependencies,
    is_carried,
    msg_path,
    normalize_msgtype,
    type_hash,
)
from mmfusion_annotate.interfaces.typestore import carried_types, carried_typestore


def test_carried_hash_computation_reproduces_the_installed_hashes():
    """The hash of a carried type is computed (no rosidl .json for it); the same computation must give the
    hashes rosidl generated for the installed types the carried ones depend on."""
    store = carried_typestore()
    installed = {dep for name in carried_types() for dep in dependencies(name) if not is_carried(dep)}
    assert {
        "geometry_msgs/msg/Pose",
        "std_msgs/msg/Header",
        "geometry_msgs/msg/TransformStamped",
    } <= installed
    for name in sorted(installed):
        assert msg_path(name).with_suffix(".json").is_file()
        assert store.hash_rihs01(name) == type_hash(name), name


def test_carried_hashes_are_well_formed_and_distinct():
    hashes = {name: type_hash(name) for name in carried_types()}
    assert all(h.startswith("RIHS01_") and len(h) == 7 + 64 for h in hashes.values())
    assert len(set(hashes.values())) == len(hashes)


def test_dependencies_skip_constants_and_primitives():
    assert direct_dependencies("foxglove_msgs/msg/SceneEntityDeletion") == ["builtin_interfaces/msg/Time"]
    assert direct_dependencies("foxglove_msgs/msg/LinePrimitive") == [
        "geometry_msgs/msg/Pose", "geometry_msgs/msg/Point", "foxglove_msgs/msg/Color"
    ]  # fmt: skip
    assert dependencies("sensor_msgs/msg/Image") == ("std_msgs/msg/Header", "builtin_interfaces/msg/Time")


@pytest.mark.parametrize("bad", ["Image", "a/b/c/d", "sensor_msgs/srv/SetCameraInfo"])
def test_bad_type_names_are_rejected(bad):
    with pytest.raises(BagError, match="not a message type"):
        normalize_msgtype(bad)


def test_unknown_types_name_the_package():
    with pytest.raises(BagError, match="no_such_msgs"):
        msg_path("no_such_msgs/msg/Thing")
    assert normalize_msgtype("sensor_msgs/Image") == "sensor_msgs/msg/Image"
