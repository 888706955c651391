"""iops: anomaly detection for infrastructure metrics, the same Rust engine that runs in Lambda
and SageMaker, from Python.

- :class:`IsolationForest`: a drop-in for scikit-learn's (its parameters, its trees for the
  same ``random_state``, its scores bit for bit; clone-able, picklable, ``check_estimator``
  passes), whose ``fit`` does not score the training rows.
- :class:`ZScore`, :class:`Ewma`: streaming detectors.
- :class:`InsightEngine`: metric dicts in, insight dicts and scores out (optionally with a
  host forest: ``InsightEngine(model=...)`` of a model fitted on :func:`host_features`).
- :func:`write_fleet_csv` / :func:`read_metrics_csv`: the training data on disk.
- :func:`save_model` / :func:`load_model`: the ``model.json`` every runtime reads.
- :func:`roc_auc`, :func:`average_precision`, :func:`nab_score`: evaluation metrics.

Every error is an :class:`IopsError` (a ``ValueError``), one subclass per kind.
"""

from iops._native import (
    ArtifactChecksumError,
    ArtifactError,
    ArtifactTooLargeError,
    ArtifactVersionError,
    DecodeError,
    EvaluationError,
    Ewma,
    ForestModel,
    InsightEngine,
    InvalidFieldError,
    InvalidParamError,
    IopsError,
    LinfaError,
    NonFiniteError,
    PeerGroups,
    ShapeError,
    ZScore,
    __version__,
    HOST_FEATURES,
    generate_fleet,
    host_features,
    read_metrics_csv,
    score_series,
    training_features,
    write_fleet_csv,
)
from iops._forest import IsolationForest, NotFittedError
from iops._io import load_model, save_model
from iops._metrics import average_precision, nab_profiles, nab_score, nab_timestamp, roc_auc

__all__ = [
    "HOST_FEATURES",
    "ArtifactChecksumError",
    "ArtifactError",
    "ArtifactTooLargeError",
    "ArtifactVersionError",
    "DecodeError",
    "EvaluationError",
    "Ewma",
    "ForestModel",
    "InsightEngine",
    "InvalidFieldError",
    "InvalidParamError",
    "IopsError",
    "IsolationForest",
    "LinfaError",
    "NonFiniteError",
    "NotFittedError",
    "PeerGroups",
    "ShapeError",
    "ZScore",
    "__version__",
    "average_precision",
    "generate_fleet",
    "host_features",
    "load_model",
    "nab_profiles",
    "nab_score",
    "nab_timestamp",
    "read_metrics_csv",
    "roc_auc",
    "save_model",
    "score_series",
    "training_features",
    "write_fleet_csv",
]
