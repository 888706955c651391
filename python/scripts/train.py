#!/usr/bin/env python3
"""Fits the fleet's isolation forest on generated (or real) metrics, evaluates it on held-out
time, and writes model.json plus a SageMaker-ready model.tar.gz.

    python python/scripts/generate-training-data.py --days 90 --output data/
    python python/scripts/train.py --data data/ --output model/

Reads DATA/metrics.csv (generate-training-data.py's format: timestamp, hostname, the four
metrics, label; see iops.read_metrics_csv). Time is split into three slices: training (all
but the last VALIDATION + TEST days), validation (the VALIDATION days before the last TEST
days) and test (the last TEST days). Then:

1. features: `--features host` (default) standardises each metric against its host's own
   expectation with the engine's per-metric models (iops.host_features, the input of the
   insight engine's fleet forest, feature names iops.HOST_FEATURES: the model loads in
   `iops.InsightEngine(model=...)`, `iops serve`, Lambda); `--features raw` uses the four raw
   values (what a SageMaker client sends as feature rows);
2. fit: iops.IsolationForest on the training slice (the labels are not used); with
   `--features host`, also the fleet's peer groups (iops.PeerGroups: hosts with a day of
   training data, clustered on level, spread and daily shape), which the model carries so
   that a new host is compared with its group until its own baseline is ready;
3. threshold: the one with the best F1 against the labels on the validation slice, stored in
   the model (ForestModel.with_threshold: model.json's threshold and training summary);
4. evaluation on the test slice, at that threshold: precision, recall, F1, ROC AUC and
   average precision of the per-sample labels.

With `--labels LABELS.jsonl` (`iops export-labels`: the operator's verdicts on incidents, one
JSON object per line), the verdicts override the per-sample labels used for the threshold and
the evaluation: the host's rows from the incident's opening to its resolution are anomalous
for `real`, normal for `false_positive` and `expected` (a CSV without a label column can then
be evaluated on the verdicts alone).

Writes OUTPUT/model.json and OUTPUT/model.tar.gz (model.json at the archive root, as
SageMaker extracts it into /opt/ml/model), prints a report on stderr and one JSON summary
line on stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import iops

DAY = 86_400.0


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) of the decision `score > threshold` with the best F1 on these labels.
    The threshold lies halfway between the lowest score flagged and the next score below it,
    so the rule does not hinge on a score seen exactly."""
    if not labels.any():
        raise SystemExit("the validation slice has no labelled anomalies: cannot choose a threshold")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    flagged = np.arange(1, len(s) + 1)
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each distinct score
    precision = tp[last] / flagged[last]
    recall = tp[last] / tp[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    i = last[best]
    below = s[i + 1] if i + 1 < len(s) else 0.0
    threshold = float(np.clip((s[i] + below) / 2, 1e-9, 1 - 1e-9))
    return threshold, float(f1[best])


def evaluate(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Point-wise precision, recall, F1 at `threshold`, and the threshold-free ROC AUC and
    average precision."""
    flagged = scores > threshold
    tp = int(np.sum(flagged & labels))
    fp = int(np.sum(flagged & ~labels))
    fn = int(np.sum(~flagged & labels))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both = labels.any() and not labels.all()
    return {
        "rows": int(len(scores)),
        "positives": int(labels.sum()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": iops.roc_auc(scores, labels) if both else None,
        "average_precision": iops.average_precision(scores, labels) if both else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def epoch_seconds(text: str) -> float:
    """RFC 3339 (as iops writes it: `Z`, up to nanoseconds) to epoch seconds."""
    from datetime import datetime

    head, _, frac = text.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(head + "+00:00").timestamp()
    return seconds + (float("0." + frac) if frac else 0.0)


def apply_labels(
    path: Path, ts: np.ndarray, host: np.ndarray, hostnames: list[str], labels: np.ndarray | None
) -> tuple[np.ndarray, dict[str, int]]:
    """The per-row labels with the verdicts of `path` applied (see the module docs), and what
    they did: labels read per verdict, rows changed, labels of hosts not in the data."""
    out = np.zeros(len(ts), dtype=bool) if labels is None else labels.astype(bool).copy()
    index = {name: i for i, name in enumerate(hostnames)}
    counts = {"labels": 0, "false_positive": 0, "expected": 0, "real": 0, "rows_changed": 0, "unknown_hosts": 0}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            label = json.loads(line)
            verdict = label["verdict"]
            if verdict not in ("false_positive", "expected", "real"):
                raise ValueError(f"verdict {verdict!r}")
            opened = epoch_seconds(label["opened"])
            resolved = epoch_seconds(label["resolved"]) if label.get("resolved") else np.inf
            hostname = label["hostname"]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise SystemExit(f"{path}:{n}: not a label of iops export-labels: {e}") from None
        counts["labels"] += 1
        counts[verdict] += 1
        h = index.get(hostname)
        if h is None:
            counts["unknown_hosts"] += 1
            continue
        rows = (host == h) & (ts >= opened) & (ts <= resolved)
        value = verdict == "real"
        counts["rows_changed"] += int((rows & (out != value)).sum())
        out[rows] = value
    return out, counts


def write_model(model: iops.IsolationForest, output: Path) -> tuple[Path, Path]:
    """model.json, and model.tar.gz holding it at the archive root (SageMaker's layout)."""
    output.mkdir(parents=True, exist_ok=True)
    path = iops.save_model(model, output / "model.json")
    data = path.read_bytes()
    archive = output / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        info.mtime = int(time.time())
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return path, archive


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="directory with metrics.csv (or the CSV file)")
    ap.add_argument("--output", type=Path, required=True, help="directory to write model.json and model.tar.gz into")
    ap.add_argument("--features", choices=["host", "raw"], default="host",
                    help="host-standardised z-scores (default; the engine's fleet forest) or raw values")
    ap.add_argument("--test-days", type=float, default=14.0, help="last days held out for the test (default 14)")
    ap.add_argument("--validation-days", type=float, default=14.0,
                    help="days before the test slice used to choose the threshold (default 14)")
    ap.add_argument("--n-trees", type=int, default=100)
    ap.add_argument("--max-samples", type=int, default=256)
    ap.add_argument("--contamination", type=float, default=None,
                    help="initial threshold rule (training-score quantile); replaced by the chosen threshold")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--labels", type=Path, default=None,
                    help="the operator's verdicts (iops export-labels, JSON lines) over the per-row labels")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    csv_path = args.data / "metrics.csv" if args.data.is_dir() else args.data
    data = iops.read_metrics_csv(csv_path)
    if data["label"] is None and args.labels is None:
        raise SystemExit(f"{csv_path}: no label column and no --labels: cannot evaluate")
    ts = data["timestamp"]
    labels = None if data["label"] is None else data["label"].astype(bool)
    verdicts = None
    if args.labels is not None:
        labels, verdicts = apply_labels(args.labels, ts, data["host"], data["hostnames"], labels)
    t_read = time.perf_counter()
    log(f"read {len(ts)} rows from {len(data['hostnames'])} hosts in {t_read - t0:.1f} s")
    if verdicts is not None:
        log(f"verdicts: {verdicts}")

    if args.features == "host":
        x = iops.host_features(ts, data["host"], data["values"])
        names = list(iops.HOST_FEATURES)
        usable = ~np.isnan(x[:, 0])
    else:
        x = data["values"]
        names = list(data["metrics"])
        usable = np.ones(len(ts), dtype=bool)
    t_feat = time.perf_counter()
    log(f"{args.features} features: {int(usable.sum())} rows usable (warm-up dropped) in {t_feat - t_read:.1f} s")

    end = float(ts.max()) if len(ts) else 0.0
    test_start = end - args.test_days * DAY
    val_start = test_start - args.validation_days * DAY
    train = usable & (ts <= val_start)
    val = usable & (ts > val_start) & (ts <= test_start)
    test = usable & (ts > test_start)
    for name, mask in [("training", train), ("validation", val), ("test", test)]:
        if mask.sum() < 2:
            raise SystemExit(f"the {name} slice has {int(mask.sum())} usable rows: need more days of data")

    fit_kwargs: dict[str, Any] = {"n_trees": args.n_trees, "max_samples": args.max_samples, "seed": args.seed}
    if args.contamination is not None:
        fit_kwargs["contamination"] = args.contamination
    native = iops.ForestModel.fit(np.ascontiguousarray(x[train]), feature_names=names, **fit_kwargs)
    peer_groups = None
    if args.features == "host":
        # the fleet's peer groups from the training days (new hosts are compared with them)
        in_train = ts <= val_start
        try:
            groups = iops.PeerGroups.fit(
                np.ascontiguousarray(ts[in_train]),
                np.ascontiguousarray(data["host"][in_train]),
                np.ascontiguousarray(data["values"][in_train]),
                list(data["hostnames"]),
            )
        except iops.InvalidFieldError as e:
            log(f"no peer groups: {e}")
        else:
            native = native.with_peer_groups(groups)
            peer_groups = [{"name": g["name"], "hosts": len(g["hosts"])} for g in groups.groups]
            described = ", ".join("{name} ({hosts} hosts)".format(**g) for g in peer_groups)
            log(f"peer groups: {described}")
    model = iops.IsolationForest.from_model(native)
    t_fit = time.perf_counter()
    log(f"fitted {args.n_trees} trees on {int(train.sum())} rows in {t_fit - t_feat:.1f} s "
        f"(training threshold {model.threshold_:.4f})")

    val_scores = model.anomaly_score(np.ascontiguousarray(x[val]))
    threshold, val_f1 = best_f1_threshold(val_scores, labels[val])
    model.set_threshold(threshold)
    test_scores = model.anomaly_score(np.ascontiguousarray(x[test]))
    validation = evaluate(val_scores, labels[val], threshold)
    result = evaluate(test_scores, labels[test], threshold)
    t_eval = time.perf_counter()
    log(f"threshold {threshold:.4f} (best F1 {val_f1:.3f} on {int(val.sum())} validation rows)")
    log(f"test ({int(test.sum())} rows, last {args.test_days:g} days): precision {result['precision']:.3f} "
        f"recall {result['recall']:.3f} F1 {result['f1']:.3f} ROC AUC {result['roc_auc']} "
        f"AP {result['average_precision']}")

    json_path, archive = write_model(model, args.output)
    log(f"wrote {json_path} and {archive}")
    summary = {
        "model": str(json_path),
        "archive": str(archive),
        "features": args.features,
        "feature_names": names,
        "hosts": len(data["hostnames"]),
        "rows": {"train": int(train.sum()), "validation": int(val.sum()), "test": int(test.sum())},
        "threshold": threshold,
        "peer_groups": peer_groups,
        "labels": verdicts,
        "validation": validation,
        "test": result,
        "seconds": {
            "read": round(t_read - t0, 3),
            "features": round(t_feat - t_read, 3),
            "fit": round(t_fit - t_feat, 3),
            "evaluate": round(t_eval - t_fit, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
