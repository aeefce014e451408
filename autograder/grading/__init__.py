"""Grading: find and stage submissions, run them in containers, test them from the trusted side."""
