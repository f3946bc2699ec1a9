"""Exception types of mmfusion_annotate, one module for the whole suite.

Every error a user can cause carries a message that names what is wrong and where (file, key,
topic), so the CLI and the nodes can print it as one line instead of a traceback.
"""

from __future__ import annotations


class MmfusionError(Exception):
    """Base class: the CLI prints ``str(error)`` as one line and exits non-zero."""


class ConfigError(MmfusionError):
    """A configuration or rig file is invalid; names the file and the key."""

    def __init__(
        self, message: str, *, file: str | None = None, key: str | None = None, line: int | None = None
    ) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.reason = message
        place = f"{file}:{line}" if file and line else file
        where = ", ".join(part for part in (place, f"key '{key}'" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class RigError(ConfigError):
    """The rig (sensors, frame tree, camera models) is inconsistent."""


class CalibrationError(ConfigError):
    """A calibration file (KITTI calib.txt, nuScenes calibration) cannot be read."""


class CodecError(MmfusionError):
    """A sensor message cannot be decoded or encoded (malformed PointCloud2, unknown encoding...)."""

    def __init__(self, message: str, *, topic: str | None = None, reason: str = "undecodable") -> None:
        self.topic = topic
        self.reason = reason  # the drop counters' key (``drops.DropCounts``): why the message was refused
        super().__init__(f"{topic}: {message}" if topic else message)


class BackendError(MmfusionError):
    """A requested array backend (e.g. ``cuda``) is not available."""


class SyncError(MmfusionError):
    """Synchronizer misuse (bad arguments, unknown input)."""


class BagError(MmfusionError):
    """A bag cannot be read, written or recovered; names the file."""


class CatalogError(MmfusionError):
    """A fleet catalog cannot be read, queried or written (older schema, bad SQL); names the folder."""


class LabelFileError(MmfusionError):
    """A label file (OpenLABEL) fails its schema or does not fit the bag; names the JSON path."""


class ModelError(MmfusionError):
    """A detector model cannot be installed or fetched (unknown name, checksum, network); names the model."""


class FusionError(MmfusionError):
    """A fused frame cannot be built (no LiDAR sweep, ego motion not covering it...); names the sensor."""
