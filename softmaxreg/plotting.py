"""Decision boundaries, loss curves, confusion matrices, ROC and precision-recall curves
as matplotlib figures (no window; scikit-learn's displays draw on our own Axes).

matplotlib is an optional extra: ``pip install 'softmaxreg[workflow]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .backends import optional_import, to_numpy
from .estimator import final_estimator
from .io import atomic_write

__all__ = ["plot_confusion_matrix", "plot_decision_boundary", "plot_loss_curve",
           "plot_pr_curve", "plot_roc_curve"]


def _new_axes(ax: Any, figsize: tuple[float, float] = (5.0, 4.0)) -> Any:
    if ax is not None:
        return ax
    Figure = optional_import("matplotlib.figure", "workflow", needed_for="plotting").Figure
    return Figure(figsize=figsize, layout="constrained").subplots()


def _save(ax: Any, path: Any) -> None:
    if path is not None:
        atomic_write(Path(path), lambda fh: ax.figure.savefig(fh, format="png", dpi=110))


def plot_decision_boundary(model: Any, X: Any, y: Any, ax: Any = None, *,
                           resolution: int = 200, title: str | None = None,
                           path: Any = None) -> Any:
    """Shade the predicted class over the plane of a 2-feature model and scatter ``(X, y)``.

    ``model`` is a fitted :class:`~softmaxreg.SoftmaxRegression` or a Pipeline
    ending in one; the grid goes through the model's own ``predict_proba``
    (on its own backend). Returns the Axes; ``path`` also saves a PNG.
    """
    est = final_estimator(model)
    if getattr(est, "n_features_in_", None) != 2:
        msg = (f"plot_decision_boundary needs a model of 2 features, this one has "
               f"{getattr(est, 'n_features_in_', None)}")
        raise ValueError(msg)
    columns = list(X.columns) if hasattr(X, "columns") else None
    Xn = np.asarray(X, dtype=np.float64)
    yn = to_numpy(y)
    if Xn.ndim != 2 or Xn.shape[1] != 2:
        msg = f"`X` must have 2 columns, got shape {Xn.shape}"
        raise ValueError(msg)
    pad = 0.05 * (Xn.max(axis=0) - Xn.min(axis=0)) + 1e-9
    lo, hi = Xn.min(axis=0) - pad, Xn.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    if columns is not None:
        import pandas as pd  # optional: the `workflow` extra

        grid = pd.DataFrame(grid, columns=columns)
    proba = to_numpy(model.predict_proba(grid))
    classes = list(est.classes_)
    region = proba.argmax(axis=1).reshape(gx.shape)
    ax = _new_axes(ax)
    colors = _colors(len(classes))
    # scikit-learn's display draws the regions, from our grid and predictions rather than
    # from_estimator: its one `eps` pads both axes alike (features of unlike scales would
    # leave most of the grid outside the picture), and it reads predictions as NumPy
    # while a model on PyTorch or CuPy returns its own arrays (to_numpy above)
    from sklearn.inspection import DecisionBoundaryDisplay  # the `sklearn` extra

    display = DecisionBoundaryDisplay(xx0=gx, xx1=gy, response=region, n_classes=len(classes),
                                      multiclass_colors=colors)
    binary = {"colors": colors, "levels": [-0.5, 0.5, 1.5]} if len(classes) == 2 else {}
    display.plot(ax=ax, plot_method="contourf", alpha=0.3, **binary)
    codes = np.searchsorted(np.asarray(est.classes_), yn)
    for k, label in enumerate(classes):
        sel = codes == k
        ax.scatter(Xn[sel, 0], Xn[sel, 1], s=12, color=colors[k], edgecolor="k",
                   linewidth=0.3, label=str(label))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(columns[0] if columns else "x1")
    ax.set_ylabel(columns[1] if columns else "x2")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    _save(ax, path)
    return ax


def _colors(n: int) -> list[Any]:
    """One colour per class, the same for the shaded region and the points."""
    from matplotlib import colormaps  # optional: the `workflow` extra

    cmap = colormaps["tab10"] if n <= 10 else colormaps["viridis"].resampled(n)
    return [cmap(k) for k in range(n)]


def plot_loss_curve(model: Any, ax: Any = None, *, path: Any = None) -> Any:
    """Training objective per iteration or epoch, with the validation loss when tracked."""
    est = final_estimator(model)
    curve = getattr(est, "loss_curve_", None)
    if curve is None:
        msg = "plot_loss_curve needs a fitted SoftmaxRegression (no `loss_curve_`)"
        raise ValueError(msg)
    ax = _new_axes(ax)
    start = 0 if est.solver == "lbfgs" else 1
    ax.plot(np.arange(start, start + len(curve)), curve, label="train objective")
    val = getattr(est, "validation_curve_", [])
    if val:
        ax.plot(np.arange(1, 1 + len(val)), val, label="validation loss")
    ax.set_xlabel("iteration" if est.solver == "lbfgs" else "epoch")
    ax.set_ylabel("loss")
    ax.set_title(f"SoftmaxRegression ({est.solver})")
    ax.legend()
    _save(ax, path)
    return ax


def plot_confusion_matrix(y_true: Any, y_pred: Any, labels: Any, ax: Any = None, *,
                          title: str | None = None, path: Any = None) -> Any:
    """Counts of each true class (rows) predicted as each class (columns), drawn by
    scikit-learn's ``ConfusionMatrixDisplay``. Returns the Axes; ``path`` saves a PNG."""
    from sklearn.metrics import ConfusionMatrixDisplay  # the `sklearn` extra

    ax = _new_axes(ax, figsize=(4.5, 4.0))
    ConfusionMatrixDisplay.from_predictions(np.asarray(to_numpy(y_true)),
                                            np.asarray(to_numpy(y_pred)), labels=list(labels),
                                            ax=ax, colorbar=False, cmap="Blues")
    ax.set_title(title or "confusion matrix")
    _save(ax, path)
    return ax


def _positive(y_true: Any, score: Any, pos_label: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(to_numpy(y_true))
    if len(np.unique(y_true)) != 2:
        msg = (f"ROC and precision-recall curves need labels of two classes, got "
               f"{len(np.unique(y_true))}")
        raise ValueError(msg)
    return y_true, np.asarray(to_numpy(score), dtype=np.float64)


def plot_roc_curve(y_true: Any, score: Any, pos_label: Any, ax: Any = None, *,
                   path: Any = None) -> Any:
    """ROC curve of the probability ``score`` of class ``pos_label``, with its AUC, drawn
    by scikit-learn's ``RocCurveDisplay``. Returns the Axes; ``path`` saves a PNG."""
    from sklearn.metrics import RocCurveDisplay  # the `sklearn` extra

    y_true, score = _positive(y_true, score, pos_label)
    ax = _new_axes(ax, figsize=(4.5, 4.0))
    RocCurveDisplay.from_predictions(y_true, score, pos_label=pos_label, ax=ax,
                                     name=f"p({pos_label})", plot_chance_level=True)
    ax.set_title(f"ROC curve, positive class {pos_label}")
    _save(ax, path)
    return ax


def plot_pr_curve(y_true: Any, score: Any, pos_label: Any, ax: Any = None, *,
                  path: Any = None) -> Any:
    """Precision-recall curve of the probability ``score`` of class ``pos_label``, with
    its average precision, drawn by scikit-learn's ``PrecisionRecallDisplay``."""
    from sklearn.metrics import PrecisionRecallDisplay  # the `sklearn` extra

    y_true, score = _positive(y_true, score, pos_label)
    ax = _new_axes(ax, figsize=(4.5, 4.0))
    PrecisionRecallDisplay.from_predictions(y_true, score, pos_label=pos_label, ax=ax,
                                            name=f"p({pos_label})", plot_chance_level=True)
    ax.set_title(f"precision-recall curve, positive class {pos_label}")
    _save(ax, path)
    return ax
