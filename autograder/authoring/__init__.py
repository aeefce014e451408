"""Authoring: the one notebook format in source/, and what is generated from it (release, solutions)."""
