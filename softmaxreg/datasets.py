"""Embedded demo data: nothing is downloaded.

Examples
--------
>>> from softmaxreg.datasets import make_tumors
>>> df = make_tumors(random_state=0)
>>> list(df.columns), len(df)
(['leukocyte_count', 'blood_pressure', 'tumor_class'], 1000)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backends import optional_import

__all__ = ["make_spirals", "make_tumors"]

# Class-conditional shape of the lesson's tumour data: means, standard
# deviations and within-class correlation of (leukocyte_count, blood_pressure).
_TUMOR_CLASSES = {
    "benign": {"mean": (17.7, 14.73), "std": (1.77, 0.98), "corr": 0.42, "share": 0.389},
    "malignant": {"mean": (13.2, 15.74), "std": (2.08, 0.96), "corr": 0.23, "share": 0.611},
}


def _pandas() -> Any:
    return optional_import("pandas", "workflow", needed_for="the demo data sets")


def _check_n(n_samples: Any, minimum: int) -> int:
    if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) \
            or n_samples < minimum:
        msg = f"`n_samples` must be an integer >= {minimum}, got {n_samples!r}"
        raise ValueError(msg)
    return int(n_samples)


def make_tumors(n_samples: int = 1000, random_state: Any = None) -> Any:
    """Tumour data shaped like the lesson's: two overlapping Gaussian classes.

    Columns ``leukocyte_count``, ``blood_pressure`` and ``tumor_class``
    (``"benign"`` about 39%, ``"malignant"``). Benign tumours centre on
    (17.7, 14.7), malignant ones on (13.2, 15.7); the classes overlap so that
    a linear model reaches about 0.95 accuracy. Rows come shuffled.
    """
    n_samples = _check_n(n_samples, 2)
    pd = _pandas()
    rng = np.random.default_rng(random_state)
    n_benign = max(1, round(n_samples * _TUMOR_CLASSES["benign"]["share"]))
    counts = {"benign": n_benign, "malignant": n_samples - n_benign}
    parts = []
    for label, spec in _TUMOR_CLASSES.items():
        s1, s2 = spec["std"]
        cov = np.array([[s1 * s1, spec["corr"] * s1 * s2], [spec["corr"] * s1 * s2, s2 * s2]])
        pts = rng.multivariate_normal(spec["mean"], cov, size=counts[label])
        parts.append(pd.DataFrame({"leukocyte_count": pts[:, 0], "blood_pressure": pts[:, 1],
                                   "tumor_class": label}))
    df = pd.concat(parts, ignore_index=True)
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def make_spirals(n_samples: int = 1500, n_classes: int = 3, noise: float = 0.2,
                 random_state: Any = None) -> Any:
    """Interleaved spirals in [-1, 1]^2: a multi-class problem a linear model cannot solve.

    Columns ``X1``, ``X2`` and ``color`` (``"c1"``, ``"c2"``...), as in the
    lesson's ``spiral.csv``.
    """
    n_samples = _check_n(n_samples, 1)
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        msg = f"`n_classes` must be an integer >= 2, got {n_classes!r}"
        raise ValueError(msg)
    if not noise >= 0:
        msg = f"`noise` must be >= 0, got {noise!r}"
        raise ValueError(msg)
    pd = _pandas()
    rng = np.random.default_rng(random_state)
    per = np.full(n_classes, n_samples // n_classes)
    per[: n_samples % n_classes] += 1
    rows = []
    for k, m in enumerate(per):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, m) + rng.normal(scale=noise, size=m)
        rows.append(pd.DataFrame({"X1": r * np.sin(t), "X2": r * np.cos(t),
                                  "color": f"c{k + 1}"}))
    df = pd.concat(rows, ignore_index=True)
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)
