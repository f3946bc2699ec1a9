"""The shipped Foxglove layout and RViz config name only topics the suite publishes or records for the
shipped rig (the list the README's topic table is generated from), with a QoS RViz can match."""

import json
import re
from pathlib import Path

import yaml

from mmfusion_annotate.nodes.fusion_node import DIAGNOSTICS
from mmfusion_annotate.outputs.rig_topics import rig_topics
from mmfusion_annotate.outputs.topics import output_topics
from mmfusion_annotate.rig import default_rig_path, load_rig

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


def suite_topics() -> dict[str, str]:
    """Topic -> QoS profile name of everything the suite publishes or records for the shipped rig."""
    rig = load_rig(default_rig_path())
    topics = {t.topic: t.qos for t in rig_topics(rig)}
    topics.update({t.topic: t.qos for t in output_topics(rig)})
    topics[DIAGNOSTICS] = "reliable"
    return topics


def strings(value) -> list[str]:
    """Every string in a JSON/YAML document, mapping keys included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def test_the_foxglove_layout_names_suite_topics_only():
    layout = json.loads((CONFIG / "foxglove_layout.json").read_text(encoding="utf-8"))
    named = {s for s in strings(layout["configById"]) if s.startswith("/")}
    known = suite_topics()
    assert named <= set(known), sorted(named - set(known))
    assert {"/prelabels/scene", "/prelabels/review", "/fusion/colored_cloud", "/events", "/diagnostics",
            "/cam_front/annotations"} <= named  # fmt: skip
    panels = {key.split("!")[0] for key in layout["configById"]}
    assert {"3D", "Image", "RawMessages", "DiagnosticSummary"} <= panels
    placed = set(re.findall(r'"([A-Za-z0-9]+![A-Za-z0-9_]+)"', json.dumps(layout["layout"])))
    assert placed == set(layout["configById"]), "every configured panel is placed, and only those"


def test_the_rviz_config_names_suite_topics_with_a_matching_qos():
    config = yaml.safe_load((CONFIG / "mmfusion.rviz").read_text(encoding="utf-8"))
    displays = config["Visualization Manager"]["Displays"]
    known = suite_topics()
    subscribed = {d["Topic"]["Value"]: d["Topic"]["Reliability Policy"] for d in displays if "Topic" in d}
    assert set(subscribed) <= set(known), sorted(set(subscribed) - set(known))
    assert {"/prelabels/markers", "/fusion/colored_cloud"} <= set(subscribed)
    for topic, reliability in subscribed.items():  # a reliable reader never matches a best-effort writer
        assert known[topic] != "sensor_data" or reliability == "Best Effort", topic
    fixed_frame = config["Visualization Manager"]["Global Options"]["Fixed Frame"]
    assert fixed_frame == load_rig(default_rig_path()).base_frame


def test_both_are_installed_with_the_package():
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    assert 'glob("config/*.json")' in setup and 'glob("config/*.rviz")' in setup
