"""Time to reach scikit-learn's optimum on (200000, 100, 10) float32, tol=1e-6 everywhere.

Each result records its final objective (scikit-learn's, evaluated in float64)
next to its time, so a fast but unconverged fit cannot win.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _common import problem, require, sized, sync

import softmaxreg as sr
from softmaxreg import SoftmaxRegression, backends

SHAPE = (200_000, 100, 10)
BACKENDS = ["numpy", "torch", "jax", "dask", "torch:cuda", "cupy", "sklearn", "torch-lbfgs",
            "torch:cuda-lbfgs"]


def objective(X, y, W, b):
    """scikit-learn's objective at C=1: mean cross-entropy + ||W||^2 / (2 n)."""
    return float(sr.loss_and_grad(X.astype(np.float64), y, np.asarray(W, np.float64),
                                  np.asarray(b, np.float64), l2=1.0 / len(y))[0])


def _ours(name, X, y):
    require(name)
    Xb = backends.asarray(X, backend=name)
    yb = backends.asarray(y, backend=name)
    if name == "dask":
        Xb = Xb.rechunk({0: 50_000})

    def fit():
        m = SoftmaxRegression(tol=1e-6, max_iter=1000).fit(Xb, yb)
        sync(m.coef_)
        return backends.to_numpy(m.coef_).T, backends.to_numpy(m.intercept_), m.n_iter_

    return fit


def _sklearn(X, y):
    from sklearn.linear_model import LogisticRegression

    def fit():
        m = LogisticRegression(tol=1e-6, max_iter=1000).fit(X, y)
        return m.coef_.T, m.intercept_, int(m.n_iter_[0])

    return fit


def _torch_lbfgs(device, X, y):
    torch = pytest.importorskip("torch")
    require("torch:cuda" if device == "cuda" else "torch")
    Xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    n = X.shape[0]

    def fit():
        lin = torch.nn.Linear(X.shape[1], 10).to(device)
        with torch.no_grad():
            lin.weight.zero_()
            lin.bias.zero_()
        opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=1000, history_size=10,
                                tolerance_grad=1e-6, tolerance_change=1e-12,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(lin(Xt), yt) \
                + 0.5 / n * (lin.weight**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        sync(lin.weight)
        state = opt.state[opt._params[0]]
        return (lin.weight.detach().cpu().numpy().T, lin.bias.detach().cpu().numpy(),
                int(state.get("n_iter", 0)))

    return fit


@pytest.fixture(scope="module")
def optimum(request):
    """The objective's minimum, from a float64 fit run far past tol=1e-6."""
    X, y, _, _ = problem(*sized(request.config, SHAPE, 20_000))
    m = SoftmaxRegression(tol=1e-10, max_iter=2000, dtype="float64").fit(X, y)
    return objective(X, y, m.coef_.T, m.intercept_)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit(benchmark, backend, optimum, request):
    X, y, _, _ = problem(*sized(request.config, SHAPE, 20_000))
    if backend == "sklearn":
        fit = _sklearn(X, y)
    elif backend.endswith("-lbfgs"):
        fit = _torch_lbfgs("cuda" if "cuda" in backend else "cpu", X, y)
    else:
        fit = _ours(backend, X, y)
    benchmark.group = "fit n=200000 d=100 C=10 (to tol=1e-6)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn/torch chatter about threads or convergence
        W, b, n_iter = benchmark.pedantic(fit, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update({"workload": "fit", "backend": backend, "n_iter": n_iter,
                                 "objective": objective(X, y, W, b)})
    # a fast fit that stops short (or a wrong kernel) fails here: every entry, ours and
    # the peers', reaches the optimum to 1e-6 relative
    gap = (benchmark.extra_info["objective"] - optimum) / optimum
    benchmark.extra_info["objective_gap"] = gap
    assert gap <= 1e-6, f"{backend} stopped {gap:.2e} above the optimum"
