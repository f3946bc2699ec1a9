"""Rig file loading: the shipped rigs, YAML round trip, and one test per kind of bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mmfusion_annotate.errors import RigError
from mmfusion_annotate.rig import config_dir, default_rig_path, dump_rig, load_rig, rig_from_dict, rig_to_dict
from mmfusion_annotate.rig.rig import Rig


def sensor(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["sensors"] if s["name"] == name)


def write(doc: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_default_rig_is_the_nuscenes_like_vehicle() -> None:
    rig = load_rig(default_rig_path())
    assert default_rig_path().name == "rig_nuscenes_like.yaml"
    assert rig.base_frame == "base_link"
    cameras, lidars, radars = rig.cameras(), rig.lidars(), rig.radars()
    assert len(cameras) == 6 and len(lidars) == 1 and len(radars) == 5
    for cam in cameras:
        assert (cam.camera.width, cam.camera.height, cam.rate_hz) == (1600, 900, 12.0)
        assert cam.camera.distortion_model == "plumb_bob" and cam.compressed
        assert cam.topic.endswith("/image_raw/compressed")
        assert cam.info_topic == cam.topic.removesuffix("/image_raw/compressed") + "/camera_info"
    assert rig.sensor("cam_front").camera.K[0, 0] > 1200 and rig.sensor("cam_back").camera.K[0, 0] < 900
    lidar = lidars[0]
    assert (lidar.lidar.beams, lidar.rate_hz, lidar.lidar.azimuth_resolution_deg) == (64, 10.0, 0.2)
    assert lidar.lidar.vertical_angles_deg[0] == -24.9 and lidar.lidar.vertical_angles_deg[-1] == 2.0
    assert all(r.rate_hz == 13.0 and r.optional for r in radars)
    assert rig.of_kind("imu")[0].rate_hz == 100.0 and rig.of_kind("odometry")[0].rate_hz == 100.0
    assert list(rig.sensors)[:2] == ["cam_front", "cam_front_right"]  # file order


def test_default_rig_cameras_look_where_their_names_say() -> None:
    rig = load_rig(default_rig_path())
    headings = {"cam_front": 0, "cam_front_left": 55, "cam_front_right": -56, "cam_back": 180}
    for name, heading in headings.items():
        axis = rig.sensor_to_base(name)[:3, 2]  # optical z in base_link
        assert np.degrees(np.arctan2(axis[1], axis[0])) == pytest.approx(heading, abs=1.0) or heading == 180
        assert abs(axis[2]) < 1e-9
    assert rig.sensor_to_base("cam_back")[0, 2] == pytest.approx(-1.0)
    # optical y (down) points to -z of base_link for every camera
    for cam in rig.cameras():
        assert rig.sensor_to_base(cam.name)[2, 1] == pytest.approx(-1.0)


def test_every_shipped_rig_loads() -> None:
    paths = sorted(config_dir().glob("rig_*.yaml"))
    assert {p.name for p in paths} >= {"rig_nuscenes_like.yaml", "rig_kitti_like.yaml"}
    for path in paths:
        assert isinstance(load_rig(path), Rig)


def assert_same_rig(a: Rig, b: Rig) -> None:
    assert a.name == b.name and a.base_frame == b.base_frame and list(a.sensors) == list(b.sensors)
    for name, s in a.sensors.items():
        t = b.sensors[name]
        for attr in (
            "kind",
            "topic",
            "frame_id",
            "rate_hz",
            "rate_tolerance",
            "optional",
            "time_offset_ns",
            "parent_frame",
            "info_topic",
            "compressed",
            "lidar",
            "radar",
            "camera",
        ):
            assert getattr(s, attr) == getattr(t, attr), (name, attr)
        # rotations are written as quaternions: equal to the last bits of a float64
        np.testing.assert_allclose(s.T_parent_sensor, t.T_parent_sensor, rtol=0, atol=1e-12)
    assert a.frames() == b.frames()
    for frame in a.frames():
        np.testing.assert_allclose(
            a.transform(a.base_frame, frame), b.transform(b.base_frame, frame), atol=1e-12
        )


def test_yaml_round_trip(tmp_path: Path, rig_doc: dict[str, Any]) -> None:
    rig_doc["frames"] = [
        {"name": "roof", "extrinsic": {"translation": [0.9, 0.0, 1.6], "rpy_deg": [0, 1.5, 0]}}
    ]
    sensor(rig_doc, "lidar_top")["extrinsic"] = {"parent": "roof", "translation": [0.0, 0.0, 0.24]}
    sensor(rig_doc, "cam_back")["time_offset_s"] = -0.0125
    rig = rig_from_dict(rig_doc)
    assert rig.sensor("cam_back").time_offset_ns == -12_500_000
    dump_rig(rig, tmp_path / "again.yaml")
    assert_same_rig(rig, load_rig(tmp_path / "again.yaml"))
    assert_same_rig(rig, rig_from_dict(rig_to_dict(rig)))


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    """Set ``sensors[<path[0]>].<path[1]>...`` to ``value``."""

    def mutate(doc: dict[str, Any]) -> None:
        node = sensor(doc, path[0])
        for part in path[1:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _drop(name: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: sensor(doc, name).pop(key)


def _loop(doc: dict[str, Any]) -> None:
    doc["frames"] = [
        {"name": "mount_a", "extrinsic": {"parent": "mount_b"}},
        {"name": "mount_b", "extrinsic": {"parent": "mount_a"}},
    ]


BAD_INPUTS = {
    "wrong type": (_set(("cam_front", "rate_hz"), "fast"), "sensors[cam_front].rate_hz", "valid number"),
    "rate tolerance of a whole period": (
        _set(("lidar_top", "rate_tolerance"), 1.0), "sensors[lidar_top].rate_tolerance", "less than 1"
    ),
    "wrong bool type": (_set(("radar_front", "optional"), "yes"), "sensors[radar_front].optional", "boolean"),
    "missing key": (_drop("cam_front", "topic"), "sensors[cam_front].topic", "missing key"),
    "missing block key": (_drop("lidar_top", "lidar"), "sensors[lidar_top]", "needs a 'lidar' block"),
    "unknown key": (_set(("cam_front", "rate"), 12.0), "sensors[cam_front].rate", "unknown key"),
    "unknown kind": (_set(("imu", "kind"), "sonar"), "sensors[imu].kind", "'camera'"),
    "non-orthonormal rotation": (
        _set(("lidar_top", "extrinsic"), {"rotation_matrix": [[1, 0, 0], [0, 1, 0.1], [0, 0, 1]]}),
        "sensors[lidar_top].extrinsic.rotation_matrix",
        "not orthonormal",
    ),
    "reflection": (
        _set(("lidar_top", "extrinsic"), {"rotation_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, -1]]}),
        "sensors[lidar_top].extrinsic.rotation_matrix",
        "reflection",
    ),
    "non-unit quaternion": (
        _set(("lidar_top", "extrinsic", "quaternion"), [0.0, 0.0, 0.5, 0.5]),
        "sensors[lidar_top].extrinsic.quaternion",
        "not a unit quaternion",
    ),
    "two rotations": (
        _set(("lidar_top", "extrinsic", "rpy"), [0.0, 0.0, 0.1]),
        "sensors[lidar_top].extrinsic",
        "quaternion and rpy",
    ),
    "duplicate name": (_set(("cam_back", "name"), "cam_front"), "sensors[3].name", "duplicate sensor name"),
    "duplicate topic": (
        _set(("radar_back_left", "topic"), "/radar_front/detections"),
        "sensors[radar_back_left].topic",
        "duplicate topic",
    ),
    "duplicate camera_info topic": (
        _set(("cam_back", "camera", "info_topic"), "/cam_front/camera_info"),
        "sensors[cam_back].camera.info_topic",
        "duplicate topic",
    ),
    "unknown distortion model": (
        _set(("cam_front", "camera", "distortion_model"), "fisheye"),
        "sensors[cam_front].camera.distortion_model",
        "'plumb_bob', 'rational_polynomial' or 'equidistant'",
    ),
    "wrong coefficient count": (
        _set(("cam_front", "camera", "D"), [0.1, 0.0, 0.0, 0.0]),
        "sensors[cam_front].camera.D",
        "plumb_bob needs 5 coefficients",
    ),
    "bad K": (
        _set(("cam_back", "camera", "K"), [800.0, 0.0, 800.0]),
        "sensors[cam_back].camera.K",
        "9 numbers",
    ),
    "beams mismatch": (
        _set(
            ("lidar_top", "lidar"),
            {"beams": 4, "vertical_angles_deg": [-2.0, 0.0, 2.0], "azimuth_resolution_deg": 0.2},
        ),
        "sensors[lidar_top].lidar",
        "3 angles for 4 beams",
    ),
    "two time offsets": (
        lambda doc: sensor(doc, "cam_front").update(time_offset_s=0.01),
        "sensors[cam_front]",
        "not both",
    ),
    "frame tree loop": (_loop, "frames[0].extrinsic.parent", "loop"),
    "frame tree island": (
        _set(("lidar_top", "extrinsic", "parent"), "roof_rack"),
        "sensors[lidar_top].extrinsic.parent",
        "parent frame 'roof_rack' is not defined",
    ),
    "frame defined twice": (
        _set(("radar_front", "frame_id"), "lidar_top"),
        "sensors[radar_front].frame_id",
        "already placed differently",
    ),
    "extrinsic on the base frame": (
        _set(("odometry", "extrinsic"), {"translation": [0.0, 0.0, 1.0]}),
        "sensors[odometry].extrinsic",
        "base frame",
    ),
    "bad topic": (_set(("imu", "topic"), "/imu data"), "sensors[imu].topic", "not a valid ROS topic"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_rig_is_rejected_naming_file_and_key(case: str, tmp_path: Path, rig_doc: dict[str, Any]) -> None:
    mutate, key, reason = BAD_INPUTS[case]
    mutate(rig_doc)
    path = write(rig_doc, tmp_path)
    with pytest.raises(RigError) as err:
        load_rig(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert err.value.key == key
    assert f"key '{key}'" in message
    assert reason in message


def test_error_points_at_the_line_of_the_key(tmp_path: Path, rig_doc: dict[str, Any]) -> None:
    sensor(rig_doc, "cam_back")["rate_hz"] = "fast"
    path = write(rig_doc, tmp_path)
    line = path.read_text().splitlines().index("  rate_hz: fast") + 1
    with pytest.raises(RigError) as err:
        load_rig(path)
    assert err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}, key 'sensors[cam_back].rate_hz'")


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nsensors:\n  - name: a\n    topic: [/a\n")
    with pytest.raises(RigError, match=rf"^{path}:\d+: invalid YAML"):
        load_rig(path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(RigError, match="cannot read rig file"):
        load_rig(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(RigError, match="must be a mapping"):
        load_rig(tmp_path / "list.yaml")


def test_unknown_sensor_lookup_lists_known_ones() -> None:
    rig = load_rig(default_rig_path())
    with pytest.raises(RigError, match="unknown sensor 'cam_top'.*cam_front"):
        rig.sensor("cam_top")
