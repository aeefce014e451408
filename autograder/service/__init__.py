"""The web service (`autograder serve`): students upload and read feedback; routes call grading, never the reverse."""
