"""The data-only channel's encoding: JSON lines with tagged numbers, arrays and tables; never pickle.

Both sides use it: the kernel inside the container encodes student values, the trusted
harness decodes them. Decoding builds only plain Python values, numpy arrays (raw bytes of a
plain number, boolean, string or time dtype, rebuilt with ``np.frombuffer``: no object dtype,
no pickle) and pandas frames built from those arrays, so nothing a submission sends can run
code in the grader.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DEPTH = 32
"""Deepest nesting of lists/dicts accepted either way."""


class WireError(ValueError):
    """A message is not valid channel data."""


@dataclass(frozen=True)
class Handle:
    """An opaque reference to an object that lives in the student's kernel."""

    id: int
    """Kernel-side key of the object."""
    type_name: str
    """The object's class name, for messages only."""


_DTYPE = re.compile(r"[<>|=]?[biufcSUmM][0-9]{1,6}(\[[0-9]*[a-zA-Z]{1,2}\])?")
"""Array dtypes that cross the wire, spelled as ``dtype.str``: plain numbers, booleans, strings and times
(never object, void or structured dtypes)."""
MAX_DIMS = 32
"""Most dimensions of an array on the wire (NumPy's own limit is 64)."""


def _array_to_wire(array: np.ndarray[Any, Any]) -> list[Any]:
    """``[dtype.str, shape, base64 of the C-ordered bytes]``: what np.save writes, without its header's cost."""
    return [array.dtype.str, list(array.shape), base64.b64encode(array.tobytes(order="C")).decode("ascii")]


def _array_from_wire(payload: Any) -> np.ndarray[Any, Any]:
    """A fresh, writable array from ``[dtype, shape, data]``; anything else is a ``WireError``."""
    if type(payload) is not list or len(payload) != 3:
        raise WireError("invalid array payload: expected [dtype, shape, data]")
    kind, shape, data = payload
    if type(kind) is not str or not _DTYPE.fullmatch(kind):
        raise WireError(f"invalid array payload: dtype {str(kind)[:40]!r} is not a plain number, bool, string "
                        "or time type")
    if (type(shape) is not list or len(shape) > MAX_DIMS
            or not all(type(n) is int and 0 <= n < 2**62 for n in shape) or type(data) is not str):
        raise WireError("invalid array payload: malformed shape or data")
    try:
        dtype = np.dtype(kind)
        raw = bytearray(base64.b64decode(data.encode("ascii"), validate=True))
    except (TypeError, ValueError) as exc:  # binascii.Error is a ValueError
        raise WireError(f"invalid array payload: {exc}") from exc
    if dtype.hasobject or dtype.fields is not None or dtype.itemsize == 0:
        raise WireError("arrays must have a numeric, boolean or string dtype")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise WireError(f"invalid array payload: {len(raw)} bytes do not make a {dtype.str} array of shape "
                        f"{tuple(shape)}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _float(value: float) -> Any:
    return value if math.isfinite(value) else {"$float": repr(value)}


def is_data(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` crosses the channel as data (else it becomes a handle)."""
    if depth > MAX_DEPTH:
        return False
    if value is None or type(value) in (bool, int, float, str, bytes, complex):
        return True
    if isinstance(value, np.generic | np.ndarray):
        return not np.asarray(value).dtype.hasobject
    if type(value) in (list, tuple):
        return all(is_data(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_data(v, depth + 1) for k, v in value.items())
    return _is_pandas(value)


def _is_pandas(value: Any) -> bool:
    module = type(value).__module__
    return module.split(".")[0] == "pandas" and type(value).__name__ in ("DataFrame", "Series")


def encode(value: Any, depth: int = 0) -> Any:  # noqa: C901 - one branch per wire type
    """Turn a data value into JSON-ready structures (callers check ``is_data`` first)."""
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Handle):
        return {"$handle": value.id, "type": value.type_name}
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return _float(value)
    if type(value) is complex:
        return {"$complex": [_float(value.real), _float(value.imag)]}
    if type(value) is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        return {"$ndarray": _array_to_wire(value)}
    if isinstance(value, np.generic):
        return {"$npscalar": _array_to_wire(np.asarray(value))}
    if type(value) is list:
        return [encode(v, depth + 1) for v in value]
    if type(value) is tuple:
        return {"$tuple": [encode(v, depth + 1) for v in value]}
    if type(value) is dict:
        return {"$dict": {k: encode(v, depth + 1) for k, v in value.items()}}
    if _is_pandas(value):
        return _encode_pandas(value, depth)
    raise WireError(f"{type(value).__name__} is not channel data")


def _encode_pandas(value: Any, depth: int) -> Any:
    if type(value).__name__ == "Series":
        value = value.to_frame(name=value.name if value.name is not None else 0)
        kind = "series"
    else:
        kind = "frame"
    columns = [str(c) for c in value.columns]
    data = {}
    for name, column in zip(columns, value.columns, strict=True):
        array = value[column].to_numpy()
        if array.dtype.hasobject:
            array = array.astype(str)
        data[name] = {"$ndarray": _array_to_wire(array)}
    index = value.index.to_numpy()
    if index.dtype.hasobject:
        index = index.astype(str)
    return {
        "$table": {
            "kind": kind,
            "columns": columns,
            "data": data,
            "index": {"$ndarray": _array_to_wire(index)},
            "index_name": None if value.index.name is None else str(value.index.name),
        }
    }


def decode(value: Any, depth: int = 0) -> Any:
    """Rebuild a value from JSON structures, accepting only the wire's data types.

    Any malformed payload raises ``WireError``, never a built-in exception: a forged reply must
    not pass for an exception the student's code raised.
    """
    try:
        return _decode(value, depth)
    except WireError:
        raise
    except Exception as exc:  # binascii.Error, TypeError, pandas' ValueError, ...: all the same to callers
        raise WireError(f"malformed payload: {type(exc).__name__}: {str(exc)[:200]}") from exc


def _decode(value: Any, depth: int) -> Any:  # noqa: C901 - one branch per wire type
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_decode(v, depth + 1) for v in value]
    if type(value) is not dict or len(value) not in (1, 2):
        raise WireError(f"unexpected {type(value).__name__} in message")
    tag, payload = next(iter(value.items()))
    if tag == "$float" and payload in ("nan", "inf", "-inf"):
        return float(payload)
    if tag == "$complex" and type(payload) is list and len(payload) == 2:
        return complex(_decode(payload[0], depth + 1), _decode(payload[1], depth + 1))
    if tag == "$bytes" and type(payload) is str:
        return base64.b64decode(payload.encode("ascii"), validate=True)
    if tag == "$ndarray":
        return _array_from_wire(payload)
    if tag == "$npscalar":
        return _array_from_wire(payload)[()]
    if tag == "$tuple" and type(payload) is list:
        return tuple(_decode(v, depth + 1) for v in payload)
    if tag == "$dict" and type(payload) is dict:
        return {str(k): _decode(v, depth + 1) for k, v in payload.items()}
    if tag == "$handle" and type(payload) is int:
        return Handle(payload, str(value.get("type", "object")))
    if tag == "$table" and type(payload) is dict:
        return _decode_table(payload)
    raise WireError(f"unknown tag {tag!r} in message")


def _decode_table(payload: dict[str, Any]) -> Any:
    import pandas as pd

    columns = payload.get("columns")
    data = payload.get("data")
    if type(columns) is not list or type(data) is not dict or set(columns) != set(data):
        raise WireError("malformed table")
    arrays = {str(c): _decode(data[c], 1) for c in columns}
    if not all(isinstance(a, np.ndarray) and a.ndim == 1 for a in arrays.values()):
        raise WireError("table columns must be 1-D arrays")
    index = pd.Index(_decode(payload.get("index"), 1), name=payload.get("index_name"))
    frame = pd.DataFrame(arrays, index=index, columns=[str(c) for c in columns])
    return frame.iloc[:, 0] if payload.get("kind") == "series" else frame


def dumps(message: dict[str, Any]) -> bytes:
    """One message as a JSON line."""
    return json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n"


def loads(line: bytes) -> dict[str, Any]:
    """Parse one JSON line into a message dict (structure only; payloads stay encoded)."""
    try:
        message = json.loads(line.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError(f"malformed message: {str(exc)[:120]}") from exc
    if type(message) is not dict:
        raise WireError("a message must be a JSON object")
    return message


def _refuse_constant(name: str) -> Any:
    raise WireError(f"bare {name} is not allowed on the wire")
