import pytest
import rclpy
from pydantic import BaseModel, Field
from rclpy.parameter import Parameter

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.nodes.params import declare_config


class DemoConfig(BaseModel):
    rate_hz: float = Field(10.0, ge=0.5, le=100.0, description="publish rate")
    depth: int = Field(4, ge=1, le=64, description="queue depth")
    backend: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="array backend")
    enabled: bool = True


@pytest.fixture
def context():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)


def make_node(context, overrides):
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    return rclpy.create_node("params_test", context=context, parameter_overrides=params,
                             automatically_declare_parameters_from_overrides=False)


def test_defaults_and_descriptors(context):
    node = make_node(context, {})
    cfg = declare_config(node, DemoConfig, prefix="demo.")
    assert cfg == DemoConfig()
    desc = node.describe_parameter("demo.rate_hz")
    assert desc.description == "publish rate"
    assert desc.floating_point_range[0].from_value == 0.5
    assert node.describe_parameter("demo.depth").integer_range[0].to_value == 64
    node.destroy_node()


def test_override_is_validated(context):
    node = make_node(context, {"demo.backend": "cpu", "demo.depth": 8})
    cfg = declare_config(node, DemoConfig, prefix="demo.")
    assert cfg.backend == "cpu" and cfg.depth == 8
    node.destroy_node()


def test_bad_value_names_parameter(context):
    node = make_node(context, {"demo.backend": "gpu"})
    with pytest.raises(ConfigError, match=r"demo\.backend"):
        declare_config(node, DemoConfig, prefix="demo.")
    node.destroy_node()


def test_out_of_range_is_rejected(context):
    node = make_node(context, {"demo.depth": 1000})
    with pytest.raises(ConfigError, match=r"demo\.depth"):
        declare_config(node, DemoConfig, prefix="demo.")
    node.destroy_node()


def test_a_running_node_refuses_to_change_its_configuration(context):
    """Issue 22: `ros2 param set /fusion_node qos 5` reported success and changed nothing; the settings are
    read once at start, so a change at run time is refused, naming why, and the value stays."""
    node = make_node(context, {"demo.depth": 8})
    declare_config(node, DemoConfig, prefix="demo.")
    (result,) = node.set_parameters([Parameter("demo.depth", value=12)])
    assert not result.successful and "read-only" in result.reason.lower()
    assert node.get_parameter("demo.depth").value == 8
    node.destroy_node()
