"""Autograder for a neural-network course week: author once, grade in a container."""

__version__ = "0.1.0"
