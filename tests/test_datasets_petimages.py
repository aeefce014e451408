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


def test_unlisted_image_is_named(tmp_path: Path) -> None:
    (tmp_path / "train" / "dog").mkdir(parents=True)
    (tmp_path / "train" / "dog" / "x.jpg").write_bytes(b"x")
    (tmp_path / "train" / "dog" / "stray.jpg").write_bytes(b"y")
    (tmp_path / "MANIFEST.csv").write_text("path,label,split,sha256,source_file\ntrain/dog/x.jpg,dog,train,00,a\n")
    with pytest.raises(DatasetError, match="1 image.*not in MANIFEST.csv.*train/dog/stray.jpg"):
        verify_manifest(tmp_path, ("train",))


def test_full_check_of_real_validation_split(data_dir: Path) -> None:
    assert verify_manifest(data_dir / "cats_vs_dogs", ("validation",), full=True) == 1000


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


@pytest.mark.tensorflow
def test_image_datasets_label_cats_0_and_dogs_1(tmp_path: Path) -> None:
    import tensorflow as tf

    from autograder.datasets.petimages import image_datasets

    for label, value in (("cat", 10), ("dog", 200)):
        (tmp_path / "validation" / label).mkdir(parents=True)
        pixels = tf.constant(np.full((20, 30, 3), value, dtype=np.uint8))
        tf.io.write_file(str(tmp_path / "validation" / label / "a.jpg"), tf.io.encode_jpeg(pixels))
    ds = image_datasets(tmp_path, splits=("validation",), image_size=(8, 8), batch_size=4)["validation"]
    images, labels = next(iter(ds))
    assert images.shape == (2, 8, 8, 3) and images.dtype == tf.float32 and labels.shape == (2, 1)
    by_label = {float(lab[0]): float(tf.reduce_mean(img)) for img, lab in zip(images, labels, strict=True)}
    assert by_label[0.0] < 50 < by_label[1.0], "cat must be 0 and dog 1, pixels in 0-255"
