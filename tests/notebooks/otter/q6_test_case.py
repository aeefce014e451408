from otter.test_files import test_case
import numpy as np

OK_FORMAT = False

name = "q6"
points = 2


@test_case(points=1, hidden=False)
def test_mean_of_numbers(mean_of):
    np.testing.assert_allclose(mean_of([1, 2, 3, 6]), 3.0)


@test_case(points=1, hidden=True, failure_message="mean_of([]) should be 0")
def test_mean_of_nothing(mean_of):
    assert mean_of([]) == 0
