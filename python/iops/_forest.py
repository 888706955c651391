"""The isolation forest as a scikit-learn estimator, on top of :class:`iops.ForestModel`.

A drop-in for ``sklearn.ensemble.IsolationForest``: the same parameters, the same trees for
the same integer ``random_state``, and ``score_samples`` / ``decision_function`` /
``predict`` equal to scikit-learn's bit for bit (the last steps of the score are numpy's, as
in scikit-learn). scikit-learn is optional: the estimator implements ``get_params`` /
``set_params`` itself and works with ``clone``, ``Pipeline``, the model-selection tools and
``check_estimator`` when scikit-learn is installed.
"""

from __future__ import annotations

import inspect
import numbers
import sys
import warnings
from typing import Any

import numpy as np

from iops._native import ForestModel, InvalidFieldError, InvalidParamError, IopsError, ShapeError

__all__ = ["IsolationForest", "NotFittedError"]

# scikit-learn draws seeds below np.iinfo(np.int32).max (BaseBagging, _set_random_states).
_MAX_INT = int(np.iinfo(np.int32).max)
_MAX_TREES = 100_000
# Old parameter names (still accepted) -> scikit-learn's.
_ALIASES = {"n_trees": "n_estimators", "seed": "random_state"}


class NotFittedError(IopsError, AttributeError):
    """The estimator is used before ``fit`` (an IopsError and an AttributeError, as
    scikit-learn's NotFittedError is a ValueError and an AttributeError). When scikit-learn
    is imported, the error raised is also a ``sklearn.exceptions.NotFittedError``."""


_SKLEARN_NOT_FITTED: dict[type, type] = {}


def _not_fitted(name: str) -> NotFittedError:
    msg = (
        f"This {name} instance is not fitted yet. "
        "Call 'fit' with appropriate arguments before using this estimator."
    )
    # Only when scikit-learn is loaded (code that catches its NotFittedError has imported
    # it): importing scikit-learn here would slow down `import iops` for everyone else.
    exceptions = sys.modules.get("sklearn.exceptions")
    base = getattr(exceptions, "NotFittedError", None)
    if not isinstance(base, type):
        return NotFittedError(msg)
    cls = _SKLEARN_NOT_FITTED.get(base)
    if cls is None:
        cls = type("NotFittedError", (NotFittedError, base), {"__module__": "iops", "__doc__": NotFittedError.__doc__})
        _SKLEARN_NOT_FITTED[base] = cls
    return cls(msg)


def _param_error(name: str, value: Any, reason: str) -> InvalidParamError:
    err = InvalidParamError(f"invalid parameter `{name}` = {value!r}: {reason}")
    err.name, err.field, err.value, err.reason = name, name, repr(value), reason
    return err


def _shape_error(name: str, expected: int, got: int, message: str) -> ShapeError:
    err = ShapeError(message)
    err.name, err.field, err.expected, err.got = name, name, expected, got
    return err


def _field_error(field: str, reason: str) -> InvalidFieldError:
    err = InvalidFieldError(f"invalid `{field}`: {reason}")
    err.field, err.reason = field, reason
    return err


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:  # e.g. arrays: not one value
        return False


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _average_path_length(n_samples_leaf: np.ndarray) -> np.ndarray:
    """scikit-learn's ``_average_path_length`` (c(n)), the same numpy operations in the same
    order, so it gives the same values bit for bit (numpy's ``log`` is not the C library's
    everywhere, so this cannot come from Rust)."""
    n_samples_leaf = np.asarray(n_samples_leaf)
    shape = n_samples_leaf.shape
    n_samples_leaf = n_samples_leaf.reshape((1, -1))
    average_path_length = np.zeros(n_samples_leaf.shape)
    mask_1 = n_samples_leaf <= 1
    mask_2 = n_samples_leaf == 2
    not_mask = ~np.logical_or(mask_1, mask_2)
    average_path_length[mask_1] = 0.0
    average_path_length[mask_2] = 1.0
    average_path_length[not_mask] = (
        2.0 * (np.log(n_samples_leaf[not_mask] - 1.0) + np.euler_gamma)
        - 2.0 * (n_samples_leaf[not_mask] - 1.0) / n_samples_leaf[not_mask]
    )
    return average_path_length.reshape(shape)


def _is_sparse(X: Any) -> bool:
    # scipy.sparse matrices and arrays, without importing scipy
    return type(X).__module__.startswith("scipy.sparse") or (
        hasattr(X, "tocsr") and hasattr(X, "nnz") and hasattr(X, "format")
    )


def _feature_names(X: Any) -> list[str] | None:
    columns = getattr(X, "columns", None)
    if columns is not None and len(columns) > 0 and all(isinstance(c, str) for c in columns):
        return [str(c) for c in columns]
    return None


class IsolationForest:
    """Isolation forest (Liu, Ting & Zhou 2008), a drop-in for scikit-learn's
    ``sklearn.ensemble.IsolationForest``.

    Parameters are scikit-learn's, with the same meaning and defaults; for an integer
    ``random_state`` (below 2**32) the trees are those scikit-learn 1.9.1 grows, and
    ``score_samples``, ``decision_function``, ``predict`` and ``offset_`` equal scikit-learn's
    bit for bit.

    n_estimators : int, default 100
        Number of trees, 1..=100000. Alias: ``n_trees``.
    max_samples : "auto", int or float, default "auto"
        Rows per tree: a count (capped at the number of rows, with scikit-learn's warning),
        or a fraction of the rows in (0, 1]; "auto" is min(256, rows).
    contamination : "auto" or float, default "auto"
        Expected share of anomalies in (0, 0.5]: ``offset_`` becomes that percentile of the
        training rows' ``score_samples``, and the model's threshold (``threshold_``, the one
        in ``model.json``) the ``1 - contamination`` quantile of their native anomaly
        scores; this costs scoring the training rows twice (scikit-learn scores them once,
        about ten times slower). "auto": ``offset_ = -0.5`` (or ``-threshold``).
    max_features : int or float, default 1.0
        Features each tree may split on: a count (at most the number of features) or a share
        in (0, 1].
    bootstrap : bool, default False
        Draw each tree's rows with replacement.
    n_jobs : int or None, default None
        Accepted for compatibility; results never depend on it. iops grows and scores trees
        on all cores (rayon; ``RAYON_NUM_THREADS`` limits them).
    random_state : int, numpy RandomState or None, default None
        An int (0 <= seed < 2**64) fixes the forest; below 2**32 it grows scikit-learn's trees
        for that seed. None or a RandomState draws the forest's seed from numpy's global
        RandomState or from that one (random, like scikit-learn, but not the trees
        scikit-learn would grow from the same generator state; pass an int for those).
        The seed used is ``seed_``. Alias: ``seed``.
    verbose : int, default 0
        Accepted for compatibility; iops prints nothing.
    warm_start : bool, default False
        True is refused (InvalidParamError ``warm_start``): refit with the larger
        ``n_estimators`` instead; the same integer ``random_state`` grows the same first
        trees on the same data.
    threshold : float or None, default None
        iops only: a fixed anomaly-score threshold in (0, 1), ``offset_ = -threshold``; None
        is scikit-learn's 0.5. Set at most one of ``contamination`` and ``threshold``.

    ``fit`` takes no ``sample_weight`` (scikit-learn's sampling by weight is not replicated;
    passing one is a TypeError naming it).

    Scores follow scikit-learn: ``score_samples`` is the NEGATED anomaly score ``-s(x)`` in
    [-1, 0) (higher = more normal), ``decision_function = score_samples - offset_``
    (negative = outlier), ``predict`` gives 1 for inliers and -1 for outliers.
    :meth:`anomaly_score` gives the paper's ``s(x)`` in (0, 1] (higher = more anomalous) as
    Rust, Lambda, SageMaker and ``model.json``'s thresholds compute it; it can differ from
    ``-score_samples`` in the last bits (Rust's ``exp2`` and ``ln`` against numpy's).

    Fitted attributes: ``model_`` (:class:`iops.ForestModel`), ``n_features_in_``,
    ``feature_names_in_`` (only when fitted on a DataFrame with string column names),
    ``offset_``, ``threshold_`` (the model's threshold on :meth:`anomaly_score`;
    ``-offset_`` exactly, except after a float ``contamination``, where both are quantiles
    of the same rows' scores in the two arithmetics, equal to the last bits),
    ``max_samples_``, ``seed_``. A model loaded from ``model.json`` has
    ``offset_ = -threshold_``.

    ``fit`` does not score the training rows unless ``contamination`` is a float: the
    training summary of ``model.json`` (quantiles of the training scores, which the engine's
    host forest reads) is computed when ``model_`` is first used (``save_model``, pickling,
    ``InsightEngine(model=...)``), from the rows given to ``fit``, which the estimator keeps
    a reference to until then (no copy). Changing those rows in place before that is an
    InvalidFieldError naming ``x``. The scorer behind ``score_samples`` is built on the
    first call that scores.

    Pickling stores the parameters and the fitted model as its ``model.json`` text (pure
    data, checksummed), never native objects.
    """

    _estimator_type = "outlier_detector"

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        contamination: float | str = "auto",
        max_features: int | float = 1.0,
        bootstrap: bool = False,
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        threshold: float | None = None,
        n_trees: int | None = None,
        seed: int | None = None,
    ) -> None:
        # scikit-learn convention: store the parameters as given; validate in fit (raising
        # here would break clone and set_params). The old names are aliases, not parameters
        # (get_params returns scikit-learn's names); given together with a different value
        # of the name they alias, fit refuses them.
        conflicts = []
        if n_trees is not None:
            if not _same(n_estimators, 100) and not _same(n_estimators, n_trees):
                conflicts.append(("n_trees", n_trees, "n_estimators", n_estimators))
            n_estimators = n_trees
        if seed is not None:
            if random_state is not None and not _same(random_state, seed):
                conflicts.append(("seed", seed, "random_state", random_state))
            random_state = seed
        if conflicts:
            self._alias_conflicts = conflicts
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.threshold = threshold

    # --- parameters ---------------------------------------------------------------------

    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.name not in _ALIASES and p.kind is p.KEYWORD_ONLY
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters by scikit-learn's names (``deep`` is accepted for
        scikit-learn; there are no nested estimators)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> IsolationForest:
        """Sets constructor parameters (the aliases ``n_trees`` and ``seed`` set
        ``n_estimators`` and ``random_state``); an unknown name is a ValueError. Returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            target = _ALIASES.get(name, name)
            if target not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            if target != name and target in params and not _same(params[target], value):
                raise _param_error(name, value, f"is an alias of {target}, which was given as {params[target]!r}")
        for name, value in params.items():
            setattr(self, _ALIASES.get(name, name), value)
        conflicts = [c for c in self.__dict__.get("_alias_conflicts", ()) if c[0] not in params and c[2] not in params]
        if conflicts:
            self._alias_conflicts = conflicts
        else:
            self.__dict__.pop("_alias_conflicts", None)
        return self

    def _checked(self) -> dict[str, Any]:
        """The parameters checked, as ForestModel.fit's keyword arguments. Errors are
        InvalidParamErrors naming them."""
        for alias, value, name, other in self.__dict__.get("_alias_conflicts", ()):
            raise _param_error(alias, value, f"is an alias of {name}, which was given as {other!r}")
        n_estimators = self.n_estimators
        if not _is_int(n_estimators) or not 1 <= n_estimators <= _MAX_TREES:
            raise _param_error("n_estimators", n_estimators, "must be an int in 1..=100000")
        max_samples = self.max_samples
        if isinstance(max_samples, str) and max_samples == "auto":
            max_samples = None
        elif _is_int(max_samples):
            if max_samples < 1:
                raise _param_error("max_samples", max_samples, "must be 'auto', an int >= 1 or a float in (0, 1]")
            max_samples = int(max_samples)
        elif _is_real(max_samples) and 0.0 < max_samples <= 1.0:
            max_samples = float(max_samples)
        else:
            raise _param_error("max_samples", max_samples, "must be 'auto', an int >= 1 or a float in (0, 1]")
        contamination = self.contamination
        if isinstance(contamination, str) and contamination == "auto":
            contamination = None
        elif _is_real(contamination) and 0.0 < contamination <= 0.5:
            contamination = float(contamination)
        else:
            raise _param_error("contamination", contamination, "must be 'auto' or a float in (0, 0.5]")
        max_features = self.max_features
        if _is_int(max_features):
            max_features = max(1, int(max_features))  # scikit-learn: max(1, int(max_features))
        elif _is_real(max_features) and 0.0 < max_features <= 1.0:
            max_features = float(max_features)
        else:
            raise _param_error("max_features", max_features, "must be an int or a float in (0, 1]")
        if not isinstance(self.bootstrap, (bool, np.bool_)):
            raise _param_error("bootstrap", self.bootstrap, "must be a bool")
        if self.n_jobs is not None and not _is_int(self.n_jobs):
            raise _param_error("n_jobs", self.n_jobs, "must be an int or None")
        if not (_is_int(self.verbose) or isinstance(self.verbose, (bool, np.bool_))) or self.verbose < 0:
            raise _param_error("verbose", self.verbose, "must be an int >= 0 or a bool")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise _param_error("warm_start", self.warm_start, "must be a bool")
        if self.warm_start:
            raise _param_error(
                "warm_start",
                self.warm_start,
                "is not supported: refit with the larger n_estimators (the same integer "
                "random_state grows the same first trees on the same data)",
            )
        threshold = self.threshold
        if threshold is not None:
            if not _is_real(threshold) or not 0.0 < threshold < 1.0:
                raise _param_error("threshold", threshold, "must be None or a float in (0, 1)")
            if contamination is not None:
                raise _param_error("contamination", contamination, "set either contamination or threshold, not both")
            threshold = float(threshold)
        return {
            "n_trees": int(n_estimators),
            "max_samples": max_samples,
            "max_features": max_features,
            "bootstrap": bool(self.bootstrap),
            "contamination": contamination,
            "threshold": threshold,
        }

    def _seed(self) -> int:
        rs = self.random_state
        if _is_int(rs):
            if not 0 <= rs < 2**64:
                raise _param_error("random_state", rs, "an int must be in 0..2**64")
            return int(rs)
        if rs is None:
            rng = np.random.mtrand._rand  # what scikit-learn's check_random_state(None) uses
        elif isinstance(rs, np.random.RandomState):
            rng = rs
        else:
            raise _param_error("random_state", rs, "must be an int, a numpy RandomState or None")
        return int(rng.randint(_MAX_INT))

    # --- input --------------------------------------------------------------------------

    def _validate(self, X: Any, *, reset: bool) -> tuple[np.ndarray, list[str] | None]:
        """``X`` as a 2-d float64 array (read in place when it is one) and its feature names;
        with ``reset=False``, checked against what ``fit`` saw."""
        if type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2:
            d = self.__dict__
            if not reset and X.shape[1] == d.get("n_features_in_") and "feature_names_in_" not in d:
                return X, None  # the one-row path: nothing else to check
            arr, names = X, None  # read in place by the native code
        else:
            if _is_sparse(X):
                raise _field_error(
                    "X",
                    "sparse input is not supported by iops' IsolationForest (Sparse data was "
                    "passed): convert it with X.toarray()",
                )
            names = _feature_names(X)
            arr = np.asarray(X)
            if np.iscomplexobj(arr):
                raise _field_error("X", "Complex data not supported: pass real float features")
            arr = np.asarray(arr, dtype=np.float64)
            if arr.ndim != 2:
                raise _shape_error(
                    "ndim",
                    2,
                    arr.ndim,
                    f"expected a 2-d array (rows x features), got {arr.ndim}-d. Reshape your data "
                    "either using X.reshape(-1, 1) if it has a single feature or X.reshape(1, -1) "
                    "if it is a single row",
                )
        n, d = arr.shape
        if d == 0:
            raise _shape_error(
                "n_features",
                1,
                0,
                f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required "
                f"by {type(self).__name__}.",
            )
        if reset:
            if n == 0:
                raise _shape_error(
                    "rows",
                    1,
                    0,
                    f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required "
                    f"by {type(self).__name__}.",
                )
            return arr, names
        expected = self.n_features_in_
        if d != expected:
            raise _shape_error(
                "n_features",
                expected,
                d,
                f"X has {d} features, but {type(self).__name__} is expecting {expected} features as input.",
            )
        self._check_feature_names(names)
        return arr, names

    def _check_feature_names(self, names: list[str] | None) -> None:
        # scikit-learn's rule: other names are an error; names on one side only a warning,
        # except for a model loaded from model.json, which always names its features (the
        # runtimes score plain rows).
        fitted = self.__dict__.get("feature_names_in_")
        cls = type(self).__name__
        if (fitted is None and names is None) or (names is None and self.__dict__.get("_loaded")):
            return
        if fitted is None:
            warnings.warn(f"X has feature names, but {cls} was fitted without feature names", UserWarning, stacklevel=4)
        elif names is None:
            warnings.warn(
                f"X does not have valid feature names, but {cls} was fitted with feature names",
                UserWarning,
                stacklevel=4,
            )
        elif list(fitted) != names:
            raise _field_error(
                "feature_names",
                f"The feature names should match those that were passed during fit: fitted with "
                f"{list(fitted)}, got {names}",
            )

    # --- fitting ------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> IsolationForest:
        """Fits the forest on the rows of ``X`` (array-like, float64 or convertible); ``y`` is
        ignored. Returns self. The GIL is released while the trees grow."""
        params = self._checked()
        X, names = self._validate(X, reset=True)
        n = X.shape[0]
        max_samples = params["max_samples"]
        if isinstance(max_samples, int) and max_samples > n:
            warnings.warn(  # scikit-learn's warning, word for word
                f"max_samples ({max_samples}) is greater than the total number of samples ({n}). "
                "max_samples will be set to n_samples for estimation.",
                UserWarning,
                stacklevel=2,
            )
        seed = self._seed()
        # A float contamination makes the native fit score the training rows (its threshold,
        # then also the training summary); otherwise nothing scores them now.
        model = ForestModel.fit(X, seed=seed, feature_names=names, summarize=False, **params)
        self.__dict__.pop("_loaded", None)
        self._set_model(model, names, training_rows=X)
        self.seed_ = seed
        if params["contamination"] is not None:
            # scikit-learn's offset_, from scikit-learn's scores. model.json keeps the
            # native quantile of the native scores (what the runtimes compare their scores
            # with, and what `iops train` writes); the two agree to the last bits.
            self.offset_ = np.percentile(self._score_samples(X), 100.0 * params["contamination"])
        return self

    def _set_model(self, model: ForestModel, names: list[str] | None, training_rows: np.ndarray | None) -> None:
        self._forest = model
        if model.summarized:
            self.__dict__.pop("_training_rows", None)
        else:
            self._training_rows = training_rows
        # Built on first use by _scorer: fit does not need it (unless contamination is a
        # float), a model only saved never does. A container made here, so scoring leaves
        # the estimator's __dict__ as it was (scikit-learn checks that).
        self._scoring: dict[str, Any] = {}
        psi = model.samples_per_tree
        self.n_features_in_ = model.n_features
        self.max_samples_ = psi
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_
        self._set_threshold(model)

    def _set_threshold(self, model: ForestModel) -> None:
        self._forest = model
        self.threshold_ = model.threshold
        self.offset_ = -model.threshold

    @classmethod
    def from_model(cls, model: ForestModel) -> IsolationForest:
        """A fitted estimator around ``model`` (e.g. loaded from model.json), its parameters
        taken from the model's hyperparameters."""
        if not model.summarized:
            raise _field_error("model", "its training summary is not computed: ForestModel.summarize(x) first")
        hp = model.hyperparameters
        est = cls(
            n_estimators=hp["n_trees"],
            max_samples=hp["max_samples"],
            max_features=hp["max_features"],
            bootstrap=hp["bootstrap"],
            contamination="auto" if hp["contamination"] is None else hp["contamination"],
            threshold=hp["threshold"],
            random_state=hp["seed"],
        )
        default_names = [f"x{i}" for i in range(model.n_features)]
        names = model.feature_names if model.feature_names != default_names else None
        est._set_model(model, names, training_rows=None)
        est.seed_ = hp["seed"]
        est._loaded = True
        return est

    def set_threshold(self, threshold: float) -> IsolationForest:
        """Uses ``threshold`` (an anomaly score in (0, 1), e.g. the F1-best one on held-out
        data) as the decision threshold from now on: the fitted model records it (its
        ``model.json`` then says which threshold it is used with), and the parameters become
        ``threshold=threshold, contamination="auto"`` so a clone refits to the same rule.
        Returns self."""
        self._set_threshold(self._fitted().with_threshold(float(threshold)))
        self.threshold = float(threshold)
        self.contamination = "auto"
        return self

    def _fitted(self) -> ForestModel:
        model = self.__dict__.get("_forest")
        if model is None:
            raise _not_fitted(type(self).__name__)
        return model

    @property
    def model_(self) -> ForestModel:
        """The fitted :class:`iops.ForestModel`, its training summary computed (on first use
        after ``fit``, from the rows ``fit`` was given)."""
        model = self._fitted()
        rows = self.__dict__.get("_training_rows")
        if not model.summarized and rows is not None:
            model = model.summarize(rows)
            self._forest = model
            self.__dict__.pop("_training_rows", None)
        return model

    def __sklearn_is_fitted__(self) -> bool:
        return "_forest" in self.__dict__

    # --- scoring ------------------------------------------------------------------------

    def _scorer(self) -> tuple[Any, float]:
        """scikit-learn's score as a native leaf-sum scorer and its denominator."""
        scoring = self._scoring
        scorer = scoring.get("leaf_sums")
        if scorer is None:
            model = self._forest
            depth, size = model.leaves()
            # scikit-learn's per-tree term: node depth counted from 1, plus c(leaf size),
            # minus 1 (numpy's arithmetic, in scikit-learn's order)
            scorer = model.leaf_sums((depth + 1) + _average_path_length(size) - 1.0)
            psi = np.array([model.samples_per_tree])
            scoring["denominator"] = float(model.n_trees * _average_path_length(psi)[0])
            scoring["leaf_sums"] = scorer
        return scorer, scoring["denominator"]

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        # scikit-learn: -(2 ** -(depths / (n_trees * c(max_samples)))), depths summed tree
        # by tree; -(a / d) is a / -d exactly. A zero denominator (one row per tree) gives
        # 2 ** -1, as scikit-learn's np.divide(..., where=denominator != 0) does.
        scorer, denominator = self._scorer()
        if denominator == 0.0:
            return np.full(scorer.sums(X).shape, -0.5)  # sums still check X
        q = scorer.sums(X, divisor=-denominator)  # IEEE division: numpy's result
        return -(2 ** q)  # operators: cheaper than ufunc calls with out= for one row

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's ``score_samples``: ``-s(x)``, higher is more normal (equal to
        scikit-learn's bit for bit for the same trees)."""
        if "_forest" not in self.__dict__:
            raise _not_fitted(type(self).__name__)
        return self._score_samples(self._validate(X, reset=False)[0])

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """1 for inliers, -1 for outliers (``decision_function(X) < 0``)."""
        decision = self.decision_function(X)
        is_inlier = np.ones_like(decision, dtype=int)
        is_inlier[decision < 0] = -1
        return is_inlier

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).predict(X)``."""
        return self.fit(X).predict(X)

    def anomaly_score(self, X: Any) -> np.ndarray:
        """The paper's anomaly score s(x) in (0, 1] per row: higher is more anomalous (the
        score of the Rust API and of model.json's thresholds)."""
        model = self._fitted()
        return model.score_samples(self._validate(X, reset=False)[0])

    # --- scikit-learn integration, pickling, repr -------------------------------------------

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="outlier_detector",
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            classifier_tags=None,
            regressor_tags=None,
            input_tags=InputTags(allow_nan=False, sparse=False),
        )

    def __getstate__(self) -> dict[str, Any]:
        if "_forest" in self.__dict__:
            self.model_  # noqa: B018 - the summary: a pickle holds model.json, not the rows
        state = {k: v for k, v in self.__dict__.items() if k not in ("_scoring", "_training_rows")}
        model = state.pop("_forest", None)
        if model is not None:
            state["model_"] = model.to_json()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        # Pickles from before the scikit-learn names (n_trees, seed).
        for old, new in _ALIASES.items():
            if old in state:
                state.setdefault(new, state.pop(old))
        for name, default in (("bootstrap", False), ("n_jobs", None), ("verbose", 0), ("warm_start", False)):
            state.setdefault(name, default)
        model = state.pop("model_", None)
        self.__dict__.update(state)
        if isinstance(model, (str, bytes)):
            model = ForestModel.from_json(model)
            names = self.__dict__.get("feature_names_in_")
            self._set_model(model, None if names is None else list(names), training_rows=None)
            self.__dict__.setdefault("seed_", model.hyperparameters["seed"])
            if "offset_" in state:  # scikit-learn's, after a float contamination
                self.offset_ = state["offset_"]

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
