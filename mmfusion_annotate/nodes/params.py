"""ROS parameters from a stage's pydantic config model: declared with descriptions and ranges, validated once.

Configuration is data (one pydantic model per stage); this module maps flat model fields onto ROS
parameters so YAML files in ``config/`` and ``ros2 param`` work, and a wrong value stops the node with
one line naming the parameter instead of a traceback.
"""

from __future__ import annotations

import typing
from typing import Any, TypeVar

import annotated_types
from pydantic import BaseModel
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    ParameterException,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.textfile import validate_model

M = TypeVar("M", bound=BaseModel)

_SCALARS: dict[type, Parameter.Type] = {
    bool: Parameter.Type.BOOL,
    int: Parameter.Type.INTEGER,
    float: Parameter.Type.DOUBLE,
    str: Parameter.Type.STRING,
}


def _ros_value(value: Any) -> Any:
    """Parameters hold scalars or homogeneous lists; everything else travels as its string form."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, float) for v in value):
        return list(value)
    return "" if value is None else str(value)


def _descriptor(name: str, info: Any) -> ParameterDescriptor:
    # read_only: nodes read their configuration once at start, so `ros2 param set` must fail
    # ("read-only") rather than report success and change nothing; overrides at launch still apply
    desc = ParameterDescriptor(name=name, description=info.description or "", read_only=True)
    base = typing.get_origin(info.annotation) or info.annotation
    lower = upper = None
    for meta in info.metadata:
        if isinstance(meta, (annotated_types.Ge, annotated_types.Gt)):
            lower = getattr(meta, "ge", getattr(meta, "gt", None))
        if isinstance(meta, (annotated_types.Le, annotated_types.Lt)):
            upper = getattr(meta, "le", getattr(meta, "lt", None))
    if lower is not None and upper is not None:
        if base is float:
            desc.floating_point_range = [FloatingPointRange(from_value=float(lower), to_value=float(upper))]
        elif base is int:
            desc.integer_range = [IntegerRange(from_value=int(lower), to_value=int(upper), step=1)]
    elif lower is not None or upper is not None:
        desc.additional_constraints = f"range: [{lower}, {upper}]"
    desc.dynamic_typing = base not in _SCALARS
    return desc


def declare_config(node: Node, model: type[M], prefix: str = "") -> M:
    """Declare every field of ``model`` as a parameter ``<prefix><field>`` and return the validated model.

    Raises ConfigError naming the parameter when a value does not validate.
    """
    defaults = model()
    values: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        pname = f"{prefix}{field_name}"
        default = _ros_value(getattr(defaults, field_name))
        try:
            param = node.declare_parameter(pname, default, _descriptor(pname, info))
        except (ParameterException, InvalidParameterValueException, InvalidParameterTypeException) as exc:
            raise ConfigError(
                str(exc).splitlines()[0], file=f"node '{node.get_name()}' parameters", key=pname
            ) from None
        values[field_name] = param.value
    data = {k: (None if v == "" and getattr(defaults, k) is None else v) for k, v in values.items()}
    return validate_model(model, data, f"node '{node.get_name()}' parameters", key_prefix=prefix)
