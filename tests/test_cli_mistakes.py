"""Every command-line mistake: exit status 2, one line on stderr, nothing changed on disk.

Each case runs in a fresh copy of one workspace (the current folder ``proj``
holds an input CSV, a trained model folder, an earlier output folder and a
user's own folder; ``home`` stands for ``~``), and every file under the
workspace's root (cwd, its parent and ``~``) must keep its bytes, its mode and
its modification time.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from softmaxreg.cli import main
from softmaxreg.datasets import make_tumors

ROW = ["--row", "leukocyte_count=13", "blood_pressure=12"]


def _rewrite_meta(path: Path, change) -> None:
    """Edit the JSON metadata inside a model file, as a user with a text editor would."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def _rewrite_json(path: Path, change) -> None:
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def _npy_as_npz(path: Path) -> None:
    np.save(path.with_suffix(".npy"), np.ones(3))
    path.with_suffix(".npy").replace(path)


def _shift_mean(meta):
    meta["scaler"]["mean"][0] += 1.0


# name of a damaged copy of the model folder -> how it was damaged
DAMAGED = {
    "noparams": lambda d: _rewrite_meta(d / "model.npz", lambda m: m.pop("params")),
    "listparams": lambda d: _rewrite_meta(d / "model.npz",
                                          lambda m: m.__setitem__("params", [1, 2])),
    "names": lambda d: _rewrite_meta(d / "model.npz",
                                     lambda m: m.__setitem__("feature_names_in", ["b", "a"])),
    "scaler5": lambda d: _rewrite_json(d / "preprocess.json",
                                       lambda m: m.__setitem__("scaler", 5)),
    "swapped": lambda d: _rewrite_json(d / "preprocess.json",
                                       lambda m: m["features"].reverse()),
    "shifted": lambda d: _rewrite_json(d / "preprocess.json", _shift_mean),
    "pickled": lambda d: (d / "model.npz").write_bytes(pickle.dumps({"coef": [1.0]})),
    "npy": lambda d: _npy_as_npz(d / "model.npz"),
    "objects": lambda d: np.savez(d / "model.npz", coef=np.array([{"x": 1}], dtype=object),
                                  intercept=np.ones(1), classes=np.ones(1),
                                  meta=np.zeros(1, np.uint8)),
}

TRAIN = ["train", "data/tumors.csv", "--target", "tumor_class", "--quiet"]


def case(name, argv, message, **kwargs):
    """One mistake: its id, the command line, a fragment of the one error line."""
    return pytest.param(argv, message, id=name, **kwargs)


MISTAKES = [
    # 3. nothing the user owns is ever lost
    case("out-dot", [*TRAIN, "--out", ".", "--force"], "is the current folder"),
    case("out-dotdot", [*TRAIN, "--out", "..", "--force"], "holds the current folder"),
    case("out-home", [*TRAIN, "--out", "~", "--force"], "is your home folder"),
    case("out-input-folder", [*TRAIN, "--out", "data", "--force"], "holds the input"),
    case("out-input-file", [*TRAIN, "--out", "data/tumors.csv", "--force"], "is the input"),
    case("out-unmarked", [*TRAIN, "--out", "mine", "--force"], "was not written by softmaxreg"),
    case("out-unmarked-noforce", [*TRAIN, "--out", "mine"], "already exists"),
    case("out-exists", [*TRAIN, "--out", "earlier"], "already exists; pass --force"),
    case("out-no-parent", [*TRAIN, "--out", "nowhere/run"], "does not exist"),
    case("demo-out-dot", ["demo", "--quiet", "--out", ".", "--force"], "is the current folder"),
    # 4. one line, exit 2, no traceback
    # the kernel's overflow RuntimeWarning, recorded by train_model in a real run, is an
    # error under this suite's filterwarnings; the run must still end on the one line
    case("huge-learning-rate",
         [*TRAIN, "--solver", "gd", "--learning-rate", "1e308", "--out", "r"],
         "(got --learning-rate 1e+308)",
         marks=pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")),
    case("jax-cuda", [*TRAIN, "--backend", "jax", "--device", "cuda", "--out", "r"],
         "--device 'cuda' is not usable with --backend jax"),
    case("torch-foo", [*TRAIN, "--backend", "torch", "--device", "foo", "--out", "r"],
         "--device 'foo' is not usable with --backend torch"),
    case("device-without-backend", [*TRAIN, "--device", "cuda", "--out", "r"],
         "--device 'cuda' needs --backend"),
    case("dask-device", [*TRAIN, "--backend", "dask", "--device", "cuda", "--out", "r"],
         "--device 'cuda' needs --backend"),
    case("seed-negative", [*TRAIN, "--seed", "-1", "--out", "r"], "argument --seed"),
    case("batch-size-zero", [*TRAIN, "--batch-size", "0", "--out", "r"],
         "--batch-size must be an integer >= 1, got 0"),
    case("C-zero", [*TRAIN, "--C", "0", "--out", "r"], "--C must be a number > 0.0"),
    case("epochs-zero", [*TRAIN, "--epochs", "0", "--out", "r"],
         "--epochs must be at least 1, got 0"),
    case("semicolon-csv", ["train", "data/semicolons.csv", "--target", "tumor_class",
                           "--quiet", "--out", "r"],
         "the file looks separated by ';', not commas"),
    case("features-twice", [*TRAIN, "--features", "leukocyte_count,leukocyte_count",
                            "--out", "r"], "--features names 'leukocyte_count' more than once"),
    case("predict-out-no-folder", ["predict", "model", "data/tumors.csv", "--out",
                                   "nowhere/pred.csv"], "folder 'nowhere' does not exist"),
    case("row-twice", ["predict", "model", "--row", "leukocyte_count=13", "--row",
                       "blood_pressure=12"], "--row given twice"),
    case("row-name-twice", ["predict", "model", "--row", "leukocyte_count=13",
                            "leukocyte_count=14", "blood_pressure=12"],
         "names 'leukocyte_count' twice"),
    # 5. model files: integrity covers everything that changes a prediction
    *[case(f"model-{name}", ["predict", name, *ROW], "model.npz")
      for name in ("noparams", "listparams", "names", "pickled", "npy", "objects")],
    *[case(f"preprocess-{name}", ["predict", name, *ROW], "preprocess.json")
      for name in ("scaler5", "swapped", "shifted")],
    case("evaluate-damaged",
         ["evaluate", "shifted", "data/tumors.csv", "--target", "tumor_class"],
         "preprocess.json"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("mistakes")
    proj, home = root / "proj", root / "home"
    (proj / "data").mkdir(parents=True)
    home.mkdir()
    (home / "notes.txt").write_text("the user's home")
    (root / "sibling.txt").write_text("beside the project")
    make_tumors(200, random_state=0).to_csv(proj / "data" / "tumors.csv", index=False)
    make_tumors(20, random_state=0).to_csv(proj / "data" / "semicolons.csv", index=False,
                                          sep=";")
    (proj / "mine").mkdir()
    (proj / "mine" / "thesis.tex").write_text("precious")
    assert main(["train", str(proj / "data" / "tumors.csv"), "--target", "tumor_class",
                 "--quiet", "--out", str(proj / "model")]) == 0
    assert main(["demo", "--quiet", "--solver", "lbfgs", "--out", str(proj / "earlier")]) == 0
    for name, damage in DAMAGED.items():
        shutil.copytree(proj / "model", proj / name)
        damage(proj / name)
    return root


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: a file's bytes, mode and mtime; a folder's mode.

    (A folder's own mtime changes when a run claims a name in it and gives it
    back; its entries are compared instead.)
    """
    entries = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        if p.is_file():
            entries[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(),
                                                 st.st_mode, st.st_mtime_ns)
        else:
            entries[str(p.relative_to(root))] = (None, st.st_mode, None)
    return entries


@pytest.mark.parametrize(("argv", "message"), MISTAKES)
def test_mistake_is_one_line_status_2_and_changes_nothing(argv, message, template, tmp_path,
                                                          monkeypatch, capsys):
    if "jax" in argv:
        jax = pytest.importorskip("jax")
        if any(d.platform == "gpu" for d in jax.devices()):
            pytest.skip("this machine has a GPU, so jax on cuda is not a mistake here")
    if "torch" in argv:
        pytest.importorskip("torch")
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root / "proj")
    monkeypatch.setenv("HOME", str(root / "home"))
    before = _snapshot(root)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("softmaxreg: error: "), err
    assert message in lines[0]
    assert _snapshot(root) == before


def test_backend_and_device_are_refused_before_the_data_is_read(template, tmp_path,
                                                                monkeypatch, capsys):
    """An unusable --device is refused before loading starts (not after a long read)."""
    pytest.importorskip("torch")
    monkeypatch.chdir(template / "proj")
    code = main(["train", "data/tumors.csv", "--target", "tumor_class", "--backend", "torch",
                 "--device", "foo", "--out", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert code == 2 and "--device 'foo' is not usable" in err
    assert "loading" not in out and "loading" not in err
    code = main(["train", "data/tumors.csv", "--target", "tumor_class", "--C", "-1",
                 "--out", str(tmp_path / "r")])  # the model's options too
    out, err = capsys.readouterr()
    assert code == 2 and "--C must be a number > 0.0, got -1.0" in err
    assert "loading" not in out + err and "training" not in out + err


def test_no_class_weights_are_reported_without_them(template, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(template / "proj")
    code = main(["train", "data/tumors.csv", "--target", "tumor_class", "--class-weight",
                 "none", "--max-iter", "3", "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 0
    assert "class weights: none" in out and "1/count" not in out
