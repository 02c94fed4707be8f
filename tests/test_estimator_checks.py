"""scikit-learn's own estimator test suite."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from softmaxreg import SoftmaxRegression

EXPECTED_FAILED = {}


@parametrize_with_checks([SoftmaxRegression()],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)
