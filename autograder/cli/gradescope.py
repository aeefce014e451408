"""`autograder gradescope`: the assignment as a Gradescope autograder (autograder.zip)."""

from __future__ import annotations

from pathlib import Path

import click

from autograder.cli.options import COURSE, DATA, console


@click.command()
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("autograder.zip"),
              show_default=True, help="The zip to upload as the Gradescope assignment's autograder.")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A wheel of this package to install on Gradescope. Default: built from this checkout.")
@COURSE
@DATA
def gradescope(name: str, out: Path, wheel: Path | None, course: Path | None, data_dir: Path | None) -> None:
    """Write NAME's Gradescope autograder: setup.sh, run_autograder, the course material and this grader.

    Upload the zip as a programming assignment's autograder; each submission is graded in the
    strongest sandbox that works there (its log says which) into results.json.

    \b
    Example:
      autograder gradescope backpropagation_simulation --out autograder.zip
      autograder gradescope cat_and_dog_classifier --out cats.zip --data-dir data
    """
    from autograder.grading.gradescope import pack

    console.print(f"[green]✔[/] wrote {pack(name, out, root=course, data_dir=data_dir, wheel=wheel)}")
