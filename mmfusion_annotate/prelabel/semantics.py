"""Per-point LiDAR semantics: ground, vegetation, building/wall, pole/sign, vehicle, person, other.

The ground filter (``ground.remove_ground``) already says which points are ground and how high every
other point stands above its local ground; this module classifies the rest. The non-ground points are
binned into voxels (x, y, height above ground), each voxel is described by the shape of its
neighbourhood at several scales (height span, verticality, planarity, scatter, density, intensity), a
small multilayer perceptron labels the voxel, and its points inherit the label. A voxel rather than a
point per row, and a perceptron rather than a tree ensemble, keep it a small part of a frame's budget
(``bench/bench_point_semantics.py``): a boosted-tree ensemble walks one branchy path per tree, class
and row, which costs a whole frame for one sweep's voxels; a perceptron is three matrix products.

``features`` is the one feature implementation: ``scripts/train_point_semantics.py`` trains on it and
``classify`` runs it live. The model file (JSON: input scaling, layer weights, classes, voxel size and
scales, version) is read by ``load_model``; its ``version`` goes into pre-label provenance.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from mmfusion_annotate.errors import ConfigError

MODEL_FORMAT = "mmfusion_annotate/point_semantics_mlp/1"
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "models" / "point_semantics_mlp.json"

_HEIGHT_CLIP_M = (-5.0, 60.0)  # below-ground ghosts and tall buildings share the end voxels
_BLOCK_ROWS = 1024  # rows per block through the perceptron (its buffers stay small and are reused)
_XY_LIMIT_M = 1000.0  # beyond any LiDAR's range; keeps voxel keys packed with positions within int64


class PointClass(IntEnum):
    """The per-point classes, in the order of the model's outputs."""

    GROUND = 0
    VEGETATION = 1
    BUILDING = 2
    POLE = 3
    VEHICLE = 4
    PERSON = 5
    OTHER = 6


CLASS_NAMES: tuple[str, ...] = tuple(c.name.lower() for c in PointClass)
OBJECT_CLASSES: tuple[PointClass, ...] = (PointClass.VEHICLE, PointClass.PERSON)

_VOXEL_FEATURES = ("height", "log_points", "log_range", "intensity")
_COLUMN_FEATURES = ("column_top", "column_bottom", "column_log_points")
_CELL_FEATURES = (
    "linearity",
    "planarity",
    "scattering",
    "normal_z",
    "principal_z",
    "spread",
    "log_points",
    "log_voxels",
)
_BEV_FEATURES = ("top", "bottom", "log_points", "intensity")


def feature_names(voxel_m: float, scales: tuple[int, ...]) -> tuple[str, ...]:
    """Column names of ``features(...).values`` for a voxel size and neighbourhood scales (in voxels)."""
    names = list(_VOXEL_FEATURES) + list(_COLUMN_FEATURES)
    for s in scales:
        size = f"{s * voxel_m:g}m"
        names += [f"cell{size}_{n}" for n in _CELL_FEATURES]
        names += [f"bev{size}_{n}" for n in _BEV_FEATURES]
    return tuple(names)


@dataclass(frozen=True)
class VoxelGrid:
    """The occupied voxels of a ``features`` call: ``keys`` sorted, in a grid of ``voxel_m`` cubes whose
    index starts at ``origin`` with ``ny`` x ``nz`` voxels per x step (x, y, height above ground)."""

    voxel_m: float
    origin: np.ndarray
    ny: int
    nz: int
    keys: np.ndarray

    def locate(self, xyz: np.ndarray, height: np.ndarray) -> np.ndarray:
        """Row of the voxel each point falls in, -1 where that voxel holds none of the features' points."""
        index = _voxel_index(xyz, height, self.voxel_m)[0].astype(np.int64) - self.origin[:, None]
        inside = (index >= 0).all(axis=0) & (index[1] < self.ny) & (index[2] < self.nz)
        key = (index[0] * self.ny + index[1]) * self.nz + index[2]
        row = np.minimum(np.searchsorted(self.keys, key), max(self.keys.shape[0] - 1, 0))
        found = inside & (self.keys.shape[0] > 0)
        found[found] = self.keys[row[found]] == key[found]
        return np.where(found, row, -1)


@dataclass(frozen=True)
class VoxelFeatures:
    """``values`` (voxels, features) float32, ``voxel_of_point`` (points,) index into its rows, and the
    voxel ``grid`` (to find the voxel of other points, e.g. ground points just below an object)."""

    values: np.ndarray
    voxel_of_point: np.ndarray
    grid: VoxelGrid


@dataclass(frozen=True)
class Semantics:
    """Per point: ``labels`` (uint8, ``PointClass``) and ``row``, its row of ``row_probabilities``
    ((rows, classes) float32: one row per voxel, and a last, one-hot ground row for ground points).
    A voxel's points share its probabilities, so per-point copies are made only when asked for."""

    labels: np.ndarray
    row: np.ndarray
    row_probabilities: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        """(points, classes) float32 class probabilities of every point."""
        return self.row_probabilities[self.row]


@dataclass(frozen=True)
class _Groups:
    """Elements grouped by an integer key: ``keys`` sorted unique (G,), ``of`` each element's group (n,),
    ``order`` the elements sorted by key (n,), ``starts`` each group's first position in ``order`` (G,)."""

    keys: np.ndarray
    of: np.ndarray
    order: np.ndarray
    starts: np.ndarray


def _group(keys: np.ndarray) -> _Groups:
    """``np.unique(..., return_inverse=True)`` without its argsort: a plain sort of the keys packed with
    their positions costs a fraction of it, and the sorted order feeds ``reduceat``."""
    n = keys.shape[0]
    bits = max(int(n - 1).bit_length(), 1)
    packed = np.left_shift(keys, bits, dtype=np.int64)
    order = np.arange(n, dtype=np.int64)
    packed |= order
    packed.sort()
    np.bitwise_and(packed, (1 << bits) - 1, out=order)
    packed >>= bits
    new = np.empty(n, bool)
    new[:1] = True
    np.not_equal(packed[1:], packed[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    unique = packed[starts]
    rank = np.cumsum(new, out=packed)  # the sorted keys are no longer needed: reuse their memory
    rank -= 1
    of = np.empty(n, np.int64)
    of[order] = rank
    return _Groups(unique, of, order, starts)


def _voxel_index(xyz: np.ndarray, height: np.ndarray, voxel_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Each point's voxel in the fixed base_link grid (x, y, height above ground) as float32 (3, N)
    whole numbers, and its position inside the voxel (float32 (3, N)), one contiguous row per axis.
    Steps in place: fresh memory costs page faults, which dominate such element-wise work in a VM."""
    scaled = np.empty((3, len(xyz)), np.float32)
    np.clip(np.asarray(xyz, np.float32)[:, :2].T, -_XY_LIMIT_M, _XY_LIMIT_M, out=scaled[:2])
    np.clip(np.asarray(height, np.float32), *_HEIGHT_CLIP_M, out=scaled[2])
    scaled *= np.float32(1.0 / voxel_m)
    corner = np.floor(scaled)
    scaled -= corner
    scaled *= np.float32(voxel_m)
    return corner, scaled


def _axis_z(a, b, c, d, e, f, lam) -> np.ndarray:
    """|z| of the unit eigenvector of the symmetric [[a, d, e], [d, b, f], [e, f, c]] for eigenvalue
    ``lam``: the longest cross product of two rows of (C - lam I), which are normal to it."""
    a, b, c = a - lam, b - lam, c - lam
    crosses = (
        (d * f - e * b, e * d - a * f, a * b - d * d),  # row 0 x row 1
        (d * c - e * f, e * e - a * c, a * f - d * e),  # row 0 x row 2
        (b * c - f * f, f * e - d * c, d * f - b * e),  # row 1 x row 2
    )
    best_z, best_len = np.zeros_like(a), np.zeros_like(a)
    for cx, cy, cz in crosses:
        length = cx * cx + cy * cy + cz * cz
        take = length > best_len
        best_z = np.where(take, cz, best_z)
        best_len = np.where(take, length, best_len)
    return np.abs(best_z) / np.sqrt(np.maximum(best_len, 1e-24))


def _shape(n: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Eigen-features of the point scatter per cell, from point count and the sums of x, y, h and of
    their products (columns x, y, h, xx, yy, hh, xy, xh, yh): linearity, planarity, scattering, |z| of
    the normal (smallest axis), |z| of the principal axis, sqrt of the largest eigenvalue (metres).

    Closed-form (trigonometric) eigenvalues of the 3x3 covariance: ``np.linalg.eigh`` loops over the
    thousands of small matrices one LAPACK call at a time.
    """
    mean = sums[:, :3] / n[:, None]
    a, b, c = (sums[:, 3 + k] / n - mean[:, k] ** 2 for k in range(3))
    d = sums[:, 6] / n - mean[:, 0] * mean[:, 1]
    e = sums[:, 7] / n - mean[:, 0] * mean[:, 2]
    f = sums[:, 8] / n - mean[:, 1] * mean[:, 2]
    q = (a + b + c) / 3.0
    p = np.sqrt(((a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2.0 * (d * d + e * e + f * f)) / 6.0)
    safe = np.where(p > 1e-12, p, 1.0)
    ba, bb, bc, bd, be, bf = ((a - q) / safe, (b - q) / safe, (c - q) / safe, d / safe, e / safe, f / safe)
    det = ba * (bb * bc - bf * bf) - bd * (bd * bc - bf * be) + be * (bd * bf - bb * be)
    phi = np.arccos(np.clip(det / 2.0, -1.0, 1.0)) / 3.0
    l1 = np.maximum(q + 2.0 * p * np.cos(phi), 0.0)
    l3 = np.maximum(q + 2.0 * p * np.cos(phi + 2.0 * math.pi / 3.0), 0.0)
    l2 = np.clip(3.0 * q - l1 - l3, l3, l1)
    norm = l1 + 1e-12
    out = np.empty((n.shape[0], 6))
    out[:, 0] = (l1 - l2) / norm
    out[:, 1] = (l2 - l3) / norm
    out[:, 2] = l3 / norm
    out[:, 3] = _axis_z(a, b, c, d, e, f, l3)
    out[:, 4] = _axis_z(a, b, c, d, e, f, l1)
    out[:, 5] = np.sqrt(l1)
    return out


def features(
    xyz: np.ndarray,
    height: np.ndarray,
    intensity: np.ndarray,
    voxel_m: float,
    scales: tuple[int, ...],
) -> VoxelFeatures:
    """Voxel features of non-ground points: ``xyz`` (N,3) base_link, ``height`` (N,) above the local
    ground (``GroundResult.height``), ``intensity`` (N,) on the sensor's 0-255 scale.

    Voxels are ``voxel_m`` cubes in (x, y, height above ground), so a car on a ramp looks like one on
    the flat. Each voxel gets its own mean height, point count, range and intensity; the extent of its
    column; and per scale ``s`` (a cell of ``s`` voxels a side) the cell's shape and the top, bottom,
    count and intensity of the ``s`` x ``s`` column it stands in. A cell's shape is the scatter of its
    voxels' centroids weighted by their point counts: per-point second moments doubled the per-point
    work and scored no better on frames held out of training. Counts and range enter as logarithms (density
    falls with the square of the range).
    """
    names = feature_names(voxel_m, scales)
    n_points = len(xyz)
    if n_points == 0:
        empty = VoxelGrid(voxel_m, np.zeros(3, np.int64), 1, 1, np.zeros(0, np.int64))
        return VoxelFeatures(np.zeros((0, len(names)), np.float32), np.zeros(0, np.int64), empty)
    corner, local = _voxel_index(xyz, height, voxel_m)
    origin = corner.min(axis=1)
    corner -= origin[:, None]
    ny, nz = int(corner[1].max()) + 1, int(corner[2].max()) + 1
    # whole numbers: exact in float32 per axis (< 2**24) and in float64 combined (< 2**53)
    flat = corner[0].astype(np.float64)
    flat *= ny * nz
    flat += corner[1] * np.float32(nz)
    flat += corner[2]
    vox = _group(flat.astype(np.int64))
    n_vox = vox.keys.shape[0]
    count = np.diff(np.append(vox.starts, n_points)).astype(np.float64)
    sums = np.empty((4, n_vox))
    for row, values in enumerate((*local, np.asarray(intensity, np.float32))):
        sums[row] = np.bincount(vox.of, values, minlength=n_vox)
    mean = sums[:3] / count
    column = vox.keys // nz
    # the voxels' indices in the fixed base_link grid, so coarser cells do not move with the cloud
    grid = np.stack([column // ny, column % ny, vox.keys % nz]) + origin.astype(np.int64)[:, None]
    centroid = grid * voxel_m + mean
    mean_h = centroid[2]

    out = np.empty((n_vox, len(names)), np.float32)
    out[:, 0] = mean_h
    out[:, 1] = np.log1p(count)
    out[:, 2] = np.log1p(np.hypot(centroid[0], centroid[1]))
    out[:, 3] = sums[3] / count
    # voxels are sorted with z fastest: a column's voxels are contiguous
    new_column = np.append(True, column[1:] != column[:-1])
    starts = np.flatnonzero(new_column)
    col_of = np.cumsum(new_column) - 1
    out[:, 4] = np.maximum.reduceat(mean_h, starts)[col_of]
    out[:, 5] = np.minimum.reduceat(mean_h, starts)[col_of]
    out[:, 6] = np.log1p(np.add.reduceat(count, starts))[col_of]
    k = 7
    for s in scales:
        coarse = grid // s
        coarse -= coarse.min(axis=1)[:, None]
        bev = _group(coarse[0] * (int(coarse[1].max()) + 1) + coarse[1])
        cell = _group(bev.of * (int(coarse[2].max()) + 1) + coarse[2])
        # centroids relative to their cell's corner (small numbers), weighted by point count
        rel = (grid % s) * voxel_m + mean
        weighted = np.empty((9, n_vox))
        weighted[:3] = rel * count
        weighted[3:6] = weighted[:3] * rel
        weighted[6] = weighted[0] * rel[1]
        weighted[7] = weighted[0] * rel[2]
        weighted[8] = weighted[1] * rel[2]
        cell_sums = np.add.reduceat(weighted[:, cell.order], cell.starts, axis=1).T
        cell_count = np.add.reduceat(count[cell.order], cell.starts)
        out[:, k : k + 6] = _shape(cell_count, cell_sums)[cell.of]
        out[:, k + 6] = np.log1p(cell_count)[cell.of]
        out[:, k + 7] = np.log1p(np.diff(np.append(cell.starts, n_vox)))[cell.of]
        h_sorted = mean_h[bev.order]
        bev_count = np.add.reduceat(count[bev.order], bev.starts)
        out[:, k + 8] = np.maximum.reduceat(h_sorted, bev.starts)[bev.of]
        out[:, k + 9] = np.minimum.reduceat(h_sorted, bev.starts)[bev.of]
        out[:, k + 10] = np.log1p(bev_count)[bev.of]
        out[:, k + 11] = (np.add.reduceat(sums[3, bev.order], bev.starts) / bev_count)[bev.of]
        k += len(_CELL_FEATURES) + len(_BEV_FEATURES)
    return VoxelFeatures(out, vox.of, VoxelGrid(voxel_m, origin.astype(np.int64), ny, nz, vox.keys))


@dataclass(frozen=True)
class SemanticsModel:
    """A trained voxel classifier: input scaling, ReLU layers (weights (in, out), biases) and a softmax
    over ``CLASS_NAMES``; ``voxel_m``/``scales`` fix the features it was trained on, ``ground_lift_m``
    the height above which ground-filter points join the voxel they share with classified points."""

    version: str
    voxel_m: float
    scales: tuple[int, ...]
    ground_lift_m: float
    input_mean: np.ndarray
    input_scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return feature_names(self.voxel_m, self.scales)

    def probabilities(self, values: np.ndarray) -> np.ndarray:
        """Class probabilities (rows, classes) float32 of feature rows (rows, features).

        Blocks of rows through reused buffers: whole-array layers would touch megabytes of fresh
        memory per call, and page faults then cost as much as the arithmetic."""
        values = np.asarray(values, np.float32)
        out = np.empty((values.shape[0], len(CLASS_NAMES)), np.float32)
        scaled = np.empty((_BLOCK_ROWS, values.shape[1]), np.float32)
        hidden = [np.empty((_BLOCK_ROWS, w.shape[1]), np.float32) for w in self.weights[:-1]]
        for start in range(0, values.shape[0], _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, values.shape[0])
            act = np.subtract(values[start:stop], self.input_mean, out=scaled[: stop - start])
            act /= self.input_scale
            for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                dst = hidden[layer][: stop - start] if layer < len(hidden) else out[start:stop]
                np.matmul(act, w, out=dst)
                dst += b
                if layer < len(hidden):
                    np.maximum(dst, 0.0, out=dst)
                act = dst
        out -= out.max(axis=1, keepdims=True)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def to_dict(self) -> dict:
        """The model file's content (``load_model`` reads it back)."""
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "classes": list(CLASS_NAMES),
            "voxel_m": self.voxel_m,
            "scales": list(self.scales),
            "ground_lift_m": self.ground_lift_m,
            "features": list(self.feature_names),
            "input_mean": _short(self.input_mean),
            "input_scale": _short(self.input_scale),
            "layers": [
                {"weights": _short(w), "bias": _short(b)}
                for w, b in zip(self.weights, self.biases, strict=True)
            ],
        }


def _short(a: np.ndarray) -> list:
    """float32 values as nested lists of the shortest decimals that read back to the same float32."""
    return (
        np.array([float(s) for s in np.asarray(a, np.float32).astype(str).ravel()]).reshape(a.shape).tolist()
    )


def save_model(model: SemanticsModel, path: Path) -> None:
    """Write ``model`` as JSON text, every value the shortest decimal of its float32."""
    Path(path).write_text(json.dumps(model.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8")


def load_model(path: Path | str = DEFAULT_MODEL_PATH) -> SemanticsModel:
    """Read a model file; ConfigError names the file when it is missing, unreadable or inconsistent."""
    source = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("point semantics model file not found", file=source) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"point semantics model unreadable ({exc.__class__.__name__})", file=source
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ConfigError(f"not a point semantics model (format must be '{MODEL_FORMAT}')", file=source)
    try:
        scales = tuple(int(s) for s in doc["scales"])
        model = SemanticsModel(
            version=str(doc["version"]),
            voxel_m=float(doc["voxel_m"]),
            scales=scales,
            ground_lift_m=float(doc["ground_lift_m"]),
            input_mean=np.asarray(doc["input_mean"], np.float32),
            input_scale=np.asarray(doc["input_scale"], np.float32),
            weights=tuple(np.asarray(layer["weights"], np.float32) for layer in doc["layers"]),
            biases=tuple(np.asarray(layer["bias"], np.float32) for layer in doc["layers"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"point semantics model incomplete ({exc!r})", file=source) from exc
    if tuple(doc.get("classes", ())) != CLASS_NAMES:
        raise ConfigError(f"classes must be {list(CLASS_NAMES)}", file=source, key="classes")
    if tuple(doc.get("features", ())) != model.feature_names:
        raise ConfigError("features differ from this version's feature list", file=source, key="features")
    sizes = [model.input_mean.shape[0]] + [b.shape[0] for b in model.biases]
    shapes_ok = model.input_scale.shape == model.input_mean.shape and sizes[0] == len(model.feature_names)
    shapes_ok &= all(w.shape == (sizes[i], sizes[i + 1]) for i, w in enumerate(model.weights))
    if not shapes_ok or sizes[-1] != len(CLASS_NAMES):
        raise ConfigError(
            "layer shapes do not chain from the features to the classes", file=source, key="layers"
        )
    return model


def classify(
    model: SemanticsModel,
    xyz: np.ndarray,
    height: np.ndarray,
    is_ground: np.ndarray,
    intensity: np.ndarray,
) -> Semantics:
    """Per-point classes of a sweep (``xyz`` (N,3) base_link; ``height`` and ``is_ground`` from
    ``remove_ground``; ``intensity`` on the 0-255 scale).

    Non-ground points take their voxel's class. Ground points are ``GROUND`` with probability 1, except
    those at least ``model.ground_lift_m`` above the local ground that share a voxel with classified
    points: the ground filter's tolerance keeps the lowest 0.2 m of tyres and walls, which belong to
    the object above them.
    """
    xyz, height = np.asarray(xyz), np.asarray(height)
    is_ground = np.asarray(is_ground, bool)
    rest = np.flatnonzero(~is_ground)
    feats = features(xyz[rest], height[rest], np.asarray(intensity)[rest], model.voxel_m, model.scales)
    ground_row = np.zeros((1, len(CLASS_NAMES)), np.float32)
    ground_row[0, PointClass.GROUND] = 1.0
    row_probabilities = np.concatenate([model.probabilities(feats.values), ground_row])
    row = np.full(len(xyz), len(row_probabilities) - 1, np.int32)
    row[rest] = feats.voxel_of_point
    lifted = np.flatnonzero(is_ground & (height >= model.ground_lift_m))
    found = feats.grid.locate(xyz[lifted], height[lifted])
    row[lifted[found >= 0]] = found[found >= 0]
    labels = row_probabilities.argmax(axis=1).astype(np.uint8)[row]
    return Semantics(labels, row, row_probabilities)


def object_candidate_mask(probabilities: np.ndarray, min_probability: float = 0.1) -> np.ndarray:
    """Rows of ``probabilities`` (points, or ``Semantics.row_probabilities`` then indexed by
    ``Semantics.row``: the cheap way) that may belong to a road user (vehicle or person): their summed
    probability reaches ``min_probability``. A low bar on purpose: clustering should lose vegetation,
    walls and poles, not a pedestrian the classifier half mistook for a pole (the default was chosen on
    frames held out of training, where a higher bar started to drop pedestrians' points)."""
    p = np.asarray(probabilities)
    return p[:, list(OBJECT_CLASSES)].sum(axis=1) >= min_probability
