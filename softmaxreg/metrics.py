"""Classification metrics, computed by scikit-learn, laid out for the report.

Examples
--------
>>> from softmaxreg.metrics import classification_metrics, evaluation
>>> m = classification_metrics(["a", "b", "b"], ["a", "b", "a"], classes=["a", "b"])
>>> m["overall"]["num_samples"], round(m["class"]["b"]["recall"], 2), round(m["accuracy"], 3)
(3, 0.5, 0.667)
>>> e = evaluation(["a", "b", "b"], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], classes=["a", "b"])
>>> e["confusion_matrix"]["matrix"], round(e["log_loss"], 4)
([[1, 0], [1, 1]], 0.4149)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backends import to_numpy

__all__ = ["classification_metrics", "evaluation"]

#: the per-class and average rows of scikit-learn's classification_report
SCORES = ("precision", "recall", "f1-score", "support")


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def _labels(y_true: Any, other: Any, other_name: str) -> tuple[np.ndarray, np.ndarray]:
    y_true, other = np.asarray(to_numpy(y_true)), np.asarray(to_numpy(other))
    if y_true.shape[0] != other.shape[0] or y_true.ndim != 1:
        msg = f"`y_true` has shape {y_true.shape} but `{other_name}` has shape {other.shape}"
        raise ValueError(msg)
    return y_true, other


def evaluation(y_true: Any, proba: Any, classes: Sequence[Any]) -> dict[str, Any]:
    """The report of predicted probabilities ``proba`` (one column per class of
    ``classes``, in that order) against the labels ``y_true``.

    Returns ``{"classes": {label: {precision, recall, f1-score, support}},
    "macro avg": {...}, "weighted avg": {...}, "accuracy", "log_loss", "support",
    "confusion_matrix": {"labels": [...], "matrix": [[...]]}}``: scikit-learn's
    ``classification_report(output_dict=True)``, ``accuracy_score``,
    ``log_loss`` and ``confusion_matrix`` (rows: true class, columns: predicted).
    Per-class rows and averages cover the classes present in ``y_true`` (a
    class absent from the data has no recall); the log loss and the confusion
    matrix cover every class of the model. ``proba`` may be an array of any
    backend.
    """
    from sklearn.metrics import (  # the `sklearn` extra
        accuracy_score,
        classification_report,
        confusion_matrix,
        log_loss,
    )

    y_true, proba = _labels(y_true, proba, "proba")
    labels = list(classes)
    if proba.ndim != 2 or proba.shape[1] != len(labels):
        msg = f"`proba` must have one column per class ({len(labels)}), got shape {proba.shape}"
        raise ValueError(msg)
    y_pred = np.asarray(labels)[proba.argmax(axis=1)]
    seen = set(y_true.tolist())
    present = [c for c in labels if _plain(c) in seen]
    report = classification_report(y_true, y_pred, labels=present, output_dict=True,
                                   zero_division=0)
    per_class = {str(_plain(c)): {k: float(report[str(_plain(c))][k]) if k != "support"
                                  else int(report[str(_plain(c))][k]) for k in SCORES}
                 for c in present}
    averages = {name: {k: float(report[name][k]) if k != "support" else int(report[name][k])
                       for k in SCORES} for name in ("macro avg", "weighted avg")}
    return {
        "classes": per_class,
        **averages,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "log_loss": float(log_loss(y_true, proba, labels=labels)),
        "support": int(len(y_true)),
        "confusion_matrix": {
            "labels": [str(_plain(c)) for c in labels],
            "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        },
    }


def classification_metrics(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> dict[str, Any]:
    """Precision, recall, F1 and support: weighted averages and one entry per class.

    Returns ``{"overall": {precision, recall, f1, num_samples}, "class": {label:
    {precision, recall, f1, num_samples}}, "accuracy": float}``, read from
    scikit-learn's ``classification_report`` over ``classes``. Predictions
    may be arrays of any backend.
    """
    from sklearn.metrics import accuracy_score, classification_report  # the `sklearn` extra

    y_true, y_pred = _labels(y_true, y_pred, "y_pred")
    labels = list(classes)
    report = classification_report(y_true, y_pred, labels=labels, output_dict=True,
                                   zero_division=0)

    def row(scores: dict[str, Any]) -> dict[str, Any]:
        return {"precision": float(scores["precision"]), "recall": float(scores["recall"]),
                "f1": float(scores["f1-score"]), "num_samples": int(scores["support"])}

    overall = row(report["weighted avg"])
    overall["num_samples"] = int(len(y_true))
    return {"overall": overall,
            "class": {str(_plain(c)): row(report[str(_plain(c))]) for c in labels},
            "accuracy": float(accuracy_score(y_true, y_pred))}
