"""Checking the course itself: validation, known mistakes, mutation, examples, reference training."""
