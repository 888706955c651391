"""``model.json`` on disk: the artifact every runtime (Rust, Lambda, SageMaker, Python) reads."""

from __future__ import annotations

import os
from pathlib import Path

from iops._forest import IsolationForest
from iops._native import ForestModel

__all__ = ["load_model", "save_model"]

MODEL_FILE = "model.json"


def _file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / MODEL_FILE if p.is_dir() else p


def save_model(model: IsolationForest | ForestModel, path: str | os.PathLike[str]) -> Path:
    """Writes the fitted ``model`` as ``model.json`` (if ``path`` is a directory, as
    ``path/model.json``); the file is replaced atomically. Returns the path written."""
    # An estimator's model_ computes the training summary the file needs, if fit left it.
    native = model.model_ if isinstance(model, IsolationForest) else model
    if not isinstance(native, ForestModel):
        raise TypeError(f"save_model takes an IsolationForest or a ForestModel, got {type(model).__name__}")
    target = _file(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(native.to_json(), encoding="utf-8")
    os.replace(tmp, target)
    return target


def load_model(path: str | os.PathLike[str]) -> IsolationForest:
    """Loads ``model.json`` (or ``path/model.json``) as a fitted :class:`IsolationForest`.
    The checksum, format version and every tree are checked (DecodeError, ArtifactError)."""
    return IsolationForest.from_model(ForestModel.from_json(_file(path).read_bytes()))
