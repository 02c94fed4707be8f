"""Saving and loading models without pickle.

A model is one ``.npz`` file: the arrays ``coef``, ``intercept`` and
``classes`` plus ``meta``, a UTF-8 JSON document stored as bytes. The JSON
holds the format name and version, the estimator's parameters, the fitted
attributes and a SHA-256 digest of the arrays *and* of the rest of the JSON,
so any edit that could change a prediction (an array, a parameter, the
feature names) is refused with a clear ``ValueError`` naming the file; so is
a file whose metadata does not follow the format. Loading uses
``allow_pickle=False``: nothing in the file is ever executed. Writes go to a
temporary file in the same folder that replaces the target in one
``os.replace``, so a crash mid-save leaves the previous file intact; new
files get the mode the user's umask gives, and a file saved over keeps its
mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from ._compat import is_scipy_sparse

FORMAT = "softmaxreg-model"
VERSION = 2  # 2: the digest covers the metadata too (1 covered the arrays only)
_ARRAYS = ("coef", "intercept", "classes")

__all__ = ["FORMAT", "VERSION", "atomic_write", "json_digest", "load_model", "save_model",
           "umask"]


def _canonical(doc: dict[str, Any]) -> bytes:
    """``doc`` without its ``sha256`` entry as one byte string (sorted keys, no spaces)."""
    rest = {k: v for k, v in doc.items() if k != "sha256"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()


def json_digest(doc: dict[str, Any]) -> str:
    """SHA-256 of a JSON document, its own ``sha256`` entry left out."""
    return hashlib.sha256(_canonical(doc)).hexdigest()


def _digest(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for name in _ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    h.update(_canonical(meta))
    return h.hexdigest()


def umask() -> int:
    """The process's umask (reading it means setting it: the strictest one meanwhile)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    The file gets the mode of the file it replaces, or the one the umask gives
    a new file (``mkstemp`` alone would make it 0600).
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
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
    from sklearn.utils.validation import check_is_fitted  # the `sklearn` extra

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
    coef = model.coef_
    arrays = {
        "coef": coef.toarray() if is_scipy_sparse(coef) else backends.to_numpy(coef),
        "intercept": backends.to_numpy(model.intercept_),
        "classes": classes,
    }
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "params": {k: _json_safe(v) for k, v in model.get_params().items()},
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": (None if not hasattr(model, "feature_names_in_")
                             else [str(f) for f in model.feature_names_in_]),
        "n_iter": int(model.n_iter_),
        "loss_curve": [float(v) for v in model.loss_curve_],
        "validation_curve": [float(v) for v in getattr(model, "validation_curve_", [])],
        "trained_on": {"backend": model.backend_, "device": str(model.device_)},
    }
    meta["sha256"] = _digest(arrays, meta)
    payload = {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    atomic_write(path, lambda fh: np.savez(fh, **payload))


def _read(path: Path) -> tuple[dict[str, np.ndarray], Any]:
    """The arrays and the parsed metadata of a model file; ValueError naming it otherwise."""
    name = repr(str(path))

    def corrupt(why: Any) -> ValueError:
        return ValueError(f"{name} is not a readable softmaxreg model (truncated or corrupt: "
                          f"{why})")

    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic == b"\x93NUMPY":
        msg = f"{name} holds a single NumPy array (.npy), not a softmaxreg model (.npz)"
        raise ValueError(msg)
    if not magic.startswith(b"PK"):
        msg = (f"{name} is not a NumPy .npz archive, so not a softmaxreg model file "
               f"(save models with `SoftmaxRegression.save` or `softmaxreg train`)")
        raise ValueError(msg)
    try:
        # our own handle: np.load leaves it open when the zip is damaged
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            entries = set(data.files)
            missing = sorted({*_ARRAYS, "meta"} - entries)
            if missing:
                msg = f"{name} is not a softmaxreg model: missing {missing}"
                raise ValueError(msg)
            extra = sorted(entries - {*_ARRAYS, "meta"})
            if extra:
                msg = f"{name} is not a softmaxreg model: unexpected entries {extra}"
                raise ValueError(msg)
            try:
                arrays = {k: data[k] for k in (*_ARRAYS, "meta")}
            except ValueError as exc:
                if "pickle" not in str(exc):
                    raise corrupt(exc) from None  # a damaged array header
                # numpy's own message suggests allow_pickle=True: never
                msg = (f"{name} holds Python objects (pickled data), which softmaxreg never "
                       f"loads: it is not a softmaxreg model file")
                raise ValueError(msg) from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise corrupt(exc) from None
    odd = [k for k, v in arrays.items() if not isinstance(v, np.ndarray)]
    if odd:  # np.load hands back the raw bytes of an entry that is not an array
        raise corrupt(f"{odd} are not NumPy arrays")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(f"its metadata is not JSON: {exc}") from None
    return arrays, meta


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                       for x in v)


def _check_meta(meta: dict[str, Any], arrays: dict[str, np.ndarray], cls: Any) -> str | None:
    """What is wrong with a model file's metadata and arrays, or None."""
    n = meta.get("n_features_in")
    names = meta.get("feature_names_in")
    rules = {
        "params": (isinstance(meta.get("params"), dict), "an object"),
        "n_features_in": (_int(n) and n >= 1, "an integer >= 1"),
        "feature_names_in": (names is None or (isinstance(names, list) and len(names) == n
                                               and all(isinstance(f, str) for f in names)),
                             f"null or a list of {n} names"),
        "n_iter": (_int(meta.get("n_iter")) and meta["n_iter"] >= 0, "an integer >= 0"),
        "loss_curve": (_numbers(meta.get("loss_curve")), "a list of numbers"),
        "validation_curve": (_numbers(meta.get("validation_curve")), "a list of numbers"),
    }
    for key, (ok, wanted) in rules.items():
        if key not in meta:
            return f"`{key}` is missing"
        if not ok:
            return f"`{key}` must be {wanted}, got {meta[key]!r}"
    unknown = sorted(set(meta["params"]) - set(cls().get_params()))
    if unknown:
        return f"unknown parameter(s) {unknown} for {cls.__name__}"
    coef, intercept, classes = arrays["coef"], arrays["intercept"], arrays["classes"]
    if (coef.dtype.kind != "f" or intercept.dtype.kind != "f" or classes.dtype.kind not in "biufU"
            or coef.shape != (len(classes), n) or intercept.shape != (len(classes),)
            or classes.ndim != 1):
        return (f"inconsistent arrays: coef {coef.dtype}{coef.shape}, intercept "
                f"{intercept.dtype}{intercept.shape}, classes {classes.dtype}{classes.shape} "
                f"for {n} features")
    return None


def load_model(cls: Any, path: Any, *, backend: str | None = None, device: Any = None) -> Any:
    path = Path(path)
    if not path.is_file():
        msg = f"no model file at {str(path)!r}"
        raise ValueError(msg)
    arrays, meta = _read(path)
    name = repr(str(path))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        msg = f"{name} is not a softmaxreg model file"
        raise ValueError(msg)
    version = meta.get("version")
    if version != VERSION:
        if _int(version) and version < VERSION:
            advice = (", written by an older softmaxreg whose checksum does not cover the "
                      "metadata: train the model again and save it with this softmaxreg")
        elif _int(version):
            advice = ", written by a newer softmaxreg: upgrade softmaxreg to read it"
        else:
            advice = ""
        msg = f"{name} has model format version {version!r}{advice} (this one reads {VERSION})"
        raise ValueError(msg)
    if meta.get("sha256") != _digest(arrays, meta):
        msg = (f"{name} failed its checksum: the file was changed after saving (its arrays "
               f"or metadata); save the model again")
        raise ValueError(msg)
    problem = _check_meta(meta, arrays, cls)
    if problem:
        msg = f"{name} is not a valid softmaxreg model file: {problem}"
        raise ValueError(msg)
    params = {k: _from_json(v) for k, v in meta["params"].items()}
    if params.get("C") == "inf":
        params["C"] = float("inf")
    model = cls(**params)
    fitted = {"n_features_in": meta["n_features_in"], "n_iter": meta["n_iter"],
              "loss_curve": list(meta["loss_curve"]),
              "validation_curve": list(meta["validation_curve"])}
    if meta["feature_names_in"] is not None:
        fitted["feature_names_in"] = np.asarray(meta["feature_names_in"], dtype=object)
    model._set_fitted(np.ascontiguousarray(arrays["coef"].T), arrays["intercept"],
                      backend="numpy", device="cpu", classes=arrays["classes"], **fitted)
    return model.to(backend or "numpy", device)
