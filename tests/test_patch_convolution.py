"""`networks.PatchConv2D` and the `convolution` option: the same function as `Conv2D`.

"patches" is a speed choice (networks.py's docstring), so everything here
checks that nothing else changes: the outputs, the input gradient DEEN's
estimator differentiates through, the weights' layout (a model saved with
one runs with the other), and that "auto" resolves as documented.
"""

import keras
import numpy as np
import pytest

from conftest import to_numpy
from keras_svae import DEEN, SigmaVAE, input_gradient, networks
from keras_svae.networks import PatchConv2D


def pair(filters, strides, input_shape, seed=0):
    """A Conv2D and a PatchConv2D with the same (random, nonzero-bias) weights."""
    direct = keras.layers.Conv2D(filters, 3, strides=strides, padding="same")
    patches = PatchConv2D(filters, 3, strides=strides, padding="same")
    direct.build(input_shape)
    patches.build(input_shape)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=w.shape).astype("float32") for w in direct.get_weights()]
    direct.set_weights(weights)
    patches.set_weights(weights)
    return direct, patches


# Odd and even sizes: 'same' padding is asymmetric at stride 2 on even sizes only.
@pytest.mark.parametrize("size", [(7, 7), (8, 8), (28, 28), (5, 9)])
@pytest.mark.parametrize("strides", [1, 2, 3, (2, 1)])
def test_outputs_equal_conv2d(size, strides):
    shape = (3,) + size + (2,)
    direct, patches = pair(4, strides, shape)
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    expected = to_numpy(direct(x))
    assert expected.shape == tuple(patches.compute_output_shape(shape))
    np.testing.assert_allclose(to_numpy(patches(x)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strides", [1, 2])
def test_input_gradients_equal_conv2d(strides):
    shape = (2, 8, 8, 3)
    direct, patches = pair(5, strides, shape)
    x = np.random.default_rng(2).normal(size=shape).astype("float32")

    def energy(layer):
        return lambda y: keras.ops.sum(keras.ops.reshape(keras.ops.silu(layer(y)), (2, -1)), 1)

    _, expected = input_gradient.value_and_input_gradient(energy(direct), x, False)
    _, got = input_gradient.value_and_input_gradient(energy(patches), x, False)
    assert np.abs(to_numpy(expected)).max() > 0.1  # Not a trivially zero gradient.
    np.testing.assert_allclose(to_numpy(got), to_numpy(expected), rtol=1e-4, atol=1e-4)


def test_models_agree_and_share_weights_across_convolutions():
    shape = (8, 8, 1)
    y = np.random.default_rng(3).normal(size=(4,) + shape).astype("float32")
    small = dict(conv_channels=(4, 6, 8), encoder_units=12, decoder_units=16, latent_dim=3)
    vaes = [SigmaVAE("gaussian", 0.5, data_shape=shape, convolution=c, **small)
            for c in ("direct", "patches")]
    vaes[1].set_weights(vaes[0].get_weights())  # The same variables, in the same order.
    means = [to_numpy(model.encode(y)[0]) for model in vaes]
    np.testing.assert_allclose(means[1], means[0], rtol=1e-5, atol=1e-5)

    deens = [DEEN(0.5, energy=networks.EnergyNetwork((4, 6, 8), units=12, convolution=c),
                  data_shape=shape) for c in ("direct", "patches")]
    deens[1].set_weights(deens[0].get_weights())
    np.testing.assert_allclose(to_numpy(deens[1].denoise(y)), to_numpy(deens[0].denoise(y)),
                               rtol=1e-4, atol=1e-5)


def test_convolution_is_in_the_config_and_picks_the_layer():
    for convolution, layer in (("direct", keras.layers.Conv2D), ("patches", PatchConv2D)):
        trunk = networks.ConvFeatures((4,), convolution=convolution)
        assert type(trunk.convs[0]) is layer
        assert networks.ConvFeatures.from_config(trunk.get_config()).convolution == convolution
    model = SigmaVAE("gaussian", 0.5, convolution="patches")
    assert SigmaVAE.from_config(model.get_config()).encoder.features.convolution == "patches"


@pytest.mark.parametrize("backend, device, expected", [
    ("jax", "cpu", "patches"), ("jax", "gpu", "direct"), ("tensorflow", None, "direct"),
    ("torch", None, "direct"),
])
def test_auto_resolves_per_backend(monkeypatch, backend, device, expected):
    monkeypatch.setattr(keras.backend, "backend", lambda: backend)
    if device:
        jax = pytest.importorskip("jax")
        monkeypatch.setattr(jax, "default_backend", lambda: device)
    # Patches pay off for DEEN's double backprop only; a first-order step keeps "direct".
    assert networks.resolve_convolution("auto", double_backprop=True) == expected
    assert networks.resolve_convolution("auto") == "direct"
    assert networks.resolve_convolution("patches") == "patches"
    energy = networks.EnergyNetwork((4,), units=3)
    assert energy.convolution == "auto"  # The config keeps "auto": each backend resolves it.
    assert type(energy.features.convs[0]) is (
        PatchConv2D if expected == "patches" else keras.layers.Conv2D)
    assert type(networks.Encoder(2, (4,), units=3).features.convs[0]) is keras.layers.Conv2D


def test_bad_arguments():
    with pytest.raises(ValueError, match="convolution must be one of"):
        networks.ConvFeatures((4,), convolution="fft")
    with pytest.raises(ValueError, match="padding='same'"):
        PatchConv2D(4, 3, padding="valid")
    with pytest.raises(ValueError, match="no dilation"):
        PatchConv2D(4, 3, padding="same", dilation_rate=2)
