"""PetImages: manifest checks, split helpers, and the grader's cached hidden split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autograder.datasets import DatasetError
from autograder.datasets.petimages import (
    SECRET_ENV,
    SECRET_FILE,
    SPLIT_SIZES,
    is_jfif,
    manifest,
    split_files,
    split_secret,
    verify_manifest,
)


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


PHOTOS = [Path(f"PetImages/Cat/{i}.jpg") for i in range(12_499)]
"""One class of the real archive, by name: 12,499 photos, of which 3,500 are public and 1,000 hidden."""


def test_split_files_is_deterministic_and_disjoint() -> None:
    first, again = split_files(PHOTOS, b"course secret", seed=3), split_files(PHOTOS, b"course secret", seed=3)
    assert first == again and {k: len(v) for k, v in first.items()} == SPLIT_SIZES
    chosen = [set(first[split]) for split in SPLIT_SIZES]
    assert sum(map(len, chosen)) == len(set().union(*chosen)), "the splits overlap"


def test_the_hidden_split_depends_on_the_secret_and_only_on_it() -> None:
    one, same, other = (split_files(PHOTOS, secret) for secret in (b"secret one", b"secret one", b"secret two"))
    assert one["test"] == same["test"], "one secret, one hidden split"
    assert len(set(one["test"]) & set(other["test"])) < 300, "another secret hides other photos (~111 in common)"
    public = split_files(PHOTOS)  # what a student, or a course's CI, lays out without the secret
    assert "test" not in public
    assert all(public[s] == one[s] == other[s] for s in ("train", "validation")), "the public splits never change"


def test_the_public_code_cannot_rebuild_the_hidden_split() -> None:
    """The old recipe (the next 1,000 photos of a seeded shuffle) finds no more than chance, for any seed."""
    hidden = set(split_files(PHOTOS, b"course secret")["test"])
    public = SPLIT_SIZES["train"] + SPLIT_SIZES["validation"]
    for seed in range(20):
        order = np.random.default_rng(seed).permutation(len(PHOTOS))
        guess = {PHOTOS[i] for i in order[public:public + SPLIT_SIZES["test"]]}
        assert len(guess & hidden) < 300, (seed, len(guess & hidden))


def test_split_secret_is_made_once_private_and_ignored_by_git(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    state = tmp_path / ".autograder"
    secret = split_secret(state)
    assert len(secret) == 64 and split_secret(state) == secret
    assert (state / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    monkeypatch.setenv(SECRET_ENV, "from the environment")
    assert split_secret(state) == b"from the environment"
    monkeypatch.delenv(SECRET_ENV)
    (state / SECRET_FILE).write_text("\n")
    with pytest.raises(DatasetError, match="is empty: restore the course's split secret, or delete the file"):
        split_secret(state)


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


SEARCH = r"""
import json, os, sys
secret, found = sys.argv[1], []
if secret in json.dumps(dict(os.environ)) or secret.encode() in open("/proc/self/environ", "rb").read():
    found.append("environment")
for top, folders, files in os.walk("/"):
    if top in ("/proc", "/sys", "/dev"):
        folders[:] = []
    found += [os.path.join(top, name) for name in files if name == "split.key"]
print(json.dumps(found))
"""


@pytest.mark.container
def test_the_split_secret_reaches_neither_the_release_nor_a_container(
        sandbox_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from autograder.authoring.assign import assign
    from autograder.sandbox import default_env, get_sandbox, runtime_mounts
    from tests import factories

    course = factories.tiny_course(tmp_path / "course")
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret = split_secret(course / ".autograder").decode()
    monkeypatch.setenv(SECRET_ENV, secret)  # the grader's host has it in both places
    assign("tiny", root=course, run_solution=False)
    released = [p for p in (course / "release").rglob("*") if p.is_file()]
    assert released and not [p for p in released if secret.encode() in p.read_bytes()]
    with get_sandbox(sandbox_name).spawn([sys.executable, "-c", SEARCH, secret], mounts=runtime_mounts(),
                                         env=default_env()) as proc:
        out, err = proc.communicate(timeout=120)
    assert proc.wait() == 0, err.decode()
    assert json.loads(out) == [], "the container sees the split secret"
