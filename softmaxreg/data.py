"""Reading CSV and Parquet tables, splitting them the lesson's way, and class weights.

Examples
--------
>>> from softmaxreg.datasets import make_tumors
>>> from softmaxreg.data import train_val_test_split, class_weights
>>> df = make_tumors(random_state=0)
>>> parts = train_val_test_split(df[["leukocyte_count", "blood_pressure"]], df["tumor_class"],
...                              random_state=0)
>>> [len(p) for p in parts[:3]]
[700, 150, 150]
>>> round(class_weights(df["tumor_class"])["benign"], 5)
0.00257
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import importlib.util
import io
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .backends import optional_import

__all__ = ["ENGINES", "LESSON_DEFAULTS", "DataError", "class_counts", "class_weights",
           "load_csv", "load_table", "load_table_lazily", "read_csv", "read_table",
           "select_features", "split_rows", "train_val_test_split"]

#: Libraries that read tables into memory: pandas (with pyarrow for Parquet), or polars.
ENGINES = ("pandas", "polars")
PARQUET_SUFFIXES = (".parquet", ".pq")
STDIN = "-"


#: The lesson's training choices, shared by the library call, ``demo`` and ``train``.
LESSON_DEFAULTS = {"solver": "adam", "C": 1.0, "max_iter": 100, "learning_rate": 0.1,
                   "class_weight": "balanced", "early_stopping": True, "n_iter_no_change": 10,
                   "val_size": 0.15, "test_size": 0.15}


class DataError(ValueError):
    """A problem with the user's data file or columns; the message says what to fix."""


def _suggest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    options = list(options)
    sep = next((s for s in (";", "\t", "|") if len(options) == 1 and s in str(options[0])),
               None)
    if sep is not None:  # one column whose name holds the others: not a comma-separated file
        hint += (f"; the file looks separated by {sep!r}, not commas: save it with commas, "
                 f"e.g. pandas.read_csv(path, sep={sep!r}).to_csv(new_path, index=False)")
    return f"{hint} (columns: {', '.join(map(str, options))})"


def _resolve_columns(source: Any, columns: list[str], target: str,
                     features: Sequence[str] | None) -> list[str]:
    """The feature columns (default: all but ``target``), once ``target`` is found."""
    if target not in columns:
        msg = (f"{source_name(source)} has no column {target!r} for the target"
               f"{_suggest(target, columns)}")
        raise DataError(msg)
    return [c for c in columns if c != target] if features is None else list(features)


def source_name(path: Any) -> str:
    """How messages name a table: its path in quotes, or standard input for ``-``."""
    return "standard input" if str(path) == STDIN else repr(str(path))


def _is_parquet(path: Any) -> bool:
    p = Path(path)
    return p.suffix.lower() in PARQUET_SUFFIXES or (
        p.is_dir() and any(c.suffix.lower() in PARQUET_SUFFIXES for c in p.iterdir()))


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def table_engine(engine: str | None, *, parquet: bool) -> str:
    """The library that reads a table: ``engine`` when given, else pandas where it can
    (Parquet also needs pyarrow), else polars where it is installed."""
    if engine is not None:
        if engine not in ENGINES:
            msg = f"`engine` must be one of {', '.join(ENGINES)}, got {engine!r}"
            raise ValueError(msg)
        return engine
    if _has("pandas") and (not parquet or _has("pyarrow")):
        return "pandas"
    if _has("polars"):
        return "polars"
    need = "pyarrow" if parquet else "pandas"
    msg = (f"reading {'Parquet' if parquet else 'CSV'} needs {need} or polars: install one with "
           f"`pip install 'softmaxreg[workflow]'` or `pip install 'softmaxreg[polars]'`")
    raise ImportError(msg)


#: rows per chunk when a CSV file is read with a progress callback
LOAD_CHUNK_ROWS = 50_000


def read_table(path: Any, *, engine: str | None = None, progress: Any = None) -> Any:
    """Read a CSV or Parquet file (or a folder of Parquet files) into a pandas DataFrame.

    ``path`` ``"-"`` reads CSV from standard input. A name ending in ``.parquet``
    or ``.pq`` is Parquet, anything else CSV. ``engine`` is ``"pandas"``
    (pyarrow reads Parquet), ``"polars"`` (its frame is handed over column by
    column, without pyarrow) or ``None``: pandas where it can, else polars.
    ``progress(done, total, unit, final=False)``, when given, hears how far the
    reading is: pandas reads a CSV in chunks of :data:`LOAD_CHUNK_ROWS` rows and
    reports the bytes read after each (rows from standard input, whose size is
    unknown: ``total`` None); Parquet and polars report the start and the end.
    Raises :class:`DataError` when the file is missing, empty or unreadable.
    """
    pd = optional_import("pandas", "workflow", needed_for="reading tables")
    name, stdin, parquet = _table_source(path)
    engine = table_engine(engine, parquet=parquet)
    kind = "Parquet" if parquet else "CSV"
    size = None if stdin else _bytes(path)
    incremental = progress is not None and engine == "pandas" and not parquet
    if progress is not None and not incremental:
        progress(0, size, "bytes")
    if engine == "polars":
        df = _read_polars(path, parquet=parquet, name=name)
    else:
        try:
            if parquet:
                optional_import("pyarrow", "workflow", needed_for="reading Parquet with pandas")
                df = pd.read_parquet(path)
            elif incremental:
                df = _read_csv_in_chunks(pd, path, size, progress)
            else:
                df = pd.read_csv(sys.stdin if stdin else path)
        except pd.errors.EmptyDataError:
            msg = f"{name} is empty"
            raise DataError(msg) from None
        except (ValueError, OSError, UnicodeDecodeError) as exc:  # ParserError, ArrowInvalid
            msg = f"{name} is not a readable {kind} file: {exc}"
            raise DataError(msg) from None
    if df.empty:
        msg = f"{name} has a header but no rows" if len(df.columns) else f"{name} is empty"
        raise DataError(msg)
    if progress is not None and not incremental:
        progress(size or 0, size, "bytes", final=True)
    return df


def _bytes(path: Any) -> int:
    p = Path(path)
    return sum(f.stat().st_size for f in p.iterdir() if f.is_file()) if p.is_dir() \
        else p.stat().st_size


def _read_csv_in_chunks(pd: Any, path: Any, size: int | None, progress: Any) -> Any:
    """pandas' chunked reader, reporting the bytes read (rows on standard input) after
    each chunk; the chunks joined with one RangeIndex, so errors can name rows."""
    chunks = []
    rows = 0
    with contextlib.ExitStack() as stack:
        fh = sys.stdin if str(path) == STDIN else stack.enter_context(open(path, "rb"))
        reader = stack.enter_context(pd.read_csv(fh, chunksize=LOAD_CHUNK_ROWS))
        for chunk in reader:
            chunks.append(chunk)
            rows += len(chunk)
            if size is None:
                progress(rows, None, "rows")
            else:
                progress(fh.tell(), size, "bytes")
    if size is None:
        progress(rows, None, "rows", final=True)
    else:
        progress(size, size, "bytes", final=True)
    return pd.concat(chunks, ignore_index=True)


def _read_polars(path: Any, *, parquet: bool, name: str) -> Any:
    pl = optional_import("polars", "polars", needed_for="--engine polars")
    pd = optional_import("pandas", "workflow", needed_for="the workflow's tables")
    try:
        if parquet:
            frame = pl.read_parquet(path)
        else:
            # every row decides a column's type (a late text value makes the column text,
            # so select_features names its row, as with pandas)
            source = io.BytesIO(sys.stdin.buffer.read()) if str(path) == STDIN else path
            frame = pl.read_csv(source, infer_schema_length=None)
    except pl.exceptions.NoDataError:
        msg = f"{name} is empty"
        raise DataError(msg) from None
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        msg = f"{name} is not a readable {'Parquet' if parquet else 'CSV'} file: {exc}"
        raise DataError(msg) from None
    # column by column through NumPy: no pyarrow needed, nulls become NaN/None
    return pd.DataFrame({c: frame[c].to_numpy() for c in frame.columns},
                        columns=list(frame.columns))


def _table_source(path: Any) -> tuple[str, bool, bool]:
    """``path``'s name for messages, whether it is standard input and whether it is
    Parquet (a file or a folder); a missing file is refused here."""
    name = source_name(path)
    stdin = str(path) == STDIN
    if not stdin and not (Path(path).is_file() or (Path(path).is_dir() and _is_parquet(path))):
        msg = f"no such file: {name}"
        raise DataError(msg)
    return name, stdin, not stdin and _is_parquet(path)


def read_chunks(path: Any, chunk_rows: int) -> Iterator[Any]:
    """The rows of a CSV or Parquet table (``"-"``: CSV from standard input) as pandas
    DataFrames of at most ``chunk_rows`` rows, read one at a time (pandas for CSV,
    pyarrow for Parquet). Each chunk's index counts rows from the top of the table,
    so an error can name the row."""
    pd = optional_import("pandas", "workflow", needed_for="reading tables")
    name, stdin, parquet = _table_source(path)
    try:
        if parquet:
            ds = optional_import("pyarrow.dataset", "workflow", needed_for="reading Parquet")
            start = 0
            for batch in ds.dataset(path, format="parquet").to_batches(batch_size=chunk_rows):
                if batch.num_rows:
                    chunk = batch.to_pandas()
                    chunk.index = pd.RangeIndex(start, start + len(chunk))
                    start += len(chunk)
                    yield chunk
            return
        with pd.read_csv(sys.stdin if stdin else path, chunksize=chunk_rows) as reader:
            yield from reader
    except pd.errors.EmptyDataError:
        msg = f"{name} is empty"
        raise DataError(msg) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        msg = f"{name} is not a readable {'Parquet' if parquet else 'CSV'} file: {exc}"
        raise DataError(msg) from None
    except ValueError as exc:
        if type(exc).__module__.startswith("pyarrow"):  # ArrowInvalid: not Parquet
            msg = f"{name} is not a readable Parquet file: {exc}"
            raise DataError(msg) from None
        raise


def read_csv(path: Any) -> Any:
    """:func:`read_table` with pandas' defaults (kept for earlier callers)."""
    return read_table(path)


def select_features(df: Any, features: Sequence[str], source: Any = "the data") -> Any:
    """The numeric feature columns of ``df`` as float64, with errors naming the column."""
    import pandas as pd  # optional: the `workflow` extra

    columns = [str(c) for c in df.columns]
    missing = [f for f in features if f not in columns]
    if missing:
        msg = f"{source_name(source)} has no column {missing[0]!r}{_suggest(missing[0], columns)}"
        raise DataError(msg)
    X = df[list(features)]
    for col in features:
        if not pd.api.types.is_numeric_dtype(X[col]) or pd.api.types.is_bool_dtype(X[col]):
            bad = pd.to_numeric(X[col], errors="coerce").isna() & X[col].notna()
            pos = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            # the file's line: the index counts rows from the top of the file, also in
            # the chunks of a chunked read; +2 for the header and counting from 1
            line = int(X.index[pos]) + 2 if isinstance(X.index, pd.RangeIndex) else pos + 2
            msg = (f"column {col!r} must be numeric, but row {line} of {source_name(source)} "
                   f"holds {X[col].iloc[pos]!r}")
            raise DataError(msg)
        n_missing = int(X[col].isna().sum())
        if n_missing:
            msg = f"column {col!r} has {n_missing} missing value(s); fill or drop them first"
            raise DataError(msg)
    return X.astype(np.float64)


def load_table(path: Any, target: str, features: Sequence[str] | None = None, *,
               min_classes: int = 2, engine: str | None = None,
               progress: Any = None) -> tuple[Any, Any]:
    """Read a CSV or Parquet table (:func:`read_table`) into numeric features ``X``
    (a pandas DataFrame) and labels ``y`` (a Series).

    ``features`` defaults to every column but ``target``. Raises
    :class:`DataError` for a missing or empty file, a missing or misspelt
    column (with the close matches), non-numeric or missing feature values,
    and a target with fewer than ``min_classes`` classes (2 for training; a
    test set may hold 1). ``progress`` is :func:`read_table`'s.
    """
    df = read_table(path, engine=engine, progress=progress)
    columns = [str(c) for c in df.columns]
    features = _resolve_columns(path, columns, target, features)
    if target in features:
        msg = f"the target {target!r} is also listed as a feature"
        raise DataError(msg)
    if not features:
        msg = f"{source_name(path)} has no feature columns besides the target {target!r}"
        raise DataError(msg)
    X = select_features(df, features, path)
    y = df[target]
    if y.isna().any():
        msg = f"the target column {target!r} has {int(y.isna().sum())} missing label(s)"
        raise DataError(msg)
    if y.nunique() < min_classes:
        msg = (f"the target column {target!r} holds only one class ({y.iloc[0]!r}); "
               f"a classifier needs at least two")
        raise DataError(msg)
    return X, y


#: the earlier name of :func:`load_table`
load_csv = load_table


def load_table_lazily(pattern: str, target: str, features: Sequence[str] | None = None
                      ) -> tuple[Any, Any]:
    """CSV or Parquet files (a path, a folder or a glob) as Dask DataFrames ``X`` and ``y``.

    The rows stay where Dask reads them; the columns are checked now, with the
    same errors as :func:`load_csv` (a missing, misspelt or non-numeric column).
    """

    import pandas as pd  # an optional dependency, as for load_csv

    dd = optional_import("dask.dataframe", "dask", needed_for="reading data with Dask")
    matches = sorted(glob.glob(pattern))
    if not matches:
        msg = f"no files match {pattern!r}"
        raise DataError(msg)
    parquet = all(m.endswith((".parquet", ".pq")) or os.path.isdir(m) for m in matches)
    try:
        ddf = dd.read_parquet(matches) if parquet else dd.read_csv(matches)
    except (ValueError, OSError) as exc:
        msg = f"cannot read {pattern!r} with dask.dataframe: {exc}"
        raise DataError(msg) from None
    columns = [str(c) for c in ddf.columns]
    features = _resolve_columns(pattern, columns, target, features)
    for col in features:
        if col not in columns:
            msg = f"{pattern!r} has no column {col!r}{_suggest(col, columns)}"
            raise DataError(msg)
        dtype = ddf[col].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            msg = f"column {col!r} of {pattern!r} must be numeric, got {ddf[col].dtype}"
            raise DataError(msg)
    # fix the partitions once, so the features and the labels share their row chunks
    ddf = ddf[[*features, target]].persist()
    return ddf[features], ddf[target]


def train_val_test_split(X: Any, y: Any, train_size: float = 0.7, val_size: float = 0.15,
                         test_size: float = 0.15, stratify: bool = True,
                         random_state: Any = None) -> tuple[Any, ...]:
    """Shuffle and split into train, validation and test parts (70/15/15 by default).

    Returns ``X_train, X_val, X_test, y_train, y_val, y_test``. With
    ``stratify=True`` each part keeps the class ratios of ``y``. The rows are
    those of :func:`split_rows`.
    """
    sizes = (train_size, val_size, test_size)
    if any(not (0 < s < 1) for s in sizes) or abs(sum(sizes) - 1.0) > 1e-9:
        msg = (f"`train_size`, `val_size` and `test_size` must each lie in (0, 1) and add "
               f"up to 1, got {train_size}, {val_size} and {test_size}")
        raise ValueError(msg)
    parts = split_rows(y, val_size=val_size, test_size=test_size, stratify=stratify,
                       random_state=random_state)

    def take(data: Any, rows: np.ndarray) -> Any:
        return data.iloc[rows] if hasattr(data, "iloc") else np.asarray(data)[rows]

    names = ("train", "val", "test")
    return (*(take(X, parts[k]) for k in names), *(take(y, parts[k]) for k in names))


def _check_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= value < 1:
        msg = f"`{name}` must be a fraction from 0 (included) to 1 (excluded), got {value!r}"
        raise ValueError(msg)
    return float(value)


def split_rows(y: Any, *, val_size: float = 0.15, test_size: float = 0.15,
               stratify: bool = True, random_state: Any = None) -> dict[str, np.ndarray]:
    """Row positions of the train, validation and test parts, shuffled and stratified.

    ``val_size`` and ``test_size`` are fractions of the rows (0 leaves the part
    out of the result); the rest trains, so they must add up to less than 1.
    Raises :class:`DataError` naming the fraction when a part would lack a
    class of ``y``.

    >>> parts = split_rows(["a", "b"] * 50, val_size=0.2, test_size=0)
    >>> {k: len(v) for k, v in parts.items()}
    {'train': 80, 'val': 20}
    """
    from sklearn.model_selection import train_test_split  # the `sklearn` extra

    val_size = _check_fraction("val_size", val_size)
    test_size = _check_fraction("test_size", test_size)
    held = val_size + test_size
    if held >= 1:
        msg = (f"`val_size` + `test_size` must stay below 1 (the rest is the training split), "
               f"got {val_size:g} + {test_size:g} = {held:g}")
        raise DataError(msg)
    labels = np.asarray(y)
    rows = np.arange(len(labels))
    rng = np.random.default_rng(random_state)
    seeds = [int(s) for s in rng.integers(2**31, size=2)]
    try:
        if held == 0:
            parts = {"train": rows}
        else:
            if stratify:
                _check_shareable(labels, lambda c, n: f"class {c!r} has only {n} row: a "
                                 f"stratified split needs at least 2 of every class")
            # the part sizes as scikit-learn computes them (floor for train_size, ceil
            # for test_size), to name the fraction when a part cannot hold every class
            n_rest = len(rows) - math.floor((1 - held) * len(rows))
            n_test = math.ceil(test_size / held * n_rest)
            if stratify:
                n_classes = len(np.unique(labels))
                for name, value, count in (("val", val_size, n_rest - n_test),
                                           ("test", test_size, n_test)):
                    if value and count < n_classes:
                        msg = (f"`{name}_size` = {value:g} leaves the {name} split {count} of "
                               f"{len(rows)} rows, fewer than the {n_classes} classes: raise it")
                        raise DataError(msg)
            train, rest = train_test_split(rows, train_size=1 - held, random_state=seeds[0],
                                           stratify=labels if stratify else None)
            if not val_size or not test_size:
                parts = {"train": train, ("val" if val_size else "test"): rest}
            else:
                if stratify:
                    _check_shareable(labels[rest], lambda c, n: (
                        f"`val_size` + `test_size` = {held:g} hold out {n} row of class {c!r}, "
                        f"too few to share between the val and test splits: raise them"))
                val, test = train_test_split(rest, test_size=test_size / held,
                                             random_state=seeds[1],
                                             stratify=labels[rest] if stratify else None)
                parts = {"train": train, "val": val, "test": test}
    except ValueError as exc:
        msg = (f"cannot split {len(labels)} rows into train/val/test "
               f"{1 - held:g}/{val_size:g}/{test_size:g}: {exc}")
        raise DataError(msg) from None
    if stratify:
        classes = np.unique(labels)
        sizes = {"train": 1 - held, "val": val_size, "test": test_size}
        for name, part in parts.items():
            missing = np.setdiff1d(classes, labels[part])
            if missing.size:
                what = ("`val_size` + `test_size`" if name == "train" else f"`{name}_size`")
                value = held if name == "train" else sizes[name]
                msg = (f"{what} = {value:g} leaves class {_plain(missing[0])!r} without a row "
                       f"in the {name} split ({len(part)} of {len(labels)} rows); "
                       f"{'lower' if name == 'train' else 'raise'} it")
                raise DataError(msg)
    return parts


def _check_shareable(labels: np.ndarray, why: Any) -> None:
    """Refuse a class with fewer than 2 rows where a stratified split must divide it;
    ``why(label, count)`` is the message."""
    values, counts = np.unique(labels, return_counts=True)
    if counts.min() < 2:
        raise DataError(why(_plain(values[counts.argmin()]), int(counts.min())))


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def class_counts(y: Any) -> dict[Any, int]:
    """Number of samples per label, in sorted label order."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    return {lab.item() if hasattr(lab, "item") else lab: int(c)
            for lab, c in zip(labels, counts, strict=True)}


def class_weights(y: Any, method: str = "inverse") -> dict[Any, float]:
    """Per-class weights: ``"inverse"`` is the lesson's ``1 / count``, ``"balanced"``
    scikit-learn's ``n_samples / (n_classes * count)`` (its ``compute_class_weight``)."""
    counts = class_counts(y)
    if method == "inverse":
        # the lesson's weights; scikit-learn has no function for 1 / count
        return {k: 1.0 / c for k, c in counts.items()}
    if method == "balanced":
        from sklearn.utils.class_weight import compute_class_weight  # the `sklearn` extra

        labels = np.asarray(list(counts))
        weights = compute_class_weight("balanced", classes=labels, y=np.asarray(y))
        return {k: float(w) for k, w in zip(counts, weights, strict=True)}
    msg = f"`method` must be 'inverse' or 'balanced', got {method!r}"
    raise ValueError(msg)
