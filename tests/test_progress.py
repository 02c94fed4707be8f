"""The progress display: plain lines off a terminal, a live display on one, nothing
with --quiet; loading progress shows while the table is still being read."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest

import softmaxreg.cli as cli_module
import softmaxreg.data as data_module
from softmaxreg._progress import Reporter
from softmaxreg.cli import main

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FIT_LINE = "[SoftmaxRegression(adam)] iter {it:4d}  loss 0.5{it}  val_loss 0.6{it}  ({secs}s)\n"


class Events:
    """One ordered log of what was printed and what the reader did."""

    def __init__(self):
        self.log: list[tuple[str, str]] = []

    def write(self, text: str) -> int:
        if text.strip():
            self.log.append(("out", text.strip()))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_loading_progress_shows_before_the_table_is_read(tmp_path, monkeypatch):
    """300,000 rows (4 MB, 6 chunks): a progress line below 100% is printed before the
    reader has finished, and the loaded table is the file's."""
    rng = np.random.default_rng(0)
    n = 300_000
    df = pd.DataFrame({"a": rng.normal(size=n).round(6), "b": rng.integers(0, 9, size=n),
                       "y": np.where(rng.random(n) < 0.5, "p", "q")})
    df.to_csv(tmp_path / "big.csv", index=False)
    events = Events()
    monkeypatch.setattr("sys.stdout", events)
    real_select = data_module.select_features

    def select_after_reading(*args, **kwargs):
        events.log.append(("reader", "finished"))
        return real_select(*args, **kwargs)

    def stop(X, y, **kwargs):  # the test is about loading: no training needed
        assert len(X) == n and X.b.sum() == df.b.sum()
        raise ValueError("stopped after loading")

    monkeypatch.setattr(data_module, "select_features", select_after_reading)
    monkeypatch.setattr(cli_module, "train_model", stop)
    assert main(["train", str(tmp_path / "big.csv"), "--target", "y",
                 "--out", str(tmp_path / "r")]) == 2
    finished = events.log.index(("reader", "finished"))
    before = [text for kind, text in events.log[:finished] if kind == "out"]
    partial = [t for t in before if re.fullmatch(r"loading .*big.csv: [\d.]+ [kM]B of [\d.]+ MB "
                                                 r"\([1-9]\d?%\)", t)]
    assert partial, events.log[:finished]
    assert before[-1].startswith("loading") and "(100%) in " in before[-1]
    assert not (tmp_path / "r").exists()


def test_plain_lines_and_nothing_when_quiet(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n"
                                           for i in range(40)))
    assert main(["train", str(csv), "--target", "label", "--out", str(tmp_path / "a"),
                 "--solver", "adam", "--epochs", "5", "--no-early-stopping"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("loading ") and "d.csv:" in out
    assert "[SoftmaxRegression(adam)] iter    1" in out
    assert "\x1b[" not in out and "\r" not in out  # plain text for a pipe or a log
    assert main(["train", str(csv), "--target", "label", "--out", str(tmp_path / "b"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("softmaxreg train: 40 rows")
    assert "loading" not in out and "iter" not in out


def test_training_lines_gain_the_time_left(capsys):
    reporter = Reporter(io.StringIO())
    reporter.iteration(5, 20, "epoch", "0.5", None, 2.0,
                       "[SoftmaxRegression(adam)] iter    5  loss 0.5  (2.0s)")
    assert reporter.stream.getvalue() == (
        "[SoftmaxRegression(adam)] iter    5  loss 0.5  (2.0s, at most 6.0s left)\n")


def test_a_terminal_gets_live_bars(monkeypatch, capsys):
    pytest.importorskip("rich", reason="rich draws the live display (the `workflow` extra)")
    monkeypatch.setenv("COLUMNS", "120")
    stream = io.StringIO()
    with Reporter(stream, fancy=True) as reporter:
        reporter.loading("big.csv")(500, 1000, "bytes")
        with reporter.fitting(10, "epoch"):
            for it in (1, 2, 3):
                print(FIT_LINE.format(it=it, secs=f"0.{it}"), end="")
            print("a line that is not an iteration")
    frames = ANSI.sub("", stream.getvalue()).split("\r")
    last = frames[-1]
    assert "loading" in last and "big.csv: 500 B of 1.0 kB" in last
    assert "training" in last and "epoch 3/10  loss 0.53  val 0.63" in last
    assert "100%" in last.split("training")[1]  # stopped early: the bar is full
    assert "a line that is not an iteration" in ANSI.sub("", stream.getvalue())
    assert "[SoftmaxRegression" not in stream.getvalue()  # turned into the bar
    assert capsys.readouterr().out == ""


def test_dask_computations_are_counted(tmp_path, capsys):
    pytest.importorskip("dask.dataframe", reason="dask is optional (the `dask` extra)")
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n"
                                           for i in range(40)))
    assert main(["train", str(csv), "--target", "label", "--out", str(tmp_path / "a"),
                 "--backend", "dask"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^dask computation 1: \d+ of \d+ tasks$", out, re.M)
    summary = re.search(r"^dask (\d+) computations, (\d+) tasks in ", out, re.M)
    assert summary and int(summary[1]) > 5  # the loading and every L-BFGS evaluation
    assert out.index(summary[0]) < out.index("split sizes")  # before the report
