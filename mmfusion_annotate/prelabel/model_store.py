"""The model store: the detector models the suite knows, where they live, and how they get there.

A model is a parameter (``prelabel.camera.detector.model``): the name of a known model, looked up in
the model directory, or the path of any ONNX file with a supported interface (a team's own export).
Files are checked against their sha256 before they are taken, and written to a temporary file in the
model directory that is renamed into place only once complete and verified, so a half-copied or
tampered file is never used. The files themselves are never part of the package: a user copies them
from a local file (``install``) or downloads them from their public source (``fetch``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mmfusion_annotate.errors import ConfigError, ModelError

ENV_MODEL_DIR = "MMFUSION_MODEL_DIR"
MODEL_KEY = "prelabel.camera.detector.model"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class KnownModel:
    """A model the suite can run, with where its file comes from (pinned to a commit, so the checksum
    holds) and its licence."""

    name: str
    file: str
    architecture: str  # a module of prelabel/detectors: "deimv2" or "yolox"
    url: str
    sha256: str
    size: int
    licence: str
    description: str


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        "deimv2-femto",
        "deimv2_hgnetv2_femto_coco.onnx",
        "deimv2",
        "https://raw.githubusercontent.com/Kazuhito00/DEIMv2-ONNX-Sample/"
        "f88d4382abca74edb26ed4c7f46190ac40da0ea5/model/deimv2_hgnetv2_femto_coco.onnx",
        "c6ad358f750132b891165e034c2ba507abefc5ebe1c1d2732a0acbcacc47e52c",
        4_116_144,
        "Apache-2.0 (Intellindust-AI-Lab/DEIMv2; export Kazuhito00/DEIMv2-ONNX-Sample)",
        "DEIMv2 HGNetv2-femto, COCO 2017, 416x416",
    ),
    KnownModel(
        "yolox-nano",
        "yolox_nano.onnx",
        "yolox",
        "https://raw.githubusercontent.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/"
        "3d4f1119d0694200671c08069ecb847aa0d8495a/model/yolox_nano.onnx",
        "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
        3_660_092,
        "Apache-2.0 (Megvii-BaseDetection/YOLOX; export Kazuhito00/YOLOX-ONNX-TFLite-Sample)",
        "YOLOX-nano, COCO 2017, 416x416",
    ),
)


def known_model(name: str) -> KnownModel:
    for model in KNOWN_MODELS:
        if model.name == name:
            return model
    raise ModelError(f"unknown model '{name}' (known: {', '.join(m.name for m in KNOWN_MODELS)})")


def model_dir(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``$MMFUSION_MODEL_DIR``, else ``$XDG_DATA_HOME/mmfusion_annotate/models``
    (``~/.local/share/...`` without XDG_DATA_HOME)."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_MODEL_DIR):
        return Path(os.environ[ENV_MODEL_DIR]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "mmfusion_annotate" / "models"


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_installed(model: KnownModel, directory: Path) -> bool:
    """True when the directory holds the model's file, of its size and checksum."""
    path = directory / model.file
    return path.is_file() and path.stat().st_size == model.size and sha256_of(path) == model.sha256


def _store(model: KnownModel, chunks: Iterable[bytes], directory: Path, source: str) -> Path:
    """Write ``chunks`` to a temporary file beside the target, verify size and sha256, rename into place."""
    directory.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(prefix=f".{model.file}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > model.size:
                    raise ModelError(f"{source}: larger than {model.name}'s {model.size} bytes")
                digest.update(chunk)
                out.write(chunk)
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelError(
                f"{source}: not {model.name} ({size} bytes, sha256 {digest.hexdigest()[:16]}..., "
                f"expected {model.size} bytes, sha256 {model.sha256[:16]}...)"
            )
        os.chmod(tmp, 0o644)
        target = directory / model.file
        os.replace(tmp, target)
        return target
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_chunks(f: BinaryIO) -> Iterable[bytes]:
    while chunk := f.read(_CHUNK):
        yield chunk


def install(name: str, source: str | Path, directory: Path) -> Path:
    """Copy a local file of model ``name`` into ``directory`` after checking its sha256."""
    model = known_model(name)
    try:
        with open(source, "rb") as f:
            return _store(model, _read_chunks(f), directory, str(source))
    except OSError as exc:
        raise ModelError(f"{source}: cannot read or write ({exc.strerror})") from None


def fetch(name: str, directory: Path, url: str | None = None, timeout_s: float = 60.0) -> Path:
    """Download model ``name`` (from its public source, or ``url``) into ``directory``, checked by sha256."""
    model = known_model(name)
    url = url or model.url
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return _store(model, _read_chunks(response), directory, url)
    except urllib.error.HTTPError as exc:
        raise ModelError(f"{url}: cannot download (HTTP {exc.code} {exc.reason})") from None
    except urllib.error.URLError as exc:
        raise ModelError(f"{url}: cannot download ({exc.reason})") from None
    except (OSError, ValueError) as exc:  # timeouts, refused connections, a malformed URL, a full disk
        raise ModelError(f"{url}: cannot download ({exc})") from None


def resolve_model(spec: str, directory: Path) -> tuple[Path, str | None]:
    """(file, architecture or None) of ``spec``: a known model's installed file, or a path to an ONNX file.

    A known model must be installed and intact; anything else must be an existing file. Raises
    ``ConfigError`` naming ``prelabel.camera.detector.model`` otherwise.
    """
    for model in KNOWN_MODELS:
        if model.name == spec:
            path = directory / model.file
            if not path.is_file():
                raise ConfigError(
                    f"model '{spec}' is not installed in {directory} "
                    f"(mmfusion models fetch {spec}, or mmfusion models install {spec} FILE)",
                    key=MODEL_KEY,
                )
            if not is_installed(model, directory):
                raise ConfigError(
                    f"{path} does not match the sha256 of '{spec}' (install it again)", key=MODEL_KEY
                )
            return path, model.architecture
    path = Path(spec).expanduser()
    if not path.is_file():
        known = ", ".join(m.name for m in KNOWN_MODELS)
        raise ConfigError(f"'{spec}' is neither a known model ({known}) nor an existing file", key=MODEL_KEY)
    return path, None
