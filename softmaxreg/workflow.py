"""The lesson's workflow as library calls: split, scale, train, evaluate, save, predict.

Examples
--------
>>> from softmaxreg.datasets import make_tumors
>>> from softmaxreg.workflow import train_model, unscaled_coefficients
>>> df = make_tumors(random_state=0)
>>> result = train_model(df[["leukocyte_count", "blood_pressure"]], df["tumor_class"],
...                      solver="lbfgs", random_state=0)
>>> result.accuracy["test"] > 0.9
True
>>> W, b = unscaled_coefficients(result.pipeline)
>>> W.shape, b.shape
((2, 2), (2,))
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backends import to_numpy
from .data import DataError, class_counts, class_weights, train_val_test_split
from .estimator import SoftmaxRegression
from .metrics import classification_metrics

__all__ = ["TrainResult", "fitted_scaler", "load_bundle", "output_folder", "predict_table",
           "save_bundle", "train_model", "unscaled_coefficients"]

MODEL_FILE = "model.npz"
SCALER_FILE = "preprocess.json"


def _parts(model: Any) -> tuple[Any, Any]:
    """(scaler or None, SoftmaxRegression) from a Pipeline or a bare model."""
    if hasattr(model, "steps"):
        steps = [s for _, s in model.steps]
        est = steps[-1]
        scalers = [s for s in steps[:-1] if hasattr(s, "scale_") and hasattr(s, "mean_")]
        if len(steps) > 2 or (len(steps) == 2 and not scalers):
            msg = "unscaled_coefficients supports a StandardScaler followed by the model"
            raise ValueError(msg)
        return (scalers[0] if scalers else None), est
    return None, model


def unscaled_coefficients(model_or_pipeline: Any, scaler: Any = None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias in the original feature units for a standardised model.

    With ``z = (x - mean) / scale``: ``W_orig = W / scale`` and
    ``b_orig = b - sum(W / scale * mean)``, so ``x @ W_orig.T + b_orig`` gives the
    same logits as the pipeline. Returns ``(W_orig, b_orig)`` with ``W_orig`` of
    shape (n_classes, n_features), as NumPy arrays.
    """
    found, est = _parts(model_or_pipeline)
    scaler = scaler if scaler is not None else found
    W = np.asarray(to_numpy(est.coef_), dtype=np.float64)
    b = np.asarray(to_numpy(est.intercept_), dtype=np.float64)
    if scaler is None:
        return W, b
    mean = np.asarray(scaler.mean_, dtype=np.float64)
    scale = np.asarray(scaler.scale_, dtype=np.float64)
    W_orig = W / scale
    return W_orig, b - W_orig @ mean


@dataclass
class TrainResult:
    """Everything the workflow produced, for printing, plotting and saving."""

    pipeline: Any
    splits: dict[str, tuple[Any, Any]]
    class_ratios: dict[str, dict[str, float]]
    lesson_class_weights: dict[str, float]
    accuracy: dict[str, float]
    metrics: dict[str, Any]
    features: list[str]
    target: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def train_model(X: Any, y: Any, *, solver: str = "adam", C: float = 1.0,
                max_iter: int | None = None, learning_rate: float = 0.1,
                batch_size: int | None = None, backend: str | None = None, device: Any = None,
                early_stopping: bool = True, n_iter_no_change: int = 10,
                random_state: Any = None, verbose: int = 0) -> TrainResult:
    """Split 70/15/15 stratified, standardise on the training split, train and evaluate.

    Class weights are the lesson's ``1 / count`` scaled to sum to the number
    of rows (``"balanced"``; the same ratios, and scikit-learn's scale for the
    penalty). Early stopping watches the validation split.
    """
    import pandas as pd
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.shape(X)[1])])
    y = pd.Series(np.asarray(y), name=getattr(y, "name", None))
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(
        X, y, random_state=random_state)
    scaler = StandardScaler().fit(X_train)
    # the scaler keeps the column names; the model sees what the scaler hands it (arrays)
    scaled = {k: scaler.transform(v) for k, v in (("train", X_train), ("val", X_val),
                                                   ("test", X_test))}
    if max_iter is None:
        max_iter = 100
    model = SoftmaxRegression(solver=solver, C=C, max_iter=max_iter, learning_rate=learning_rate,
                              batch_size=batch_size, class_weight="balanced", backend=backend,
                              device=device, early_stopping=early_stopping,
                              n_iter_no_change=n_iter_no_change, random_state=random_state,
                              verbose=verbose, tol=1e-6 if solver == "lbfgs" else 1e-4)
    fit_kw = {"validation_data": (scaled["val"], y_val)} if early_stopping else {}
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(scaled["train"], y_train, **fit_kw)
    pipeline = Pipeline([("scaler", scaler), ("model", model)])
    splits = {"train": (X_train, y_train), "val": (X_val, y_val), "test": (X_test, y_test)}
    accuracy = {k: float(model.score(scaled[k], v[1])) for k, v in splits.items()}
    ratios = {k: {str(lab): c / len(v[1]) for lab, c in class_counts(v[1]).items()}
              for k, v in splits.items()}
    metrics = classification_metrics(y_test, to_numpy(model.predict(scaled["test"])),
                                     model.classes_)
    return TrainResult(
        pipeline=pipeline, splits=splits, class_ratios=ratios,
        lesson_class_weights={str(k): v for k, v in class_weights(y_train).items()},
        accuracy=accuracy, metrics=metrics, features=[str(c) for c in X.columns],
        target=None if y.name is None else str(y.name),
        extra={"warnings": [str(w.message) for w in caught]},
    )


def save_bundle(folder: Any, pipeline: Any, *, target: str | None = None) -> None:
    """Write ``model.npz`` and ``preprocess.json`` (the scaler and column names) into ``folder``."""
    folder = Path(folder)
    scaler, est = _parts(pipeline)
    est.save(folder / MODEL_FILE)
    named = scaler if scaler is not None and hasattr(scaler, "feature_names_in_") else est
    meta = {
        "features": [str(f) for f in getattr(named, "feature_names_in_", [])]
        or [f"x{i}" for i in range(est.n_features_in_)],
        "target": target,
        "scaler": None if scaler is None else {"mean": [float(v) for v in scaler.mean_],
                                               "scale": [float(v) for v in scaler.scale_]},
    }
    (folder / SCALER_FILE).write_text(json.dumps(meta, indent=2))


@dataclass
class Bundle:
    pipeline: Any
    features: list[str]
    target: str | None


def load_bundle(folder: Any, *, backend: str | None = None, device: Any = None) -> Bundle:
    """Read a folder written by :func:`save_bundle` back into a fitted Pipeline."""
    from sklearn.pipeline import Pipeline

    folder = Path(folder)
    if not (folder / MODEL_FILE).is_file() or not (folder / SCALER_FILE).is_file():
        msg = (f"{str(folder)!r} is not a softmaxreg model folder (it needs {MODEL_FILE} and "
               f"{SCALER_FILE}, as written by `softmaxreg train` or `softmaxreg demo`)")
        raise DataError(msg)
    try:
        meta = json.loads((folder / SCALER_FILE).read_text())
        features = [str(f) for f in meta["features"]]
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{str(folder / SCALER_FILE)!r} is damaged: {exc}"
        raise DataError(msg) from None
    model = SoftmaxRegression.load(folder / MODEL_FILE, backend=backend, device=device)
    steps: list[tuple[str, Any]] = []
    if meta.get("scaler"):
        steps.append(("scaler", fitted_scaler(meta["scaler"]["mean"], meta["scaler"]["scale"],
                                              features)))
    steps.append(("model", model))
    return Bundle(Pipeline(steps), features, meta.get("target"))


def fitted_scaler(mean: Any, scale: Any, features: list[str]) -> Any:
    """A ``StandardScaler`` in the fitted state given by its ``mean`` and ``scale``."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_ = np.asarray(mean, dtype=np.float64)
    scaler.scale_ = np.asarray(scale, dtype=np.float64)
    scaler.var_ = scaler.scale_**2
    scaler.n_features_in_ = len(features)
    scaler.feature_names_in_ = np.asarray(features, dtype=object)
    scaler.n_samples_seen_ = 0
    return scaler


def predict_table(pipeline: Any, X: Any) -> Any:
    """A DataFrame with the predicted label and one probability column per class."""
    import pandas as pd

    est = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    proba = to_numpy(pipeline.predict_proba(X))
    pred = np.asarray(est.classes_)[proba.argmax(axis=1)]
    table = pd.DataFrame({"prediction": pred})
    for k, label in enumerate(est.classes_):
        table[f"p({label})"] = proba[:, k]
    return table


@contextlib.contextmanager
def output_folder(path: Any, *, force: bool = False) -> Iterator[Path]:
    """Write results into a temporary folder that becomes ``path`` only when all went well.

    An existing ``path`` is refused unless ``force``; then it is replaced only
    after the new results are complete. On any error nothing is left behind.
    """
    path = Path(path)
    if path.exists() and not force:
        msg = f"{str(path)!r} already exists; pass --force to replace it or choose another --out"
        raise DataError(msg)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        msg = f"cannot write to {str(path)!r}: folder {str(parent)!r} does not exist"
        raise DataError(msg)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=parent))
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, old / "previous")
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
