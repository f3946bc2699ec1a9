"""Message definitions as a bag stores them: ``.msg`` text, ``ros2msg`` schema text and RIHS01 type hash.

Installed types are read from their package's ``share/<pkg>/msg/`` (the ament index, falling back to the
virtual environment's ``share/`` when ``AMENT_PREFIX_PATH`` is not set, as with the PyPI ROS wheels). Types
whose packages do not install here (``foxglove_msgs``, ``tf2_msgs``, the project's own event type) are read
from the definitions the project carries in ``mmfusion_annotate/interfaces/carried``.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache, lru_cache
from pathlib import Path

from mmfusion_annotate.errors import BagError

CARRIED_DIR = Path(__file__).resolve().parent / "carried"
"""Root of the carried ``<pkg>/msg/<Type>.msg`` files."""

SEPARATOR = "=" * 80
PRIMITIVES = frozenset(
    "bool byte char float32 float64 int8 uint8 int16 uint16 int32 uint32 int64 uint64 string wstring".split()
)
_BASE_TYPE = re.compile(r"[\w/]+")


def normalize_msgtype(msgtype: str) -> str:
    """``pkg/Type`` or ``pkg/msg/Type`` -> ``pkg/msg/Type`` (the form bags and rosbag2 use)."""
    parts = msgtype.strip("/").split("/")
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    if len(parts) == 3 and parts[1] == "msg":
        return "/".join(parts)
    raise BagError(f"'{msgtype}' is not a message type name (expected pkg/msg/Type)")


@cache
def carried_packages() -> frozenset[str]:
    """Packages whose definitions the project carries (and encodes itself)."""
    return frozenset(p.name for p in CARRIED_DIR.iterdir() if (p / "msg").is_dir())


@lru_cache(maxsize=512)
def is_carried(msgtype: str) -> bool:
    """True when ``msgtype`` comes from the carried definitions, not from an installed package."""
    return normalize_msgtype(msgtype).split("/")[0] in carried_packages()


def _share_dir(package: str) -> Path:
    """The package's share directory, from the ament index or the interpreter prefix."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory(package))
    except (OSError, PackageNotFoundError):
        candidate = Path(sys.prefix) / "share" / package
        if candidate.is_dir():
            return candidate
    raise BagError(f"message package '{package}' is not installed (no share/{package} in the ament index)")


@cache
def msg_path(msgtype: str) -> Path:
    """The ``.msg`` file defining ``msgtype``."""
    package, _, name = normalize_msgtype(msgtype).split("/")
    root = CARRIED_DIR / package if package in carried_packages() else _share_dir(package)
    path = root / "msg" / f"{name}.msg"
    if not path.is_file():
        raise BagError(f"{path}: no definition for message type '{msgtype}'")
    return path


def msg_text(msgtype: str) -> str:
    """The type's own ``.msg`` text, as installed."""
    return msg_path(msgtype).read_text(encoding="utf-8")


def direct_dependencies(msgtype: str) -> list[str]:
    """Message types used by the fields of ``msgtype`` (not recursive), in field order."""
    package = normalize_msgtype(msgtype).split("/")[0]
    found: list[str] = []
    for line in msg_text(msgtype).splitlines():
        tokens = line.split("#", 1)[0].split(None, 1)
        if len(tokens) < 2 or "=" in tokens[1]:  # blank, comment or constant
            continue
        match = _BASE_TYPE.match(tokens[0])
        if match is None:
            raise BagError(f"{msgtype}: field type '{tokens[0]}' is not a message type name")
        base = match.group(0)
        if base in PRIMITIVES:
            continue
        dep = normalize_msgtype(base if "/" in base else f"{package}/{base}")
        if dep not in found:
            found.append(dep)
    return found


@cache
def dependencies(msgtype: str) -> tuple[str, ...]:
    """Every message type ``msgtype`` depends on, depth first, each once."""
    seen: list[str] = []

    def visit(name: str) -> None:
        for dep in direct_dependencies(name):
            if dep not in seen:
                seen.append(dep)
                visit(dep)

    visit(normalize_msgtype(msgtype))
    return tuple(seen)


@cache
def schema_text(msgtype: str) -> str:
    """The ``ros2msg`` schema: the type's text, then each dependency behind 80 ``=`` and ``MSG: pkg/Type``.

    This is the "complete message definition" rosbag2 stores. Dependencies are named ``pkg/Type`` as the
    fields spell them: Foxglove's parser matches those names exactly (``pkg/msg/Type`` would not resolve).
    """
    parts = [msg_text(msgtype).rstrip("\n")]
    for dep in dependencies(msgtype):
        package, _, name = dep.split("/")
        parts.append(f"{SEPARATOR}\nMSG: {package}/{name}\n{msg_text(dep).rstrip(chr(10))}")
    return "\n".join(parts) + "\n"


@cache
def type_hash(msgtype: str) -> str:
    """The REP-2011 ``RIHS01_...`` hash of the type.

    Installed types: read from the ``<Type>.json`` type description next to the ``.msg`` (what rosidl
    generated). Carried types: computed by ``rosbags`` from the same definitions; a test checks that this
    computation reproduces the installed hashes.
    """
    name = normalize_msgtype(msgtype)
    if is_carried(name):
        from mmfusion_annotate.interfaces.typestore import carried_typestore

        return carried_typestore().hash_rihs01(name)
    msg_path(name)  # a type neither carried nor installed is a BagError: a writer cannot describe it
    return installed_type_hash(name)


def installed_type_hash(msgtype: str) -> str:
    """The RIHS01 hash rosidl generated for the installed ``msgtype`` (its ``<Type>.json``), even when the
    project carries a definition of that name; "" when the package is not installed or has no description."""
    name = normalize_msgtype(msgtype)
    package, _, type_name = name.split("/")
    try:
        described = _share_dir(package) / "msg" / f"{type_name}.json"
    except BagError:
        return ""
    if described.is_file():
        for entry in json.loads(described.read_text(encoding="utf-8")).get("type_hashes", []):
            if entry.get("type_name") == name:
                return str(entry["hash_string"])
    return ""
