"""Trusted side: a submitted Keras model file, loaded without running any code it holds, and judged on
one split of the PetImages photos. The hidden tests of ``cat_and_dog_classifier`` and the reference
trainer share these, so every check reads the model file the same way and says the same thing."""

from __future__ import annotations

import functools
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_FILE = "cat_dog_model.keras"


@dataclass(frozen=True)
class Judgement:
    """A model's predictions on one split: dog when the sigmoid output is >= 0.5."""

    accuracy: float
    confusion: list[list[int]]
    """[[cat→cat, cat→dog], [dog→cat, dog→dog]]: rows are the true class, columns the predicted one."""
    seconds: float
    """Time spent predicting (the photos were decoded before)."""
    photos: int


def load_submitted(path: Path) -> Any:
    """The Keras model in ``path``, loaded with ``safe_mode=True`` (no Lambda layers, no custom code) and
    without its optimizer; a missing, foreign or unloadable file fails the calling check with what to do."""
    if not path.is_file():
        raise AssertionError(f"{MODEL_FILE} is missing from your submission: save it with model.save(MODEL_PATH)")
    stat = path.stat()
    return _load(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _load(path: Path, mtime_ns: int, size: int) -> Any:  # the file's identity keys the cache
    import keras

    if not zipfile.is_zipfile(path):
        raise AssertionError(f"{MODEL_FILE} could not be loaded: it is not the zip archive that "
                             "model.save(MODEL_PATH) writes; save your model again")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:
        if "Lambda" in str(exc) or "safe_mode" in str(exc):
            raise AssertionError("your model file contains a Lambda layer or custom code, which the grader refuses "
                                 "to load (safe_mode=True); use built-in Keras layers only") from None
        raise AssertionError(f"{MODEL_FILE} could not be loaded: {str(exc)[:200]}") from None


def image_size(model: Any) -> tuple[int, int]:
    """The (height, width) the model takes; fails the check unless it maps RGB images to one probability."""
    shape = tuple(model.input_shape)
    if not (len(shape) == 4 and shape[-1] == 3 and shape[1] and shape[2] and tuple(model.output_shape) == (None, 1)):
        raise AssertionError(f"the model should map RGB images to one probability; it maps {shape} to "
                             f"{model.output_shape}")
    return int(shape[1]), int(shape[2])


def judge(model: Any, root: Path, split: str) -> Judgement:
    """``model`` on every photo of ``split`` (``root`` is the ``cats_vs_dogs`` folder), pixels divided by 255."""
    import numpy as np

    from autograder.datasets.petimages import split_arrays

    images, labels = split_arrays(root, split, image_size(model))
    started = time.perf_counter()
    probs = np.asarray(model.predict(images.astype("float32") / 255.0, batch_size=256, verbose=0)).ravel()
    predicted = (probs >= 0.5).astype(int)
    confusion = [[int(((labels == t) & (predicted == p)).sum()) for p in (0, 1)] for t in (0, 1)]
    return Judgement(float((predicted == labels).mean()), confusion, time.perf_counter() - started, len(labels))
