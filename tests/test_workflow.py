"""Library calls of the lesson's workflow: data, splits, metrics, plots, original units."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from softmaxreg import SoftmaxRegression, unscaled_coefficients
from softmaxreg.data import (
    DataError,
    class_counts,
    class_weights,
    load_csv,
    load_table,
    read_chunks,
    read_table,
    split_rows,
    train_val_test_split,
)
from softmaxreg.datasets import TUMOR_COMPONENTS, TUMOR_STATS, make_spirals, make_tumors
from softmaxreg.metrics import classification_metrics, evaluation
from softmaxreg.plotting import plot_decision_boundary, plot_loss_curve
from softmaxreg.workflow import MARKER, load_bundle, output_folder, save_bundle, train_model

FEATURES = ["leukocyte_count", "blood_pressure"]


def test_make_tumors_has_the_lessons_statistics():
    df = make_tumors(200_000, random_state=0)
    assert list(df.columns) == [*FEATURES, "tumor_class"]
    assert (df.tumor_class == "benign").sum() == 77_800  # 389 of every 1000, as in the lesson
    for label, stats in TUMOR_STATS.items():
        rows = df.loc[df.tumor_class == label, FEATURES].to_numpy()
        # standard errors at ~100k rows: 0.006 for a mean, 0.02 for a variance
        np.testing.assert_allclose(rows.mean(axis=0), stats["mean"], atol=0.03)
        np.testing.assert_allclose(np.cov(rows.T), stats["cov"], atol=0.08)
    pd.testing.assert_frame_equal(make_tumors(50, random_state=3), make_tumors(50, random_state=3))


def test_tumor_components_carry_the_class_statistics():
    """Each class's two Gaussians have, together, the class's mean and covariance."""
    for label, components in TUMOR_COMPONENTS.items():
        w = np.array([c[0] for c in components])
        means = np.array([c[1] for c in components])
        covs = np.array([c[2] for c in components])
        assert w.sum() == pytest.approx(1.0, abs=1e-3)
        mean = w @ means
        cov = np.einsum("k,kij->ij", w, covs + np.einsum("ki,kj->kij", means, means)) \
            - np.outer(mean, mean)
        np.testing.assert_allclose(mean, TUMOR_STATS[label]["mean"], atol=2e-3)
        # EM matches the covariance with ddof=0, the constants use ddof=1: 1/389 apart
        np.testing.assert_allclose(cov, TUMOR_STATS[label]["cov"], rtol=4e-3, atol=2e-3)
        for c in covs:
            np.linalg.cholesky(c)  # positive definite after rounding


def test_tumor_statistics_come_from_the_lessons_file(shared_data):
    df = pd.read_csv(shared_data / "tumors.csv")
    for label, stats in TUMOR_STATS.items():
        rows = df.loc[df.tumor_class == label, FEATURES].to_numpy()
        assert len(rows) == stats["rows"]
        np.testing.assert_allclose(rows.mean(axis=0), stats["mean"], atol=1e-4)
        np.testing.assert_allclose(np.cov(rows.T), stats["cov"], atol=1e-4)


def test_a_linear_model_on_the_demo_data_is_good_not_perfect():
    df = make_tumors(4000, random_state=0)
    X = StandardScaler().fit_transform(df[FEATURES])
    acc = SoftmaxRegression().fit(X, df.tumor_class).score(X, df.tumor_class)
    assert 0.95 < acc < 0.99  # the lesson's file gives 0.98-0.99; one Gaussian per class 0.93


def test_make_spirals_defeats_a_linear_model():
    df = make_spirals(1500, n_classes=3, random_state=0)
    assert df.color.value_counts().to_dict() == {"c1": 500, "c2": 500, "c3": 500}
    assert df[["X1", "X2"]].abs().to_numpy().max() <= 1.0
    acc = SoftmaxRegression().fit(df[["X1", "X2"]], df.color).score(df[["X1", "X2"]], df.color)
    assert 0.34 < acc < 0.8
    with pytest.raises(ValueError, match=r"`n_classes` must be an integer >= 2, got 1"):
        make_spirals(n_classes=1)
    with pytest.raises(ValueError, match=r"`n_samples` must be an integer >= 2, got 0"):
        make_tumors(0)


def test_split_is_stratified_70_15_15():
    df = make_tumors(1000, random_state=1)
    parts = train_val_test_split(df[FEATURES], df.tumor_class, random_state=0)
    X_tr, X_va, X_te, y_tr, y_va, y_te = parts
    assert (len(X_tr), len(X_va), len(X_te)) == (700, 150, 150)
    assert not set(X_tr.index) & set(X_te.index) and not set(X_va.index) & set(X_te.index)
    for y in (y_tr, y_va, y_te):
        assert abs((y == "benign").mean() - 0.389) < 0.01
    again = train_val_test_split(df[FEATURES], df.tumor_class, random_state=0)
    assert list(again[0].index) == list(X_tr.index)
    with pytest.raises(ValueError, match=r"add up to 1, got 0.7, 0.2 and 0.2"):
        train_val_test_split(df[FEATURES], df.tumor_class, val_size=0.2, test_size=0.2)


def test_split_rows_sizes_zero_parts_and_mistakes():
    y = np.array(["a"] * 30 + ["b"] * 70)
    parts = split_rows(y, val_size=0.2, test_size=0.1, random_state=0)
    assert {k: len(v) for k, v in parts.items()} == {"train": 70, "val": 20, "test": 10}
    assert sorted(np.concatenate(list(parts.values()))) == list(range(100))
    for part in parts.values():
        assert (y[part] == "a").mean() == pytest.approx(0.3, abs=0.05)
    assert list(split_rows(y, val_size=0, test_size=0.2, random_state=0)) == ["train", "test"]
    assert list(split_rows(y, val_size=0.2, test_size=0, random_state=0)) == ["train", "val"]
    assert len(split_rows(y, val_size=0, test_size=0)["train"]) == 100
    # the default sizes pick the rows train_val_test_split picks
    X_tr = train_val_test_split(pd.DataFrame({"x": range(100)}), pd.Series(y),
                                random_state=3)[0]
    assert list(X_tr.index) == list(split_rows(y, random_state=3)["train"])
    for kwargs, message in [
        ({"val_size": -0.1}, r"`val_size` must be a fraction from 0 \(included\) to 1 "
                             r"\(excluded\), got -0.1"),
        ({"test_size": 1.0}, r"`test_size` must be a fraction .* got 1.0"),
        ({"val_size": 0.6, "test_size": 0.4}, r"`val_size` \+ `test_size` must stay below 1"),
        ({"val_size": 0.01, "test_size": 0}, r"`val_size` = 0.01 leaves the val split 1 of "
                                             r"100 rows, fewer than the 2 classes"),
    ]:
        with pytest.raises(ValueError, match=message):
            split_rows(y, **kwargs)
    with pytest.raises(DataError, match=r"class 'a' has only 1 row"):
        split_rows(["a"] + ["b"] * 20)
    rare = ["a"] * 4 + ["b"] * 96  # 4 rows of 'a': the held-out 20% gets one
    with pytest.raises(DataError, match=r"hold out 1 row of class 'a', too few to share"):
        split_rows(rare, val_size=0.1, test_size=0.1, random_state=0)


def test_train_model_refuses_settings_that_do_not_fit_together():
    df = make_tumors(100, random_state=0)
    X, y = df[FEATURES], df.tumor_class
    for kwargs, message in [
        ({"val_size": 0, "early_stopping": True}, r"`early_stopping` watches the validation"),
        ({"cv": 3}, r"`cv` scores the model instead of a test split: set `test_size` to 0"),
        ({"cv": 1, "test_size": 0}, r"`cv` must be an integer >= 2"),
        ({"val_size": 0, "refit_full": True}, r"`refit_full` refits on train\+val"),
    ]:
        with pytest.raises(ValueError, match=message):
            train_model(X, y, solver="lbfgs", **kwargs)


def test_class_counts_and_weights():
    y = ["a", "b", "b", "b"]
    assert class_counts(y) == {"a": 1, "b": 3}
    assert class_weights(y) == {"a": 1.0, "b": 1 / 3}
    assert class_weights(y, "balanced") == {"a": 2.0, "b": 4 / 6}
    with pytest.raises(ValueError, match=r"`method` must be 'inverse' or 'balanced'"):
        class_weights(y, "sqrt")


def test_load_csv(tmp_path, shared_data):
    X, y = load_csv(shared_data / "tumors.csv", "tumor_class")
    assert list(X.columns) == FEATURES and len(y) == 1000
    assert class_counts(y) == {"benign": 389, "malignant": 611}
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,,p\n2,3,q\n")
    with pytest.raises(DataError, match=r"column 'b' has 1 missing value"):
        load_csv(bad, "y")
    with pytest.raises(DataError, match=r"the target 'y' is also listed as a feature"):
        load_csv(bad, "y", ["a", "y"])


@pytest.fixture
def tables(tmp_path):
    """The same table as CSV and Parquet, with a text label and a float and an int column."""
    df = make_tumors(60, random_state=4).assign(visits=np.arange(60) % 7)
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    return tmp_path, df


@pytest.mark.parametrize("engine", ["pandas", "polars", None])
@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_every_engine_reads_the_same_table(tables, name, engine):
    if engine == "polars":
        pytest.importorskip("polars", reason="polars is optional (the `polars` extra)")
    folder, df = tables
    X, y = load_table(folder / name, "tumor_class", engine=engine)
    pd.testing.assert_frame_equal(X, df[[*FEATURES, "visits"]].astype(np.float64))
    assert y.tolist() == df.tumor_class.tolist()


def test_read_table_falls_back_to_polars_without_pyarrow(tables, monkeypatch):
    pytest.importorskip("polars", reason="polars is optional (the `polars` extra)")
    import softmaxreg.data as data_module

    folder, df = tables
    calls = []
    real_read_polars = data_module._read_polars
    monkeypatch.setattr(data_module, "_has", lambda module: module != "pyarrow")
    monkeypatch.setattr(data_module, "_read_polars",
                        lambda *a, **k: calls.append(a) or real_read_polars(*a, **k))
    assert data_module.table_engine(None, parquet=True) == "polars"
    assert data_module.table_engine(None, parquet=False) == "pandas"
    got = data_module.read_table(folder / "t.parquet")
    assert len(calls) == 1 and got.shape == df.shape
    monkeypatch.setattr(data_module, "_has", lambda module: False)
    with pytest.raises(ImportError, match=r"reading Parquet needs pyarrow or polars: install "
                                          r"one with `pip install 'softmaxreg\[workflow\]'`"):
        data_module.table_engine(None, parquet=True)


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_table_mistakes_name_the_file_and_row(tmp_path, engine):
    if engine == "polars":
        pytest.importorskip("polars", reason="polars is optional (the `polars` extra)")
    late = tmp_path / "late.csv"
    late.write_text("a,y\n" + "".join(f"{i},p\n" for i in range(200)) + "oops,q\n")
    with pytest.raises(DataError, match=r"column 'a' must be numeric, but row 202 of "
                                        r"'.*late.csv' holds 'oops'"):
        load_table(late, "y", engine=engine)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"'.*empty.csv' is empty"):
        read_table(tmp_path / "empty.csv", engine=engine)
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"'.*fake.parquet' is not a readable Parquet file"):
        read_table(tmp_path / "fake.parquet", engine=engine)
    with pytest.raises(DataError, match=r"no such file: '.*nothing.csv'"):
        read_table(tmp_path / "nothing.csv", engine=engine)
    with pytest.raises(ValueError, match=r"`engine` must be one of pandas, polars, got 'spark'"):
        read_table(late, engine="spark")


def test_read_chunks_count_rows_from_the_top(tables):
    folder, df = tables
    for name in ("t.csv", "t.parquet"):
        chunks = list(read_chunks(folder / name, 25))
        assert [len(c) for c in chunks] == [25, 25, 10]
        assert [c.index[0] for c in chunks] == [0, 25, 50]
        assert pd.concat(chunks).tumor_class.tolist() == df.tumor_class.tolist()


def test_metrics_match_sklearn_report():
    from sklearn.metrics import classification_report

    rng = np.random.default_rng(0)
    y_true = rng.choice(["a", "b", "c"], size=200)
    y_pred = np.where(rng.random(200) < 0.8, y_true, rng.choice(["a", "b", "c"], size=200))
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    rep = classification_report(y_true, y_pred, output_dict=True)
    assert m["overall"]["f1"] == pytest.approx(rep["weighted avg"]["f1-score"])
    assert m["overall"]["num_samples"] == 200
    for c in "abc":
        assert m["class"][c]["precision"] == pytest.approx(rep[c]["precision"])
        assert m["class"][c]["num_samples"] == rep[c]["support"]
    assert m["accuracy"] == pytest.approx(rep["accuracy"])
    with pytest.raises(ValueError, match=r"`y_true` has shape \(2,\) but `y_pred`"):
        classification_metrics(["a", "b"], ["a"], ["a", "b"])


def test_evaluation_of_one_class_and_wrong_shapes():
    from sklearn.metrics import log_loss

    proba = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1]])
    ev = evaluation(np.array([1, 1]), proba, classes=[1, 2, 3])
    assert list(ev["classes"]) == ["1"] and ev["classes"]["1"]["support"] == 2
    assert ev["accuracy"] == 0.5 and ev["support"] == 2
    assert ev["confusion_matrix"] == {"labels": ["1", "2", "3"],
                                      "matrix": [[1, 1, 0], [0, 0, 0], [0, 0, 0]]}
    assert ev["log_loss"] == pytest.approx(log_loss([1, 1], proba, labels=[1, 2, 3]))
    with pytest.raises(ValueError, match=r"`proba` must have one column per class \(2\)"):
        evaluation([1, 2], proba, classes=[1, 2])
    with pytest.raises(ValueError, match=r"`y_true` has shape \(3,\) but `proba`"):
        evaluation([1, 2, 3], proba, classes=[1, 2, 3])


def test_unscaled_coefficients_equal_a_model_trained_on_raw_data():
    df = make_tumors(600, random_state=2)
    X, y = df[FEATURES].to_numpy(), df.tumor_class.to_numpy()
    scaler = StandardScaler().fit(X)
    Xs = scaler.transform(X)
    # no penalty, so the optimum does not depend on the units of the features
    scaled = SoftmaxRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(Xs, y)
    raw = SoftmaxRegression(C=np.inf, tol=1e-10, max_iter=5000).fit(X, y)
    W, b = unscaled_coefficients(Pipeline([("scaler", scaler), ("model", scaled)]))
    np.testing.assert_allclose(W, raw.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b, raw.intercept_, rtol=1e-4, atol=1e-5)
    # raw features through the original-unit weights give the pipeline's margin z1 - z0
    np.testing.assert_allclose((X @ W.T + b) @ np.array([-1.0, 1.0]),
                               scaled.decision_function(Xs), atol=1e-8)


def test_train_model_and_bundle_round_trip(tmp_path):
    df = make_tumors(1000, random_state=0)
    result = train_model(df[FEATURES], df.tumor_class, solver="lbfgs", random_state=0)
    assert result.accuracy["test"] > 0.9
    assert result.metrics["support"] == 150
    save_bundle(tmp_path, result.pipeline, target="tumor_class")
    bundle = load_bundle(tmp_path)
    assert bundle.features == FEATURES and bundle.target == "tumor_class"
    X_test = result.splits["test"][0]
    np.testing.assert_allclose(bundle.pipeline.predict_proba(X_test),
                               result.pipeline.predict_proba(X_test), rtol=1e-12)


def test_plots_are_real_figures(tmp_path, bk):
    df = make_tumors(300, random_state=0)
    X = StandardScaler().fit_transform(df[FEATURES])
    model = SoftmaxRegression().fit(bk.asarray(X), df.tumor_class)
    ax = plot_decision_boundary(model, X, df.tumor_class, path=tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["benign", "malignant"]
    assert len(ax.collections) >= 3  # shaded regions plus one scatter per class
    ax2 = plot_loss_curve(model, path=tmp_path / "l.png")
    line = ax2.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), model.loss_curve_)
    with pytest.raises(ValueError, match=r"needs a model of 2 features, this one has 3"):
        plot_decision_boundary(SoftmaxRegression().fit(np.c_[X, X[:, :1]], df.tumor_class),
                               np.c_[X, X[:, :1]], df.tumor_class)


# --------------------------------------------------------------- the bundle's checksum


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    df = make_tumors(300, random_state=0)
    result = train_model(df[FEATURES], df.tumor_class, solver="lbfgs", random_state=0)
    folder = tmp_path_factory.mktemp("bundle")
    save_bundle(folder, result.pipeline, target="tumor_class")
    return folder


def _copy(bundle_dir, tmp_path):
    import shutil

    return Path(shutil.copytree(bundle_dir, tmp_path / "b"))


def _edit(path, change):
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def _shift(meta):
    meta["scaler"]["mean"][0] += 0.5


@pytest.mark.parametrize("change", [
    lambda m: m["features"].reverse(),
    _shift,
    lambda m: m.__setitem__("scaler", 5),
    lambda m: m.__setitem__("scaler", None),
    lambda m: m.__setitem__("target", "other"),
], ids=["swapped-features", "shifted-mean", "scaler-5", "no-scaler", "target"])
def test_checksum_covers_the_preprocessing(bundle_dir, tmp_path, change):
    folder = _copy(bundle_dir, tmp_path)
    _edit(folder / "preprocess.json", change)
    with pytest.raises(DataError, match=r"preprocess.json' failed its checksum"):
        load_bundle(folder)


def test_preprocessing_is_bound_to_its_model(bundle_dir, tmp_path):
    """A model.npz from another run beside this preprocess.json is refused."""
    folder = _copy(bundle_dir, tmp_path)
    df = make_tumors(300, random_state=1)
    other = train_model(df[FEATURES], df.tumor_class, solver="lbfgs", random_state=1)
    other.pipeline.steps[-1][1].save(folder / "model.npz")
    with pytest.raises(DataError, match=r"preprocess.json' belongs to another model.npz"):
        load_bundle(folder)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.__setitem__("scaler", 5), r"`scaler` must be null or an object"),
    (lambda m: m["scaler"].pop("mean"), r"`scaler` needs `mean` and `scale`"),
    (lambda m: m["scaler"]["scale"].append(1.0), r"`scale` must hold 2 numbers"),
    (lambda m: m["scaler"]["scale"].__setitem__(0, 0.0), r"`scale` must hold 2 numbers > 0"),
    (lambda m: m.__setitem__("features", ["a", "a"]),
     r"`features` must be a non-empty list of distinct names"),
    (lambda m: m.pop("features"), r"`features` is missing"),
    (lambda m: m.__setitem__("format", "something"), r"is not a softmaxreg preprocess.json"),
], ids=["scaler-5", "no-mean", "long-scale", "zero-scale", "repeated-names", "no-features",
        "format"])
def test_preprocessing_schema_is_checked_even_with_a_valid_checksum(bundle_dir, tmp_path, change,
                                                                    message):
    from softmaxreg.io import json_digest as _digest_json

    folder = _copy(bundle_dir, tmp_path)

    def change_and_resign(meta):
        change(meta)
        meta["sha256"] = _digest_json(meta)

    _edit(folder / "preprocess.json", change_and_resign)
    with pytest.raises(DataError, match=rf"'{folder}/preprocess.json' .*{message}"):
        load_bundle(folder)


def test_older_preprocessing_is_refused_with_what_to_do(bundle_dir, tmp_path):
    folder = _copy(bundle_dir, tmp_path)
    _edit(folder / "preprocess.json", lambda m: [m.pop(k) for k in ("format", "version", "sha256",
                                                                    "model_sha256")])
    with pytest.raises(DataError, match=r"preprocess.json' was written by an older softmaxreg.*"
                                        r"train the model again"):
        load_bundle(folder)


# ------------------------------------------------------------------ the output folder


def _listing(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_output_folder_claims_the_name_at_the_start(tmp_path):
    out = tmp_path / "run"
    with output_folder(out) as tmp:
        assert out.is_dir() and _listing(out) == []  # claimed: nobody else can take it
        (tmp / "result.txt").write_text("new")
    assert _listing(out) == [MARKER, "result.txt"]
    assert _listing(tmp_path) == ["run"]
    with pytest.raises(DataError, match=r"'.*run' already exists; pass --force"):
        with output_folder(out):
            pass


def test_output_folder_filled_by_someone_else_is_kept(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(DataError, match=r"was filled by another program"):
        with output_folder(out) as tmp:
            (tmp / "result.txt").write_text("new")
            (out / "theirs.txt").write_text("theirs")
    assert _listing(out) == ["theirs.txt"]
    assert _listing(tmp_path) == ["run"]


def test_output_folder_failure_removes_the_claim(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="boom"):
        with output_folder(tmp_path / "run"):
            raise RuntimeError("boom")
    assert _listing(tmp_path) == []

    def no_space(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr("tempfile.mkdtemp", no_space)
    with pytest.raises(OSError, match="no space"):
        with output_folder(tmp_path / "run"):
            pytest.fail("must not start")
    assert _listing(tmp_path) == []


def test_force_replaces_in_one_swap(tmp_path, monkeypatch):
    import softmaxreg.workflow as wf

    out = tmp_path / "run"
    with output_folder(out) as tmp:
        (tmp / "old.txt").write_text("old")
    swaps = []
    real = wf._exchange
    monkeypatch.setattr(wf, "_exchange", lambda a, b: swaps.append((a, b)) or real(a, b))
    with output_folder(out, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
        assert _listing(out) == [MARKER, "old.txt"]  # the old results stay until the swap
    assert len(swaps) == 1 and _listing(out) == [MARKER, "new.txt"]
    assert _listing(tmp_path) == ["run"]


def test_force_keeps_the_old_results_when_the_swap_fails(tmp_path, monkeypatch):
    import softmaxreg.workflow as wf

    out = tmp_path / "run"
    with output_folder(out) as tmp:
        (tmp / "old.txt").write_text("old")

    def dies(a, b):
        raise OSError("the process died here")

    monkeypatch.setattr(wf, "_exchange", dies)
    with pytest.raises(OSError, match="died"):
        with output_folder(out, force=True) as tmp:
            (tmp / "new.txt").write_text("new")
    assert _listing(out) == [MARKER, "old.txt"] and (out / "old.txt").read_text() == "old"
    assert _listing(tmp_path) == ["run"]


def test_exchange_without_os_support_falls_back_to_two_renames(tmp_path, monkeypatch):
    import softmaxreg.workflow as wf

    monkeypatch.setattr(wf, "_swap_syscall", lambda a, b: False)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "y").write_text("b")
    wf._exchange(a, b)
    assert _listing(a) == ["y"] and _listing(b) == ["x"]
    assert _listing(tmp_path) == ["a", "b"]


def test_exchange_is_one_system_call_here(tmp_path):
    """Linux (renameat2) and macOS (renamex_np) swap two folders atomically."""
    import sys

    from softmaxreg.workflow import _swap_syscall

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").touch()
    if sys.platform not in ("linux", "darwin"):
        pytest.skip("only Linux and macOS offer an atomic swap of two folders")
    assert _swap_syscall(a, b) is True
    assert _listing(b) == ["x"] and _listing(a) == []


def test_only_softmaxreg_folders_are_replaced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    data.mkdir()
    (data / "d.csv").write_text("a,b\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    (tmp_path / "empty").mkdir()
    (tmp_path / "home").mkdir()
    (data / MARKER).touch()  # even a folder that looks like ours is refused if it holds an input
    for out, message in [(".", "is the current folder"), ("..", "holds the current folder"),
                         ("~", "is your home folder"), (str(tmp_path / "home"), "is your home"),
                         ("data", "holds the input"), ("data/d.csv", "is the input"),
                         ("mine", "was not written by softmaxreg")]:
        with pytest.raises(DataError, match=message):
            with output_folder(out, force=True, inputs=[data / "d.csv"]):
                pytest.fail("must not start")
    with output_folder("empty", force=True) as tmp:  # an empty folder holds nothing to lose
        (tmp / "r").touch()
    assert _listing(tmp_path / "empty") == [MARKER, "r"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_output_folder_respects_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with output_folder(tmp_path / "run") as tmp:
            (tmp / "r.txt").write_text("x")
        assert (tmp_path / "run").stat().st_mode & 0o777 == 0o777 & ~umask
        assert (tmp_path / "run" / MARKER).stat().st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.umask(old)


def test_evaluation_data_may_hold_one_class(tmp_path):
    (tmp_path / "one.csv").write_text("a,b,y\n1,2,p\n3,4,p\n")
    X, y = load_csv(tmp_path / "one.csv", "y", min_classes=1)
    assert len(X) == 2 and set(y) == {"p"}
    with pytest.raises(DataError, match=r"only one class"):
        load_csv(tmp_path / "one.csv", "y")
