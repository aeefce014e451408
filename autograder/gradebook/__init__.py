"""Recording grades: the gradebook (nbgrader's schema), hand grading, feedback pages and their redraw."""
