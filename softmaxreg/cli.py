"""The ``softmaxreg`` command line: ``demo``, ``train``, ``predict``, ``evaluate``.

A user's mistake (a missing file or column, a backend that is not installed,
an output folder that exists, a damaged model file) prints one line and exits
with status 2; no traceback, and no half-written output folder. SIGTERM and
Ctrl-C leave nothing half-written behind either, and a reader that goes away
(``| head``) does not stop a run: its output folder is still written whole.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._progress import Reporter
from ._version import __version__
from .backends import (
    asarray,
    available,
    import_backend,
    optional_import,
    parse_backend,
    to_numpy,
)
from .data import (
    ENGINES,
    LESSON_DEFAULTS,
    STDIN,
    load_table,
    load_table_lazily,
    read_chunks,
    read_table,
    select_features,
    source_name,
)
from .datasets import make_tumors
from .io import atomic_write

try:  # these need scikit-learn (the `workflow` extra); `main` says how to get it
    from .estimator import SoftmaxRegression, final_estimator
    from .metrics import evaluation
    from .plotting import (
        plot_confusion_matrix,
        plot_decision_boundary,
        plot_loss_curve,
        plot_pr_curve,
        plot_roc_curve,
    )
    from .workflow import (
        file_digest,
        load_bundle,
        output_folder,
        predict_table,
        save_bundle,
        train_model,
        unscaled_coefficients,
    )
except ImportError as exc:  # pragma: no cover - the test extra installs scikit-learn
    _WORKFLOW_MISSING: ImportError | None = exc
else:
    _WORKFLOW_MISSING = None

__all__ = ["main"]

EXIT_USAGE = 2
PATIENT = {"leukocyte_count": 13.0, "blood_pressure": 12.0}
# The demo trains on one fixed data set, as the lesson has one CSV; --seed seeds the split
# and the shuffling. Over make_tumors(1000, random_state=0..19), split with the default
# seed, the demo's test accuracy has median 0.977 (0.94 to 1.0) and p(benign) of PATIENT
# median 0.91 (0.87 to 0.95); data set 3 is a typical one (0.967, 91%; data sets 0-2 give
# 0.947, 0.967 and 0.940 with 92%, 89% and 87%). The lesson reports 0.98 and 93%.
DEMO_DATA_SEED = 3


class UsageError(Exception):
    """A mistake on the command line or in the user's files."""


class _Terminated(BaseException):
    """SIGTERM, raised where the program is so that every ``finally`` cleans up."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated


class _ShowDefaults(argparse.RawDescriptionHelpFormatter,
                    argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in its help, where it has one worth showing; the examples
    below the options keep their lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.required:
            return action.help or ""
        return super()._get_help_string(action) or ""


class _Parser(argparse.ArgumentParser):
    """One-line errors, and every option's default shown in its help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _ShowDefaults)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, status 2, no usage block
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _Once(argparse.Action):
    """An option that may be given once (argparse would keep the last silently)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if getattr(namespace, self.dest) is not None:
            parser.error(f"{option_string} given twice; give all its values after one "
                         f"{option_string}")
        setattr(namespace, self.dest, values)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        msg = f"must be an integer from 0 to 2**32 - 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        msg = f"must be a fraction from 0 up to (not including) 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _folds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        msg = f"must be a number of folds, an integer >= 2, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


class _Stdout:
    """``sys.stdout`` for one command. When the reader goes away (``| head``) the rest
    of the output goes to /dev/null and the command carries on, so a run's folder is
    still written whole, as a Unix tool would stop writing without an error."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._reader_left()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_left()

    def _reader_left(self) -> None:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)  # also what the interpreter flushes at exit
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _examples(*commands: str) -> str:
    return "examples:\n" + "\n".join(f"  {c}" for c in commands)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="softmaxreg", description="Softmax regression on any array backend.",
                epilog=_examples("softmaxreg demo", "softmaxreg train data.csv --target label",
                                 "softmaxreg COMMAND --help"))
    p.add_argument("--version", action="version", version=f"softmaxreg {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def training_options(q: argparse.ArgumentParser, solver: str) -> None:
        q.add_argument("--backend", default=None,
                       help="numpy (default), torch, jax, dask, cupy, array_api_strict")
        q.add_argument("--device", default=None, help="device on the backend, e.g. cuda")
        q.add_argument("--solver", default=solver, choices=["lbfgs", "gd", "sgd", "adam"])
        q.add_argument("--C", type=float, default=LESSON_DEFAULTS["C"], dest="C",
                       help="inverse L2 strength, as in scikit-learn")
        q.add_argument("--epochs", "--max-iter", type=int, default=LESSON_DEFAULTS["max_iter"],
                       dest="max_iter", help="epochs (gd/sgd/adam) or iterations (lbfgs)")
        q.add_argument("--learning-rate", type=float, default=LESSON_DEFAULTS["learning_rate"],
                       help="step size of gd, sgd and adam")
        q.add_argument("--batch-size", type=int, default=None,
                       help="rows per mini-batch for sgd/adam (default: all rows)")
        q.add_argument("--class-weight", choices=["balanced", "none"],
                       default=LESSON_DEFAULTS["class_weight"],
                       help="balanced: the lesson's 1/count weights; none: every row counts 1")
        q.add_argument("--early-stopping", action=argparse.BooleanOptionalAction,
                       default=None,
                       help="stop when the validation loss stops improving (keeps the best "
                            "epoch); --no-early-stopping trains for all --epochs (default: on "
                            "when --val-size is above 0)")
        q.add_argument("--val-size", type=_fraction, default=LESSON_DEFAULTS["val_size"],
                       metavar="F", help="fraction of the rows held out for validation "
                                         "(early stopping); 0: none")
        q.add_argument("--test-size", type=_fraction, default=None, metavar="F",
                       help=f"fraction of the rows held out for the test score; 0: none "
                            f"(default: {LESSON_DEFAULTS['test_size']}, 0 with --cv)")
        q.add_argument("--cv", type=_folds, default=None, metavar="K",
                       help="score the settings by stratified K-fold cross-validation "
                            "(mean and std of the accuracy) instead of a test split")
        q.add_argument("--refit-full", action="store_true",
                       help="after choosing the epoch count on the validation split, train "
                            "again on train+val for that count and save that model")
        q.add_argument("--seed", type=_seed, default=1234, help="seed for splits and shuffling")
        q.add_argument("--out", default=None, help="output folder (default: a new one here)")
        q.add_argument("--force", action="store_true",
                       help="replace an existing --out that softmaxreg wrote")
        q.add_argument("--quiet", action="store_true", help="no per-epoch lines")

    def engine_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--engine", choices=ENGINES, default=None,
                       help="library that reads the table into memory (default: pandas, with "
                            "pyarrow for Parquet; polars where pandas cannot read it)")

    demo = sub.add_parser("demo", help="the lesson's whole workflow on embedded tumour data",
                          epilog=_examples("softmaxreg demo",
                                           "softmaxreg demo --out run1 --quiet",
                                           "softmaxreg demo --backend torch --solver lbfgs",
                                           "softmaxreg demo --val-size 0.2 --refit-full"))
    training_options(demo, "adam")

    train = sub.add_parser(
        "train", help="the same workflow on your CSV or Parquet data",
        epilog=_examples("softmaxreg train data.csv --target label --out run1",
                         "softmaxreg train data.parquet --target label --features a,b,c",
                         "cat data.csv | softmaxreg train - --target label --engine polars",
                         "softmaxreg train data.csv --target label --cv 5 --val-size 0",
                         "softmaxreg train data.csv --target label --solver adam --refit-full",
                         "softmaxreg train 'data/*.parquet' --target label --backend dask "
                         "--scheduler tcp://host:8786"))
    train.add_argument("data", help="CSV or Parquet file, - for CSV on standard input (with "
                                    "--backend dask also a glob of CSV/Parquet files)")
    train.add_argument("--target", required=True, help="label column")
    train.add_argument("--features", default=None, help="comma-separated feature columns")
    engine_option(train)
    train.add_argument("--scheduler", default=None,
                       help="dask.distributed scheduler address (with --backend dask)")
    training_options(train, "lbfgs")

    pred = sub.add_parser(
        "predict", help="predict labels and probabilities with a saved model",
        epilog=_examples("softmaxreg predict run1 --row a=1.5 b=0.2",
                         "softmaxreg predict run1 new.csv --json",
                         "softmaxreg predict run1 - --csv < new.csv",
                         "softmaxreg predict run1 big.parquet --out predictions.parquet"))
    pred.add_argument("model", help="folder written by `softmaxreg train` or `demo`")
    pred.add_argument("input", nargs="?", default=None,
                      help="CSV or Parquet file with the feature columns (-: CSV on standard "
                           "input)")
    engine_option(pred)
    pred.add_argument("--row", nargs="+", default=None, metavar="NAME=VALUE", action=_Once,
                      help="one row given on the command line")
    fmt = pred.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON output")
    fmt.add_argument("--csv", action="store_true", help="CSV output")
    pred.add_argument("--out", default=None, metavar="FILE",
                      help="write the predictions of INPUT to FILE (.csv or .parquet), reading "
                           "INPUT in chunks of --chunk-rows rows, so it may exceed memory")
    pred.add_argument("--chunk-rows", type=int, default=100_000,
                      help="rows per chunk with --out")
    pred.add_argument("--force", action="store_true", help="replace an existing --out file")

    info = sub.add_parser("info", help="what a run folder holds: data, model, metrics, files",
                          epilog=_examples("softmaxreg info run1",
                                           "softmaxreg info run1 --json"))
    info.add_argument("model", help="folder written by `softmaxreg train` or `demo`")
    info.add_argument("--json", action="store_true", help="JSON output")

    ev = sub.add_parser(
        "evaluate", help="metrics of a saved model on labelled data",
        description="Per-class precision, recall, F1 and support, accuracy, log loss and\n"
                    "the confusion matrix of a saved model on labelled data. Writes the\n"
                    "confusion matrix (and, for two classes, ROC and precision-recall\n"
                    "curves) as PNG files into the run folder.",
        epilog=_examples("softmaxreg evaluate run1 test.csv --target label",
                         "softmaxreg evaluate run1 test.parquet --target label --json",
                         "softmaxreg evaluate run1 test.csv --target label --figures plots"))
    ev.add_argument("model", help="folder written by `softmaxreg train` or `demo`")
    ev.add_argument("data", help="labelled CSV or Parquet file (-: CSV on standard input)")
    ev.add_argument("--target", required=True, help="label column")
    engine_option(ev)
    ev.add_argument("--json", action="store_true", help="JSON output instead of tables")
    ev.add_argument("--figures", default=None, metavar="DIR",
                    help="folder for the evaluate_*.png figures, created if its parent exists "
                         "(default: the run folder)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    stdout = sys.stdout
    sys.stdout = _Stdout(stdout)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _dispatch(argv)
    finally:
        sys.stdout.flush()
        sys.stdout = stdout
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _dispatch(argv: list[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if _WORKFLOW_MISSING is not None:
            raise ImportError(f"softmaxreg {args.command} needs the workflow extra "
                              f"({_WORKFLOW_MISSING}): `pip install 'softmaxreg[workflow]'`")
        return {"demo": _demo, "train": _train, "predict": _predict, "info": _info,
                "evaluate": _evaluate}[args.command](args)
    except UsageError as exc:
        print(f"softmaxreg: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, ImportError, OSError, FloatingPointError) as exc:
        # user-facing errors of the library say what to do; keep them to one line
        text = " ".join(str(exc).split())
        print(f"softmaxreg: error: {text}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("softmaxreg: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 128 + signal.SIGINT
    except _Terminated:
        print("softmaxreg: terminated; nothing half-written was left behind", file=sys.stderr)
        return 128 + signal.SIGTERM


# --------------------------------------------------------------------------- helpers


def _check_backend(name: str | None, device: Any) -> None:
    """Refuse a backend or device that cannot run here, before any work starts."""
    if name is None:
        name = "numpy"

    lib, dev = parse_backend(name, device)

    import_backend(lib)  # ImportError with the install hint when missing
    if lib == "cupy" and "cupy" not in available():
        raise UsageError("backend 'cupy' needs a CUDA GPU; none answers here")
    if dev is None:
        return
    if lib in ("numpy", "dask") and dev != "cpu":
        raise UsageError(f"--device {dev!r} needs --backend torch, jax or cupy "
                         f"({lib} computes on the CPU)")
    if dev.startswith("cuda") and lib == "torch" and "torch:cuda" not in available():
        raise UsageError(f"backend {name!r} on device {dev!r}: no CUDA GPU answers here")
    try:
        asarray(np.zeros(1), backend=lib, device=dev)
    except Exception as exc:  # noqa: BLE001 - whatever the library says, the device is unusable
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--device {dev!r} is not usable with --backend {lib}: {reason}"
                         ) from None


#: library parameters as the command line spells them, for the library's messages
_OPTIONS = {"learning_rate": "--learning-rate", "val_size": "--val-size",
            "test_size": "--test-size", "cv": "--cv", "refit_full": "--refit-full",
            "early_stopping": "--early-stopping", "batch_size": "--batch-size", "C": "--C",
            "max_iter": "--epochs"}


def _check_model_options(args: argparse.Namespace) -> None:
    """The model's own checks of --C, --epochs, --learning-rate and --batch-size, made
    before any data is read, in the command line's words."""
    given = {"solver": args.solver, "C": args.C, "max_iter": args.max_iter,
             "learning_rate": args.learning_rate, "batch_size": args.batch_size}
    model = SoftmaxRegression(**{k: v for k, v in given.items() if v is not None})
    try:
        model._check_params()
    except (TypeError, ValueError) as exc:
        raise UsageError(_as_options(str(exc))) from None
    if args.max_iter == 0:  # the library allows it (a model at its starting point)
        raise UsageError("--epochs must be at least 1, got 0: no training would save the "
                         "untrained starting model")


def _as_options(text: str) -> str:
    for name, option in _OPTIONS.items():
        text = text.replace(f"`{name}`", option)
    return text


def _check_splits(args: argparse.Namespace) -> None:
    """Refuse split options that do not fit together, before any data is read."""
    if args.test_size is None:
        args.test_size = 0.0 if args.cv else LESSON_DEFAULTS["test_size"]
    if args.val_size + args.test_size >= 1:
        raise UsageError(f"--val-size {args.val_size:g} and --test-size {args.test_size:g} "
                         f"leave no rows to train on: together they must stay below 1")
    if args.cv and args.test_size:
        raise UsageError(f"--cv {args.cv} scores the model by cross-validation instead of a "
                         f"test split: drop --test-size {args.test_size:g} (or set it to 0)")
    if not args.val_size and args.early_stopping:
        raise UsageError("--early-stopping watches the validation split, and --val-size 0 "
                         "leaves none: drop one of them")
    if not args.val_size and args.refit_full:
        raise UsageError("--refit-full chooses the epoch count on the validation split, and "
                         "--val-size 0 leaves none: drop one of them")


def _default_out(kind: str) -> Path:
    """A new folder name here: the time, and -2, -3 ... when a run this second took it."""
    base = f"softmaxreg-{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while os.path.lexists(name := base if n == 1 else f"{base}-{n}"):
        n += 1
    return Path(name)


def _fmt_table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in cells)


def _report(result: Any, out: Path, *, inference: dict[str, float] | None
            ) -> tuple[list[str], list[str]]:
    """Write the figures, metrics and model into ``out``; return the report lines and files."""

    lines: list[str] = [""]
    say = lines.append
    classes = [str(c) for c in final_estimator(result.pipeline).classes_]
    sizes = result.extra["sizes"]
    rows = [[k, sizes[k]] + [result.class_ratios[k].get(c, 0.0) for c in classes]
            for k in sizes]
    say("split sizes and class ratios")
    say(_fmt_table(["split", "rows", *classes], rows))
    if final_estimator(result.pipeline).class_weight is not None:
        say("\nclass weights (the lesson's 1/count): "
              + ", ".join(f"{k} {v:.5f}" for k, v in result.lesson_class_weights.items()))
    else:
        say("\nclass weights: none (--class-weight none)")
    acc = result.accuracy
    refit = result.extra.get("refit")
    say("\naccuracy  " + "  ".join(f"{k} {v:.3f}"
                                    for k, v in (refit["accuracy_before"] if refit else acc)
                                    .items()))
    if refit:
        unit = "iterations" if final_estimator(result.pipeline).solver == "lbfgs" else "epochs"
        say(f"refit on train+val ({refit['rows']} rows) for the {refit['iterations']} {unit} "
            f"chosen on the validation split; this model is saved")
        say("accuracy after the refit  " + "  ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    cv = result.extra.get("cv")
    if cv:
        say(f"cross-validation, {cv['folds']} stratified folds: accuracy {cv['mean']:.3f} "
            f"± {cv['std']:.3f} (folds: {', '.join(f'{a:.3f}' for a in cv['accuracy'])})")
    if result.metrics is not None:
        say(f"\nmetrics on the test split ({sizes['test']} rows):")
        lines.extend(_evaluation_lines(result.metrics))
    elif not cv:
        say("no test split (--test-size 0): no test score")

    import pandas as pd  # optional: the `workflow` extra

    pipeline = result.pipeline
    if inference is None:
        first = next(result.splits[k][0] for k in ("test", "val", "train") if k in result.splits)
        inference = {k: float(v) for k, v in first.iloc[0].items()}
    table = predict_table(pipeline, pd.DataFrame([inference], columns=result.features))
    label = table["prediction"].iloc[0]
    p = table[f"p({label})"].iloc[0]
    given = ", ".join(f"{k}={v:g}" for k, v in inference.items())
    say(f"\ninference: {given}")
    if result.target == "tumor_class":  # the lesson's data: the lesson's words
        say(f"  predicted {label!s}: the probability that you have a {label!s} tumour is "
            f"{p:.0%}")
    else:
        say(f"  predicted {result.target} = {label!s}, with probability {p:.0%}")

    W, b = unscaled_coefficients(pipeline)
    say("\nweights in original units (W / scale, b - sum(W / scale * mean))")
    say(_fmt_table(["class", *result.features, "bias"],
                     [[c, *map(float, W[i]), float(b[i])] for i, c in enumerate(classes)]))


    written = ["metrics.json", "loss_curve.png", "model.npz", "preprocess.json"]
    if len(result.features) == 2:
        _boundary_figure(pipeline, result, out / "decision_boundary.png", plot_decision_boundary)
        written.insert(0, "decision_boundary.png")
    plot_loss_curve(pipeline, path=out / "loss_curve.png")
    if "test_predictions" in result.extra:
        y_test, proba = result.extra["test_predictions"]
        written += _metric_figures(y_test, proba, final_estimator(pipeline).classes_, out, "",
                                   title="confusion matrix, test split")
    written.sort()
    payload = {"accuracy": acc, "test": result.metrics, "sizes": sizes,
               "class_ratios": result.class_ratios,
               "inference": {"input": inference, "prediction": str(label),
                             "probability": float(p)}}
    for key in ("cv", "refit"):
        if result.extra.get(key):
            payload[key] = result.extra[key]
    (out / "metrics.json").write_text(json.dumps(payload, indent=2))
    save_bundle(out, pipeline, target=result.target)
    return lines, written


def _evaluation_lines(ev: dict[str, Any]) -> list[str]:
    """metrics.evaluation as tables: per class and averages, then the confusion matrix."""
    def row(name: str, scores: dict[str, Any]) -> list[str]:
        return [name, *(f"{scores[k]:.4f}" for k in ("precision", "recall", "f1-score")),
                str(scores["support"])]

    rows = [row(label, scores) for label, scores in ev["classes"].items()]
    rows += [row(name, ev[name]) for name in ("macro avg", "weighted avg")]
    lines = [_fmt_table(["class", "precision", "recall", "f1-score", "support"], rows), ""]
    lines.append(f"accuracy {ev['accuracy']:.4f}  log loss {ev['log_loss']:.4f}  "
                 f"rows {ev['support']}")
    cm = ev["confusion_matrix"]
    lines.append("\nconfusion matrix (rows: true class, columns: predicted class)")
    lines.append(_fmt_table(["", *cm["labels"]],
                            [[label, *counts] for label, counts in
                             zip(cm["labels"], cm["matrix"], strict=True)]))
    return lines


def _metric_figures(y_true: Any, proba: Any, classes: Any, folder: Path, prefix: str, *,
                    title: str) -> list[str]:
    """The confusion matrix as a PNG, and ROC and precision-recall curves when the labels
    hold two classes (the model's second class is the positive one); each file is
    written whole or not at all. Returns the names written."""
    classes = list(classes)
    pred = np.asarray(classes)[np.asarray(proba).argmax(axis=1)]
    names = [f"{prefix}confusion_matrix.png"]
    plot_confusion_matrix(np.asarray(y_true), pred, classes, title=title,
                          path=folder / names[0])
    if len(classes) == 2 and len(set(np.asarray(y_true).tolist())) == 2:
        positive = classes[1]
        plot_roc_curve(y_true, proba[:, 1], positive, path=folder / f"{prefix}roc_curve.png")
        plot_pr_curve(y_true, proba[:, 1], positive, path=folder / f"{prefix}pr_curve.png")
        names += [f"{prefix}roc_curve.png", f"{prefix}pr_curve.png"]
    return names


def _boundary_figure(pipeline: Any, result: Any, path: Path, plot: Any) -> None:
    from matplotlib.figure import Figure  # optional: the `workflow` extra

    shown = ["train", *[k for k in ("test", "val") if k in result.splits][:1]]
    fig = Figure(figsize=(5 * len(shown), 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(shown)))
    for ax, split in zip(axes, shown, strict=True):
        X, y = result.splits[split]
        # the saved model on the rows shown (after --refit-full it has seen train and val)
        score = float(np.mean(to_numpy(pipeline.predict(X)) == np.asarray(y)))
        plot(pipeline, X, y, ax=ax, title=f"{split} (accuracy {score:.3f})")

    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))


def _run_workflow(args: argparse.Namespace, X: Any, y: Any, title: str,
                  inference: dict[str, float] | None, inputs: list[str],
                  progress: Reporter) -> int:

    _check_backend(args.backend, args.device)
    out = Path(args.out) if args.out else _default_out(args.command)
    with output_folder(out, force=args.force, inputs=inputs) as tmp:
        progress.echo(title)  # above the live bars, when they run
        progress.echo(f"training SoftmaxRegression(solver={args.solver!r}) on "
                      f"{args.backend or 'numpy'}"
                      f"{'' if args.device is None else ':' + args.device}")
        # every line feeds a live bar; plain lines: each epoch in the demo, one a second else
        verbose = 0 if args.quiet else (2 if progress.fancy or args.command == "demo" else 1)
        try:
            with progress.fitting(args.max_iter,
                                  "iteration" if args.solver == "lbfgs" else "epoch"):
                result = train_model(
                    X, y, solver=args.solver, C=args.C, max_iter=args.max_iter,
                    learning_rate=args.learning_rate, batch_size=args.batch_size,
                    class_weight=None if args.class_weight == "none" else args.class_weight,
                    early_stopping=args.early_stopping, val_size=args.val_size,
                    test_size=args.test_size, cv=args.cv, refit_full=args.refit_full,
                    backend=args.backend, device=args.device, random_state=args.seed,
                    verbose=verbose)
            progress.stop()
        except FloatingPointError as exc:
            if args.solver == "lbfgs":
                raise
            text = _as_options(str(exc))
            raise UsageError(f"{text} (got --learning-rate {args.learning_rate:g})") from None
        except ValueError as exc:  # the library names its parameters; say the options
            raise UsageError(_as_options(str(exc))) from None
        lines, written = _report(result, tmp, inference=inference)
    # printed once the folder is complete
    for w in result.extra["warnings"]:
        print(f"warning: {w}")
    print("\n".join(lines))
    print(f"\nwrote {', '.join(written)} to {out}/")
    return 0


# --------------------------------------------------------------------------- commands


def _demo(args: argparse.Namespace) -> int:
    _check_splits(args)
    _check_model_options(args)
    df = make_tumors(1000, random_state=DEMO_DATA_SEED)
    X, y = df[["leukocyte_count", "blood_pressure"]], df["tumor_class"]
    title = "softmaxreg demo: 1000 tumours (embedded data, like the lesson's)"
    with Reporter(quiet=args.quiet) as progress, _dask_progress(args, progress):
        return _run_workflow(args, X, y, title, PATIENT, [], progress)


def _train(args: argparse.Namespace) -> int:
    _check_splits(args)
    _check_model_options(args)
    _check_backend(args.backend, args.device)  # before the data is read, not after
    features = None if args.features is None else [f.strip() for f in args.features.split(",")]
    if features is not None:
        repeated = sorted({f for f in features if features.count(f) > 1})
        if repeated:
            raise UsageError(f"--features names {repeated[0]!r} more than once; name each "
                             f"column once")
    inputs = [] if args.data == STDIN else [args.data]
    name = "standard input" if args.data == STDIN else args.data
    on_dask = args.backend is not None and args.backend.partition(":")[0] == "dask"
    if args.scheduler and not on_dask:
        raise UsageError("--scheduler needs --backend dask")
    if on_dask and args.engine is not None and args.data != STDIN:
        raise UsageError(f"--engine {args.engine} reads tables into memory; with --backend "
                         f"dask, dask.dataframe reads them: drop --engine")
    with Reporter(quiet=args.quiet) as progress:
        if not on_dask or args.data == STDIN:  # in memory; the model may still train on Dask
            X, y = load_table(args.data, args.target, features, engine=args.engine,
                              progress=progress.loading(name))
            title = f"softmaxreg train: {len(X)} rows of {name}, target {args.target!r}"
            if not on_dask:
                return _run_workflow(args, X, y, title, None, inputs, progress)
        _check_backend(args.backend, args.device)
        with _dask_client(args.scheduler), _dask_progress(args, progress):
            if args.data == STDIN:
                return _run_workflow(args, X, y, title, None, inputs, progress)
            X, y = load_table_lazily(args.data, args.target, features)
            title = (f"softmaxreg train: {len(X)} rows of {args.data} on Dask "
                     f"({X.npartitions} chunks), target {args.target!r}")
            return _run_workflow(args, X, y, title, None, [args.data], progress)


def _dask_progress(args: argparse.Namespace, progress: Reporter) -> Any:
    """The Dask task counts while a command trains on Dask (nothing on other backends)."""
    on_dask = args.backend is not None and args.backend.partition(":")[0] == "dask"
    return progress.dask_tasks() if on_dask else contextlib.nullcontext()


@contextlib.contextmanager
def _dask_client(address: str | None) -> Iterator[None]:
    """A client of the scheduler at ``address`` for the duration (none: Dask's default)."""
    if address is None:
        yield
        return
    Client = optional_import("distributed", "dask", needed_for="--scheduler").Client
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        yield
    finally:
        client.close()


def _parse_rows(items: list[str], features: list[str]) -> dict[str, float]:
    row: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--row takes NAME=VALUE pairs, got {item!r}")
        if name in row:
            raise UsageError(f"--row names {name!r} twice; give each feature once")
        if name not in features:
            close = difflib.get_close_matches(name, features, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"--row names unknown feature {name!r}{hint} "
                             f"(features: {', '.join(features)})")
        try:
            row[name] = float(value)
        except ValueError:
            raise UsageError(f"--row {name}={value!r}: the value must be a number") from None
    missing = [f for f in features if f not in row]
    if missing:
        raise UsageError(f"--row is missing feature(s) {', '.join(missing)}")
    return row


def _predict(args: argparse.Namespace) -> int:
    import pandas as pd  # optional: the `workflow` extra


    bundle = load_bundle(args.model)
    if (args.input is None) == (args.row is None):
        raise UsageError("give either an INPUT.csv or --row NAME=VALUE ...")
    if args.out is not None:
        return _predict_file(args, bundle)
    if args.row is not None:
        X = pd.DataFrame([_parse_rows(args.row, bundle.features)], columns=bundle.features)
    else:
        X = _load_features(args.input, bundle.features, args.engine)
    table = predict_table(bundle.pipeline, X)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2, default=_json_default))
    elif args.csv:
        sys.stdout.write(table.to_csv(index=False))
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _predict_file(args: argparse.Namespace, bundle: Any) -> int:
    """Batch inference: INPUT read in chunks, predictions appended to a temporary file
    that replaces ``--out`` only once it is complete."""
    if args.input is None:
        raise UsageError("--out writes the predictions of an INPUT file; it does not go "
                         "with --row")
    if args.chunk_rows < 1:
        raise UsageError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    out = Path(args.out)
    parquet = out.suffix.lower() in (".parquet", ".pq")
    if not parquet and out.suffix.lower() != ".csv":
        raise UsageError(f"--out {args.out!r}: give a .csv or .parquet file name")
    if out.exists() and not args.force:
        raise UsageError(f"--out {args.out!r} exists; add --force to replace it")
    if not out.resolve().parent.is_dir():
        raise UsageError(f"cannot write to {args.out!r}: folder {str(out.parent)!r} does not "
                         f"exist; create it first")
    if args.engine is not None:
        raise UsageError(f"--engine {args.engine} reads whole tables; --out reads INPUT in "
                         f"chunks (pandas for CSV, pyarrow for Parquet): drop --engine")
    if args.input != STDIN and out.resolve() == Path(args.input).resolve():
        raise UsageError("--out names the INPUT file; choose another name")
    rows = 0

    def write(fh: Any) -> None:
        nonlocal rows
        writer = None
        try:
            for chunk in read_chunks(args.input, args.chunk_rows):
                table = predict_table(bundle.pipeline,
                                      select_features(chunk, bundle.features, args.input))
                rows += len(table)
                if not parquet:
                    fh.write(table.to_csv(index=False, header=rows == len(table)).encode())
                    continue
                pa = optional_import("pyarrow", "workflow", needed_for="Parquet output")
                pq = optional_import("pyarrow.parquet", "workflow", needed_for="Parquet output")
                batch = pa.Table.from_pandas(table, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(fh, batch.schema)
                writer.write_table(batch)
        finally:
            if writer is not None:
                writer.close()

    atomic_write(out, write)
    print(f"wrote {rows} predictions to {out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    """The run folder's contents, read through the checked loader (a damaged or edited
    folder gets the loader's one-line error, not a partial listing)."""
    folder = Path(args.model)
    bundle = load_bundle(folder)
    model = final_estimator(bundle.pipeline)
    metrics_file = folder / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    files = {p.name: file_digest(p) for p in sorted(folder.iterdir()) if p.is_file()}
    facts = {
        "folder": str(folder), "target": bundle.target, "features": bundle.features,
        "classes": [str(c) for c in model.classes_],
        "model": {"solver": model.solver, "C": model.C, "class_weight": model.class_weight,
                  "early_stopping": model.early_stopping, "n_iter": model.n_iter_,
                  "dtype": str(model.coef_.dtype)},
        "accuracy": metrics.get("accuracy"), "files": files,
    }
    if args.json:
        print(json.dumps(facts, indent=2, default=_json_default))
        return 0
    print(f"{folder}: target {bundle.target!r}, {len(bundle.features)} features "
          f"({', '.join(bundle.features)})")
    print(f"classes: {', '.join(facts['classes'])}")
    m = facts["model"]
    print(f"model: SoftmaxRegression(solver={m['solver']!r}, C={m['C']}, "
          f"class_weight={m['class_weight']!r}, early_stopping={m['early_stopping']}), "
          f"{m['n_iter']} iterations, {m['dtype']}")
    if facts["accuracy"]:
        print("accuracy: " + "  ".join(f"{k} {v:.3f}" for k, v in facts["accuracy"].items()))
    for name, digest in files.items():
        print(f"  {name:<24} sha256 {digest[:16]}")
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _load_features(path: str, features: list[str], engine: str | None) -> Any:
    return select_features(read_table(path, engine=engine), features, path)


def _evaluate(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.model)
    folder = Path(args.model) if args.figures is None else Path(args.figures)
    create = args.figures is not None and not folder.exists() and folder.parent.is_dir()
    if not (create or folder.is_dir()):
        raise UsageError(f"--figures {args.figures!r} is not a folder, and softmaxreg creates "
                         f"one only inside a folder that exists")
    X, y = load_table(args.data, args.target, bundle.features, min_classes=1,
                      engine=args.engine)
    est = final_estimator(bundle.pipeline)
    present = set(np.asarray(y).tolist())
    unknown = sorted(present - set(est.classes_.tolist()), key=str)
    if unknown:
        raise UsageError(f"{source_name(args.data)} has label(s) {unknown} the model was not "
                         f"trained on (classes: {est.classes_.tolist()})")
    proba = np.asarray(to_numpy(bundle.pipeline.predict_proba(X)))
    report = evaluation(y, proba, est.classes_)
    if create:  # once the data has passed every check
        folder.mkdir(exist_ok=True)
    written = _metric_figures(np.asarray(y), proba, est.classes_, folder, "evaluate_",
                              title=f"confusion matrix, {Path(str(args.data)).name}")
    if args.json:
        print(json.dumps({**report, "figures": [str(folder / w) for w in written]}, indent=2))
        return 0
    name = "standard input" if args.data == STDIN else args.data
    print(f"softmaxreg evaluate: {report['support']} rows of {name}, target {args.target!r}, "
          f"model {args.model}\n")
    print("\n".join(_evaluation_lines(report)))
    if len(est.classes_) == 2 and len(present) < 2:
        print("\nno ROC or precision-recall curve: the data holds one class")
    print(f"\nwrote {', '.join(written)} to {folder}/")
    return 0
