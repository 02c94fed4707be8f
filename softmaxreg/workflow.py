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
import ctypes
import errno
import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backends import to_numpy
from .data import (
    LESSON_DEFAULTS,
    DataError,
    class_counts,
    class_weights,
    split_rows,
)
from .estimator import SoftmaxRegression, final_estimator
from .io import atomic_write, json_digest, umask
from .metrics import evaluation

__all__ = ["MARKER", "TrainResult", "check_output", "fitted_scaler", "load_bundle",
           "output_folder", "predict_table", "save_bundle", "train_model",
           "unscaled_coefficients"]

MODEL_FILE = "model.npz"
SCALER_FILE = "preprocess.json"
SCALER_FORMAT = "softmaxreg-preprocess"
SCALER_VERSION = 1
MARKER = ".softmaxreg"  # in every output folder: `--force` replaces only folders that hold it


def _parts(model: Any) -> tuple[Any, Any]:
    """(scaler or None, SoftmaxRegression) from a Pipeline or a bare model."""
    if hasattr(model, "steps"):
        steps = [s for _, s in model.steps]
        est = final_estimator(model)
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
    metrics: dict[str, Any] | None  # metrics.evaluation of the test split; None without one
    features: list[str]
    target: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


#: Rows of each split kept in memory for the report and the plots when the data is on Dask.
REPORT_ROWS = 5000


def train_model(X: Any, y: Any, *, solver: str = LESSON_DEFAULTS["solver"],
                C: float = LESSON_DEFAULTS["C"], max_iter: int | None = None,
                learning_rate: float = LESSON_DEFAULTS["learning_rate"],
                batch_size: int | None = None, backend: str | None = None, device: Any = None,
                class_weight: Any = LESSON_DEFAULTS["class_weight"],
                early_stopping: bool | None = None,
                n_iter_no_change: int = LESSON_DEFAULTS["n_iter_no_change"],
                val_size: float = LESSON_DEFAULTS["val_size"],
                test_size: float = LESSON_DEFAULTS["test_size"], cv: int | None = None,
                refit_full: bool = False, random_state: Any = None,
                verbose: int = 0) -> TrainResult:
    """Split (70/15/15 stratified by default), standardise on the training split, train
    and evaluate.

    ``X`` is a pandas DataFrame (or an array), or a Dask DataFrame whose rows stay
    on the cluster: both take this one path, with the same stratified split
    (the labels, one column, are brought to the client to stratify), the same
    metrics and the same report. Class weights are the lesson's ``1 / count``
    scaled to sum to the number of rows (``"balanced"``; the same ratios, and
    scikit-learn's scale for the penalty).

    ``val_size`` and ``test_size`` are fractions of the rows; either may be 0.
    Early stopping (``None``: on when there is a validation split) watches the
    validation split. ``cv=K`` (with ``test_size=0``) scores the settings by
    stratified K-fold cross-validation instead of a test split; each fold
    holds out its own validation split. ``refit_full=True`` trains again on
    train+val for the number of iterations chosen on the validation split and
    returns that model.
    """
    import pandas as pd  # optional: the `workflow` extra

    if early_stopping is None:
        early_stopping = bool(val_size)
    elif early_stopping and not val_size:
        msg = "`early_stopping` watches the validation split, but `val_size` is 0"
        raise ValueError(msg)
    if cv is not None:
        if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
            msg = f"`cv` must be an integer >= 2 (the number of folds), got {cv!r}"
            raise ValueError(msg)
        if test_size:
            msg = (f"`cv` scores the model instead of a test split: set `test_size` to 0 "
                   f"(got {test_size:g})")
            raise ValueError(msg)
    if refit_full and not val_size:
        msg = ("`refit_full` refits on train+val with the iteration count chosen on the "
               "validation split, but `val_size` is 0")
        raise ValueError(msg)
    lazy = _is_dask_frame(X)
    if not lazy and not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.shape(X)[1])])
    features = [str(c) for c in X.columns]
    name = getattr(y, "name", None)
    y = pd.Series(np.asarray(to_numpy(y.compute() if lazy else y)), name=name)
    parts = split_rows(y, val_size=val_size, test_size=test_size, random_state=random_state)
    # row positions of a Dask array are taken in order, so each chunk is read once
    data = X.to_dask_array(lengths=True).astype(np.float64) if lazy else X

    def take(rows: np.ndarray) -> tuple[Any, Any]:
        if lazy:
            rows = np.sort(rows)
            return data[rows], y.iloc[rows]
        return X.iloc[rows], y.iloc[rows]

    splits = {k: take(i) for k, i in parts.items()}
    settings = {"solver": solver, "C": C, "learning_rate": learning_rate,
                "batch_size": batch_size, "class_weight": class_weight, "backend": backend,
                "device": device, "n_iter_no_change": n_iter_no_change,
                "random_state": random_state, "verbose": verbose,
                "max_iter": LESSON_DEFAULTS["max_iter"] if max_iter is None else max_iter,
                "tol": 1e-6 if solver == "lbfgs" else 1e-4}
    pipeline, caught = _fit(splits["train"], splits.get("val"), features,
                            early_stopping=early_stopping, **settings)
    accuracy = {k: _score(pipeline, *v) for k, v in splits.items()}
    extra: dict[str, Any] = {}
    if cv is not None:
        extra["cv"] = _cross_validate(y, take, features, cv, val_size=val_size,
                                      early_stopping=early_stopping, random_state=random_state,
                                      settings={**settings, "verbose": 0})
    if refit_full:
        model = final_estimator(pipeline)
        count = (_kept_iteration(model.validation_curve_, model.tol) if early_stopping
                 else model.n_iter_)
        rows = np.concatenate([parts["train"], parts["val"]])
        # the count was chosen on the validation split: stopping there is the point, so
        # the refit's "did not converge" warning is dropped
        pipeline, _ = _fit(take(rows), None, features, early_stopping=False,
                           **{**settings, "max_iter": count})
        extra["refit"] = {"iterations": count, "rows": len(rows), "accuracy_before": accuracy}
        accuracy = {"train+val": _score(pipeline, *take(rows)),
                    **({"test": _score(pipeline, *splits["test"])} if "test" in splits else {})}
    model = final_estimator(pipeline)
    ratios = {k: {str(lab): c / len(v[1]) for lab, c in class_counts(v[1]).items()}
              for k, v in splits.items()}
    metrics = None
    if "test" in splits:
        X_test, y_test = splits["test"]
        proba = np.asarray(to_numpy(_proba(pipeline, X_test)))
        metrics = evaluation(y_test, proba, model.classes_)
        # for the confusion matrix and the ROC/PR figures (all test rows, also on Dask)
        extra["test_predictions"] = (np.asarray(y_test), proba)
    if lazy:  # the report and plots read the first rows of each split, in memory
        model.to("numpy")  # and the saved model predicts on any backend
        splits = {k: (pd.DataFrame(to_numpy(v[0][:REPORT_ROWS]), columns=features),
                      v[1].iloc[:REPORT_ROWS]) for k, v in splits.items()}
    extra.update(warnings=caught, sizes={k: len(i) for k, i in parts.items()})
    return TrainResult(
        pipeline=pipeline, splits=splits, class_ratios=ratios,
        lesson_class_weights={str(k): v for k, v in class_weights(y.iloc[parts["train"]])
                              .items()},
        accuracy=accuracy, metrics=metrics, features=features,
        target=None if name is None else str(name), extra=extra,
    )


def _fit(train: tuple[Any, Any], val: tuple[Any, Any] | None, features: list[str], *,
         early_stopping: bool, **settings: Any) -> tuple[Any, list[str]]:
    """A scaler fitted on ``train`` and the model trained on it: (Pipeline, warnings)."""
    from sklearn.exceptions import ConvergenceWarning  # the `sklearn` extra
    from sklearn.pipeline import Pipeline  # the `sklearn` extra; the core runs without it

    scaler = _fit_scaler(train[0], features)
    model = SoftmaxRegression(early_stopping=early_stopping, **settings)
    fit_kw = ({"validation_data": (_scale(scaler, val[0]), val[1])}
              if early_stopping and val is not None else {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(_scale(scaler, train[0]), train[1], **fit_kw)
    return Pipeline([("scaler", scaler), ("model", model)]), [str(w.message) for w in caught]


def _score(pipeline: Any, X: Any, y: Any) -> float:
    """Accuracy of the pipeline's model on raw rows ``X`` (lazy Dask rows are scaled
    lazily: scikit-learn's scaler would compute them)."""
    scaler, model = pipeline.steps[0][1], pipeline.steps[-1][1]
    return float(model.score(_scale(scaler, X), y))


def _proba(pipeline: Any, X: Any) -> Any:
    scaler, model = pipeline.steps[0][1], pipeline.steps[-1][1]
    return model.predict_proba(_scale(scaler, X))


def _kept_iteration(val_curve: list[float], tol: float) -> int:
    """The iteration whose weights early stopping kept: the last one that improved the
    validation loss by more than ``tol`` (solvers.Patience's rule)."""
    best, kept = math.inf, 1
    for it, value in enumerate(val_curve, start=1):
        if value < best - tol:
            best, kept = value, it
    return kept


def _cross_validate(y: Any, take: Any, features: list[str], k: int, *, val_size: float,
                    early_stopping: bool, random_state: Any, settings: dict[str, Any]
                    ) -> dict[str, Any]:
    """Stratified k-fold accuracy of these settings; each fold's training rows give up
    ``val_size`` of themselves as that fold's validation split."""
    from sklearn.model_selection import StratifiedKFold  # the `sklearn` extra

    counts = class_counts(y)
    label, fewest = min(counts.items(), key=lambda kv: kv[1])
    if fewest < k:
        msg = f"`cv` = {k} folds need at least {k} rows of every class; {label!r} has {fewest}"
        raise DataError(msg)
    seed = int(np.random.default_rng(random_state).integers(2**31))
    folds = StratifiedKFold(k, shuffle=True, random_state=seed)
    scores = []
    labels = np.asarray(y)
    for fit_rows, held_rows in folds.split(np.zeros(len(labels)), labels):
        inner = split_rows(labels[fit_rows], val_size=val_size, test_size=0,
                           random_state=random_state)
        val = take(fit_rows[inner["val"]]) if "val" in inner else None
        pipeline, _ = _fit(take(fit_rows[inner["train"]]), val, features,
                           early_stopping=early_stopping, **settings)
        scores.append(_score(pipeline, *take(held_rows)))
    return {"folds": k, "accuracy": scores, "mean": float(np.mean(scores)),
            "std": float(np.std(scores))}


def _is_dask_frame(X: Any) -> bool:
    module = type(X).__module__
    return module.startswith("dask.dataframe") or module.startswith("dask_expr")


def _fit_scaler(X: Any, features: list[str]) -> Any:
    """A ``StandardScaler`` fitted on the training split (one pass over it on Dask)."""
    if isinstance(X, np.ndarray) or hasattr(X, "iloc"):
        from sklearn.preprocessing import StandardScaler  # the `sklearn` extra

        return StandardScaler().fit(X)
    import dask  # a lazy training split

    mean, std = dask.compute(X.mean(axis=0), X.std(axis=0))
    return fitted_scaler(mean, np.where(std > 0, std, 1.0), features)


def _scale(scaler: Any, X: Any) -> Any:
    if hasattr(X, "iloc"):
        return scaler.transform(X)
    return (X - scaler.mean_) / scaler.scale_


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_bundle(folder: Any, pipeline: Any, *, target: str | None = None) -> None:
    """Write ``model.npz`` and ``preprocess.json`` (the scaler and column names) into ``folder``.

    ``preprocess.json`` carries the SHA-256 of its own content and of the
    ``model.npz`` beside it, so an edit to either, or a model file from another
    run, is refused by :func:`load_bundle`.
    """
    folder = Path(folder)
    scaler, est = _parts(pipeline)
    est.save(folder / MODEL_FILE)
    named = scaler if scaler is not None and hasattr(scaler, "feature_names_in_") else est
    meta = {
        "format": SCALER_FORMAT,
        "version": SCALER_VERSION,
        "features": [str(f) for f in getattr(named, "feature_names_in_", [])]
        or [f"x{i}" for i in range(est.n_features_in_)],
        "target": target,
        "scaler": None if scaler is None else {"mean": [float(v) for v in scaler.mean_],
                                               "scale": [float(v) for v in scaler.scale_]},
        "model_sha256": file_digest(folder / MODEL_FILE),
    }
    meta["sha256"] = json_digest(meta)
    atomic_write(folder / SCALER_FILE, lambda fh: fh.write(json.dumps(meta, indent=2).encode()))


@dataclass
class Bundle:
    pipeline: Any
    features: list[str]
    target: str | None


def _finite(values: Any, n: int, *, positive: bool = False) -> bool:
    return (isinstance(values, list) and len(values) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                    and (v > 0 or not positive) for v in values))


def _preprocess_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with the content of a preprocess.json, or None."""
    features, scaler = meta.get("features"), meta.get("scaler")
    if "features" not in meta:
        return "`features` is missing"
    if (not isinstance(features, list) or not features
            or not all(isinstance(f, str) for f in features) or len(set(features)) < len(features)):
        return f"`features` must be a non-empty list of distinct names, got {features!r}"
    if not (meta.get("target") is None or isinstance(meta["target"], str)):
        return f"`target` must be null or a column name, got {meta['target']!r}"
    if scaler is None:
        return None
    if not isinstance(scaler, dict):
        return f"`scaler` must be null or an object, got {scaler!r}"
    if set(scaler) != {"mean", "scale"}:
        return f"`scaler` needs `mean` and `scale` and nothing else, got {sorted(scaler)}"
    n = len(features)
    if not _finite(scaler["mean"], n):
        return f"`mean` must hold {n} finite numbers, got {scaler['mean']!r}"
    if not _finite(scaler["scale"], n, positive=True):
        return f"`scale` must hold {n} numbers > 0, got {scaler['scale']!r}"
    return None


def load_bundle(folder: Any, *, backend: str | None = None, device: Any = None) -> Bundle:
    """Read a folder written by :func:`save_bundle` back into a fitted Pipeline.

    Raises :class:`~softmaxreg.data.DataError` naming the file when either file
    was changed after saving, does not follow its format, or the two files come
    from different runs.
    """
    from sklearn.pipeline import Pipeline  # the `sklearn` extra; the core runs without it

    folder = Path(folder)
    if not (folder / MODEL_FILE).is_file() or not (folder / SCALER_FILE).is_file():
        msg = (f"{str(folder)!r} is not a softmaxreg model folder (it needs {MODEL_FILE} and "
               f"{SCALER_FILE}, as written by `softmaxreg train` or `softmaxreg demo`)")
        raise DataError(msg)
    path = folder / SCALER_FILE
    name = repr(str(path))
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"{name} is damaged: it is not JSON ({exc})"
        raise DataError(msg) from None
    if not isinstance(meta, dict):
        msg = f"{name} is not a softmaxreg preprocess.json"
        raise DataError(msg)
    if "format" not in meta:
        msg = (f"{name} was written by an older softmaxreg (no format version, no checksum): "
               f"train the model again with this softmaxreg")
        raise DataError(msg)
    if meta["format"] != SCALER_FORMAT or meta.get("version") != SCALER_VERSION:
        msg = (f"{name} is not a softmaxreg preprocess.json of format version {SCALER_VERSION} "
               f"(it says {meta['format']!r}, version {meta.get('version')!r})")
        raise DataError(msg)
    if meta.get("sha256") != json_digest(meta):
        msg = (f"{name} failed its checksum: the file was changed after saving; restore it or "
               f"train the model again")
        raise DataError(msg)
    problem = _preprocess_problem(meta)
    if problem:
        msg = f"{name} is not a valid softmaxreg preprocess.json: {problem}"
        raise DataError(msg)
    if meta.get("model_sha256") != file_digest(folder / MODEL_FILE):
        msg = (f"{name} belongs to another {MODEL_FILE} than the one beside it: keep the files "
               f"of one run together, or train the model again")
        raise DataError(msg)
    features = meta["features"]
    model = SoftmaxRegression.load(folder / MODEL_FILE, backend=backend, device=device)
    if model.n_features_in_ != len(features):
        msg = (f"{name} lists {len(features)} features but {MODEL_FILE} expects "
               f"{model.n_features_in_}")
        raise DataError(msg)
    steps: list[tuple[str, Any]] = []
    if meta["scaler"] is not None:
        steps.append(("scaler", fitted_scaler(meta["scaler"]["mean"], meta["scaler"]["scale"],
                                              features)))
    steps.append(("model", model))
    return Bundle(Pipeline(steps), features, meta["target"])


def fitted_scaler(mean: Any, scale: Any, features: list[str]) -> Any:
    """A ``StandardScaler`` in the fitted state given by its ``mean`` and ``scale``."""
    from sklearn.preprocessing import StandardScaler  # the `sklearn` extra

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
    import pandas as pd  # optional: the `workflow` extra

    est = final_estimator(pipeline)
    proba = to_numpy(pipeline.predict_proba(X))
    pred = np.asarray(est.classes_)[proba.argmax(axis=1)]
    table = pd.DataFrame({"prediction": pred})
    for k, label in enumerate(est.classes_):
        table[f"p({label})"] = proba[:, k]
    return table


def _ours(path: Path) -> bool:
    """A folder softmaxreg wrote (it holds the marker), or an empty one (nothing to lose)."""
    if path.is_symlink() or not path.is_dir():
        return False
    return (path / MARKER).is_file() or not any(path.iterdir())


def _never_replaced(path: Path, inputs: Iterable[Any]) -> str | None:
    """Why ``path`` must never be replaced, whatever it holds; None if it may be."""
    target = path.resolve()
    cwd = Path.cwd().resolve()
    if target == cwd:
        return "is the current folder"
    if target in cwd.parents:
        return "holds the current folder"
    if target == Path.home().resolve():
        return "is your home folder"
    for item in inputs:
        source = Path(item).resolve()
        if target == source:
            return f"is the input {str(item)!r}"
        if target in source.parents:
            return f"holds the input {str(item)!r}"
    return None


def check_output(path: Path, *, force: bool, inputs: Iterable[Any] = ()) -> None:
    """Refuse an output path that exists, unless ``force`` and softmaxreg wrote it."""
    name = repr(str(path))
    if not os.path.lexists(path):
        return
    reason = _never_replaced(path, inputs)
    if reason:
        msg = f"--out {name} {reason}; softmaxreg never replaces it: choose another --out"
        raise DataError(msg)
    if not _ours(path):
        msg = (f"{name} already exists and was not written by softmaxreg (it has no {MARKER} "
               f"file), so even --force does not replace it: choose another --out")
        raise DataError(msg)
    if not force:
        msg = f"{name} already exists; pass --force to replace it or choose another --out"
        raise DataError(msg)


def _swap_syscall(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2, macOS renamex_np).

    Returns False where the system or the file system cannot.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    fa, fb = os.fsencode(a), os.fsencode(b)
    if hasattr(libc, "renameat2"):
        done = libc.renameat2(-100, fa, -100, fb, 2)  # AT_FDCWD, AT_FDCWD, RENAME_EXCHANGE
    elif hasattr(libc, "renamex_np"):
        done = libc.renamex_np(fa, fb, 2)  # RENAME_SWAP
    else:
        return False
    if done == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _exchange(a: Path, b: Path) -> None:
    """Swap folders ``a`` and ``b``: atomically where the system can, else by three renames
    (then a crash between the first two leaves ``b``'s content at ``a.old``)."""
    if _swap_syscall(a, b):
        return
    aside = a.with_name(a.name + ".old")
    os.replace(b, aside)
    os.replace(a, b)
    os.replace(aside, a)


@contextlib.contextmanager
def output_folder(path: Any, *, force: bool = False, inputs: Iterable[Any] = ()
                  ) -> Iterator[Path]:
    """Claim ``path``, yield a temporary sibling to write into, and swap it in at the end.

    A new ``path`` is created at once (exclusively: a second run cannot take
    the same name) and filled in one rename when all went well. An existing
    ``path`` is refused unless ``force`` and softmaxreg wrote it (it holds
    :data:`MARKER`) or it is empty; the current folder, its ancestors, the home
    folder and any folder holding one of ``inputs`` are always refused. The
    old results stay under ``path`` until one atomic swap puts the new ones
    there. On any error, or SIGTERM, the temporary folder and the claim are
    removed. Folders get the mode the umask gives.
    """
    path = Path(path).expanduser()
    parent = path.parent
    if not parent.is_dir():
        msg = f"cannot write to {str(path)!r}: folder {str(parent)!r} does not exist"
        raise DataError(msg)
    check_output(path, force=force, inputs=inputs)
    claimed = False
    if not os.path.lexists(path):
        try:
            os.mkdir(path)
        except FileExistsError:
            msg = f"{str(path)!r} was just created by another program: choose another --out"
            raise DataError(msg) from None
        claimed = True
    tmp: Path | None = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=parent))
        os.chmod(tmp, 0o777 & ~umask())
        (tmp / MARKER).write_text("written by softmaxreg: `--force` may replace this folder\n")
        yield tmp
        try:
            os.replace(tmp, path)  # onto our empty claim: one atomic rename
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if claimed or not (path / MARKER).is_file() or path.is_symlink():
                msg = (f"{str(path)!r} was filled by another program during the run; its files "
                       f"are kept and these results discarded: choose another --out")
                raise DataError(msg) from None
            _exchange(tmp, path)  # the old results are now in tmp
    except BaseException:
        if claimed:
            with contextlib.suppress(OSError):
                os.rmdir(path)  # only while empty: whatever someone put there stays
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
