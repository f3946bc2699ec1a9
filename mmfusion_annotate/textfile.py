"""Reading a user's text file (rig, pipeline config, rule file, scenario, calibration) with one-line errors.

Why: every such file is UTF-8 YAML or JSON that a person names on the command line; a missing, unreadable
or binary file, a YAML syntax error or a value its pydantic model rejects must become one ``ConfigError``
naming the file (and the line or key), never an ``OSError``, ``YAMLError`` or ``ValidationError``
traceback. One owner (read, parse, validate) so that every loader says it the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mmfusion_annotate.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)
_MESSAGES = {"missing": "missing key", "extra_forbidden": "unknown key"}
"""pydantic error types whose own message a person editing a file would not recognise."""


def read_text_file(path: str | os.PathLike, what: str, error: type[ConfigError] = ConfigError) -> str:
    """The UTF-8 text of ``path``; ``error`` (naming ``path`` and ``what`` it should be) when it cannot
    be read or is not text."""
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {what} ({exc.strerror or exc})", file=source) from None
    except UnicodeDecodeError as exc:
        raise error(f"not a text file: a {what} must be UTF-8 text (byte {exc.start})", file=source) from None


YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's C loader where PyYAML was built with it, else the pure-Python one: the same documents and
the same safety (no Python objects), and bag readers parse a ``metadata.yaml`` and a QoS string per
topic of every bag they open, so the parser's speed is most of what listing a bag costs."""


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` through ``YAML_LOADER``; raises ``yaml.YAMLError`` like it."""
    return yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader, C or Python


def parse_yaml(text: str, source: str, error: type[ConfigError] = ConfigError) -> Any:
    """The YAML document in ``text``; ``error`` naming ``source`` (and the line) when it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise error(f"invalid YAML: {exc.problem or exc.context}", file=source, line=line) from None
    except yaml.YAMLError as exc:  # e.g. a control character (ReaderError has no mark)
        raise error(f"invalid YAML: {str(exc).splitlines()[0]}", file=source) from None


def validate_model(
    model: type[Model], data: Any, source: str, error: type[ConfigError] = ConfigError, *,
    key_prefix: str = "", key: Callable[[tuple[int | str, ...]], str] | None = None,
) -> Model:
    """``model`` validated from ``data``; its first problem as ``error`` naming ``source`` and the key.

    ``key`` turns pydantic's location into the key a person sees (default: dotted, after ``key_prefix``).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = key(first["loc"]) if key else ".".join(str(part) for part in first["loc"])
        message = _MESSAGES.get(first["type"], first["msg"].removeprefix("Value error, "))
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise error(message + more, file=source, key=(key_prefix + where) or None) from None
