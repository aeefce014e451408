"""MNIST loading: the real idx files, checksums, and clear errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from autograder.datasets import DatasetError
from autograder.datasets.mnist import load_mnist, read_idx


def test_real_idx_files_split_deterministically(data_dir: Path) -> None:
    first = load_mnist(data_dir, seed=0, use_keras=False)
    again = load_mnist(data_dir, seed=0, use_keras=False)
    other = load_mnist(data_dir, seed=1, use_keras=False)
    assert first.x_train.shape == (8000, 28, 28) and first.x_test.shape == (2000, 28, 28)
    assert first.x_train.dtype == np.uint8 and set(np.unique(first.y_test)) == set(range(10))
    assert np.array_equal(first.y_test, again.y_test) and not np.array_equal(first.y_test, other.y_test)
    assert "t10k" in first.source and "seed 0" in first.source


def test_missing_files_say_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz is missing"):
        load_mnist(tmp_path, use_keras=False)


def test_checksum_mismatch_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_mnist(tmp_path, use_keras=False)


def test_bad_magic_and_truncation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x07"))
    with pytest.raises(DatasetError, match="bad magic"):
        read_idx(bad)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05\x07"))
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(short)
