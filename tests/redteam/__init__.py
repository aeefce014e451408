"""The red-team corpus: adversarial and malformed submissions built from the course, and their expected outcomes."""
