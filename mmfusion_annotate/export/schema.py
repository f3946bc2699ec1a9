"""Validation against the ASAM OpenLABEL 1.0.0 JSON schema (the copy beside this module, see
SCHEMA_PROVENANCE.md), reporting the first error by its JSON path so a user finds it in the file."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from mmfusion_annotate.errors import LabelFileError

SCHEMA_FILE = "openlabel_schema_1.0.0.json"


@cache
def _validator() -> jsonschema.Draft7Validator:
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return jsonschema.Draft7Validator(json.loads(text))


def json_path(parts) -> str:
    """``$.openlabel.frames["3"].objects["7"]`` style path of a sequence of keys and indices."""
    out = "$"
    for part in parts:
        out += (
            f"[{part}]"
            if isinstance(part, int)
            else (f".{part}" if str(part).isidentifier() else f'["{part}"]')
        )
    return out


def schema_errors(document: Any) -> list[str]:
    """Every schema violation as ``<JSON path>: <message>``, in document order (empty when valid)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{json_path(e.absolute_path)}: {e.message[:200]}" for e in errors]


def validate(document: Any, source: str = "OpenLABEL document") -> None:
    """LabelFileError naming the JSON path of the first violation (and how many there are)."""
    errors = schema_errors(document)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise LabelFileError(f"{source}: fails the OpenLABEL 1.0.0 schema at {errors[0]}{more}")
