"""Train the reference solution of an assignment with the project's own notebook, and evaluate models.

Examples:
  python -m autograder.checking.reference train cat_and_dog_classifier --seed 0 \
      --out tests/fixtures/cat_and_dog_classifier
  python -m autograder.checking.reference train cat_and_dog_classifier --epochs 1 --train-limit 5 --out /tmp/smoke
  python -m autograder.checking.reference evaluate tests/fixtures/cat_and_dog_classifier/cat_dog_model.keras
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from autograder.authoring.assign import execute, solution_notebook
from autograder.config import load_assignment
from autograder.datasets import data_dir
from autograder.grading import keras_models


def evaluate_model(path: Path, root: Path | None = None) -> dict[str, Any]:
    """Accuracy, confusion matrix, misclassified photos per class and seconds on the hidden split.

    ``confusion`` is [[tn, fp], [fn, tp]] with dog as the positive class: rows are the true class
    (cat, dog), columns the predicted one. The model is loaded as the grader loads it (``safe_mode=True``).
    """
    judged = keras_models.judge(keras_models.load_submitted(path), (root or data_dir()) / "cats_vs_dogs", "test")
    return {"accuracy": judged.accuracy, "confusion": judged.confusion,
            "misclassified": {"cat": judged.confusion[0][1], "dog": judged.confusion[1][0]},
            "eval_seconds": round(judged.seconds, 2)}


def drop_optimizer(path: Path) -> None:
    """Save the model at ``path`` again without its optimizer state (a third of the size; grading never needs it)."""
    import keras

    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    slim = path.with_name(f".slim-{path.name}")
    model.save(slim)
    slim.replace(path)


def train(name: str, out: Path, *, epochs: int, seed: int, train_limit: int,
          keep_optimizer: bool = False) -> dict[str, Any]:
    """Execute the solution notebook with its training cells; keep its artifacts in ``out``."""
    assignment = load_assignment(name)
    env = {"CATDOG_EPOCHS": str(epochs), "CATDOG_SEED": str(seed), "TRAIN_LIMIT": str(train_limit)}
    os.environ.update(env)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"reference-{name}-") as tmp:
        execute(solution_notebook(assignment), Path(tmp), skip_training=False, timeout=24 * 3600)
        out.mkdir(parents=True, exist_ok=True)
        for artifact in assignment.config.artifacts:
            shutil.copyfile(Path(tmp) / artifact, out / artifact)
    record: dict[str, Any] = {"seed": seed, "epochs": epochs, "train_limit": train_limit,
                              "train_seconds": round(time.perf_counter() - started, 1), "cpus": os.cpu_count()}
    model = out / "cat_dog_model.keras"
    if model.is_file():
        if not keep_optimizer:
            drop_optimizer(model)
        record.update(evaluate_model(model))
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="execute the solution notebook with training; save its artifacts")
    t.add_argument("assignment", help="folder name under source/, e.g. cat_and_dog_classifier")
    t.add_argument("--epochs", type=int, default=15, help="epochs (CATDOG_EPOCHS in the notebook; default 15)")
    t.add_argument("--seed", type=int, default=0, help="random seed (CATDOG_SEED in the notebook; default 0)")
    t.add_argument("--train-limit", type=int, default=0, help="training batches per epoch (0: all)")
    t.add_argument("--out", type=Path, required=True, help="folder for the model and history")
    t.add_argument("--record", type=Path, default=None, help="JSON file to append this run's figures to")
    t.add_argument("--keep-optimizer", action="store_true",
                   help="keep the optimizer state in the saved model (by default it is dropped: 4.7 MB -> 1.6 MB)")
    e = sub.add_parser("evaluate", help="accuracy of a .keras model on the hidden split")
    e.add_argument("model", type=Path, help="a .keras file (loaded with safe_mode=True); data: $AUTOGRADER_DATA_DIR")
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        if not args.model.is_file():
            parser.exit(2, f"{args.model}: no such file; give the path of a saved .keras model\n")
        try:
            print(json.dumps(evaluate_model(args.model), indent=1))
        except AssertionError as exc:  # the grader's own words for a missing, foreign or unsafe model file
            parser.exit(2, f"{args.model}: {exc}\n")
        return
    record = train(args.assignment, args.out, epochs=args.epochs, seed=args.seed, train_limit=args.train_limit,
                   keep_optimizer=args.keep_optimizer)
    print(json.dumps(record, indent=1))
    if args.record:
        runs = json.loads(args.record.read_text()) if args.record.is_file() else []
        args.record.write_text(json.dumps([*runs, record], indent=1) + "\n")


if __name__ == "__main__":
    main()
