"""Saving and loading models: any backend, atomic, no pickle, refuses damaged files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from softmaxreg import SoftmaxRegression, backends


@pytest.fixture
def fitted():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    return SoftmaxRegression(C=0.5).fit(X, names), X


def test_round_trip(tmp_path, fitted):
    m, X = fitted
    path = tmp_path / "model.npz"
    m.save(path)
    back = SoftmaxRegression.load(path)
    assert back.get_params() == m.get_params()
    np.testing.assert_array_equal(back.coef_, m.coef_)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    assert back.loss_curve_ == m.loss_curve_ and back.n_iter_ == m.n_iter_


def test_trained_on_one_backend_loads_on_another(tmp_path, eager_bk):
    X, y = load_iris(return_X_y=True)
    m = SoftmaxRegression(C=float("inf"), max_iter=20, tol=1e-2)
    m.fit(eager_bk.asarray(X.astype(np.float32)), eager_bk.asarray(y))
    m.save(tmp_path / "m.npz")
    on_numpy = SoftmaxRegression.load(tmp_path / "m.npz")
    assert isinstance(on_numpy.coef_, np.ndarray) and on_numpy.coef_.dtype == np.float32
    assert on_numpy.C == float("inf")
    np.testing.assert_array_equal(on_numpy.predict(X.astype(np.float32)),
                                  backends.to_numpy(m.predict(eager_bk.asarray(X.astype(np.float32)))))
    again = SoftmaxRegression.load(tmp_path / "m.npz", backend=eager_bk.name)
    assert again.backend_ == eager_bk.library


def test_save_is_atomic(tmp_path, fitted, monkeypatch):
    m, _ = fitted
    path = tmp_path / "model.npz"
    m.save(path)
    original = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left behind


def _rewrite(path, change):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez(path, **arrays)


def test_damaged_files_are_refused(tmp_path, fitted):
    m, _ = fitted
    path = tmp_path / "model.npz"
    m.save(path)
    blob = path.read_bytes()

    (tmp_path / "cut.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"truncated or corrupt"):
        SoftmaxRegression.load(tmp_path / "cut.npz")

    def tamper(arrays):
        arrays["coef"] = arrays["coef"] * 2

    _rewrite(path, tamper)
    with pytest.raises(ValueError, match=r"failed its checksum"):
        SoftmaxRegression.load(path)

    m.save(path)

    def bump(arrays):
        meta = json.loads(bytes(arrays["meta"]))
        meta["version"] = 99
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)

    _rewrite(path, bump)
    with pytest.raises(ValueError, match=r"format version 99; this softmaxreg reads version 1"):
        SoftmaxRegression.load(path)

    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(ValueError, match=r"not a softmaxreg model: missing"):
        SoftmaxRegression.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"no model file at"):
        SoftmaxRegression.load(tmp_path / "missing.npz")


def test_pickled_payload_is_never_loaded(tmp_path, fitted):
    m, _ = fitted
    path = tmp_path / "model.npz"
    m.save(path)
    _rewrite(path, lambda a: a.__setitem__("classes", np.array([{"x": 1}], dtype=object)))
    with pytest.raises(ValueError, match=r"not a readable softmaxreg model|pickle"):
        SoftmaxRegression.load(path)
    assert zipfile.is_zipfile(path)


def test_save_errors(tmp_path, fitted):
    m, _ = fitted
    with pytest.raises(ValueError, match=r"is a folder"):
        m.save(tmp_path)
    with pytest.raises(ValueError, match=r"does not exist"):
        m.save(tmp_path / "nope" / "m.npz")
