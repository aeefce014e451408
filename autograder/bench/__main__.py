"""``python -m autograder.bench``."""

from autograder.bench.runner import main

main()
