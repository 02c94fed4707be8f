"""Every command of the command line, in-process and as a subprocess, and its error paths."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import softmaxreg.cli as cli_module
from softmaxreg.cli import main
from softmaxreg.workflow import MARKER


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    return out


def test_demo_writes_every_result(demo_dir):
    pngs = ["confusion_matrix.png", "decision_boundary.png", "loss_curve.png", "pr_curve.png",
            "roc_curve.png"]
    assert sorted(p.name for p in demo_dir.iterdir()) == sorted([
        MARKER, *pngs, "metrics.json", "model.npz", "preprocess.json"])
    for png in pngs:
        assert (demo_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((demo_dir / "metrics.json").read_text())
    # the lesson reports test accuracy 0.98 and a benign probability of 93% for the patient
    assert metrics["accuracy"]["test"] >= 0.96
    assert set(metrics["test"]["classes"]) == {"benign", "malignant"}
    assert metrics["test"]["accuracy"] == metrics["accuracy"]["test"]
    assert sum(map(sum, metrics["test"]["confusion_matrix"]["matrix"])) == 150
    assert metrics["inference"]["prediction"] == "benign"
    assert abs(metrics["inference"]["probability"] - 0.93) <= 0.05
    assert not [p for p in demo_dir.parent.iterdir() if p.name.startswith(".")]


def test_demo_prints_the_lesson(tmp_path, capsys):
    code, out, err = run(["demo", "--out", str(tmp_path / "d"), "--solver", "gd"], capsys)
    assert code == 0, err
    assert "split  rows  benign  malignant" in out
    assert "[SoftmaxRegression(gd)] iter    1" in out  # per-epoch lines
    assert "the probability that you have a benign tumour is" in out
    assert "weights in original units" in out
    assert "class         precision  recall  f1-score  support" in out
    assert "confusion matrix (rows: true class, columns: predicted class)" in out


def test_predict_and_evaluate(demo_dir, tmp_path, capsys):
    code, out, _ = run(["predict", str(demo_dir), "--row", "leukocyte_count=13",
                        "blood_pressure=12", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["prediction"] == "benign" and rows[0]["p(benign)"] > 0.8
    csv = tmp_path / "in.csv"
    csv.write_text("blood_pressure,leukocyte_count\n12,13\n16,10\n")
    code, out, _ = run(["predict", str(demo_dir), str(csv), "--csv"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "prediction,p(benign),p(malignant)"
    assert lines[1].startswith("benign,") and lines[2].startswith("malignant,")
    code, out, _ = run(["predict", str(demo_dir), str(csv)], capsys)
    assert code == 0 and "prediction" in out.splitlines()[0]
    from softmaxreg.datasets import make_tumors

    make_tumors(300, random_state=5).to_csv(tmp_path / "new.csv", index=False)
    code, out, _ = run(["evaluate", str(demo_dir), str(tmp_path / "new.csv"), "--target",
                        "tumor_class", "--json", "--figures", str(tmp_path)], capsys)
    assert code == 0
    metrics = json.loads(out)
    assert metrics["support"] == 300 and metrics["accuracy"] > 0.85
    assert metrics["figures"] == [str(tmp_path / f"evaluate_{n}.png")
                                  for n in ("confusion_matrix", "roc_curve", "pr_curve")]


def test_train_on_the_lessons_data(shared_data, tmp_path, capsys):
    out = tmp_path / "t"
    code, text, err = run(["train", str(shared_data / "tumors.csv"), "--target", "tumor_class",
                           "--seed", "0", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"]["test"] >= 0.94
    code, text, _ = run(["predict", str(out), "--row", "leukocyte_count=13",
                         "blood_pressure=12", "--json"], capsys)
    assert json.loads(text)[0]["prediction"] == "benign"


def test_spirals_give_three_probability_columns(shared_data, tmp_path, capsys):
    out = tmp_path / "s"
    code, _, err = run(["train", str(shared_data / "spiral.csv"), "--target", "color",
                        "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    code, text, _ = run(["predict", str(out), str(shared_data / "spiral.csv"), "--csv"], capsys)
    header = text.splitlines()[0]
    assert header == "prediction,p(c1),p(c2),p(c3)"
    probs = np.array([[float(v) for v in ln.split(",")[1:]] for ln in text.splitlines()[1:]])
    assert probs.shape == (1500, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_the_report_speaks_of_the_users_own_target(tmp_path, capsys):
    """The lesson's tumour sentence is for the lesson's data; other data gets its own
    target's name."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "")
                                                  .replace(" ", "_"))
    frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    frame.to_csv(tmp_path / "iris.csv", index=False)
    code, out, err = run(["train", str(tmp_path / "iris.csv"), "--target", "target",
                          "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    assert "tumour" not in out
    assert re.search(r"^  predicted target = (setosa|versicolor|virginica), with probability "
                     r"\d+%$", out, re.M), out


# ------------------------------------------------------------------------------ errors


@pytest.fixture
def csvs(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n"
                                            for i in range(40)))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,label\n")
    (tmp_path / "text.csv").write_text("a,b,label\n1,2,x\n1,oops,y\n")
    (tmp_path / "one.csv").write_text("a,b,label\n1,2,x\n3,4,x\n")
    return tmp_path


@pytest.mark.parametrize(("args", "message"), [
    (["train", "{d}/missing.csv", "--target", "label"], "no such file"),
    (["train", "{d}/empty.csv", "--target", "label"], "is empty"),
    (["train", "{d}/header.csv", "--target", "label"], "has a header but no rows"),
    (["train", "{d}/good.csv", "--target", "lable"], "did you mean 'label'"),
    (["train", "{d}/good.csv", "--target", "label", "--features", "a,c"], "no column 'c'"),
    (["train", "{d}/text.csv", "--target", "label"], "column 'b' must be numeric, but row 3"),
    (["train", "{d}/one.csv", "--target", "label"], "only one class"),
    (["train", "{d}/good.csv", "--target", "label", "--backend", "tensorflow"],
     "unknown `backend` 'tensorflow'"),
    (["train", "{d}/good.csv", "--target", "label", "--backend", "torch", "--device", "cuda"],
     "no CUDA GPU answers here"),
    (["train", "{d}/good.csv"], "the following arguments are required: --target"),
    (["predict", "{d}"], "is not a softmaxreg model folder"),
    (["predict", "{d}/nothing"], "is not a softmaxreg model folder"),
    (["evaluate", "{d}", "{d}/good.csv", "--target", "label"], "not a softmaxreg model folder"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["train", "{d}/good.csv", "--target", "label", "--val-size", "0.5", "--test-size", "0.5"],
     "--val-size 0.5 and --test-size 0.5 leave no rows to train on"),
    (["train", "{d}/good.csv", "--target", "label", "--val-size", "-0.1"],
     "argument --val-size: must be a fraction from 0 up to (not including) 1, got '-0.1'"),
    (["train", "{d}/good.csv", "--target", "label", "--test-size", "1"],
     "argument --test-size: must be a fraction"),
    (["train", "{d}/good.csv", "--target", "label", "--cv", "1"],
     "argument --cv: must be a number of folds, an integer >= 2, got '1'"),
    (["train", "{d}/good.csv", "--target", "label", "--cv", "3", "--test-size", "0.2"],
     "--cv 3 scores the model by cross-validation instead of a test split"),
    (["train", "{d}/good.csv", "--target", "label", "--val-size", "0", "--early-stopping"],
     "--early-stopping watches the validation split, and --val-size 0 leaves none"),
    (["train", "{d}/good.csv", "--target", "label", "--val-size", "0", "--refit-full"],
     "--refit-full chooses the epoch count on the validation split"),
    (["train", "{d}/good.csv", "--target", "label", "--test-size", "0.01"],
     "--test-size = 0.01 leaves the test split 1 of 40 rows, fewer than the 2 classes"),
    (["train", "{d}/good.csv", "--target", "label", "--cv", "30"],
     "--cv = 30 folds need at least 30 rows of every class; 'x' has 20"),
])
def test_user_mistakes_are_one_line_and_status_2(args, message, csvs, capsys):
    if "cuda" in args:
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU, so cuda is not a mistake here")
    argv = [a.format(d=csvs) for a in args]
    code, out, err = run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("softmaxreg: error: "), err
    assert message in lines[0]
    assert "Traceback" not in err
    assert not list(Path.cwd().glob("softmaxreg-train-*"))


def test_predict_row_mistakes(demo_dir, capsys):
    for row, message in [
        (["leukocyte_count=13"], "missing feature(s) blood_pressure"),
        (["leukocyte_count=13", "blod_pressure=1"], "did you mean 'blood_pressure'"),
        (["leukocyte_count=x", "blood_pressure=1"], "must be a number"),
        (["leukocyte_count"], "NAME=VALUE pairs"),
    ]:
        code, _, err = run(["predict", str(demo_dir), "--row", *row], capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_force_replaces_only_a_folder_softmaxreg_wrote(tmp_path, capsys):
    out = tmp_path / "keep"
    out.mkdir()
    (out / "mine.txt").write_text("precious")
    code, _, err = run(["demo", "--out", str(out), "--quiet"], capsys)
    assert code == 2 and "already exists and was not written by softmaxreg" in err
    code, _, err = run(["demo", "--out", str(out), "--quiet", "--force"], capsys)
    assert code == 2 and "was not written by softmaxreg" in err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    assert (out / "mine.txt").read_text() == "precious"
    ours = tmp_path / "ours"
    assert run(["demo", "--out", str(ours), "--quiet", "--solver", "lbfgs"], capsys)[0] == 0
    code, _, err = run(["demo", "--out", str(ours), "--quiet"], capsys)
    assert code == 2 and "already exists; pass --force" in err
    assert run(["demo", "--out", str(ours), "--quiet", "--force"], capsys)[0] == 0
    assert (ours / "model.npz").exists() and (ours / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep", "ours"]  # no temporaries


def test_a_folder_that_appears_during_training_is_kept(tmp_path, capsys, monkeypatch):
    import softmaxreg.workflow as wf

    out = tmp_path / "run"
    real = wf.train_model

    def meanwhile(*args, **kwargs):
        out.mkdir(exist_ok=True)  # another program takes the name while we train
        (out / "theirs.txt").write_text("theirs")
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_module, "train_model", meanwhile)
    code, _, err = run(["demo", "--out", str(out), "--quiet", "--solver", "lbfgs"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "another program" in err
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_two_runs_in_the_same_second_keep_both_results(tmp_path, capsys, monkeypatch):
    """The second run starts and finishes while the first trains, both with the default name."""
    import time

    import softmaxreg.workflow as wf

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20250101-120000")
    real = wf.train_model
    inner = []

    def with_a_second_run(*args, **kwargs):
        if not inner:
            inner.append("started")
            inner[0] = main(["demo", "--quiet", "--solver", "lbfgs", "--seed", "2"])
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_module, "train_model", with_a_second_run)
    code, out, err = run(["demo", "--quiet", "--solver", "lbfgs", "--seed", "1"], capsys)
    assert code == 0 and inner == [0], err
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["softmaxreg-demo-20250101-120000", "softmaxreg-demo-20250101-120000-2"]
    for name in folders:
        assert (tmp_path / name / "model.npz").exists() and (tmp_path / name / MARKER).exists()
    assert "wrote" in out and out.count("to softmaxreg-demo-20250101-120000") == 2


def test_results_respect_the_umask(tmp_path, capsys):
    old = os.umask(0o027)
    try:
        assert run(["demo", "--out", str(tmp_path / "r"), "--quiet", "--solver", "lbfgs"],
                   capsys)[0] == 0
    finally:
        os.umask(old)
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o750
    for f in (tmp_path / "r").iterdir():
        assert f.stat().st_mode & 0o777 == 0o640, f.name


def test_closed_stdout_keeps_the_results(tmp_path, capsys, monkeypatch):
    """Like `softmaxreg demo | head -1`: the reader goes away after the first line."""

    class Head:
        lines = 0

        def write(self, text):
            if self.lines >= 1:
                raise BrokenPipeError(32, "Broken pipe")
            self.lines += text.count("\n")
            return len(text)

        def flush(self):
            if self.lines >= 1:
                raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Head())
    out = tmp_path / "run"
    code = main(["demo", "--out", str(out), "--solver", "gd"])
    assert code == 0
    assert capsys.readouterr().err == ""
    written = {p.name for p in out.iterdir()}
    assert {"model.npz", "preprocess.json", "metrics.json", MARKER} <= written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_pipe_to_head_keeps_the_results(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "softmaxreg", "demo", "--out", str(out),
                             "--solver", "gd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    first = proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, err
    assert first.startswith(b"softmaxreg demo") and err == ""
    assert (out / "model.npz").exists() and (out / "preprocess.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_sigterm_leaves_nothing_behind(tmp_path):
    import signal
    import time

    code = ("import time, softmaxreg.workflow as w\n"
            "w.train_model = lambda *a, **k: time.sleep(60)\n"
            "from softmaxreg.cli import main\n"
            "raise SystemExit(main(['demo', '--quiet', '--out', 'run']))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.splitlines() == ["softmaxreg: terminated; nothing half-written was left behind"]
    assert list(tmp_path.iterdir()) == []


def test_evaluate_accepts_a_test_set_of_one_class(demo_dir, tmp_path, capsys):
    from softmaxreg.datasets import make_tumors

    df = make_tumors(200, random_state=3)
    df[df.tumor_class == "benign"].to_csv(tmp_path / "benign.csv", index=False)
    code, out, err = run(["evaluate", str(demo_dir), str(tmp_path / "benign.csv"), "--target",
                          "tumor_class", "--json", "--figures", str(tmp_path)], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert list(metrics["classes"]) == ["benign"]  # metrics for the classes present
    assert metrics["classes"]["benign"]["support"] == (df.tumor_class == "benign").sum()
    assert metrics["weighted avg"]["recall"] == pytest.approx(metrics["accuracy"])
    assert metrics["confusion_matrix"]["labels"] == ["benign", "malignant"]
    assert metrics["confusion_matrix"]["matrix"][1] == [0, 0]  # no malignant rows
    # no ROC or precision-recall curve of one class
    assert [Path(f).name for f in metrics["figures"]] == ["evaluate_confusion_matrix.png"]
    code, out, err = run(["evaluate", str(demo_dir), str(tmp_path / "benign.csv"), "--target",
                          "tumor_class", "--figures", str(tmp_path)], capsys)
    assert code == 0 and "no ROC or precision-recall curve: the data holds one class" in out


def test_every_row_value_is_given_once(demo_dir, capsys):
    code, _, err = run(["predict", str(demo_dir), "--row", "leukocyte_count=13",
                        "--row", "blood_pressure=12"], capsys)
    assert code == 2 and "--row given twice" in err


def test_failure_midway_leaves_no_folder(tmp_path, capsys, monkeypatch):

    def boom(*args, **kwargs):
        raise ValueError("`learning_rate` is too large for this data")

    monkeypatch.setattr(cli_module, "train_model", boom)
    code, _, err = run(["demo", "--out", str(tmp_path / "x"), "--quiet"], capsys)
    assert code == 2 and "too large" in err
    assert list(tmp_path.iterdir()) == []


def test_subprocess_entry_points(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"}
    ok = subprocess.run([sys.executable, "-m", "softmaxreg", "demo", "--out",
                         str(tmp_path / "d"), "--quiet", "--solver", "lbfgs"],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "the probability that you have a benign tumour is" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "softmaxreg", "predict", str(tmp_path / "nope"),
                          "--row", "a=1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("backend", ["torch", "jax", "dask"])
def test_demo_on_other_backends(backend, tmp_path, capsys):
    pytest.importorskip({"dask": "dask.array"}.get(backend, backend))
    out = tmp_path / backend
    code, text, err = run(["demo", "--backend", backend, "--solver", "lbfgs", "--out", str(out),
                           "--quiet"], capsys)
    assert code == 0, err
    assert f"on {backend}" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"]["test"] > 0.9
    assert metrics["inference"]["prediction"] == "benign"


def test_class_weight_and_early_stopping_options(csvs, capsys):
    """--class-weight none and --no-early-stopping reach the saved model; help shows
    the defaults."""
    from softmaxreg.workflow import load_bundle

    data = str(csvs / "good.csv")
    code, _, err = run(["train", data, "--target", "label", "--out", str(csvs / "a"), "--quiet",
                        "--solver", "adam", "--epochs", "7", "--no-early-stopping",
                        "--class-weight", "none"], capsys)
    assert code == 0, err
    model = load_bundle(csvs / "a").pipeline.steps[-1][1]
    assert model.class_weight is None and model.early_stopping is False
    assert model.n_iter_ == 7 and model.validation_curve_ == []
    code, _, err = run(["train", data, "--target", "label", "--out", str(csvs / "b"),
                        "--quiet", "--solver", "adam"], capsys)
    assert code == 0, err
    model = load_bundle(csvs / "b").pipeline.steps[-1][1]
    assert model.class_weight == "balanced" and model.early_stopping is True
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: 1.0)", "(default: balanced)", "(default: 1234)", "(default: 100)"):
        assert shown in text


def test_batch_predict_streams_a_file_in_chunks(csvs, capsys):
    import pandas as pd

    from softmaxreg.workflow import load_bundle, predict_table

    data = csvs / "good.csv"
    code, _, err = run(["train", str(data), "--target", "label", "--out", str(csvs / "m"),
                        "--quiet"], capsys)
    assert code == 0, err
    expected = predict_table(load_bundle(csvs / "m").pipeline,
                             pd.read_csv(data)[["a", "b"]])
    for name in ("p.csv", "p.parquet"):
        out = csvs / name
        code, text, err = run(["predict", str(csvs / "m"), str(data), "--out", str(out),
                               "--chunk-rows", "7"], capsys)
        assert code == 0, err
        assert "wrote 40 predictions" in text
        got = pd.read_csv(out) if name.endswith(".csv") else pd.read_parquet(out)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    before = (csvs / "p.csv").read_bytes()
    code, _, err = run(["predict", str(csvs / "m"), str(data), "--out", str(csvs / "p.csv")],
                       capsys)
    assert code == 2 and "add --force" in err and len(err.splitlines()) == 1
    assert (csvs / "p.csv").read_bytes() == before
    bad = csvs / "bad.csv"
    lines = data.read_text().splitlines()
    lines[30] = "1,oops,x"  # file line 31, in the fifth chunk of 7 rows
    bad.write_text("\n".join(lines) + "\n")
    code, _, err = run(["predict", str(csvs / "m"), str(bad), "--out", str(csvs / "q.csv"),
                        "--chunk-rows", "7"], capsys)
    assert code == 2 and "row 31" in err
    assert not (csvs / "q.csv").exists()  # nothing half-written
    assert not [p for p in csvs.iterdir() if p.name.startswith(".q.csv")]


def test_info_describes_a_run_folder(csvs, capsys):
    import hashlib

    data = csvs / "good.csv"
    code, _, err = run(["train", str(data), "--target", "label", "--out", str(csvs / "m"),
                        "--quiet", "--class-weight", "none"], capsys)
    assert code == 0, err
    code, text, err = run(["info", str(csvs / "m"), "--json"], capsys)
    assert code == 0, err
    facts = json.loads(text)
    assert facts["target"] == "label" and facts["features"] == ["a", "b"]
    assert facts["classes"] == ["x", "y"] and facts["model"]["class_weight"] is None
    saved = json.loads((csvs / "m" / "metrics.json").read_text())
    assert facts["accuracy"] == saved["accuracy"]
    digest = hashlib.sha256((csvs / "m" / "model.npz").read_bytes()).hexdigest()
    assert facts["files"]["model.npz"] == digest
    code, text, _ = run(["info", str(csvs / "m")], capsys)
    assert code == 0 and "target 'label', 2 features (a, b)" in text
    (csvs / "m" / "preprocess.json").write_text("{}")  # an edited folder: the loader's error
    code, _, err = run(["info", str(csvs / "m")], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "preprocess.json" in err


def test_split_sizes_reach_the_split_and_the_model(csvs, capsys):
    from softmaxreg.workflow import load_bundle

    data = str(csvs / "good.csv")
    code, _, err = run(["train", data, "--target", "label", "--out", str(csvs / "a"), "--quiet",
                        "--val-size", "0.2", "--test-size", "0.1"], capsys)
    assert code == 0, err
    saved = json.loads((csvs / "a" / "metrics.json").read_text())
    assert saved["sizes"] == {"train": 28, "val": 8, "test": 4}
    assert load_bundle(csvs / "a").pipeline.steps[-1][1].early_stopping is True
    code, text, err = run(["train", data, "--target", "label", "--out", str(csvs / "b"),
                           "--quiet", "--val-size", "0", "--test-size", "0"], capsys)
    assert code == 0, err
    saved = json.loads((csvs / "b" / "metrics.json").read_text())
    assert saved["sizes"] == {"train": 40} and saved["test"] is None
    assert "no test split (--test-size 0)" in text
    model = load_bundle(csvs / "b").pipeline.steps[-1][1]
    assert model.early_stopping is False and model.validation_curve_ == []


def test_cv_scores_held_out_folds(tmp_path, capsys):
    """Random labels on more features than rows: the model fits its training rows, but
    held-out folds are a coin toss, so a cross-validation that scored training rows
    would show it."""
    rng = np.random.default_rng(0)
    cols = {f"f{i}": rng.normal(size=48) for i in range(60)}
    import pandas as pd

    pd.DataFrame({**cols, "y": rng.permutation(["a", "b"] * 24)}).to_csv(
        tmp_path / "noise.csv", index=False)
    code, text, err = run(["train", str(tmp_path / "noise.csv"), "--target", "y", "--out",
                           str(tmp_path / "r"), "--quiet", "--cv", "3", "--val-size", "0",
                           "--C", "1e6", "--max-iter", "500"], capsys)
    assert code == 0, err
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    cv = saved["cv"]
    assert cv["folds"] == 3 and len(cv["accuracy"]) == 3
    assert cv["mean"] == pytest.approx(np.mean(cv["accuracy"]))
    assert cv["std"] == pytest.approx(np.std(cv["accuracy"]))
    assert saved["accuracy"]["train"] >= 0.95 and cv["mean"] < 0.8
    assert saved["test"] is None and "test" not in saved["sizes"]
    assert f"cross-validation, 3 stratified folds: accuracy {cv['mean']:.3f}" in text


def test_refit_full_trains_on_train_and_val_for_the_chosen_count(tmp_path, capsys):
    import pandas as pd

    from softmaxreg.data import split_rows
    from softmaxreg.datasets import make_tumors
    from softmaxreg.workflow import _kept_iteration, load_bundle

    df = make_tumors(400, random_state=7)
    df.to_csv(tmp_path / "t.csv", index=False)
    common = ["train", str(tmp_path / "t.csv"), "--target", "tumor_class", "--quiet",
              "--solver", "gd", "--epochs", "300", "--learning-rate", "0.5"]
    code, _, err = run([*common, "--out", str(tmp_path / "chosen")], capsys)
    assert code == 0, err
    chosen = load_bundle(tmp_path / "chosen").pipeline.steps[-1][1]
    count = _kept_iteration(chosen.validation_curve_, chosen.tol)
    assert 1 < count < 300
    code, text, err = run([*common, "--refit-full", "--out", str(tmp_path / "full")], capsys)
    assert code == 0, err
    saved = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert saved["refit"]["iterations"] == count and saved["refit"]["rows"] == 340
    assert set(saved["accuracy"]) == {"train+val", "test"}
    assert f"refit on train+val (340 rows) for the {count} epochs" in text
    bundle = load_bundle(tmp_path / "full")
    model = bundle.pipeline.steps[-1][1]
    assert model.n_iter_ == count and model.early_stopping is False
    parts = split_rows(df.tumor_class, random_state=1234)
    rows = np.concatenate([parts["train"], parts["val"]])
    features = ["leukocyte_count", "blood_pressure"]
    np.testing.assert_allclose(bundle.pipeline.steps[0][1].mean_,
                               df[features].iloc[rows].mean(), rtol=1e-12)
    assert not np.allclose(bundle.pipeline.steps[0][1].mean_,
                           df[features].iloc[parts["train"]].mean(), rtol=1e-6)
    assert isinstance(pd.read_json(tmp_path / "full" / "metrics.json", typ="series"), pd.Series)


def _stdin(monkeypatch, text):
    """Standard input holding ``text`` (a text stream with a byte buffer, as sys.stdin)."""
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_parquet_and_standard_input_train_without_dask(csvs, capsys, monkeypatch):
    import pandas as pd

    data = csvs / "good.csv"
    pd.read_csv(data).to_parquet(csvs / "good.parquet")
    code, _, err = run(["train", str(data), "--target", "label", "--out", str(csvs / "c"),
                        "--quiet"], capsys)
    assert code == 0, err
    expected = json.loads((csvs / "c" / "metrics.json").read_text())["accuracy"]
    runs = [(str(csvs / "good.parquet"), []), ("-", ["--engine", "pandas"])]
    if importlib.util.find_spec("polars") is not None:  # each engine is compared in test_workflow
        runs.append(("-", ["--engine", "polars"]))
    for k, (source, engine) in enumerate(runs):
        _stdin(monkeypatch, data.read_text())
        code, text, err = run(["train", source, "--target", "label", "--out", str(csvs / f"p{k}"),
                               "--quiet", *engine], capsys)
        assert code == 0, err
        name = "standard input" if source == "-" else source
        assert text.startswith(f"softmaxreg train: 40 rows of {name}")
        assert json.loads((csvs / f"p{k}" / "metrics.json").read_text())["accuracy"] == expected
    _stdin(monkeypatch, "a,b\n1,2\n7,1\n")
    code, text, err = run(["predict", str(csvs / "c"), "-", "--csv"], capsys)
    assert code == 0, err
    assert text.splitlines()[0] == "prediction,p(x),p(y)" and len(text.splitlines()) == 3
    code, text, err = run(["evaluate", str(csvs / "c"), str(csvs / "good.parquet"), "--target",
                           "label"], capsys)
    assert code == 0, err
    code, text, err = run(["predict", str(csvs / "c"), str(csvs / "good.parquet"), "--out",
                           str(csvs / "pred.csv"), "--chunk-rows", "9"], capsys)
    assert code == 0 and "wrote 40 predictions" in text, err
    for argv, message in [
        (["train", str(csvs / "good.parquet"), "--target", "label", "--backend", "dask",
          "--engine", "pandas"], "--engine pandas reads tables into memory; with --backend dask"),
        (["predict", str(csvs / "c"), str(data), "--out", str(csvs / "q.csv"), "--engine",
          "pandas"], "--engine pandas reads whole tables; --out reads INPUT in chunks"),
        (["train", str(csvs / "text.csv"), "--target", "label", "--engine", "pandas"],
         "column 'b' must be numeric, but row 3 of"),
    ]:
        code, _, err = run(argv, capsys)
        assert code == 2 and message in err and len(err.splitlines()) == 1, err
    _stdin(monkeypatch, "")
    code, _, err = run(["train", "-", "--target", "label"], capsys)
    assert code == 2 and "standard input is empty" in err


def test_evaluate_tables_match_scikit_learn(csvs, capsys):
    """The table and the JSON hold scikit-learn's numbers for the model's probabilities;
    the figures land in the run folder, whole."""
    import pandas as pd
    from sklearn.metrics import classification_report, confusion_matrix, log_loss

    from softmaxreg.workflow import load_bundle

    data = csvs / "good.csv"
    assert run(["train", str(data), "--target", "label", "--out", str(csvs / "m"), "--quiet"],
               capsys)[0] == 0
    df = pd.read_csv(data)
    proba = load_bundle(csvs / "m").pipeline.predict_proba(df[["a", "b"]])
    pred = np.array(["x", "y"])[proba.argmax(axis=1)]
    report = classification_report(df.label, pred, output_dict=True)
    code, out, err = run(["evaluate", str(csvs / "m"), str(data), "--target", "label", "--json"],
                         capsys)
    assert code == 0, err
    got = json.loads(out)
    for label in ("x", "y"):
        for key in ("precision", "recall", "f1-score", "support"):
            assert got["classes"][label][key] == pytest.approx(report[label][key])
    assert got["weighted avg"]["f1-score"] == pytest.approx(report["weighted avg"]["f1-score"])
    assert got["accuracy"] == pytest.approx(report["accuracy"])
    assert got["log_loss"] == pytest.approx(log_loss(df.label, proba))
    assert got["confusion_matrix"]["matrix"] == confusion_matrix(df.label, pred).tolist()
    for name in ("confusion_matrix", "roc_curve", "pr_curve"):
        assert (csvs / "m" / f"evaluate_{name}.png").read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(["evaluate", str(csvs / "m"), str(data), "--target", "label"], capsys)
    x = report["x"]
    assert (f"x                {x['precision']:.4f}  {x['recall']:.4f}    {x['f1-score']:.4f}"
            in out)
    assert f"accuracy {report['accuracy']:.4f}  log loss {log_loss(df.label, proba):.4f}" in out
    code, _, err = run(["evaluate", str(csvs / "m"), str(data), "--target", "label",
                        "--figures", str(csvs / "no" / "plots")], capsys)
    assert code == 2 and "--figures" in err and not (csvs / "no").exists()
    code, _, err = run(["evaluate", str(csvs / "m"), str(data), "--target", "label",
                        "--figures", str(csvs / "plots")], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (csvs / "plots").iterdir()) == [
        "evaluate_confusion_matrix.png", "evaluate_pr_curve.png", "evaluate_roc_curve.png"]
    for command in ("demo", "train", "predict", "evaluate", "info"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:\n  softmaxreg " + command in capsys.readouterr().out
