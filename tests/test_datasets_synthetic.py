"""The data loaders on small files made here in the real formats, so they run without the course data.

MNIST: gzipped idx3/idx1 files (the t10k layout). PetImages: a folder of tiny JPEGs per split and
class with a MANIFEST.csv of sha256 sums, and the raw Microsoft archive layout for the download
step. The real-data tests stay in tests/test_datasets_mnist.py and tests/test_datasets_petimages.py.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autograder.datasets import DatasetError, mnist, petimages

# -- MNIST ------------------------------------------------------------------------------------


def _idx(array: np.ndarray) -> bytes:
    """``array`` (uint8) in the idx format: magic 0x0000 08 <dims>, big-endian sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory with 50 synthetic t10k images: image i is filled with i, its label is i % 10."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    images = np.repeat(np.arange(50, dtype=np.uint8), 28 * 28).reshape(50, 28, 28)
    for kind, data in (("images", images), ("labels", np.arange(50, dtype=np.uint8) % 10)):
        name = mnist.FILES[kind][0]
        (folder / name).write_bytes(_idx(data))
        # these files are not the published ones: register their checksums as the expected ones
        monkeypatch.setitem(mnist.FILES, kind, (name, hashlib.md5((folder / name).read_bytes()).hexdigest()))
    return tmp_path


def test_read_idx_reads_shapes_and_bytes_of_both_kinds(tmp_path: Path) -> None:
    cube = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(_idx(cube))
    (tmp_path / "b.gz").write_bytes(_idx(np.array([7, 1, 9], dtype=np.uint8)))
    assert np.array_equal(mnist.read_idx(tmp_path / "a.gz"), cube)
    assert mnist.read_idx(tmp_path / "b.gz").tolist() == [7, 1, 9]


def test_idx_files_split_by_seed_keeping_each_image_with_its_label(mnist_root: Path) -> None:
    first = mnist.load_mnist(mnist_root, seed=0, test_size=10, use_keras=False)
    assert first.x_train.shape == (40, 28, 28) and first.x_test.shape == (10, 28, 28)
    assert first.x_train.dtype == np.uint8 and first.y_train.dtype == np.uint8
    for x, y in ((first.x_train, first.y_train), (first.x_test, first.y_test)):
        assert np.array_equal(x[:, 0, 0] % 10, y) and np.all(x == x[:, :1, :1])  # pairs and pixels intact
    seen = np.concatenate([first.x_train[:, 0, 0], first.x_test[:, 0, 0]])
    assert sorted(seen.tolist()) == list(range(50))  # every image exactly once
    again = mnist.load_mnist(mnist_root, seed=0, test_size=10, use_keras=False)
    other = mnist.load_mnist(mnist_root, seed=1, test_size=10, use_keras=False)
    assert np.array_equal(first.x_test, again.x_test) and not np.array_equal(first.x_test, other.x_test)
    assert "40 train / 10 test with seed 0" in first.source and str(mnist_root / "mnist") in first.source


def test_idx_files_with_different_counts_are_refused(mnist_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = mnist_root / "mnist" / mnist.FILES["labels"][0]
    labels.write_bytes(_idx(np.zeros(49, dtype=np.uint8)))
    monkeypatch.setitem(mnist.FILES, "labels", (labels.name, hashlib.md5(labels.read_bytes()).hexdigest()))
    with pytest.raises(DatasetError, match="50 images but 49 labels"):
        mnist.load_mnist(mnist_root, use_keras=False)


# -- PetImages --------------------------------------------------------------------------------

SHADES = {"cat": 30, "dog": 220}
"""Cats are dark, dogs are light: a label mix-up shows in the pixels."""


def _jpeg(shade: int, size: tuple[int, int] = (24, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (shade, shade, shade)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def pet_root(tmp_path: Path) -> Path:
    """cats_vs_dogs/{train,validation,test}/{cat,dog}/*.jpg (3, 2, 2 per class) and its MANIFEST.csv."""
    root = tmp_path / "cats_vs_dogs"
    rows = [["path", "label", "split", "sha256", "source_file"]]
    for split, count in (("train", 3), ("validation", 2), ("test", 2)):
        for label, shade in SHADES.items():
            for i in range(count):
                path = root / split / label / f"{label}.{i:05d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_jpeg(shade + i))
                rows.append([path.relative_to(root).as_posix(), label, split,
                             hashlib.sha256(path.read_bytes()).hexdigest(), f"PetImages/{label}/{i}.jpg"])
    with (root / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return root


def test_manifest_of_a_small_folder_checks_out_fast_and_full(pet_root: Path) -> None:
    assert petimages.verify_manifest(pet_root) == 10  # train + validation, never the hidden test split
    assert petimages.verify_manifest(pet_root, ("validation",), full=True) == 4
    assert petimages.verify_manifest(pet_root, ("train", "validation", "test"), full=True) == 14
    assert {r["split"] for r in petimages.manifest(pet_root)} == {"train", "validation", "test"}
    (pet_root / "train" / "dog" / "dog.00001.jpg").write_bytes(_jpeg(0))
    with pytest.raises(DatasetError, match="dog.00001.jpg: sha256 does not match"):
        petimages.verify_manifest(pet_root, full=True)


@pytest.mark.tensorflow
def test_hidden_split_arrays_decode_label_and_cache(
        pet_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(tmp_path / "cache"))
    x, y = petimages.hidden_test_arrays(pet_root, (8, 8))
    assert x.shape == (4, 8, 8, 3) and x.dtype == np.uint8 and y.tolist() == [0, 0, 1, 1]
    assert x[y == 0].mean() < 60 < 190 < x[y == 1].mean()  # cat 0 dark, dog 1 light
    for image in (pet_root / "test").glob("*/*.jpg"):
        image.unlink()  # a second call reads the .npy cache, not the images
    cached_x, cached_y = petimages.hidden_test_arrays(pet_root, (8, 8))
    assert np.array_equal(cached_x, x) and np.array_equal(cached_y, y)
    assert len(list((tmp_path / "cache").glob("petimages-test-8x8-*/x.npy"))) == 1


@pytest.mark.tensorflow
def test_validation_arrays_for_the_grader_are_cached_whole(
        pet_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(tmp_path / "cache"))
    x, y = petimages.split_arrays(pet_root, "validation", (8, 6))
    assert x.shape == (len(y), 8, 6, 3) and x.dtype == np.uint8 and sorted(set(y.tolist())) == [0, 1]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [
        next((tmp_path / "cache").glob("petimages-validation-8x6-*")).name], "a partial cache folder was left"
    with pytest.raises(DatasetError, match="lists no images for the split 'nosuch'"):
        petimages.split_arrays(pet_root, "nosuch", (8, 8))


def _archive(dest: Path) -> Path:
    """The Microsoft archive's layout in ``dest``: 9 photos per class, and one file that is not a JPEG."""
    dest.mkdir()
    with zipfile.ZipFile(dest / "kagglecatsanddogs_5340.zip", "w") as zf:
        for label, shade in SHADES.items():
            for i in range(9):  # three more than the splits take: the hidden split has a choice
                zf.writestr(f"PetImages/{label.capitalize()}/{i}.jpg", _jpeg(shade + i, (40, 30)))
            zf.writestr(f"PetImages/{label.capitalize()}/broken.jpg", b"\x00" * 64)
    return dest


@pytest.mark.tensorflow
def test_download_lays_out_splits_from_the_archive_without_a_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The archive already in DEST is used as is; non-JFIF files are dropped as the Keras example does.

    ``--hidden`` adds the test split, chosen by the course's secret (made on first use in the state
    folder); the public download lays out the same train and validation splits, and no test split.
    """
    monkeypatch.setattr(petimages, "SPLIT_SIZES", {"train": 3, "validation": 2, "test": 1})
    monkeypatch.delenv(petimages.SECRET_ENV, raising=False)
    dest, state = _archive(tmp_path / "data"), tmp_path / "course" / ".autograder"
    petimages.main(["download", str(dest), "--hidden", "--state", str(state)])
    root = dest / "cats_vs_dogs"
    assert not (dest / "raw").exists() and (state / petimages.SECRET_FILE).is_file()
    counts = {(s, c): len(list((root / s / c).glob("*.jpg"))) for s in ("train", "validation", "test") for c in SHADES}
    assert counts == {("train", "cat"): 3, ("train", "dog"): 3, ("validation", "cat"): 2, ("validation", "dog"): 2,
                      ("test", "cat"): 1, ("test", "dog"): 1}
    rows = petimages.manifest(root)
    assert len(rows) == 12 and not any("broken" in str(r) for r in rows)
    assert petimages.verify_manifest(root, ("train", "validation", "test"), full=True) == 12
    with Image.open(root / "train" / "cat" / "cat.00000.jpg") as image:
        assert image.size == (180, 180)
    public = petimages.download_petimages(_archive(tmp_path / "public"))
    public_rows = petimages.manifest(public)
    assert not (public / "test").exists() and {r["split"] for r in public_rows} == {"train", "validation"}
    assert public_rows == [r for r in rows if r["split"] != "test"], "the public splits are the instructor's"


def test_idx_download_keeps_checked_files_and_removes_a_bad_one(
        mnist_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import urllib.request

    fetched: list[str] = []

    def fake_retrieve(url: str, dest: Path) -> None:  # the mirror, served from the synthetic files
        fetched.append(url)
        shutil.copyfile(mnist_root / "mnist" / url.rsplit("/", 1)[1], dest)

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_retrieve)
    dest = tmp_path / "fresh"
    folder = mnist.download_idx(dest)
    assert sorted(p.name for p in folder.iterdir()) == sorted(name for name, _ in mnist.FILES.values())
    assert fetched == [mnist.MIRROR + name for name, _ in mnist.FILES.values()]
    assert mnist.load_mnist(dest, test_size=10, use_keras=False).x_train.shape == (40, 28, 28)
    mnist.download_idx(dest)  # present and checked: nothing fetched again
    assert len(fetched) == 2
    monkeypatch.setitem(mnist.FILES, "labels", (mnist.FILES["labels"][0], "0" * 32))
    (folder / mnist.FILES["labels"][0]).unlink()
    with pytest.raises(DatasetError, match="checksum mismatch"):
        mnist.download_idx(dest)
    assert not (folder / mnist.FILES["labels"][0]).exists()
