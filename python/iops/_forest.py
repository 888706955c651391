"""The isolation forest as a scikit-learn estimator, on top of :class:`iops.ForestModel`.

scikit-learn is optional: the estimator implements ``get_params`` / ``set_params`` itself and
works with ``sklearn.base.clone``, ``Pipeline`` and the model-selection tools when
scikit-learn is installed.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from iops._native import ForestModel, IopsError, ShapeError

__all__ = ["IsolationForest", "NotFittedError"]


class NotFittedError(IopsError, AttributeError):
    """The estimator is used before ``fit`` (an IopsError and an AttributeError, as
    scikit-learn's NotFittedError is a ValueError and an AttributeError)."""


def _shape_error(name: str, expected: int, got: int, message: str) -> ShapeError:
    err = ShapeError(message)
    err.name, err.field, err.expected, err.got = name, name, expected, got
    return err


class IsolationForest:
    """Isolation forest (Liu, Ting & Zhou 2008) with scikit-learn's estimator conventions.

    Parameters map 1:1 to the Rust builder ``IsolationForestParams`` (and to the
    ``hyperparameters`` of ``model.json``):

    n_trees : int, default 100
        Number of trees (scikit-learn's ``n_estimators``), 1..=100000.
    max_samples : "auto", int or float, default "auto"
        Rows per tree: a count (capped at the number of rows, at least 2) or a fraction of
        the rows in (0, 1]. "auto" is 256 capped at the number of rows, as in scikit-learn.
    max_features : float, default 1.0
        Share of the features each tree may split on, in (0, 1].
    contamination : "auto" or float, default "auto"
        Expected share of anomalies in the training data, in (0, 0.5]: the threshold becomes
        that quantile of the training scores. "auto" uses ``threshold``.
    threshold : float or None, default None
        Fixed anomaly-score threshold in (0, 1); None is 0.5, scikit-learn's
        ``contamination="auto"``. Set at most one of ``contamination`` and ``threshold``.
    seed : int, default 0
        scikit-learn's ``random_state``: the same seed (below 2**32) grows the same trees as
        scikit-learn 1.9.1's ``IsolationForest``. A fit is always deterministic, so the
        default is a fixed seed, not fresh randomness.

    Scores follow scikit-learn: ``score_samples`` is the NEGATED anomaly score ``-s(x)`` in
    [-1, 0) (higher = more normal), ``decision_function`` is ``score_samples - offset_`` with
    ``offset_ = -threshold_`` (negative = outlier), ``predict`` gives 1 for inliers and -1
    for outliers. :meth:`anomaly_score` gives the paper's ``s(x)`` in (0, 1] (higher = more
    anomalous), the score Rust, Lambda, SageMaker and ``model.json``'s thresholds use.

    Fitted attributes: ``model_`` (:class:`iops.ForestModel`), ``n_features_in_``,
    ``feature_names_in_`` (only when fitted on a DataFrame with string column names),
    ``threshold_``, ``offset_``, ``max_samples_``.

    Pickling stores the parameters and the fitted model as its ``model.json`` text (pure
    data, checksummed), never native objects.
    """

    _estimator_type = "outlier_detector"

    def __init__(
        self,
        *,
        n_trees: int = 100,
        max_samples: int | float | str = "auto",
        max_features: float = 1.0,
        contamination: float | str = "auto",
        threshold: float | None = None,
        seed: int = 0,
    ) -> None:
        # scikit-learn convention: store the parameters as given; validate in fit.
        self.n_trees = n_trees
        self.max_samples = max_samples
        self.max_features = max_features
        self.contamination = contamination
        self.threshold = threshold
        self.seed = seed

    # --- parameters ---------------------------------------------------------------------

    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (``deep`` is accepted for scikit-learn; there are no
        nested estimators)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> IsolationForest:
        """Sets constructor parameters; an unknown name is a ValueError. Returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def _fit_kwargs(self) -> dict[str, Any]:
        max_samples = self.max_samples
        if isinstance(max_samples, str):
            if max_samples != "auto":
                raise ValueError(f"max_samples must be 'auto', an int or a float, got {max_samples!r}")
            max_samples = None
        elif isinstance(max_samples, (bool, np.bool_)):
            raise TypeError("max_samples must be 'auto', an int or a float, got a bool")
        elif isinstance(max_samples, (int, np.integer)):
            max_samples = int(max_samples)
        else:
            max_samples = float(max_samples)
        contamination = self.contamination
        if isinstance(contamination, str):
            if contamination != "auto":
                raise ValueError(f"contamination must be 'auto' or a float, got {contamination!r}")
            contamination = None
        else:
            contamination = float(contamination)
        return {
            "n_trees": int(self.n_trees),
            "max_samples": max_samples,
            "max_features": float(self.max_features),
            "contamination": contamination,
            "threshold": None if self.threshold is None else float(self.threshold),
            "seed": None if self.seed is None else int(self.seed),
        }

    # --- fitting and scoring ------------------------------------------------------------

    @staticmethod
    def _as_2d(X: Any) -> np.ndarray:
        if type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2:
            return X  # fast path: read in place by the native code
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise _shape_error(
                "ndim",
                2,
                X.ndim,
                f"expected a 2-d array (rows x features), got {X.ndim}-d; "
                "reshape a single row with X.reshape(1, -1)",
            )
        return X

    def fit(self, X: Any, y: Any = None) -> IsolationForest:
        """Fits the forest on the rows of ``X`` (array-like, float64 or convertible); ``y`` is
        ignored. Returns self. The GIL is released while the trees grow."""
        names = None
        columns = getattr(X, "columns", None)
        if columns is not None and all(isinstance(c, str) for c in columns):
            names = [str(c) for c in columns]
        X = self._as_2d(X)
        model = ForestModel.fit(X, feature_names=names, **self._fit_kwargs())
        self._set_model(model, has_names=names is not None)
        return self

    def _set_model(self, model: ForestModel, has_names: bool) -> None:
        self.model_ = model
        self.n_features_in_ = model.n_features
        self.threshold_ = model.threshold
        self.offset_ = -model.threshold
        self.max_samples_ = model.samples_per_tree
        if has_names:
            self.feature_names_in_ = np.asarray(model.feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    @classmethod
    def from_model(cls, model: ForestModel) -> IsolationForest:
        """A fitted estimator around ``model`` (e.g. loaded from model.json), its parameters
        taken from the model's hyperparameters."""
        hp = model.hyperparameters
        est = cls(
            n_trees=hp["n_trees"],
            max_samples=hp["max_samples"],
            max_features=hp["max_features"],
            contamination="auto" if hp["contamination"] is None else hp["contamination"],
            threshold=hp["threshold"],
            seed=hp["seed"],
        )
        default_names = [f"x{i}" for i in range(model.n_features)]
        est._set_model(model, has_names=model.feature_names != default_names)
        return est

    def set_threshold(self, threshold: float) -> IsolationForest:
        """Uses ``threshold`` (an anomaly score in (0, 1), e.g. the F1-best one on held-out
        data) as the decision threshold from now on: the fitted model records it (its
        ``model.json`` then says which threshold it is used with), and the parameters become
        ``threshold=threshold, contamination="auto"`` so a clone refits to the same rule.
        Returns self."""
        model = self._model().with_threshold(float(threshold))
        self._set_model(model, has_names=hasattr(self, "feature_names_in_"))
        self.threshold = float(threshold)
        self.contamination = "auto"
        return self

    def _model(self) -> ForestModel:
        model = self.__dict__.get("model_")
        if model is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. "
                "Call 'fit' with appropriate arguments before using this estimator."
            )
        return model

    def __sklearn_is_fitted__(self) -> bool:
        return "model_" in self.__dict__

    def anomaly_score(self, X: Any) -> np.ndarray:
        """The paper's anomaly score s(x) in (0, 1] per row: higher is more anomalous (the
        score of the Rust API and of model.json's thresholds)."""
        return self._model().score_samples(self._as_2d(X))

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's convention: ``-s(x)``, higher is more normal."""
        return -self._model().score_samples(self._as_2d(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_`` = ``threshold_ - s(x)``: negative for outliers."""
        model = self._model()
        return model.threshold - model.score_samples(self._as_2d(X))

    def predict(self, X: Any) -> np.ndarray:
        """1 for inliers, -1 for outliers (s(x) above the threshold)."""
        anomalous = self._model().predict(self._as_2d(X))
        return np.where(anomalous, -1, 1)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).predict(X)``."""
        return self.fit(X).predict(X)

    # --- scikit-learn integration, pickling, repr -------------------------------------------

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="outlier_detector",
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            classifier_tags=None,
            regressor_tags=None,
            input_tags=InputTags(allow_nan=False),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        model = state.get("model_")
        if model is not None:
            state["model_"] = model.to_json()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        model = state.get("model_")
        if isinstance(model, (str, bytes)):
            state["model_"] = ForestModel.from_json(model)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(self).__init__).parameters.items()
            if name != "self"
        }
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not (type(value) is type(defaults.get(name)) and value == defaults.get(name))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"
