"""One way to do each thing, and the old names that still work for one release."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import SMALL, to_numpy
from keras_svae import DEEN, SigmaVAE, corruption, networks, validation

# Each old import path, in a fresh interpreter: it warns, and it is the new module itself.
OLD_PATHS = """
import importlib, warnings
import keras_svae
for name in ("classifier", "equivalence", "power_law", "robustness"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("keras_svae." + name)
    new = importlib.import_module("keras_svae.experiments." + name)
    assert old is new, name
    assert any(issubclass(w.category, DeprecationWarning) and "moved" in str(w.message)
               for w in caught), name
from keras_svae import experiments
assert experiments.train is experiments.runs.train and experiments.SCALES[-1] == 0.9
print("ok")
"""


def test_old_import_paths_warn_and_are_the_new_modules():
    result = subprocess.run([sys.executable, "-c", OLD_PATHS], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_image_shape_and_from_preset_are_deprecated_aliases():
    with pytest.warns(DeprecationWarning, match="data_shape"):
        old = SigmaVAE(scale=0.5, **{**{k: v for k, v in SMALL.items() if k != "data_shape"},
                                     "image_shape": (8, 8, 1)})
    assert old.data_shape == old.image_shape == (8, 8, 1)
    assert "image_shape" not in old.get_config() and old.get_config()["data_shape"] == [8, 8, 1]
    with pytest.warns(DeprecationWarning, match="from_architecture"):
        literal = SigmaVAE.from_preset("no_downsampling", scale=0.9, **SMALL)
    assert literal.get_config()["strides"] == [1, 1, 1]
    assert networks.PRESETS is networks.ARCHITECTURES
    with pytest.raises(ValueError, match="Unknown architecture 'pooled'"):
        SigmaVAE.from_architecture("pooled", scale=0.9)


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
