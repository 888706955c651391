"""Type stubs of the extension module iops._native (crate iops-py, python/src)."""

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class IopsError(ValueError):
    field: str | None

class InvalidParamError(IopsError):
    name: str
    value: str
    reason: str

class NonFiniteError(IopsError):
    value: float

class InvalidFieldError(IopsError):
    reason: str

class DecodeError(IopsError):
    what: str
    reason: str

class EvaluationError(IopsError):
    what: str
    reason: str

class ShapeError(IopsError):
    name: str
    expected: int
    got: int

class ArtifactError(IopsError): ...

class ArtifactChecksumError(ArtifactError):
    expected: str
    actual: str

class ArtifactTooLargeError(ArtifactError):
    size: int
    limit: int

class ArtifactVersionError(ArtifactError):
    found: int
    supported: int

class LinfaError(IopsError):
    reason: str

_F64Array2 = npt.NDArray[np.float64]
_F64Array1 = npt.NDArray[np.float64]
_Json = str | bytes | bytearray | Mapping[str, Any]

class PeerGroups:
    """A fleet's peer groups: hosts clustered on their metrics' level, spread and daily shape."""

    @staticmethod
    def fit(
        timestamps: _F64Array1,
        host: npt.NDArray[np.int64],
        values: _F64Array2,
        hostnames: list[str],
        *,
        max_groups: int = 8,
        min_silhouette: float = 0.25,
        min_history_seconds: float = 86400.0,
    ) -> PeerGroups: ...
    @staticmethod
    def from_json(data: str) -> PeerGroups: ...
    def to_json(self) -> str: ...
    @property
    def groups(self) -> list[dict[str, Any]]: ...
    @property
    def silhouette(self) -> float | None: ...
    def group_of(self, hostname: str) -> str | None: ...
    def nearest(self, timestamps: _F64Array1, values: _F64Array2) -> str | None: ...
    def expected(self, group: str, metric_name: str, t: float) -> tuple[float, float]: ...
    def __len__(self) -> int: ...

class ForestModel:
    """A fitted isolation forest and its model.json metadata; s(x) in (0, 1], higher = anomalous."""

    @staticmethod
    def fit(
        x: _F64Array2,
        *,
        n_trees: int | None = None,
        max_samples: int | float | None = None,
        max_features: int | float | None = None,
        bootstrap: bool | None = None,
        contamination: float | None = None,
        threshold: float | None = None,
        seed: int | None = None,
        feature_names: list[str] | None = None,
        summarize: bool = True,
    ) -> ForestModel: ...
    def summarize(self, x: _F64Array2) -> ForestModel: ...
    @property
    def summarized(self) -> bool: ...
    def leaves(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
    def leaf_sums(self, values: _F64Array1) -> LeafSums: ...
    @staticmethod
    def from_json(data: str | bytes | bytearray) -> ForestModel: ...
    def to_json(self) -> str: ...
    def score_samples(self, x: _F64Array2) -> _F64Array1: ...
    def score_one(self, row: _F64Array1) -> float: ...
    def predict(self, x: _F64Array2) -> npt.NDArray[np.bool_]: ...
    def with_threshold(self, threshold: float) -> ForestModel: ...
    @property
    def peer_groups(self) -> PeerGroups | None: ...
    def with_peer_groups(self, groups: PeerGroups | None) -> ForestModel: ...
    @property
    def threshold(self) -> float: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_trees(self) -> int: ...
    @property
    def samples_per_tree(self) -> int: ...
    @property
    def n_nodes(self) -> int: ...
    @property
    def feature_names(self) -> list[str]: ...
    @property
    def created_at(self) -> str: ...
    @property
    def hyperparameters(self) -> dict[str, Any]: ...
    @property
    def training(self) -> dict[str, Any]: ...

class LeafSums:
    """Per-row sums of a value per leaf over the trees, in tree order (ForestModel.leaf_sums)."""

    def sums(self, x: _F64Array2, *, divisor: float | None = None) -> _F64Array1: ...
    @property
    def n_features(self) -> int: ...

class _Streaming:
    def update(self, x: float) -> None: ...
    def score(self, x: float) -> float: ...
    def score_and_update(self, x: float) -> float: ...
    def score_and_update_many(self, xs: _F64Array1) -> _F64Array1: ...
    @property
    def is_warm(self) -> bool: ...
    @property
    def expected(self) -> float: ...
    @property
    def spread(self) -> float: ...
    @property
    def n_seen(self) -> int: ...
    def reset(self) -> None: ...
    def to_json(self) -> str: ...

class ZScore(_Streaming):
    def __init__(
        self,
        *,
        window: int | None = None,
        min_samples: int | None = None,
        robust: bool | None = None,
        min_spread: float | None = None,
    ) -> None: ...
    @staticmethod
    def from_json(state: str) -> ZScore: ...
    @property
    def params(self) -> dict[str, Any]: ...
    def __len__(self) -> int: ...

class Ewma(_Streaming):
    def __init__(
        self,
        *,
        alpha: float | None = None,
        half_life: float | None = None,
        warmup: int | None = None,
        min_spread: float | None = None,
    ) -> None: ...
    @staticmethod
    def from_json(state: str) -> Ewma: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def variance(self) -> float: ...

class InsightEngine:
    def __init__(self, *, model: Any = None, **params: Any) -> None: ...
    @property
    def model(self) -> ForestModel | None: ...
    @staticmethod
    def default_params() -> dict[str, Any]: ...
    @property
    def params(self) -> dict[str, Any]: ...
    def process(self, metric: _Json) -> dict[str, Any]: ...
    def process_many(self, metrics: Iterable[_Json]) -> tuple[_F64Array1, list[dict[str, Any]]]: ...
    def hosts(self) -> list[str]: ...
    def host_state(self, hostname: str) -> str | None: ...
    def peer_shift(self, hostname: str) -> dict[str, Any] | None: ...
    def restore_host(self, hostname: str, state: str) -> None: ...

def score_series(timestamps: _F64Array1, values: _F64Array1, **params: Any) -> _F64Array1: ...

HOST_FEATURES: list[str]

def host_features(
    timestamps: _F64Array1, host: npt.NDArray[np.int64], values: _F64Array2, **params: Any
) -> _F64Array2: ...
def training_features(metrics: Iterable[_Json], **params: Any) -> _F64Array2: ...
def roc_auc(scores: _F64Array1, labels: npt.NDArray[np.bool_]) -> float: ...
def average_precision(scores: _F64Array1, labels: npt.NDArray[np.bool_]) -> float: ...
def nab_score(
    files: Mapping[str, tuple[_F64Array1, _F64Array1]],
    labels: _Json,
    costs: Mapping[str, float] | None = None,
) -> dict[str, float]: ...
def nab_profiles(profiles: _Json) -> dict[str, dict[str, float]]: ...
def nab_timestamp(text: str) -> float: ...
def generate_fleet(
    *,
    hosts: int | None = None,
    days: float | None = None,
    interval_secs: int | None = None,
    seed: int | None = None,
    incident_rate: float | None = None,
    calm_days: float | None = None,
    start: float | None = None,
    kinds: list[str] | None = None,
) -> dict[str, Any]: ...
def write_fleet_csv(
    path: str | os.PathLike[str],
    *,
    hosts: int | None = None,
    days: float | None = None,
    interval_secs: int | None = None,
    seed: int | None = None,
    incident_rate: float | None = None,
    calm_days: float | None = None,
    start: float | None = None,
    kinds: list[str] | None = None,
) -> dict[str, Any]: ...
def read_metrics_csv(path: str | os.PathLike[str]) -> dict[str, Any]: ...
