"""Train the per-point LiDAR semantics model on PandaSet's labelled frames; write the model and its card.

Every frame is moved into base_link, its ground found by the live ground filter, its non-ground points
described by ``prelabel.semantics.features`` (the same code the pipeline runs) and each voxel labelled
with the majority class of its points. A small perceptron (scikit-learn, one thread) learns the voxels,
weighted by their point counts; its weights are written as JSON text. Training and scoring frames are
scored per point with ``semantics.classify``, exactly as the pipeline labels a sweep.

Example (the committed model)::

    .venv/bin/python scripts/train_point_semantics.py --data ../shared/data/pandaset_seq002

``--validation-frames 36-43`` keeps those frames out of training and reports them: the split inside the
training frames on which the settings were chosen (the scoring frames never are). ``--compare-lightgbm``
also trains a LightGBM model on the same voxels and prints its scores and prediction time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mmfusion_annotate.datasets.semantics_data import (  # noqa: E402
    PANDASET_CLASSES,
    Sequence,
    open_sequence,
    read_sweep,
    road_offset,
)
from mmfusion_annotate.prelabel.config import PrelabelConfig  # noqa: E402
from mmfusion_annotate.prelabel.ground import remove_ground  # noqa: E402
from mmfusion_annotate.prelabel.semantics import (  # noqa: E402
    CLASS_NAMES,
    DEFAULT_MODEL_PATH,
    SemanticsModel,
    classify,
    features,
    object_candidate_mask,
    save_model,
)

REPO = Path(__file__).resolve().parents[1]
ATTRIBUTION = "PandaSet by Hesai and Scale AI, CC BY 4.0"
N_CLASSES = len(CLASS_NAMES)


def frame_list(text: str) -> list[int]:
    """'16-43' or '16,18,20-25' -> frame numbers."""
    frames: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        frames += list(range(int(lo), int(hi or lo) + 1))
    return frames


@dataclass(frozen=True)
class Frame:
    """One prepared frame: the sweep's inputs to ``classify``, its truth, its voxel rows with their
    majority class and point count, and the row of each non-ground point."""

    xyz: np.ndarray
    intensity: np.ndarray
    height: np.ndarray
    is_ground: np.ndarray
    truth: np.ndarray
    rows: np.ndarray
    row_label: np.ndarray
    row_points: np.ndarray
    row_of_point: np.ndarray


def prepare(data: Sequence, frame: int, offset: float, voxel_m: float, scales: tuple[int, ...]) -> Frame:
    """Ground filter as in ``prelabel.detect`` (same configuration and range), then voxel features."""
    cfg = PrelabelConfig()
    sweep = read_sweep(data, frame, offset)
    ground = remove_ground(sweep.xyz, cfg.ground, cfg.cluster.max_range_m + 5.0)
    height, is_ground = np.asarray(ground.height), np.asarray(ground.is_ground)
    rest = ~is_ground
    feats = features(sweep.xyz[rest], height[rest], sweep.intensity[rest], voxel_m, scales)
    votes = np.bincount(
        feats.voxel_of_point * N_CLASSES + sweep.labels[rest], minlength=feats.values.shape[0] * N_CLASSES
    ).reshape(-1, N_CLASSES)
    return Frame(
        sweep.xyz,
        sweep.intensity,
        height,
        is_ground,
        sweep.labels,
        feats.values,
        votes.argmax(1),
        votes.sum(1),
        feats.voxel_of_point,
    )


def train(frames: list[Frame], hidden: tuple[int, ...], epochs: int, seed: int):
    """(fitted MLPClassifier, input mean, input scale) on the frames' voxels, weighted by point count."""
    from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415 - training only
    from sklearn.neural_network import MLPClassifier  # noqa: PLC0415

    x = np.concatenate([f.rows for f in frames]).astype(np.float64)
    y = np.concatenate([f.row_label for f in frames])
    w = np.concatenate([f.row_points for f in frames]).astype(np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    mlp = MLPClassifier(hidden, max_iter=epochs, batch_size=512, random_state=seed, alpha=1e-4)
    with warnings.catch_warnings():  # a fixed number of epochs, on purpose: no convergence test
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit((x - mean) / scale, y, sample_weight=w / w.mean())
    if list(mlp.classes_) != list(range(N_CLASSES)):
        sys.exit(f"training voxels lack classes: have {list(mlp.classes_)}")
    return mlp, mean, scale


def evaluate(model: SemanticsModel, frames: list[Frame]) -> dict:
    """Per-point scores of ``classify`` over whole sweeps, and what ``object_candidate_mask`` keeps of
    the non-ground points of each true class."""
    conf = np.zeros((N_CLASSES, N_CLASSES), np.int64)
    kept = np.zeros(N_CLASSES)
    total = np.zeros(N_CLASSES)
    for f in frames:
        result = classify(model, f.xyz, f.height, f.is_ground, f.intensity)
        conf += _confusion(f.truth, result.labels)
        rest = ~f.is_ground
        keep = object_candidate_mask(result.row_probabilities)[result.row[rest]]
        kept += np.bincount(f.truth[rest], weights=keep, minlength=N_CLASSES)
        total += np.bincount(f.truth[rest], minlength=N_CLASSES)
    out = scores(conf)
    out["object_candidates_kept"] = {
        n: round(float(k / max(t, 1)), 4) for n, k, t in zip(CLASS_NAMES, kept, total, strict=True)
    }
    return out


def _confusion(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    flat = truth.astype(np.int64) * N_CLASSES + pred
    return np.bincount(flat, minlength=N_CLASSES**2).reshape(N_CLASSES, N_CLASSES)


def scores(conf: np.ndarray) -> dict:
    """Accuracy and per-class precision / recall / point count of a confusion matrix."""
    tp = np.diag(conf).astype(float)
    precision = tp / np.maximum(conf.sum(axis=0), 1)
    recall = tp / np.maximum(conf.sum(axis=1), 1)
    return {
        "accuracy": round(float(tp.sum() / conf.sum()), 4),
        "per_class": {
            name: {"precision": round(float(p), 4), "recall": round(float(r), 4), "points": int(n)}
            for name, p, r, n in zip(CLASS_NAMES, precision, recall, conf.sum(axis=1), strict=True)
        },
        "confusion": conf.tolist(),
    }


def format_scores(title: str, result: dict) -> str:
    lines = [
        f"{title}: point accuracy {result['accuracy']:.4f}",
        f"  {'class':<11} precision  recall   points",
    ]
    for name, s in result["per_class"].items():
        lines.append(f"  {name:<11} {s['precision']:9.3f} {s['recall']:7.3f} {s['points']:8d}")
    lines.append("  confusion (rows truth, columns predicted: " + ", ".join(CLASS_NAMES) + ")")
    lines += ["  " + " ".join(f"{v:8d}" for v in row) for row in result["confusion"]]
    return "\n".join(lines)


def compare_lightgbm(train_frames: list[Frame], score_frames: list[Frame], mlp_model: SemanticsModel) -> str:
    """A LightGBM model on the same voxels (one thread): its scoring-frame scores and prediction time."""
    import lightgbm as lgb  # noqa: PLC0415 - comparison only

    x = np.concatenate([f.rows for f in train_frames])
    y = np.concatenate([f.row_label for f in train_frames])
    w = np.concatenate([f.row_points for f in train_frames]).astype(np.float64)
    params = {
        "objective": "multiclass",
        "num_class": N_CLASSES,
        "num_leaves": 31,
        "learning_rate": 0.1,
        "min_data_in_leaf": 500,
        "lambda_l2": 1.0,
        "max_bin": 63,
        "feature_fraction": 0.7,
        "bagging_fraction": 0.5,
        "bagging_freq": 1,
        "num_threads": 1,
        "verbose": -1,
        "seed": 0,
    }
    booster = lgb.train(params, lgb.Dataset(x, y, weight=w), num_boost_round=60)
    conf = {"perceptron": np.zeros((N_CLASSES, N_CLASSES), np.int64)}
    conf["LightGBM"] = conf["perceptron"].copy()
    t_gbm: list[float] = []
    t_mlp: list[float] = []
    for f in score_frames:
        t0 = time.perf_counter()
        p_gbm = booster.predict(f.rows, num_threads=1)
        t_gbm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        p_mlp = mlp_model.probabilities(f.rows)
        t_mlp.append(time.perf_counter() - t0)
        truth = f.truth[~f.is_ground]
        conf["LightGBM"] += _confusion(truth, p_gbm.argmax(axis=1)[f.row_of_point])
        conf["perceptron"] += _confusion(truth, p_mlp.argmax(axis=1)[f.row_of_point])
    rows = np.mean([len(f.rows) for f in score_frames])
    lines = [
        f"LightGBM (60 rounds x {N_CLASSES} trees, 31 leaves, one thread) on the same voxels: predict "
        f"{1e3 * np.median(t_gbm):.1f} ms per sweep ({rows:.0f} voxels), the perceptron "
        f"{1e3 * np.median(t_mlp):.1f} ms; scored on the non-ground points of the scoring frames:"
    ]
    lines += [format_scores(name, scores(c)) for name, c in conf.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared/data/pandaset_seq002",
        help="PandaSet sequence folder (or the folder holding it)",
    )
    parser.add_argument("--train-frames", type=frame_list, default=frame_list("16-43"))
    parser.add_argument("--score-frames", type=frame_list, default=frame_list("44-55"))
    parser.add_argument(
        "--validation-frames",
        type=frame_list,
        default=[],
        help="frames taken out of --train-frames and reported (choosing settings)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH, help="model file (JSON)")
    parser.add_argument(
        "--card", type=Path, default=None, help="model card (default: point_semantics.json beside the model)"
    )
    parser.add_argument("--voxel", type=float, default=0.5, help="voxel size, metres")
    parser.add_argument("--scales", default="2,4", help="neighbourhood cells, in voxels a side")
    parser.add_argument("--hidden", default="64,64", help="hidden layer sizes")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--ground-lift",
        type=float,
        default=0.05,
        help="ground-filter points this high above the ground join a classified voxel",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-lightgbm", action="store_true")
    args = parser.parse_args(argv)
    scales = tuple(int(s) for s in args.scales.split(","))
    hidden = tuple(int(s) for s in args.hidden.split(","))
    train_ids = [f for f in args.train_frames if f not in set(args.validation_frames)]
    t_start = time.perf_counter()

    data = open_sequence(args.data)  # once: every frame below reads through it
    offset = road_offset(data, train_ids)
    print(f"base_link: road {offset:.3f} m below PandaSet's ego origin (Road points 3-15 m, training frames)")
    load = {
        f: prepare(data, f, offset, args.voxel, scales)
        for f in train_ids + args.validation_frames + args.score_frames
    }
    train_frames = [load[f] for f in train_ids]
    print(
        f"{len(train_ids)} training frames, {sum(len(f.rows) for f in train_frames)} voxels; "
        f"prepared in {time.perf_counter() - t_start:.0f} s"
    )
    mlp, mean, scale = train(train_frames, hidden, args.epochs, args.seed)
    weights = tuple(w.astype(np.float32) for w in mlp.coefs_)
    biases = tuple(b.astype(np.float32) for b in mlp.intercepts_)
    digest = hashlib.sha1(b"".join(a.tobytes() for a in (*weights, *biases, mean, scale))).hexdigest()[:10]
    model = SemanticsModel(
        version=f"mlp{'x'.join(map(str, hidden))}-{digest}",
        voxel_m=args.voxel,
        scales=scales,
        ground_lift_m=args.ground_lift,
        input_mean=mean.astype(np.float32),
        input_scale=scale.astype(np.float32),
        weights=weights,
        biases=biases,
    )
    print(f"trained {model.version} in {time.perf_counter() - t_start:.0f} s")

    report = {}
    for name, ids in (
        ("train", train_ids),
        ("validation", args.validation_frames),
        ("score", args.score_frames),
    ):
        if ids:
            report[name] = evaluate(model, [load[f] for f in ids])
            print(format_scores(f"{name} frames {ids[0]}-{ids[-1]} ({len(ids)})", report[name]))
            print(
                "  object_candidate_mask keeps (share of non-ground points per true class): "
                + ", ".join(f"{k} {v:.3f}" for k, v in report[name]["object_candidates_kept"].items())
            )
    if args.compare_lightgbm:
        print(compare_lightgbm(train_frames, [load[f] for f in args.score_frames], model))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, args.output)
    card_path = args.card or args.output.with_name("point_semantics.json")
    command = "python scripts/train_point_semantics.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    card = {
        "version": model.version,
        "model_file": args.output.name,
        "training_command": command.strip(),
        "data_source": {
            "dataset": "PandaSet sequence 002, frames 16-55 as copied in shared/data/pandaset_seq002",
            "attribution": ATTRIBUTION,
            "train_frames": train_ids,
            "validation_frames": args.validation_frames,
            "score_frames": args.score_frames,
            "road_offset_m": round(offset, 4),
        },
        "model": {
            "kind": "multilayer perceptron (ReLU, softmax), trained with scikit-learn MLPClassifier",
            "hidden_layers": list(hidden),
            "epochs": args.epochs,
            "seed": args.seed,
            "rows": "voxels of non-ground points, labelled by majority, weighted by point count",
        },
        "classes": list(CLASS_NAMES),
        "class_mapping": {name: CLASS_NAMES[c] for name, c in PANDASET_CLASSES.items()},
        "voxel_m": model.voxel_m,
        "scales": list(model.scales),
        "ground_lift_m": model.ground_lift_m,
        "features": list(model.feature_names),
        "scores": {
            k: {key: v[key] for key in ("accuracy", "per_class", "object_candidates_kept")}
            for k, v in report.items()
        },
    }
    text = json.dumps(card, indent=1)
    text = re.sub(r"\[\s+([-\d.,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    card_path.write_text(text + "\n", encoding="utf-8")
    print(
        f"wrote {args.output} ({args.output.stat().st_size // 1024} KB) and {card_path}; "
        f"{time.perf_counter() - t_start:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
