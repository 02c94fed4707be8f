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
    with pytest.raises(ValueError, match=r"version 99, written by a newer softmaxreg: upgrade"):
        SoftmaxRegression.load(path)

    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as z:
        for name in ("coef", "intercept", "classes", "meta"):
            z.writestr(f"{name}.npy", b"not an array header")
    with pytest.raises(ValueError, match=r"truncated or corrupt: \['coef', 'intercept', "):
        SoftmaxRegression.load(tmp_path / "raw.npz")

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


# ------------------------------------------------------------- what the checksum covers


def _resign(path):
    """Recompute the checksum after an edit: what a buggy writer would leave behind."""
    from softmaxreg.io import _digest

    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["meta"]))
    meta["sha256"] = _digest({k: arrays[k] for k in ("coef", "intercept", "classes")}, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def _edit_meta(change):
    def edit(arrays):
        meta = json.loads(bytes(arrays["meta"]))
        change(meta)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return edit


@pytest.mark.parametrize("change", [
    lambda m: m.__setitem__("feature_names_in", ["petal", "sepal", "x", "y"]),
    lambda m: m["params"].__setitem__("C", 5.0),
    lambda m: m.pop("params"),
    lambda m: m.__setitem__("params", [1, 2]),
    lambda m: m.__setitem__("n_features_in", 3),
], ids=["feature-names", "a-param", "no-params", "list-params", "n-features"])
def test_checksum_covers_the_metadata(tmp_path, fitted, change):
    m, _ = fitted
    path = tmp_path / "model.npz"
    m.save(path)
    _rewrite(path, _edit_meta(change))
    with pytest.raises(ValueError, match=r"model.npz' failed its checksum: the file was changed"):
        SoftmaxRegression.load(path)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.pop("params"), r"`params` is missing"),
    (lambda m: m.__setitem__("params", [1, 2]), r"`params` must be an object, got \[1, 2\]"),
    (lambda m: m["params"].__setitem__("colour", "red"), r"unknown parameter\(s\) \['colour'\]"),
    (lambda m: m.__setitem__("n_features_in", "4"), r"`n_features_in` must be an integer"),
    (lambda m: m.__setitem__("feature_names_in", ["a"]), r"`feature_names_in` must be"),
    (lambda m: m.__setitem__("loss_curve", "low"), r"`loss_curve` must be a list"),
], ids=["no-params", "list-params", "unknown-param", "n-features-text", "names-length",
        "curve-text"])
def test_schema_is_checked_even_with_a_valid_checksum(tmp_path, fitted, change, message):
    m, _ = fitted
    path = tmp_path / "model.npz"
    m.save(path)
    _rewrite(path, _edit_meta(change))
    _resign(path)
    with pytest.raises(ValueError, match=rf"'{tmp_path}/model.npz' is not a valid softmaxreg "
                                         rf"model file: {message}"):
        SoftmaxRegression.load(path)


def test_older_format_is_refused_with_what_to_do(tmp_path, fitted):
    m, _ = fitted
    path = tmp_path / "model.npz"
    m.save(path)
    _rewrite(path, _edit_meta(lambda meta: meta.__setitem__("version", 1)))
    with pytest.raises(ValueError, match=r"model.npz' has model format version 1, written by an "
                                         r"older softmaxreg.*train the model again"):
        SoftmaxRegression.load(path)


def test_not_a_model_archive_never_suggests_pickle(tmp_path):
    import pickle

    (tmp_path / "p.npz").write_bytes(pickle.dumps({"coef": [1.0]}))
    np.save(tmp_path / "a.npy", np.ones(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    np.savez(tmp_path / "o.npz", coef=np.array([{"x": 1}], dtype=object), intercept=np.ones(1),
             classes=np.ones(1), meta=np.zeros(1, np.uint8))
    np.savez(tmp_path / "extra.npz", coef=np.ones((1, 1)), intercept=np.ones(1),
             classes=np.ones(1), meta=np.zeros(1, np.uint8), evil=np.ones(1))
    for name, message in [("p.npz", "is not a NumPy .npz archive"),
                          ("a.npz", "holds a single NumPy array (.npy)"),
                          ("o.npz", "holds Python objects"),
                          ("extra.npz", "unexpected entries ['evil']")]:
        with pytest.raises(ValueError) as info:
            SoftmaxRegression.load(tmp_path / name)
        text = str(info.value)
        assert message in text and str(tmp_path / name) in text
        assert "allow_pickle" not in text and "pickle.load" not in text


def test_dict_class_weight_and_feature_names_survive_a_round_trip(tmp_path):
    import pandas as pd

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = (X - X.mean()) / X.std()
    weights = {0: 1.0, 1: 2.5, 2: 0.5}
    m = SoftmaxRegression(class_weight=weights).fit(X, y)
    m.save(tmp_path / "m.npz")
    back = SoftmaxRegression.load(tmp_path / "m.npz")
    assert back.get_params()["class_weight"] == weights
    assert list(back.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    renamed = X.rename(columns={X.columns[0]: "sepal width (inches)"})
    with pytest.raises(ValueError, match=r"feature names should match"):
        back.predict(renamed)
    with pytest.raises(ValueError, match=r"same order"):
        back.predict(X[X.columns[::-1]])
    assert isinstance(back.predict(pd.DataFrame(X.to_numpy(), columns=X.columns)), np.ndarray)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_files_respect_the_umask(tmp_path, fitted, umask):
    import os

    m, _ = fitted
    old = os.umask(umask)
    try:
        m.save(tmp_path / "new.npz")
        assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o666 & ~umask
        existing = tmp_path / "existing.npz"
        existing.write_bytes(b"")
        existing.chmod(0o644)
        m.save(existing)
        assert existing.stat().st_mode & 0o777 == 0o644  # saving over a file keeps its mode
    finally:
        os.umask(old)
