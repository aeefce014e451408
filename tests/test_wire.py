"""The channel encoding: data round-trips exactly; nothing else is accepted."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from autograder.channel import wire


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 1.5, "text", b"\x00\xff", 1 + 2j, [1, [2, 3]], (1, "a"),
    {"a": [1.0, None], "b": {"c": (2,)}},
])
def test_plain_values_round_trip(value: object) -> None:
    assert wire.decode(wire.loads(wire.dumps({"v": wire.encode(value)}))["v"]) == value


def test_non_finite_floats_round_trip() -> None:
    out = wire.decode(wire.loads(wire.dumps({"v": wire.encode([math.nan, math.inf, -math.inf])}))["v"])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf


def test_arrays_keep_dtype_shape_and_values() -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = wire.decode(wire.encode(array))
    assert out.dtype == np.float32 and out.shape == (3, 4) and np.array_equal(out, array)
    assert wire.decode(wire.encode(np.float64(2.5))) == 2.5


def test_array_subclass_arrives_as_plain_ndarray() -> None:
    class Liar(np.ndarray):
        def __eq__(self, other: object) -> bool:  # type: ignore[override]
            return True

    out = wire.decode(wire.encode(np.zeros(3).view(Liar)))
    assert type(out) is np.ndarray


def test_dataframe_round_trips_with_index() -> None:
    frame = pd.DataFrame({"acc": [0.9, 0.8], "epochs": [3, 3]},
                         index=pd.Index(["relu", "tanh"], name="activation"))
    out = wire.decode(wire.encode(frame))
    assert list(out.index) == ["relu", "tanh"] and out.index.name == "activation"
    assert out["acc"].tolist() == [0.9, 0.8] and out["epochs"].dtype.kind == "i"


def test_objects_are_not_data() -> None:
    assert not wire.is_data(object())
    assert not wire.is_data(np.array([object()]))
    assert not wire.is_data({1: "non-string key"})
    with pytest.raises(wire.WireError):
        wire.encode(object())


def test_pickled_array_payload_is_refused() -> None:
    import base64
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    npy = base64.b64encode(buffer.getvalue()).decode()
    for payload in ({"$ndarray": npy}, {"$ndarray": ["|O", [1], npy]}, {"$npscalar": ["|O", [], npy]}):
        with pytest.raises(wire.WireError, match="invalid array payload"):
            wire.decode(payload)


@pytest.mark.parametrize("payload", [
    ["<f8", [2], "AAAAAAAAAAA="],  # 8 bytes for two float64
    ["<f8", [-1], ""],
    ["<f8", [1] * 33, "AAAAAAAAAAA="],
    ["<f8", [True], "AAAAAAAAAAA="],
    ["[('a', 'O')]", [1], "AAAAAAAAAAA="],
    ["V8", [1], "AAAAAAAAAAA="],
    ["<f8", [1], "not base64!"],
    ["<f8", [1]],
])
def test_malformed_arrays_are_refused(payload: list[object]) -> None:
    with pytest.raises(wire.WireError, match="invalid array payload"):
        wire.decode({"$ndarray": payload})


@pytest.mark.parametrize("value", [
    np.arange(6, dtype=np.int32).reshape(2, 3).T, np.array(["ab", "c"]), np.array([b"x"]), np.array([True, False]),
    np.array(["2020-01-01"], dtype="M8[ns]"), np.zeros((0, 3)), np.array([1 + 2j]), np.arange(9.0)[::2],
    np.arange(4, dtype=">i2"),
])
def test_arrays_keep_dtype_shape_and_values_and_arrive_writable(value: np.ndarray[Any, Any]) -> None:
    out = wire.decode(json.loads(json.dumps(wire.encode(value))))
    assert type(out) is np.ndarray and out.dtype == value.dtype and out.shape == value.shape
    assert np.array_equal(out, value)
    out[...] = value  # the student's code may change its arguments in place
    scalar = wire.decode(wire.encode(np.float16(2.5)))
    assert type(scalar) is np.float16 and scalar == 2.5


@pytest.mark.parametrize("message", [b"[1]\n", b"{\"v\": NaN}\n", b"\xff\n", b"{" * 100000 + b"\n"])
def test_malformed_messages_are_refused(message: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.loads(message)


def test_unknown_tags_and_deep_nesting_are_refused() -> None:
    with pytest.raises(wire.WireError, match="unknown tag"):
        wire.decode({"$pickle": "gASV"})
    deep: object = 1
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested deeper"):
        wire.decode(deep)


def _npy(array: np.ndarray[Any, Any]) -> dict[str, str]:
    return wire.encode(array)  # type: ignore[no-any-return]


@pytest.mark.parametrize("value", [
    {"$bytes": "not base64!"},
    {"$complex": ["a", 1]},
    {"$complex": [{"$bytes": "AA=="}, 1]},
    {"$table": {"kind": "frame", "columns": ["a"], "data": {"a": _npy(np.arange(2))}, "index": _npy(np.arange(3))}},
    {"$table": {"kind": "frame", "columns": [["a"]], "data": {}}},
])
def test_malformed_payloads_raise_the_wires_own_error(value: object) -> None:
    with pytest.raises(wire.WireError) as caught:  # never a bare ValueError/TypeError a test could mistake
        wire.decode(value)
    assert type(caught.value) is wire.WireError
