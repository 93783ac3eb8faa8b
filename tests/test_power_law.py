"""The power-law fit of Tables 1 and 3."""

import numpy as np
import pytest

from keras_svae.experiments import paper
from keras_svae.experiments.power_law import fit_power_law

SCALES = np.arange(1, 10) / 10


def test_recovers_a_planted_exponent_within_its_standard_error():
    rng = np.random.default_rng(0)
    fits = []
    for _ in range(200):
        values = 9.0 * SCALES**-1.3 * np.exp(0.05 * rng.standard_normal(len(SCALES)))
        fits.append(fit_power_law(SCALES, values))
    nus = np.array([f.nu for f in fits])
    assert abs(nus.mean() - 1.3) < 0.01
    # The reported standard error matches the spread of the estimates.
    assert np.mean([f.nu_stderr for f in fits]) == pytest.approx(nus.std(), rel=0.2)
    exact = fit_power_law(SCALES, 9.0 * SCALES**-1.3)
    assert exact.nu == pytest.approx(1.3) and exact.r_squared == pytest.approx(1.0)
    np.testing.assert_allclose(exact.predict(SCALES), 9.0 * SCALES**-1.3)


def test_the_papers_tables_give_the_papers_exponents():
    assert paper.SCALES == tuple(SCALES)
    fit_1 = fit_power_law(paper.SCALES, paper.TABLE_1_SIGMA_KL)
    assert fit_1.nu == pytest.approx(paper.NU_SIGMA, abs=0.005)
    fit_3 = fit_power_law(paper.SCALES, paper.TABLE_3_ALPHA_KL)
    assert fit_3.nu == pytest.approx(paper.NU_ALPHA, abs=0.002)
    assert fit_3.p_value < 2 * paper.NU_ALPHA_P_VALUE  # Same order as the paper's 5.3e-12.


SHAPES = r"Need matching 1-D scales and values with at least 3 points, got shapes"
LOG_SPACE = r"fitted in log space: scales and values must be finite and > 0"


@pytest.mark.parametrize("scales,values,match", [
    ([0.1, 0.2], [3.0, 2.0], SHAPES + r" \(2,\) and \(2,\)"),  # Too few points.
    ([0.1, 0.2], [3, 2, 1], SHAPES + r" \(2,\) and \(3,\)"),  # Lengths differ.
    ([[0.1, 0.2, 0.3]], [[3, 2, 1]], SHAPES + r" \(1, 3\) and \(1, 3\)"),  # Not 1-D.
    ([0.1, 0.0, 0.3], [3, 2, 1], LOG_SPACE),  # A scale of 0.
    ([0.1, 0.2, 0.3], [3, -2, 1], LOG_SPACE),  # A negative value.
    ([0.1, 0.2, 0.3], [3, np.nan, 1], LOG_SPACE),  # A NaN value.
    ([0.1, np.inf, 0.3], [3, 2, 1], LOG_SPACE),  # An infinite scale.
], ids=["too_few", "lengths_differ", "not_1d", "zero_scale", "negative_value", "nan_value",
        "infinite_scale"])
def test_bad_points_are_rejected(scales, values, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(scales, values)
