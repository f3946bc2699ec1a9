"""``mmfusion export --format openlabel`` and ``mmfusion import-labels``: schema, content, conventions,
the round trip back into truth topics, and the one-line errors of bad input."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from labelled_bag import BACK, FRONT, T0, write_labelled_bag

from mmfusion_annotate.bagtools.evaluate_bag import annotation_boxes, scene_boxes
from mmfusion_annotate.bagtools.source import open_bag, read_messages
from mmfusion_annotate.cli import main
from mmfusion_annotate.errors import LabelFileError
from mmfusion_annotate.export import export_bag
from mmfusion_annotate.export.openlabel_import import load_openlabel, parse_openlabel
from mmfusion_annotate.export.schema import schema_errors
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners


@pytest.fixture(scope="module")
def exported(labelled_bag, tmp_path_factory):
    out = tmp_path_factory.mktemp("openlabel") / "out"
    summary = export_bag(labelled_bag.path, out, labelled_bag.rig, check_schema=True, with_data=True)
    (path,) = summary.files
    return path, json.loads(path.read_text())


def test_export_is_valid_openlabel_with_frames_objects_streams_and_events(labelled_bag, exported):
    _, document = exported
    assert schema_errors(document) == []
    label = document["openlabel"]
    assert sorted(label["frames"], key=int) == ["0", "1", "2"]
    assert label["objects"]["7"]["type"] == "car" and label["objects"]["9"]["type"] == "truck"
    assert label["objects"]["7"]["frame_intervals"] == [{"frame_start": 0, "frame_end": 2}]
    assert "car" in label["ontologies"][label["objects"]["7"]["ontology_uid"]]["boundary_list"]
    assert label["streams"][FRONT]["type"] == "camera" and label["streams"]["lidar_top"]["type"] == "lidar"
    frame = label["frames"]["1"]
    props = frame["frame_properties"]
    assert props["timestamp_ns"] == T0 + 100_000_000
    streams = props["streams"]
    assert streams[FRONT]["stream_properties"]["stamp_ns"] == labelled_bag.front_stamps[1]
    assert streams[BACK]["stream_properties"]["stamp_ns"] == labelled_bag.back_stamps[1]  # no boxes there
    assert streams["lidar_top"]["stream_properties"]["stamp_ns"] == T0 + 100_000_000
    truck = frame["objects"]["9"]["object_data"]
    (cuboid,) = truck["cuboid"]
    assert cuboid["coordinate_system"] == "base_link"
    assert cuboid["val"][:3] == [25.0, -4.0, 1.0] and cuboid["val"][7:] == [10.0, 2.5, 3.2]
    vecs = {v["name"]: v["val"] for v in cuboid["attributes"]["vec"]}
    assert vecs["review_reasons"] == ["box2d_disagrees_with_cuboid"]
    texts = {t["name"]: t["val"] for t in cuboid["attributes"]["text"]}
    assert texts == {
        "class": "truck",
        "source": "machine",
        "algorithm": "test-fit",
        "params_version": "abc123",
    }
    assert [b["name"] for b in truck["bbox"]] == [FRONT]  # the back camera sees neither car
    (action,) = label["actions"].values()
    assert action["type"] == "cut_in" and action["frame_intervals"] == [{"frame_start": 1, "frame_end": 2}]
    assert [t["type"] for t in label["tags"].values()] == ["cut_in"]


def _pose(label, name):
    """4x4 of coordinate system ``name`` in the root (the chain of pose_wrt_parent)."""
    system = label["coordinate_systems"][name]
    if not system["parent"]:
        return np.eye(4)
    M = np.asarray(system["pose_wrt_parent"]["matrix4x4"]).reshape(4, 4)
    return _pose(label, system["parent"]) @ M


def test_exported_cuboid_projects_onto_exported_bbox_with_exported_calibration(exported):
    """The README's conventions, checked with nothing but the file and OpenCV."""
    _, document = exported
    label = document["openlabel"]
    intrinsics = label["streams"][FRONT]["stream_properties"]["intrinsics_pinhole"]
    K = np.asarray(intrinsics["camera_matrix"]).reshape(3, 4)[:, :3]
    D = np.asarray(intrinsics["distortion_coeffs"])
    T_cam_base = np.linalg.inv(_pose(label, FRONT)) @ _pose(label, "base_link")
    checked = 0
    for frame in label["frames"].values():
        for obj in frame["objects"].values():
            data = obj["object_data"]
            x, y, z, qx, qy, qz, qw, sx, sy, sz = data["cuboid"][0]["val"]
            yaw = math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
            corners = cuboid_corners((x, y, z), (sx, sy, sz), yaw)
            t = np.linspace(0, 1, 50)[:, None]
            edges = [
                (0, 1),
                (1, 2),
                (2, 3),
                (3, 0),
                (4, 5),
                (5, 6),
                (6, 7),
                (7, 4),
                (0, 4),
                (1, 5),
                (2, 6),
                (3, 7),
            ]
            points = np.vstack([corners[a] + t * (corners[b] - corners[a]) for a, b in edges])
            cam = points @ T_cam_base[:3, :3].T + T_cam_base[:3, 3]
            uv, _ = cv2.projectPoints(cam, np.zeros(3), np.zeros(3), K, D)
            uv = uv.reshape(-1, 2) + 0.5  # OpenCV counts from pixel centres; the file from the corner
            cx, cy, w, h = next(b["val"] for b in data["bbox"] if b["name"] == FRONT)
            expected = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
            assert [*uv.min(axis=0), *uv.max(axis=0)] == pytest.approx(expected, abs=0.05)  # edge sampling
            checked += 1
    assert checked == 6


def test_with_data_writes_the_recorded_images_and_sweeps(labelled_bag, exported):
    path, document = exported
    streams = document["openlabel"]["frames"]["2"]["frame_properties"]["streams"]
    image = path.parent / streams[FRONT]["uri"]
    recorded = next(
        deserialize(m.msgtype, m.data)
        for m in read_messages(open_bag(labelled_bag.path), topics={labelled_bag.rig.sensor(FRONT).topic})
    )
    assert image.suffix == ".jpg" and image.read_bytes() == bytes(recorded.data)
    pcd = (path.parent / streams["lidar_top"]["uri"]).read_bytes()
    header, _, body = pcd.partition(b"DATA binary\n")
    assert b"FIELDS x y z intensity" in header and b"POINTS 2" in header
    np.testing.assert_allclose(
        np.frombuffer(body, np.float32).reshape(-1, 4)[:, [0, 1, 3]], [[10.0, 0.0, 5.0], [20.0, 3.0, 9.0]]
    )


def test_round_trip_export_import_gives_the_same_cuboids_and_boxes(labelled_bag, exported, tmp_path):
    path, _ = exported
    out = tmp_path / "corrected"
    assert main(["import-labels", str(path), "--bag", str(labelled_bag.path), "-o", str(out)]) == 0
    truth, boxes = {}, {}
    for m in read_messages(open_bag(out), topics={"/truth/objects", f"/truth/{FRONT}/boxes"}):
        msg = deserialize(m.msgtype, m.data)
        if m.topic == "/truth/objects":
            stamp, found = scene_boxes(msg, truth=True)
            truth[stamp] = {b.object_id: b for b in found}
        else:
            boxes[m.log_time_ns] = dict(annotation_boxes(msg))
    assert len(truth) == 3
    for k, cuboids in enumerate(labelled_bag.cuboids):
        frame = truth[T0 + k * 100_000_000]
        for c in cuboids:
            b = frame[c.object_id]
            assert b.label == c.label
            assert [*b.center, *b.size] == pytest.approx([*c.center, *c.size], abs=1e-9)
            assert b.yaw == pytest.approx(c.yaw, abs=1e-12)
            assert b.velocity == pytest.approx(c.velocity, abs=1e-4)  # the bag keeps 4 decimals
        found = boxes[labelled_bag.front_stamps[k]]  # on the image the pre-labels were drawn on
        for oid, box in labelled_bag.boxes[k].items():
            assert found[oid] == pytest.approx(box, abs=1e-9)
    copied = {m.topic for m in read_messages(open_bag(out))}
    assert {"/prelabels/scene", "/lidar_top/points", "/tf_static"} <= copied  # the rest of the bag is kept


def test_a_bag_without_pre_labels_is_one_line_and_exit_2(tmp_path, capsys):
    bag = write_labelled_bag(tmp_path / "raw", with_prelabels=False)
    out = tmp_path / "out"
    assert main(["export", str(bag.path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no pre-labels" in err and "mmfusion replay" in err
    assert not out.exists()


def test_a_damaged_chunk_is_skipped_reported_and_exit_1(tmp_path, capsys):
    """Issue 26: export skips a chunk whose CRC does not match (one flipped byte), says what it lost, and
    exits 1 ("done with losses") with the frames it could read."""
    from mcap.reader import make_reader

    bag = write_labelled_bag(tmp_path / "bag", chunk_size=16 * 1024)
    (mcap_file,) = bag.path.glob("*.mcap")
    with open(mcap_file, "rb") as stream:
        chunks = make_reader(stream).get_summary().chunk_indexes
    middle = sorted(chunks, key=lambda c: c.chunk_start_offset)[len(chunks) // 2]
    at = middle.chunk_start_offset + middle.chunk_length // 2
    with open(mcap_file, "r+b") as stream:
        stream.seek(at)
        byte = stream.read(1)[0]
        stream.seek(at)
        stream.write(bytes([byte ^ 0x10]))
    out = tmp_path / "out"
    assert main(["export", str(bag.path), "-o", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "damaged:" in printed and "PARTLY READ" in printed
    (label_file,) = out.glob("*.openlabel.json")
    frames = json.loads(label_file.read_text())["openlabel"]["frames"]
    assert 0 < len(frames) < len(bag.cuboids)


def _edited(exported, tmp_path, edit) -> str:
    _, document = exported
    document = json.loads(json.dumps(document))
    edit(document["openlabel"])
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    return str(path)


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (
            lambda d: d["frames"]["1"]["objects"]["7"]["object_data"]["cuboid"][0].update(val=[1, 2, 3]),
            '$.openlabel.frames["1"].objects["7"].object_data.cuboid[0].val',
        ),
        (lambda d: d["metadata"].update(schema_version="0.9"), "$.openlabel.metadata.schema_version"),
        (lambda d: d["streams"].update(cam_roof=d["streams"][FRONT]), "$.openlabel.streams.cam_roof"),
        (
            lambda d: d["frames"]["2"]["objects"]["9"]["object_data"]["bbox"][0].update(
                coordinate_system="cam_x"
            ),
            '$.openlabel.frames["2"].objects["9"].object_data.bbox[0]',
        ),
    ],
)
def test_a_bad_label_file_names_the_json_path_and_writes_nothing(
    labelled_bag, exported, tmp_path, capsys, edit, where
):
    label_file = _edited(exported, tmp_path, edit)
    out = tmp_path / "never"
    assert main(["import-labels", label_file, "--bag", str(labelled_bag.path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err, err
    assert not out.exists()


def test_cuboids_in_a_sensor_frame_come_back_in_the_base_frame(labelled_bag, exported, tmp_path):
    """A platform may return cuboids in the LiDAR frame: the file's own pose chain brings them home."""
    lidar = labelled_bag.rig.lidars()[0]
    T = labelled_bag.rig.sensor_to_base(lidar.name)

    def to_lidar(label):
        cuboid = label["frames"]["0"]["objects"]["7"]["object_data"]["cuboid"][0]
        x, y, z = np.linalg.inv(T)[:3, :3] @ np.asarray(cuboid["val"][:3]) + np.linalg.inv(T)[:3, 3]
        cuboid.update(val=[x, y, z, *cuboid["val"][3:]], coordinate_system=lidar.name)

    frames = parse_openlabel(load_openlabel(_edited(exported, tmp_path, to_lidar)), labelled_bag.rig)
    car = next(o for o in frames[0].objects if o.object_id == 7)
    assert car.center == pytest.approx(labelled_bag.cuboids[0][0].center, abs=1e-9)
    with pytest.raises(LabelFileError, match="not JSON"):
        (tmp_path / "broken.json").write_text("{")
        load_openlabel(tmp_path / "broken.json")


def test_time_window_and_event_select_frames(labelled_bag, tmp_path):
    bag = str(labelled_bag.path)
    assert main(["export", bag, "-o", str(tmp_path / "w"), "--start", "0.05", "--end", "0.15"]) == 0
    (document,) = [json.loads(p.read_text()) for p in (tmp_path / "w").glob("*.json")]
    assert [f["frame_properties"]["timestamp_ns"] for f in document["openlabel"]["frames"].values()] == [
        T0 + 100_000_000
    ]
    assert main(["export", bag, "-o", str(tmp_path / "e"), "--event", "ev1"]) == 0
    (document,) = [json.loads(p.read_text()) for p in (tmp_path / "e").glob("*.json")]
    assert len(document["openlabel"]["frames"]) == 2


def test_per_frame_class_comes_back_unless_a_person_changed_the_type(labelled_bag, exported, tmp_path):
    def flip(label):  # the tracker called object 7 a truck in frame 1
        cuboid = label["frames"]["1"]["objects"]["7"]["object_data"]["cuboid"][0]
        next(t for t in cuboid["attributes"]["text"] if t["name"] == "class")["val"] = "truck"

    def flip_and_correct(label):
        flip(label)
        label["objects"]["7"]["type"] = "bus"

    for edit, expected in ((flip, ["car", "truck", "car"]), (flip_and_correct, ["bus", "bus", "bus"])):
        frames = parse_openlabel(load_openlabel(_edited(exported, tmp_path, edit)), labelled_bag.rig)
        assert [next(o.label for o in f.objects if o.object_id == 7) for f in frames] == expected


def test_an_export_never_writes_into_a_folder_with_files(labelled_bag, tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    assert main(["export", str(labelled_bag.path), "-o", str(tmp_path / "busy")]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
