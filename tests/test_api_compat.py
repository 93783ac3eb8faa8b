"""One way to do each thing."""

import numpy as np
import pytest

from conftest import SMALL, to_numpy
from keras_svae import DEEN, SigmaVAE, corruption, networks, validation

def test_an_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="Unknown architecture 'pooled'"):
        SigmaVAE.from_architecture("pooled", scale=0.9)
    assert SigmaVAE.from_architecture("no_downsampling", scale=0.9, **SMALL).get_config()[
        "strides"] == [1, 1, 1]


def test_both_models_estimate_x_from_y_the_same_way():
    y = np.random.default_rng(0).normal(0.5, 1.0, (3, 8, 8, 1)).astype("float32")
    vae = SigmaVAE(scale=0.5, seed=0, **SMALL)
    # A VAE's estimate is one posterior draw, fixed by an integer seed.
    np.testing.assert_array_equal(to_numpy(vae.estimate(y, seed=4)),
                                  to_numpy(vae.estimate(y, seed=4)))
    assert not np.allclose(to_numpy(vae.estimate(y, seed=4)), to_numpy(vae.estimate(y, seed=5)))
    deen = DEEN(0.5, energy=networks.EnergyNetwork((4, 4, 4), units=8), data_shape=(8, 8, 1))
    # DEEN's is deterministic: the seed is accepted and has no effect.
    np.testing.assert_array_equal(to_numpy(deen.estimate(y, seed=1)), to_numpy(deen.denoise(y)))
    for model in (vae, deen):
        assert model.data_shape == (8, 8, 1)
        with pytest.raises(ValueError, match="NaN"):
            model.estimate(np.full((1, 8, 8, 1), np.nan, "float32"))


def test_noise_is_looked_up_by_name():
    assert corruption.get("laplace") is corruption.laplace
    y = corruption.apply("gaussian", np.zeros((2, 3)), 0.5, seed=1)
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, to_numpy(corruption.gaussian(np.zeros((2, 3)), 0.5, seed=1)))
    with pytest.raises(ValueError, match=r"noise must be one of \['gaussian', 'laplace', "
                                         r"'salt_and_pepper'\], got 'poisson'"):
        corruption.get("poisson")


@pytest.mark.parametrize("check,value,match", [
    (lambda v: validation.validate_scale("sigma", v), 0.0, "sigma must be finite and > 0"),
    (lambda v: validation.validate_scale("alpha", v), "wide", "alpha must be a positive number"),
    (validation.validate_beta, -1.0, "beta must be finite and >= 0"),
    (validation.validate_beta, float("nan"), "beta must be finite and >= 0"),
    (lambda v: validation.validate_level("sigma", v), float("inf"), "sigma must be finite and >= 0"),
    (lambda v: validation.validate_probability("p", v), 1.5, r"p must be a probability in \[0, 1\]"),
])
def test_parameter_validators_name_the_problem(check, value, match):
    with pytest.raises(ValueError, match=match):
        check(value)
