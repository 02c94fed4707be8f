"""Saving and loading models without pickle.

A model is one ``.npz`` file: the arrays ``coef``, ``intercept`` and
``classes`` plus ``meta``, a UTF-8 JSON document stored as bytes. The JSON
holds the format name and version, the estimator's parameters, the fitted
attributes and a SHA-256 digest of the arrays, so a truncated or edited file
is refused with a clear ``ValueError``. Loading uses ``allow_pickle=False``:
nothing in the file is ever executed. Writes go to a temporary file in the
same folder that replaces the target in one ``os.replace``, so a crash
mid-save leaves the previous file intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import backends

FORMAT = "softmaxreg-model"
VERSION = 1
_ARRAYS = ("coef", "intercept", "classes")

__all__ = ["FORMAT", "VERSION", "atomic_write", "load_model", "save_model"]


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in _ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {"__dict__": [[_json_safe(k), _json_safe(v)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value == float("inf"):
            return "inf"
        return value
    return str(value)


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "__dict__" in value:
        return {_from_json(k): _from_json(v) for k, v in value["__dict__"]}
    return value


def save_model(model: Any, path: Any) -> None:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    path = Path(path)
    if path.is_dir():
        msg = f"`path` {str(path)!r} is a folder; give a file name such as model.npz"
        raise ValueError(msg)
    if not path.parent.is_dir():
        msg = f"`path` {str(path)!r}: folder {str(path.parent)!r} does not exist"
        raise ValueError(msg)
    classes = np.asarray(model.classes_.tolist())
    if classes.dtype.kind not in "biufU":
        msg = (f"cannot save labels of type {classes.dtype} without pickle; use strings, "
               f"integers, floats or booleans as labels")
        raise ValueError(msg)
    arrays = {
        "coef": backends.to_numpy(model.coef_),
        "intercept": backends.to_numpy(model.intercept_),
        "classes": classes,
    }
    params = {k: _json_safe(v) for k, v in model.get_params().items()}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "params": params,
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": (None if not hasattr(model, "feature_names_in_")
                             else [str(f) for f in model.feature_names_in_]),
        "n_iter": int(model.n_iter_),
        "loss_curve": [float(v) for v in model.loss_curve_],
        "validation_curve": [float(v) for v in getattr(model, "validation_curve_", [])],
        "trained_on": {"backend": model.backend_, "device": str(model.device_)},
        "sha256": _digest(arrays),
    }
    payload = {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    atomic_write(path, lambda fh: np.savez(fh, **payload))


def load_model(cls: Any, path: Any, *, backend: str | None = None, device: Any = None) -> Any:
    path = Path(path)
    if not path.is_file():
        msg = f"no model file at {str(path)!r}"
        raise ValueError(msg)
    try:
        # our own handle: np.load leaves it open when the zip is damaged
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            missing = [k for k in (*_ARRAYS, "meta") if k not in data.files]
            if missing:
                msg = f"{str(path)!r} is not a softmaxreg model: missing {missing}"
                raise ValueError(msg)
            arrays = {k: data[k] for k in _ARRAYS}
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
    except ValueError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, KeyError) as exc:
        msg = f"{str(path)!r} is not a readable softmaxreg model (truncated or corrupt: {exc})"
        raise ValueError(msg) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        msg = f"{str(path)!r} is not a softmaxreg model file"
        raise ValueError(msg)
    if meta.get("version") != VERSION:
        msg = (f"{str(path)!r} has model format version {meta.get('version')!r}; this "
               f"softmaxreg reads version {VERSION}")
        raise ValueError(msg)
    if meta.get("sha256") != _digest(arrays):
        msg = f"{str(path)!r} failed its checksum: the arrays were changed after saving"
        raise ValueError(msg)
    params = {k: _from_json(v) for k, v in meta["params"].items()}
    if params.get("C") == "inf":
        params["C"] = float("inf")
    params = {k: v for k, v in params.items() if k in cls().get_params()}
    model = cls(**params)
    coef, intercept = arrays["coef"], arrays["intercept"]
    if coef.ndim != 2 or coef.shape != (len(arrays["classes"]), meta["n_features_in"]) \
            or intercept.shape != (coef.shape[0],):
        msg = f"{str(path)!r} has inconsistent array shapes"
        raise ValueError(msg)
    model.classes_ = arrays["classes"]
    model.n_features_in_ = int(meta["n_features_in"])
    if meta.get("feature_names_in") is not None:
        model.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    model.n_iter_ = int(meta["n_iter"])
    model.loss_curve_ = list(meta["loss_curve"])
    model.validation_curve_ = list(meta.get("validation_curve", []))
    model._W, model._b = np.ascontiguousarray(coef.T), intercept
    model.coef_, model.intercept_ = model._W.T, intercept
    model.backend_, model.device_ = "numpy", "cpu"
    return model.to(backend or "numpy", device)
