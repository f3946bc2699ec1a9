"""Reading a user's text file (rig, pipeline config, rule file, scenario, calibration) with one-line errors.

Why: every such file is UTF-8 YAML or JSON that a person names on the command line; a missing, unreadable
or binary file must become one ``ConfigError`` naming it, never an ``OSError`` or ``UnicodeDecodeError``
traceback. One helper so that every loader says it the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmfusion_annotate.errors import ConfigError


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
