"""Dask: one graph per full-batch evaluation, a map over row chunks and a tree reduction.

Each row chunk of ``X`` (persisted on the workers) goes through the core's own
kernel, which returns its plain sums: weighted loss, ``G @ X``, ``sum(G)`` and
the weight total. The partial sums are added pairwise in a tree and the
client receives only those few small arrays, never ``X``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._compat import array_namespace, checked
from ._kernel import finish, kernel, ops_for
from ._validation import nonfinite_message

__all__ = ["dask_loss_and_grad", "require_dask"]


def require_dask() -> Any:
    """Import dask.array, or say how to install it."""
    try:
        import dask.array as da
    except ImportError:
        msg = "Dask support needs dask: install it with `pip install 'softmaxreg[dask]'`"
        raise ImportError(msg) from None
    return da


def _chunk_sums(X: Any, y: Any, W: Any, b: Any, w: Any) -> tuple[Any, Any, Any, Any]:
    xp = array_namespace(("X", X))
    W = xp.asarray(W, dtype=X.dtype)
    b = xp.asarray(b, dtype=X.dtype)
    # one thread per task: the Dask workers already keep the cores busy
    loss, dW, db = kernel(ops_for(xp, X, workers=1), X, y, W, b, l2=0.0, w=w, total=1.0)
    weight = float(X.shape[0]) if w is None else xp.sum(w)
    return loss, dW, db, weight


def _add(a: tuple[Any, ...], c: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(u + v for u, v in zip(a, c, strict=True))


def _tree(parts: list[Any]) -> Any:
    import dask

    while len(parts) > 1:
        nxt = [dask.delayed(_add)(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def dask_loss_and_grad(X: Any, y: Any, W: Any, b: Any, *, l2: float, w: Any
                       ) -> tuple[Any, Any, Any]:
    """Loss and gradient of row-chunked Dask data at host parameters ``(W, b)``.

    One ``compute`` per call; the result is NumPy on the client.
    """
    import dask

    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    ws = [None] * len(xs) if w is None else list(w.to_delayed().ravel())
    if len(ys) != len(xs) or len(ws) != len(xs):
        msg = "`X`, `y` and the sample weights must share the same row chunks"
        raise ValueError(msg)
    Wn = np.asarray(W)
    bn = np.asarray(b)
    parts = [dask.delayed(_chunk_sums, pure=True)(xc, yc, Wn, bn, wc)
             for xc, yc, wc in zip(xs, ys, ws, strict=True)]
    loss, gW, gb, total = dask.compute(_tree(parts))[0]
    loss, dW, db = finish(*(np.asarray(v) for v in (loss, gW, gb)), total=float(total),
                          W=Wn, l2=l2, xp=np)
    return loss.astype(Wn.dtype), dW.astype(Wn.dtype), db.astype(Wn.dtype)


def check_finite_lazily(X: Any) -> Any:
    """``X`` with its finiteness check in the graph: computing anything built on it
    raises the same error as eager input when ``X`` holds NaN or inf."""
    da = require_dask()
    return checked(X, _raise_if_nonfinite, da.count_nonzero(~da.isfinite(X)))


def _raise_if_nonfinite(bad: Any) -> None:
    if int(bad):
        raise ValueError(nonfinite_message(int(bad)))


def prepare_dask(X: Any, y_codes: np.ndarray, sw: np.ndarray | None, batch_size: int | None
                 ) -> tuple[Any, Any, Any]:
    """Row-chunk ``X`` (one column chunk), persist it on the workers once, check it is finite.

    The encoded labels and row weights follow ``X``'s row chunks. With a
    ``batch_size``, the rows are rechunked so that each chunk is one batch.
    """
    da = require_dask()
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if batch_size is not None:
        X = X.rechunk({0: batch_size})
    X = X.persist()
    bad = int(da.count_nonzero(~da.isfinite(X)).compute())
    if bad:
        raise ValueError(nonfinite_message(bad))
    rows = X.chunks[0]
    y = da.from_array(y_codes.astype(np.int64), chunks=(rows,)).persist()
    w = None
    if sw is not None:
        w = da.from_array(sw.astype(X.dtype), chunks=(rows,)).persist()
    return X, y, w


def _read_frame(pattern: str) -> Any:
    """CSV or Parquet files (a path, a folder or a glob) as a dask DataFrame."""
    import glob

    import dask.dataframe as dd

    from .data import DataError

    matches = sorted(glob.glob(pattern))
    if not matches:
        msg = f"no files match {pattern!r}"
        raise DataError(msg)
    parquet = all(m.endswith(".parquet") or m.endswith(".pq") or _is_dir(m) for m in matches)
    try:
        return dd.read_parquet(matches) if parquet else dd.read_csv(matches)
    except (ValueError, OSError) as exc:
        msg = f"cannot read {pattern!r} with dask.dataframe: {exc}"
        raise DataError(msg) from None


def _is_dir(path: str) -> bool:
    import os

    return os.path.isdir(path)


def train_cli(args: Any) -> int:
    """``softmaxreg train 'data/*.parquet' --target y --backend dask [--scheduler ADDR]``.

    Reads the files lazily, standardises with one pass over the data, splits
    the rows 70/15/15 at random (not stratified: a per-row coin, which keeps
    the split lazy), trains with early stopping on the validation rows and
    writes the metrics, the loss curve and the model bundle.
    """
    require_dask()
    import json
    from pathlib import Path

    import dask
    import dask.array as da

    from .cli import UsageError, _default_out
    from .data import _suggest
    from .estimator import SoftmaxRegression
    from .metrics import classification_metrics
    from .plotting import plot_loss_curve
    from .workflow import fitted_scaler, output_folder, save_bundle

    try:
        from distributed import Client
    except ImportError:
        msg = "--backend dask needs distributed: `pip install 'softmaxreg[dask]'`"
        raise ImportError(msg) from None
    client = None
    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            msg = f"cannot reach the Dask scheduler at {args.scheduler}: {exc}"
            raise UsageError(msg) from None
    try:
        ddf = _read_frame(args.data)
        columns = [str(c) for c in ddf.columns]
        if args.target not in columns:
            raise UsageError(f"no column {args.target!r} for the target"
                             f"{_suggest(args.target, columns)}")
        features = ([c for c in columns if c != args.target] if args.features is None
                    else [f.strip() for f in args.features.split(",")])
        for f in features:
            if f not in columns:
                raise UsageError(f"no column {f!r}{_suggest(f, columns)}")
        # fix the partitions once, so the features and the labels share their row chunks
        ddf = ddf[[*features, args.target]].persist()
        X = ddf[features].to_dask_array(lengths=True).astype(np.float64)
        labels = ddf[args.target]
        if not np.issubdtype(np.dtype(getattr(labels.dtype, "numpy_dtype", object)), np.number):
            labels = labels.astype(object)  # pandas' string dtype has no array form in Dask
        y = labels.to_dask_array(lengths=True)
        mean, std = dask.compute(X.mean(axis=0), X.std(axis=0))
        scale = np.where(std > 0, std, 1.0)
        Xs = (X - mean) / scale
        coin = da.random.default_rng(args.seed).random(X.shape[0], chunks=(X.chunks[0],))
        parts = {}
        for name, lo, hi in (("train", 0.0, 0.7), ("val", 0.7, 0.85), ("test", 0.85, 1.0)):
            mask = (coin >= lo) & (coin < hi)
            parts[name] = (Xs[mask].compute_chunk_sizes(), y[mask].compute_chunk_sizes())
        model = SoftmaxRegression(
            solver=args.solver, C=args.C, max_iter=args.max_iter or 100,
            learning_rate=args.learning_rate, batch_size=args.batch_size,
            class_weight="balanced", early_stopping=True, n_iter_no_change=10,
            random_state=args.seed, verbose=0 if args.quiet else 1,
            tol=1e-6 if args.solver == "lbfgs" else 1e-4)
        print(f"softmaxreg train: {X.shape[0]} rows of {args.data} on Dask "
              f"({len(X.chunks[0])} chunks), target {args.target!r}")
        model.fit(*parts["train"], validation_data=parts["val"])
        accuracy = {}
        for name, (Xp, yp) in parts.items():
            pred, truth = dask.compute(model.predict(Xp), yp)
            accuracy[name] = float(np.mean(pred == truth))
            if name == "test":
                metrics = classification_metrics(truth, pred, model.classes_)
        print(f"accuracy  train {accuracy['train']:.3f}  val {accuracy['val']:.3f}  "
              f"test {accuracy['test']:.3f}")
        print(json.dumps(metrics, indent=2))
        from sklearn.pipeline import Pipeline

        scaler = fitted_scaler(mean, scale, features)
        model.to("numpy")  # the saved and reloaded model predicts on any backend
        out = Path(args.out) if args.out else _default_out("train")
        with output_folder(out, force=args.force) as tmp:
            plot_loss_curve(model, path=tmp / "loss_curve.png")
            (tmp / "metrics.json").write_text(json.dumps({"accuracy": accuracy,
                                                          "test": metrics}, indent=2))
            save_bundle(tmp, Pipeline([("scaler", scaler), ("model", model)]),
                        target=args.target)
        print(f"wrote metrics.json, loss_curve.png, model.npz, preprocess.json to {out}/")
        return 0
    finally:
        if client is not None:
            client.close()
