"""Output topic names: relative for the suite's own outputs (a namespace moves them), global where ROS
expects it, and the namespace taken off again where the recorder matches its include/exclude patterns."""

import pytest
from rigs import write_small_rig

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.outputs.topics import (
    GLOBAL_TOPICS,
    REVIEW_TOPIC,
    SCENE_TOPIC,
    find_output_topic,
    output_topics,
    published_name,
    within_namespace,
)
from mmfusion_annotate.rig import load_rig


def test_own_outputs_are_relative_and_the_global_topics_stay_absolute(tmp_path):
    rig = load_rig(write_small_rig(tmp_path))
    names = {t.topic: published_name(t.topic) for t in output_topics(rig)}
    assert names["/prelabels/scene"] == "prelabels/scene"
    assert names["/events"] == "events"
    assert names["/cam_front/annotations"] == "cam_front/annotations"
    assert names["/tf_static"] == "/tf_static"
    assert {published_name(t) for t in GLOBAL_TOPICS} == GLOBAL_TOPICS == {"/tf", "/tf_static", "/clock",
                                                                           "/diagnostics"}  # fmt: skip


@pytest.mark.parametrize(
    ("topic", "namespace", "inside"),
    [
        ("/car1/prelabels/scene", "/car1", "/prelabels/scene"),
        ("/car1/prelabels/scene", "/car1/", "/prelabels/scene"),
        ("/fleet/car1/events", "/fleet/car1", "/events"),
        ("/car10/events", "/car1", "/car10/events"),  # another namespace that merely starts alike
        ("/lidar_top/points", "/car1", "/lidar_top/points"),  # an absolute rig topic
        ("/prelabels/scene", "/", "/prelabels/scene"),
    ],
)
def test_within_namespace(topic, namespace, inside):
    assert within_namespace(topic, namespace) == inside


def test_an_output_topic_is_found_under_any_one_namespace():
    topics = ["/lidar_top/points", "/car1/prelabels/scene", "/car1/prelabels/scene2", "/xprelabels/review"]
    assert find_output_topic(topics, SCENE_TOPIC) == "/car1/prelabels/scene"
    assert find_output_topic(["/prelabels/scene", "/other"], SCENE_TOPIC) == "/prelabels/scene"
    assert find_output_topic(topics, REVIEW_TOPIC) is None  # neither another name ending alike
    assert find_output_topic(["prelabels/review"], REVIEW_TOPIC) is None  # nor a relative name
    deep = "/fleet/car1/prelabels/review"
    assert find_output_topic([deep], REVIEW_TOPIC) == deep
    two = ["/car2/prelabels/scene", "/car1/prelabels/scene", "/car1/prelabels/review"]
    with pytest.raises(BagError, match=r"^drive: /prelabels/scene is in several namespaces \(/car1, /car2\)"):
        find_output_topic(two, SCENE_TOPIC, "drive")
    with pytest.raises(BagError, match=r"^/prelabels/scene is in several namespaces \(/, /car1\)"):
        find_output_topic(["/prelabels/scene", "/car1/prelabels/scene"], SCENE_TOPIC)
