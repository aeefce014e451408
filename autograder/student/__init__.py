"""What course notebooks import: public checks, the static import audit, and ``submit`` (upload from the notebook)."""

from autograder.student.submit import submit

__all__ = ["submit"]
