"""Mini-batch epochs on the layouts users hold: C-ordered NumPy, F-ordered NumPy, a
pandas DataFrame (column-major values) and a non-contiguous torch tensor.

The bar (issue "Real data shapes"): an sgd epoch on a DataFrame or an F-ordered
array takes at most 1.2x the time on the same data C-ordered. Each variant is
asserted to give the C-ordered fit's weights, so a fast wrong path fails.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _common import require, sized

from softmaxreg import SoftmaxRegression, backends

SHAPE = (100_000, 50, 5)
EPOCHS = 3
LAYOUTS = ["numpy-C", "numpy-F", "pandas", "torch-noncontiguous"]


def _data(config):
    n, d, C = sized(config, SHAPE, 10_000)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, C, n)
    return X, y


def _fit(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few epochs on purpose
        return SoftmaxRegression(solver="sgd", batch_size=64, max_iter=EPOCHS, tol=0,
                                 learning_rate=0.05, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def reference(request):
    X, y = _data(request.config)
    return backends.to_numpy(_fit(X, y).coef_)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_minibatch_epochs(benchmark, layout, reference, request):
    X, y = _data(request.config)
    if layout == "numpy-F":
        X = np.asfortranarray(X)
    elif layout == "pandas":
        pd = pytest.importorskip("pandas")
        X = pd.DataFrame(X)
    elif layout == "torch-noncontiguous":
        require("torch")
        import torch

        X = torch.from_numpy(np.asfortranarray(X).T).T  # a transposed view
        assert not X.is_contiguous()
        y = torch.from_numpy(y)
    benchmark.group = f"sgd, {EPOCHS} epochs, batch 64, n={SHAPE[0]} d={SHAPE[1]} C={SHAPE[2]}"
    benchmark.extra_info.update({"workload": "layouts", "backend": layout, "epochs": EPOCHS})
    model = benchmark.pedantic(_fit, args=(X, y), rounds=3, iterations=1, warmup_rounds=0)
    np.testing.assert_allclose(backends.to_numpy(model.coef_), reference, rtol=1e-10,
                               atol=1e-12)
