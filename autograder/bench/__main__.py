"""``python -m autograder.bench``."""

from autograder.bench.cli import main

main()
