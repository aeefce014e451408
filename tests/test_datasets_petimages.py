"""PetImages: manifest checks, split helpers, and the grader's cached hidden split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.datasets import DatasetError
from autograder.datasets.petimages import SPLIT_SIZES, is_jfif, manifest, split_files, verify_manifest


def test_verify_manifest_on_real_data(data_dir: Path) -> None:
    assert verify_manifest(data_dir / "cats_vs_dogs") == 7000  # train + validation only
    assert {r["split"] for r in manifest(data_dir / "cats_vs_dogs")} == {"train", "validation", "test"}


def test_missing_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "MANIFEST.csv").write_text("path,label,split,sha256,source_file\ntrain/cat/x.jpg,cat,train,00,a\n")
    with pytest.raises(DatasetError, match="train/cat/x.jpg is listed in MANIFEST.csv but missing"):
        verify_manifest(tmp_path)


def test_changed_file_fails_full_check(tmp_path: Path) -> None:
    (tmp_path / "train" / "cat").mkdir(parents=True)
    (tmp_path / "train" / "cat" / "x.jpg").write_bytes(b"changed")
    (tmp_path / "MANIFEST.csv").write_text("path,label,split,sha256,source_file\ntrain/cat/x.jpg,cat,train,00,a\n")
    assert verify_manifest(tmp_path) == 1
    with pytest.raises(DatasetError, match="sha256 does not match"):
        verify_manifest(tmp_path, full=True)


def test_split_files_is_deterministic_and_disjoint() -> None:
    files = [Path(f"{i}.jpg") for i in range(sum(SPLIT_SIZES.values()) + 10)]
    first, again = split_files(files, seed=3), split_files(files, seed=3)
    assert first == again and {k: len(v) for k, v in first.items()} == SPLIT_SIZES
    assert not set(first["train"]) & set(first["test"])


def test_jfif_filter(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00rest")
    bad.write_bytes(b"\x00" * 20)
    assert is_jfif(good) and not is_jfif(bad)


@pytest.mark.tensorflow
def test_hidden_split_arrays_are_cached(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.datasets.petimages import hidden_test_arrays

    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(tmp_path))
    x, y = hidden_test_arrays(data_dir / "cats_vs_dogs", (32, 32))
    assert x.shape == (2000, 32, 32, 3) and x.dtype == np.uint8 and y.mean() == 0.5
    assert list(tmp_path.glob("petimages-test-32x32-*/x.npy"))
