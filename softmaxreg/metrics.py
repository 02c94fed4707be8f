"""Classification metrics laid out as the lesson prints them.

Examples
--------
>>> from softmaxreg.metrics import classification_metrics
>>> m = classification_metrics(["a", "b", "b"], ["a", "b", "a"], classes=["a", "b"])
>>> m["overall"]["num_samples"], round(m["class"]["b"]["recall"], 2), round(m["accuracy"], 3)
(3, 0.5, 0.667)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backends import to_numpy

__all__ = ["classification_metrics"]


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def classification_metrics(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> dict[str, Any]:
    """Precision, recall, F1 and support: weighted averages and one entry per class.

    Returns ``{"overall": {precision, recall, f1, num_samples}, "class": {label:
    {precision, recall, f1, num_samples}}, "accuracy": float}``. Predictions
    may be arrays of any backend.
    """
    from sklearn.metrics import (  # the `sklearn` extra
        accuracy_score,
        precision_recall_fscore_support,
    )

    y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
    if y_true.shape != y_pred.shape:
        msg = f"`y_true` has shape {y_true.shape} but `y_pred` has shape {y_pred.shape}"
        raise ValueError(msg)
    labels = list(classes)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                 average="weighted", zero_division=0)
    out: dict[str, Any] = {
        "overall": {"precision": float(p), "recall": float(r), "f1": float(f),
                    "num_samples": int(len(y_true))},
        "class": {},
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }
    pc, rc, fc, sc = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     average=None, zero_division=0)
    for i, label in enumerate(labels):
        out["class"][str(_plain(label))] = {"precision": float(pc[i]), "recall": float(rc[i]),
                                            "f1": float(fc[i]), "num_samples": int(sc[i])}
    return out
