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

__all__ = ["TUMOR_COMPONENTS", "TUMOR_STATS", "make_spirals", "make_tumors"]

# Statistics of the lesson's tumors.csv (1000 rows; shared/data/tumors.csv, Made With
# ML, MIT licence), computed once with pandas and written here: for each class its
# number of rows, the mean of (leukocyte_count, blood_pressure) and their full
# covariance (ddof=1). Statistics only, no rows of the file.
TUMOR_STATS = {
    "benign": {"rows": 389, "mean": (17.6997, 14.7264),
               "cov": ((3.1392, 0.7252), (0.7252, 0.9663))},
    "malignant": {"rows": 611, "mean": (13.2024, 15.7415),
                  "cov": ((4.3319, 0.4642), (0.4642, 0.9152))},
}

# Each class is drawn from two Gaussians: the maximum-likelihood two-component mixture
# of that class's rows in tumors.csv (scikit-learn's GaussianMixture, full covariances,
# EM to convergence). EM's fixed point keeps the class's mean and covariance, so the
# mixture has TUMOR_STATS's moments; unlike one Gaussian with those moments it keeps the
# data's skew away from the other class (leukocyte_count skewness: benign +0.32,
# malignant -0.56). One Gaussian per class overlaps more than the real data: a linear
# model reaches 0.93 accuracy on it against 0.98 on tumors.csv; on the mixture 0.97.
# (weight, mean, covariance) per component.
TUMOR_COMPONENTS = {
    "benign": (
        (0.5606, (18.7012, 14.8341), ((2.2807, 0.3870), (0.3870, 1.0091))),
        (0.4394, (16.4218, 14.5890), ((1.3034, 0.8394), (0.8394, 0.8723))),
    ),
    "malignant": (
        (0.6107, (12.2267, 15.8394), ((3.8103, 0.5362), (0.5362, 0.9393))),
        (0.3893, (14.7328, 15.5878), ((1.2964, 0.7342), (0.7342, 0.8348))),
    ),
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
    """Tumour data with the statistics of the lesson's ``tumors.csv``.

    Columns ``leukocyte_count``, ``blood_pressure`` and ``tumor_class``
    (``"benign"``: 38.9% of the rows, as in the lesson's 389 of 1000, and
    ``"malignant"``). Each class is drawn from a mixture of two Gaussians
    (:data:`TUMOR_COMPONENTS`) whose mean and full covariance are those of the
    class in ``tumors.csv`` (:data:`TUMOR_STATS`): benign tumours centre on
    (17.70, 14.73), malignant ones on (13.20, 15.74). The classes overlap so
    that a linear model reaches about 0.97 accuracy (0.98 on the lesson's
    file). Rows come shuffled; the same ``random_state`` gives the same rows.
    """
    n_samples = _check_n(n_samples, 2)
    pd = _pandas()
    rng = np.random.default_rng(random_state)
    share = TUMOR_STATS["benign"]["rows"] / sum(s["rows"] for s in TUMOR_STATS.values())
    n_benign = max(1, round(n_samples * share))
    counts = {"benign": n_benign, "malignant": n_samples - n_benign}
    parts = []
    for label, components in TUMOR_COMPONENTS.items():
        weights = np.array([w for w, _, _ in components])
        which = rng.choice(len(components), size=counts[label], p=weights / weights.sum())
        # a Cholesky factor, not multivariate_normal's SVD: it is unique, so the same
        # seed gives the same rows whatever LAPACK computes it
        z = rng.standard_normal((counts[label], 2))
        pts = np.empty_like(z)
        for k, (_, mean, cov) in enumerate(components):
            sel = which == k
            pts[sel] = np.asarray(mean) + z[sel] @ np.linalg.cholesky(np.asarray(cov)).T
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
