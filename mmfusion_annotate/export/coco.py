"""``--format coco``: one COCO detection JSON per camera, its images written beside it, for the image-only
labelling tools (CVAT, Label Studio). Boxes follow ``export.conventions`` (``[left, top, w, h]`` from the
image's top-left corner); each annotation keeps the track id, so a tool's tracks line up with the 3D ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmfusion_annotate.export.bag_labels import BagLabels
from mmfusion_annotate.export.conventions import coco_bbox
from mmfusion_annotate.export.openlabel import DataFiles
from mmfusion_annotate.prelabel.model import ObjectClass

CATEGORIES = [{"id": i + 1, "name": c.value, "supercategory": "object"} for i, c in enumerate(ObjectClass)]
_CATEGORY_ID = {c["name"]: c["id"] for c in CATEGORIES}


def to_coco(labels: BagLabels, camera: str, files: DataFiles) -> dict[str, Any]:
    """The COCO document of ``camera``: an image per frame whose image was written, a box per object on it."""
    calibration = labels.cameras.get(camera)
    sensor = labels.rig.sensor(camera)
    model = calibration or sensor.camera_model
    width, height = model.width, model.height
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index, frame in enumerate(labels.frames):
        view = frame.cameras.get(camera)
        if view is None or (camera, index) not in files:
            continue
        image_id = index + 1
        images.append(
            {
                "id": image_id,
                "file_name": files[(camera, index)],
                "width": width,
                "height": height,
                "stamp_ns": view.stamp,
                "frame_stamp_ns": frame.stamp,
            }
        )
        objects = {o.box.object_id: o for o in frame.objects}
        for oid, box in sorted(view.boxes.items()):
            obj = objects.get(oid)
            label = obj.box.label.value if obj else ObjectClass.UNKNOWN.value
            bbox = coco_bbox(box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": _CATEGORY_ID[label],
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                    "score": obj.box.confidence if obj else 0.0,
                    "attributes": {"track_id": oid, "source": obj.meta.get("source", "") if obj else ""},
                }
            )
    return {
        "info": {
            "description": f"pre-labels of {labels.bag.name}, camera {camera}",
            "version": "1.0",
            "contributor": "mmfusion_annotate",
        },
        "licenses": [],
        "categories": CATEGORIES,
        "images": images,
        "annotations": annotations,
    }


def coco_file(out_dir: Path, camera: str) -> Path:
    return out_dir / f"{camera}.json"
