"""Dask on a real dask.distributed LocalCluster: lazy data, agreement with NumPy, failures."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
import dask  # noqa: E402

import softmaxreg.distributed as sd  # noqa: E402
from softmaxreg import SoftmaxRegression, loss_and_grad  # noqa: E402

N, D, C, CHUNK = 300_000, 10, 4, 25_000


@pytest.fixture(scope="module")
def client():
    """A real cluster: 2 worker processes with 1 thread each."""
    with warnings.catch_warnings():
        # the cluster's own start-up warns about the machine's limits in some versions
        warnings.simplefilter("ignore", ResourceWarning)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
        cl = distributed.Client(cluster)
    yield cl
    cl.close()
    cluster.close()


def lazy_problem(seed=0, n=N):
    rng = da.random.default_rng(seed)
    X = rng.normal(size=(n, D), chunks=(CHUNK, D))
    W = np.random.default_rng(seed + 1).normal(size=(D, C))
    y = da.argmax(X @ W + rng.gumbel(size=(n, C), chunks=(CHUNK, C)), axis=1)
    return X, y


@pytest.fixture
def no_gather(monkeypatch):
    """Fail if anything turns the big Dask array into one NumPy array on the client."""
    real = da.Array.__array__

    def guard(self, *args, **kwargs):
        if self.ndim == 2 and self.shape[0] >= N // 2:
            raise AssertionError(f"X of shape {self.shape} was gathered on the client")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(da.Array, "__array__", guard)


def objective(X, y, model, C_=1.0):
    return float(loss_and_grad(X, np.unique(y, return_inverse=True)[1], model.coef_.T,
                               model.intercept_, l2=1.0 / (C_ * len(y)))[0])


def test_lbfgs_on_the_cluster_agrees_with_numpy(client, no_gather):
    X, y = lazy_problem()
    model = SoftmaxRegression(tol=1e-7).fit(X, y)
    assert model.backend_ == "dask" and isinstance(model.coef_, np.ndarray)
    Xn, yn = dask.compute(X, y)
    ref = SoftmaxRegression(tol=1e-7).fit(Xn, yn)
    f, f_ref = objective(Xn, yn, model), objective(Xn, yn, ref)
    assert abs(f - f_ref) <= 1e-6 * f_ref
    proba = model.predict_proba(X)
    pred = model.predict(X)
    assert isinstance(proba, da.Array) and isinstance(pred, da.Array)  # lazy
    np.testing.assert_array_equal(pred.compute(), ref.predict(Xn))


@pytest.mark.parametrize(("solver", "kw"), [
    ("gd", {"learning_rate": 1.0, "max_iter": 30}),
    ("sgd", {"learning_rate": 0.1, "batch_size": 50_000, "max_iter": 3}),
    ("adam", {"learning_rate": 0.05, "batch_size": 50_000, "max_iter": 3}),
])
def test_first_order_solvers_on_the_cluster(client, solver, kw, monkeypatch):
    import softmaxreg.solvers as S

    X, y = lazy_problem(seed=3, n=100_000)
    seen = []
    real = S.Objective.grads

    def spy(self, W, b, batch=None):
        seen.append(batch)
        return real(self, W, b, batch)

    monkeypatch.setattr(S.Objective, "grads", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few epochs on purpose: ConvergenceWarning
        model = SoftmaxRegression(solver=solver, random_state=0, **kw).fit(X, y)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    if "batch_size" in kw:  # mini-batches are whole chunks of 50 000 rows, shuffled
        assert sorted(seen[:2]) == [0, 1] and all(isinstance(r, int) for r in seen)
    else:
        assert all(r is None for r in seen)
    monkeypatch.undo()
    Xn, yn = dask.compute(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SoftmaxRegression(solver=solver, random_state=0, **kw).fit(Xn, yn)
    if solver == "gd":  # full batch: the same arithmetic, chunk by chunk
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    assert model.score(X, y) > 0.7


def test_one_graph_per_evaluation(client):
    """Loss and both gradients come back from one compute of one map-and-tree-reduce graph."""
    X, y = lazy_problem(n=100_000)
    X, y = X.persist(), y.persist()
    calls = []
    real = dask.compute

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    W = np.zeros((D, C))
    b = np.zeros(C)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dask, "compute", counting)
        loss, dW, db = sd.dask_loss_and_grad(X, y, W, b, l2=0.1, w=None)
    assert len(calls) == 1
    graph = dict(calls[0][0].__dask_graph__())
    chunk_tasks = [k for k in graph if str(k).startswith("chunk_sums")]
    assert len(chunk_tasks) == len(X.chunks[0]) == 4
    ref = loss_and_grad(*dask.compute(X, y), W, b, l2=0.1)
    for got, want in zip((loss, dW, db), ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_dask_dataframe_input(client, tmp_path):
    pd = pytest.importorskip("pandas")
    import dask.dataframe as dd

    X, y = lazy_problem(n=20_000)
    Xn, yn = dask.compute(X, y)
    frame = pd.DataFrame(Xn, columns=[f"f{i}" for i in range(D)])
    ddf = dd.from_pandas(frame, npartitions=4)
    model = SoftmaxRegression(tol=1e-7).fit(ddf, dd.from_pandas(pd.Series(yn), npartitions=4))
    ref = SoftmaxRegression(tol=1e-7).fit(Xn, yn)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)


def test_a_worker_dies_mid_fit(client, monkeypatch):
    """Dask recomputes the lost chunks from their lineage: same model, or a clear error."""
    X, y = lazy_problem(seed=7, n=200_000)
    clean = SoftmaxRegression(tol=1e-7).fit(X, y)
    real = sd.dask_loss_and_grad
    count = {"n": 0}

    def kill_on_third_call(*args, **kwargs):
        count["n"] += 1
        if count["n"] == 3:
            victim = sorted(client.scheduler_info()["workers"])[0]
            client.run(os._exit, 1, workers=[victim])
        return real(*args, **kwargs)

    import softmaxreg._plans as plans  # the Dask plan calls it from there

    monkeypatch.setattr(plans, "dask_loss_and_grad", kill_on_third_call)
    try:
        survived = SoftmaxRegression(tol=1e-7).fit(X, y)
    except (distributed.client.FutureCancelledError, distributed.scheduler.KilledWorker,
            OSError) as exc:  # a clear failure is acceptable; a wrong model is not
        assert "worker" in str(exc).lower() or isinstance(exc, OSError)
        return
    assert count["n"] > 3
    np.testing.assert_allclose(survived.coef_, clean.coef_, rtol=1e-6, atol=1e-8)
    client.wait_for_workers(2, timeout=60)


def test_cli_trains_on_parquet_files(client, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from softmaxreg.cli import main

    X, y = lazy_problem(seed=2, n=30_000)
    Xn, yn = dask.compute(X, y)
    frame = pd.DataFrame(Xn[:, :3], columns=["a", "b", "c"])
    frame["label"] = np.array(["x", "y", "z", "w"])[yn]
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(3):
        frame.iloc[i * 10_000:(i + 1) * 10_000].to_parquet(folder / f"part{i}.parquet")
    out = tmp_path / "run"
    code = main(["train", str(folder / "*.parquet"), "--target", "label", "--backend", "dask",
                 "--scheduler", client.scheduler.address, "--out", str(out), "--quiet"])
    text = capsys.readouterr()
    assert code == 0, text.err
    assert "on Dask (3 chunks)" in text.out
    # four classes: a confusion matrix, no ROC or precision-recall curve
    assert sorted(p.name for p in out.iterdir()) == [".softmaxreg", "confusion_matrix.png",
                                                     "loss_curve.png", "metrics.json",
                                                     "model.npz", "preprocess.json"]
    code = main(["predict", str(out), "--row", "a=0", "b=0", "c=0", "--json"])
    assert code == 0
    code = main(["train", str(folder / "*.parquet"), "--target", "lable", "--backend", "dask"])
    assert code == 2 and "did you mean 'label'" in capsys.readouterr().err


def test_weighted_fit_on_the_cluster_equals_numpy(client):
    """Non-uniform sample weights: the objective is normalised by their sum, not by n."""
    X, y = lazy_problem(seed=5, n=60_000)
    Xn, yn = dask.compute(X, y)
    sw = np.random.default_rng(3).uniform(0.1, 5.0, size=len(yn))
    ours = SoftmaxRegression(C=0.01, tol=1e-8).fit(X, y, sample_weight=sw)
    ref = SoftmaxRegression(C=0.01, tol=1e-8).fit(Xn, yn, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("solver", "kw"), [("lbfgs", {"tol": 1e-8}),
                                            ("sgd", {"batch_size": 100, "max_iter": 3})])
def test_sparse_chunks_on_a_cluster_equal_the_scipy_fit(client, solver, kw):
    """A Dask array of SciPy CSR chunks trains on the cluster's workers, chunk by chunk
    through the sparse kernel, to the answer of the same Dask fit on dense chunks (and,
    for L-BFGS, of the SciPy fit; Dask's SGD visits chunks, not rows, in random order);
    predict stays lazy."""
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(8)
    X = sp.random(1200, 50, density=0.05, format="csr", random_state=1)
    y = rng.integers(0, 3, 1200)
    params = {"solver": solver, "random_state": 0, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few sgd epochs on purpose
        ref = SoftmaxRegression(**params).fit(X, y)
        m = SoftmaxRegression(**params).fit(da.from_array(X, chunks=(300, 50), asarray=False),
                                            da.from_array(y, chunks=300))
        dense = SoftmaxRegression(**params).fit(da.from_array(X.toarray(), chunks=(300, 50)),
                                                da.from_array(y, chunks=300))
    # sparse and dense products round their sums differently in the last digits, which
    # L-BFGS's curvature pairs amplify over its iterations (seen: 1e-9); SGD's steps do not
    rtol = 1e-6 if solver == "lbfgs" else 1e-10
    np.testing.assert_allclose(m.coef_, dense.coef_, rtol=rtol, atol=rtol / 100)
    if solver == "lbfgs":
        np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    Xd = da.from_array(X, chunks=(400, 50), asarray=False)
    pred = m.predict(Xd)
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), dense.predict(X.toarray()))
