"""PetImages (cats vs dogs): checked folders, Keras pipelines, the hidden split for graders, download."""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import hmac
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autograder.datasets import DatasetError, cache_dir, data_dir, kept_secret

CLASSES = ("cat", "dog")
"""Label 0 is cat, 1 is dog."""
URL = "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip"
"""The Microsoft PetImages archive (Kaggle "Cats and Dogs")."""
SPLIT_SIZES = {"train": 3000, "validation": 500, "test": 1000}
"""Images per class in each split, as in the course data."""
SECRET_ENV = "AUTOGRADER_SPLIT_SECRET"
"""Environment variable with the course's split secret (any text); it overrides :data:`SECRET_FILE`."""
SECRET_FILE = "split.key"
"""File in the course's state folder (``.autograder/``) holding the split secret, made on first use."""


def default_root() -> Path:
    """``<data dir>/cats_vs_dogs``."""
    return data_dir() / "cats_vs_dogs"


def manifest(root: Path) -> list[dict[str, str]]:
    """Rows of ``MANIFEST.csv`` (path, label, split, sha256, source)."""
    path = root / "MANIFEST.csv"
    if not path.is_file():
        raise DatasetError(f"{path} is missing; point AUTOGRADER_DATA_DIR at a folder holding cats_vs_dogs/")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def verify_manifest(root: Path | None = None, splits: Sequence[str] = ("train", "validation"), *,
                    full: bool = False) -> int:
    """Check the split folders against MANIFEST.csv; return the number of images checked.

    Fast by default: every listed file exists and no folder holds unlisted JPEGs. ``full`` also
    compares each file's sha256 with the manifest (a few seconds per thousand images).
    """
    root = root or default_root()
    rows = [r for r in manifest(root) if r["split"] in splits]
    if not rows:
        raise DatasetError(f"{root}/MANIFEST.csv lists no images for splits {list(splits)}")
    for row in rows:
        path = root / row["path"]
        if not path.is_file():
            raise DatasetError(f"{path} is listed in MANIFEST.csv but missing; restore the data directory")
    listed = {row["path"] for row in rows}
    for split in splits:
        extra = sorted(p.relative_to(root).as_posix() for p in (root / split).glob("*/*.jpg")
                       if p.relative_to(root).as_posix() not in listed)
        if extra:
            raise DatasetError(f"{root / split} holds {len(extra)} image(s) not in MANIFEST.csv (first: {extra[0]}); "
                               "remove them or rebuild the data directory")
    if full:
        _check_hashes(root, rows)
    return len(rows)


def _check_hashes(root: Path, rows: Sequence[dict[str, str]]) -> None:
    from rich.progress import track

    for row in track(rows, description="sha256 of PetImages", transient=True):
        path = root / row["path"]
        if hashlib.sha256(path.read_bytes()).hexdigest() != row["sha256"]:
            raise DatasetError(f"{path}: sha256 does not match MANIFEST.csv; the file was changed, restore it")


def image_datasets(root: Path | None = None, *, splits: Sequence[str] = ("train", "validation"),
                   image_size: tuple[int, int] = (64, 64), batch_size: int = 32, seed: int = 0,
                   shuffle_train: bool = True) -> dict[str, Any]:
    """``tf.data`` datasets per split from the folders (labels: cat 0, dog 1; pixels 0-255 float32).

    Only ``train`` is shuffled (with ``seed``, reshuffled each epoch) and only if ``shuffle_train``.
    """
    import keras

    root = root or default_root()
    out = {}
    for split in splits:
        folder = root / split
        if not folder.is_dir():
            raise DatasetError(f"{folder} is missing; expected cats_vs_dogs/{split}/{{cat,dog}}/*.jpg")
        out[split] = keras.utils.image_dataset_from_directory(
            folder, labels="inferred", label_mode="binary", class_names=list(CLASSES),
            image_size=image_size, batch_size=batch_size, shuffle=shuffle_train and split == "train", seed=seed,
            verbose=False,
        )
    return out


def hidden_test_arrays(root: Path, image_size: tuple[int, int]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The hidden test split as uint8 images (n, h, w, 3) and labels (see :func:`split_arrays`)."""
    return split_arrays(root, "test", image_size)


def split_arrays(root: Path, split: str,
                 image_size: tuple[int, int]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """One split's photos as uint8 images (n, h, w, 3), resized as Keras's loader resizes them (bilinear),
    and their labels (cat 0, dog 1), in MANIFEST.csv's order; decoded once and cached as .npy."""
    rows = [r for r in manifest(root) if r["split"] == split]
    if not rows:
        raise DatasetError(f"{root}/MANIFEST.csv lists no images for the split {split!r}")
    key = hashlib.sha256("".join(r["sha256"] for r in rows).encode()).hexdigest()[:16]
    cache = cache_dir() / f"petimages-{split}-{image_size[0]}x{image_size[1]}-{key}"
    if (cache / "x.npy").is_file() and (cache / "y.npy").is_file():
        return np.load(cache / "x.npy", allow_pickle=False), np.load(cache / "y.npy", allow_pickle=False)
    import tensorflow as tf

    images = np.empty((len(rows), *image_size, 3), dtype=np.uint8)
    labels = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        raw = tf.io.decode_jpeg(tf.io.read_file(str(root / row["path"])), channels=3)
        resized = tf.image.resize(raw, image_size, method="bilinear", antialias=False)
        images[i] = np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)
        labels[i] = CLASSES.index(row["label"])
    partial = cache.with_name(f".{cache.name}.{os.getpid()}")  # parallel graders: the first whole one wins
    partial.mkdir(parents=True, exist_ok=True)
    np.save(partial / "x.npy", images, allow_pickle=False)
    np.save(partial / "y.npy", labels, allow_pickle=False)
    try:
        partial.rename(cache)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
    return images, labels


def is_jfif(path: Path) -> bool:
    """The Keras example's filter for the raw archive: keep files whose header names JFIF."""
    with path.open("rb") as handle:
        return b"JFIF" in handle.peek(10)[:10] if hasattr(handle, "peek") else b"JFIF" in handle.read(10)


def split_secret(state_dir: Path) -> bytes:
    """The course secret that decides which photos are hidden: ``$AUTOGRADER_SPLIT_SECRET`` when set, else
    ``state_dir/split.key``, made on first use (64 random hex digits, readable by this user only).

    Only the instructor's download reads it: grading reads the test split from disk, and neither the
    variable (the container's environment is built from nothing) nor the state folder reaches a container.
    """
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        return from_env.encode()
    text = kept_secret(state_dir, SECRET_FILE)
    if not text:
        path = state_dir / SECRET_FILE
        raise DatasetError(f"{path} is empty: restore the course's split secret, or delete the file to make a new "
                           "one (a new hidden split: regrade every submission)")
    return text.encode()


def _secret_rank(secret: bytes, path: Path) -> bytes:
    return hmac.new(secret, f"petimages-test/{path.parent.name}/{path.name}".encode(), hashlib.sha256).digest()


def split_files(files: Sequence[Path], secret: bytes | None = None, *, seed: int = 0) -> dict[str, list[Path]]:
    """Assign one class's files to the course's splits.

    ``train`` and ``validation`` are drawn with the public ``seed``: students get them anyway, and a
    download without the secret (a course's CI, a student) lays out the same ones. ``test`` is drawn
    from the rest in an order only ``secret`` decides (an HMAC of each file's folder and name), so the
    public code cannot tell which photos are hidden; without a secret there is no test split.
    """
    order = np.random.default_rng(seed).permutation(len(files))
    shuffled = [files[i] for i in order]
    train, public = SPLIT_SIZES["train"], SPLIT_SIZES["train"] + SPLIT_SIZES["validation"]
    out = {"train": shuffled[:train], "validation": shuffled[train:public]}
    if secret is not None:
        rest = sorted(shuffled[public:], key=functools.partial(_secret_rank, secret))
        out["test"] = rest[:SPLIT_SIZES["test"]]
    return out


def download_petimages(dest: Path, *, secret: bytes | None = None, seed: int = 0, size: int = 180) -> Path:
    """Download the Microsoft archive, drop undecodable files, resize, and lay out the course splits.

    Without ``secret`` only the public splits (train, validation); with the course's secret
    (:func:`split_secret`) the hidden test split too.
    """
    import urllib.request
    import zipfile

    import tensorflow as tf

    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "kagglecatsanddogs_5340.zip"
    if not archive.is_file():
        print(f"downloading {URL} ...", file=sys.stderr)
        urllib.request.urlretrieve(URL, archive)  # noqa: S310 - fixed https URL
    raw = dest / "raw"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(raw)
    rows = []
    for label in CLASSES:
        folder = raw / "PetImages" / label.capitalize()
        files = sorted(p for p in folder.glob("*.jpg") if is_jfif(p))
        for split, chosen in split_files(files, secret, seed=seed).items():
            for index, path in enumerate(chosen):
                target = dest / "cats_vs_dogs" / split / label / f"{label}.{index:05d}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                image = tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3), (size, size))
                tf.io.write_file(str(target), tf.io.encode_jpeg(tf.cast(image, tf.uint8)))
                digest = hashlib.sha256(target.read_bytes()).hexdigest()
                rows.append([str(target.relative_to(dest / "cats_vs_dogs")), label, split, digest, path.name])
    with (dest / "cats_vs_dogs" / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["path", "label", "split", "sha256", "source"], *rows])
    shutil.rmtree(raw, ignore_errors=True)
    return dest / "cats_vs_dogs"


def _course_state(start: Path) -> Path:
    """``.autograder/`` of the course at or above ``start`` (the nearest folder with ``source/``), else of ``start``."""
    here = start.resolve()
    return next((f for f in (here, *here.parents) if (f / "source").is_dir()), here) / ".autograder"


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m autograder.datasets.petimages download DEST [--hidden] [--state DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m autograder.datasets.petimages", description=(
        "Download PetImages and lay out train/ and validation/ (public: the same for everyone); with --hidden, "
        f"also the hidden test/ split, chosen by the course's secret (${SECRET_ENV}, else STATE/{SECRET_FILE}, "
        "made on first use)."))
    parser.add_argument("command", choices=["download"])
    parser.add_argument("dest", type=Path, help="data directory to fill (cats_vs_dogs/ goes inside)")
    parser.add_argument("--hidden", action="store_true", help="also lay out the hidden test split (instructors)")
    parser.add_argument("--state", type=Path, default=None,
                        help="the course's state folder (default: .autograder/ of the course at or above here)")
    args = parser.parse_args(argv)
    secret = split_secret(args.state or _course_state(Path.cwd())) if args.hidden else None
    print(download_petimages(args.dest, secret=secret))


if __name__ == "__main__":
    main()
