"""Theorems 1 and 2 in training: equivalent models follow the same path."""

import numpy as np
import pytest

from keras_svae.experiments import equivalence

NETWORK = dict(data_shape=(8, 8, 1), latent_dim=4, conv_channels=(4, 8, 8), encoder_units=16,
               decoder_units=32)
IMAGES = np.random.default_rng(0).uniform(size=(320, 8, 8, 1)).astype("float32")
TEST = np.random.default_rng(1).uniform(size=(250, 8, 8, 1)).astype("float32")


def run(**kwargs):
    settings = dict(epochs=1, batch_size=32, learning_rate=0.05, **NETWORK)
    return equivalence.train_pair(IMAGES, TEST, **{**settings, **kwargs})


@pytest.mark.parametrize("noise,scale_1,scale_2", [("gaussian", 0.3, 0.9), ("laplace", 0.8, 0.2)])
def test_sgd_at_the_scaled_rate_follows_the_same_path(noise, scale_1, scale_2):
    result = run(noise=noise, scale_1=scale_1, scale_2=scale_2, optimizer="sgd")
    assert result.steps == 10
    # Float32 rounding alone: ~1e-7 relative per step. A rate that ignored the factor c
    # (the control below) moves the weights apart by orders of magnitude more.
    assert result.max_weight_difference < 1e-5 * result.max_weight_magnitude
    for key in ("kl", "mse"):
        assert result.metrics_scale_1_beta[key] == pytest.approx(result.metrics_scale_2[key],
                                                                 rel=1e-4)


def test_sgd_at_the_same_rate_does_not():
    """The control: without the factor c the two paths part."""
    unscaled = run(noise="gaussian", scale_1=0.3, scale_2=0.9, optimizer="sgd",
                   rescale_rate=False)
    assert unscaled.max_weight_difference > 1e-2 * unscaled.max_weight_magnitude


def test_adam_needs_no_rate_change_but_for_its_epsilon():
    """Adam divides by the gradient's RMS: the factor c cancels except against epsilon."""
    tiny = run(optimizer="adam", learning_rate=1e-3, adam_epsilon=1e-12)
    usual = run(optimizer="adam", learning_rate=1e-3, adam_epsilon=1e-7)
    assert tiny.max_weight_difference < 1e-4 * tiny.max_weight_magnitude
    assert usual.max_weight_difference > 10 * tiny.max_weight_difference
