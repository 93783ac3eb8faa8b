"""The KL power laws D_KL ~ sigma^-nu and D_KL ~ alpha^-nu (Tables 1 and 3).

The paper fits nu "by linear regression on the log-log plot":
log D_KL = -nu log sigma + C. `fit_power_law` does that with
`scipy.stats.linregress` and keeps what a reader needs to judge the fit.
"""

import dataclasses

import numpy as np
from scipy import stats


@dataclasses.dataclass(frozen=True)
class PowerLawFit:
    """D ~ exp(intercept) * scale^-nu, fitted in log-log space.

    Attributes:
        nu: the exponent (minus the slope of log D on log scale).
        nu_stderr: the standard error of the slope.
        intercept: C in log D = -nu log scale + C.
        p_value: two-sided p-value of "slope = 0".
        r_squared: the coefficient of determination.
    """

    nu: float
    nu_stderr: float
    intercept: float
    p_value: float
    r_squared: float

    def predict(self, scale):
        return np.exp(self.intercept) * np.asarray(scale, float) ** -self.nu


def fit_power_law(scales, values):
    """Least-squares fit of log(values) = -nu log(scales) + C.

    Args:
        scales: the sigmas (or alphas), positive.
        values: the matching mean KL divergences, positive.
    """
    scales, values = np.asarray(scales, float), np.asarray(values, float)
    if scales.shape != values.shape or scales.ndim != 1 or len(scales) < 3:
        raise ValueError(
            f"Need matching 1-D scales and values with at least 3 points, got shapes "
            f"{scales.shape} and {values.shape}."
        )
    if np.any(scales <= 0) or np.any(values <= 0) or not np.all(np.isfinite([scales, values])):
        raise ValueError("A power law is fitted in log space: scales and values must be finite and > 0.")
    fit = stats.linregress(np.log(scales), np.log(values))
    return PowerLawFit(nu=float(-fit.slope), nu_stderr=float(fit.stderr),
                       intercept=float(fit.intercept), p_value=float(fit.pvalue),
                       r_squared=float(fit.rvalue**2))
