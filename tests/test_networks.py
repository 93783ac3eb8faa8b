"""Layer tests for `keras_svae.networks`, in the style of keras-hub's layer tests.

For every layer (ConvFeatures, Encoder, Decoder, EnergyNetwork, MLPEnergy):
config round trip, output shapes, parameter counts against the architecture
arithmetic of Section 5, a `.keras` file round trip, and bad arguments.

Parameter totals on MNIST (28, 28, 1), default sizes (channels (32, 64, 128),
fc 200, dz 100, decoder 2000), worked out by `trunk_params` & co. below:

  stride 2 ("strided", 28 -> 14 -> 7 -> 4; the fc sees 4*4*128 = 2048 inputs):
    ConvFeatures     502,472  (convs 320 + 18,496 + 73,856; fc 409,800)
    Encoder          542,672  (+ mean and log-variance heads, 20,100 each)
    EnergyNetwork    502,672  (+ bias-free readout, 200)
    Decoder        1,770,784  (hidden 202,000; readout 1,568,784)
    MLPEnergy        117,120  (default (128, 128) on the 784 flattened pixels)
    encoder + decoder: 2,313,456
  stride 1 ("no_downsampling", 28 -> 28 -> 28 -> 28; the fc sees 28*28*128 = 100,352 inputs):
    ConvFeatures  20,163,272  (fc alone 20,070,600: 99.5 %)
    Encoder       20,203,472
    EnergyNetwork 20,163,472
    encoder + decoder: 21,974,256 -- the "about 22 M" of networks.py's docstring is the
    whole VAE (encoder and decoder); the stride-1 encoder alone has about 20.2 M.

Small sizes everywhere else: building is cheap, but forward passes are not, so the
full-size networks are only built (never called) for the parameter counts.
"""

import json
import math
import warnings

import keras
import numpy as np
import pytest

from conftest import to_numpy
from keras_svae import networks
from keras_svae.networks import (
    ARCHITECTURES, ConvFeatures, Decoder, EnergyNetwork, MLPEnergy, normalize_strides,
)

MNIST = (28, 28, 1)
BATCH = 3


# The architecture arithmetic, independent of networks.py -----------------------------------


def conv3x3_params(c_in, c_out):
    return 9 * c_in * c_out + c_out


def dense_params(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


def same_padding_size(n, stride):
    """Spatial size after a 'same'-padded convolution: ceil(n / stride)."""
    return -(-n // stride)


def trunk_shape(image_shape, channels, strides):
    """(height, width, channels) after the convolutions."""
    h, w, c = image_shape
    for c_out, s in zip(channels, strides):
        h, w, c = same_padding_size(h, s), same_padding_size(w, s), c_out
    return h, w, c


def trunk_params(image_shape, channels, strides, units):
    """ConvFeatures: the 3x3 convolutions, then Dense(units) on the flattened maps."""
    c_in = image_shape[-1]
    total = 0
    for c_out in channels:
        total += conv3x3_params(c_in, c_out)
        c_in = c_out
    return total + dense_params(math.prod(trunk_shape(image_shape, channels, strides)), units)


def encoder_params(image_shape, latent_dim, channels, strides, units):
    return trunk_params(image_shape, channels, strides, units) + 2 * dense_params(units, latent_dim)


def energy_params(image_shape, channels, strides, units):
    # The energy readout has no bias (a constant in f has zero input gradient).
    return trunk_params(image_shape, channels, strides, units) + dense_params(units, 1, bias=False)


def decoder_params(latent_dim, image_shape, units):
    return dense_params(latent_dim, units) + dense_params(units, math.prod(image_shape))


def mlp_energy_params(n_in, units):
    total = 0
    for u in units:
        total += dense_params(n_in, u)
        n_in = u
    return total + dense_params(n_in, 1, bias=False)


def test_the_arithmetic_itself():
    """The totals quoted in the module docstring (guards the helpers against typos)."""
    paper = dict(channels=(32, 64, 128), units=200)
    assert trunk_shape(MNIST, paper["channels"], (2, 2, 2)) == (4, 4, 128)
    assert trunk_shape(MNIST, paper["channels"], (1, 1, 1)) == (28, 28, 128)
    assert trunk_params(MNIST, strides=(2, 2, 2), **paper) == 502_472
    assert trunk_params(MNIST, strides=(1, 1, 1), **paper) == 20_163_272
    assert dense_params(28 * 28 * 128, 200) == 20_070_600
    assert encoder_params(MNIST, 100, strides=(2, 2, 2), **paper) == 542_672
    assert encoder_params(MNIST, 100, strides=(1, 1, 1), **paper) == 20_203_472
    assert energy_params(MNIST, strides=(2, 2, 2), **paper) == 502_672
    assert energy_params(MNIST, strides=(1, 1, 1), **paper) == 20_163_472
    assert decoder_params(100, MNIST, 2000) == 1_770_784
    assert mlp_energy_params(784, (128, 128)) == 117_120
    # networks.py: "about 22 M parameters on MNIST" for the stride-1 VAE.
    assert encoder_params(MNIST, 100, strides=(1, 1, 1), **paper) + 1_770_784 == 21_974_256


# The layers under test: small, non-default arguments (so a config key that gets lost
# comes back as a default and shows), with the input shape each one is built on.

SMALL_IMAGE = (8, 6, 2)
SMALL_CASES = {
    "ConvFeatures": (
        lambda: ConvFeatures(conv_channels=(4, 6, 8), strides=(2, 1, 3), units=12),
        SMALL_IMAGE,
    ),
    "Encoder": (
        lambda: networks.Encoder(latent_dim=5, conv_channels=(4, 6, 8), strides=(1, 2, 2),
                                 units=12),
        SMALL_IMAGE,
    ),
    "Decoder": (lambda: Decoder(data_shape=(5, 7, 2), units=16), (4,)),
    "EnergyNetwork": (
        lambda: EnergyNetwork(conv_channels=(3, 5, 7), strides=(2, 2, 1), units=9),
        SMALL_IMAGE,
    ),
    "MLPEnergy": (lambda: MLPEnergy(units=(7, 5, 3)), (2, 3)),
}
ALL = sorted(SMALL_CASES)


def small(name):
    make, input_shape = SMALL_CASES[name]
    return make(), input_shape


def built(layer, input_shape):
    layer.build((None,) + tuple(input_shape))
    return layer


def random_input(input_shape, batch=BATCH, seed=0):
    return np.random.default_rng(seed).normal(size=(batch,) + tuple(input_shape)).astype("float32")


def as_json(config):
    return json.dumps(config, sort_keys=True)


def weight_summary(layer):
    """(path without the layer's own name, shape) of each weight, in order."""
    return [(w.path.split("/", 1)[1], tuple(w.shape)) for w in layer.weights]


# Config round trip ---------------------------------------------------------------------------


EXPECTED_CONFIG = {
    "ConvFeatures": dict(conv_channels=[4, 6, 8], strides=[2, 1, 3], units=12),
    "Encoder": dict(latent_dim=5, conv_channels=[4, 6, 8], strides=[1, 2, 2], units=12),
    "Decoder": dict(data_shape=[5, 7, 2], units=16),
    "EnergyNetwork": dict(conv_channels=[3, 5, 7], strides=[2, 2, 1], units=9),
    "MLPEnergy": dict(units=[7, 5, 3]),
}


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip(name):
    layer, input_shape = small(name)
    config = layer.get_config()
    # Every constructor argument is in the config, JSON-friendly (lists, not tuples).
    assert set(EXPECTED_CONFIG[name]) <= set(config), set(EXPECTED_CONFIG[name]) - set(config)
    assert {k: config[k] for k in EXPECTED_CONFIG[name]} == EXPECTED_CONFIG[name]
    json.dumps(config)

    restored = type(layer).from_config(config)
    assert type(restored) is type(layer)
    assert as_json(restored.get_config()) == as_json(config)
    # A config that lost an argument would rebuild with the default: compare the weights.
    built(layer, input_shape)
    built(restored, input_shape)
    assert weight_summary(restored) == weight_summary(layer)
    assert restored.count_params() == layer.count_params()


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip_through_keras_serialization(name):
    """serialize / deserialize by registered name: what `.keras` files and model configs use."""
    layer, _ = small(name)
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"keras_svae>{name}"
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert type(restored) is type(layer)
    assert as_json(restored.get_config()) == as_json(layer.get_config())


def test_defaults_are_the_papers():
    """Section 5: channels (32, 64, 128), fc 200, dz 100, decoder 2000; stride 2 by default."""
    paper_trunk = dict(conv_channels=[32, 64, 128], strides=[2, 2, 2], units=200)
    for layer in (ConvFeatures(), EnergyNetwork()):
        assert {k: layer.get_config()[k] for k in paper_trunk} == paper_trunk
    encoder = networks.Encoder().get_config()
    assert {k: encoder[k] for k in paper_trunk} == paper_trunk and encoder["latent_dim"] == 100
    assert Decoder(MNIST).get_config()["units"] == 2000
    assert MLPEnergy().get_config()["units"] == [128, 128]
    assert ARCHITECTURES == {"strided": {"strides": 2}, "no_downsampling": {"strides": 1},
                             "mlp": {"conv_channels": ()}}
    assert ConvFeatures(**ARCHITECTURES["strided"]).strides == (2, 2, 2)
    assert ConvFeatures(**ARCHITECTURES["no_downsampling"]).strides == (1, 1, 1)


def test_sublayers_are_3x3_same_silu_convolutions_and_silu_dense():
    trunk = ConvFeatures(conv_channels=(4, 6, 8), strides=(2, 1, 3), units=12)
    for conv, channels, stride in zip(trunk.convs, (4, 6, 8), (2, 1, 3)):
        config = conv.get_config()
        assert config["filters"] == channels and tuple(config["kernel_size"]) == (3, 3)
        assert tuple(config["strides"]) == (stride, stride) and config["padding"] == "same"
        assert config["activation"] == "silu" and config["use_bias"]
    assert trunk.dense.get_config()["activation"] == "silu"
    encoder = networks.Encoder(latent_dim=5, conv_channels=(4, 6, 8), units=12)
    for head in (encoder.mean, encoder.log_var):  # The linear readout.
        assert head.get_config()["activation"] == "linear" and head.units == 5
    decoder = Decoder((5, 7, 2), units=16)
    assert decoder.hidden.get_config()["activation"] == "silu"
    assert decoder.readout.get_config()["activation"] == "linear"  # Logits; sigmoid is later.
    for energy in (EnergyNetwork((3, 5, 7), units=9), MLPEnergy((7, 5, 3))):
        readout = energy.readout.get_config()
        assert readout["units"] == 1 and not readout["use_bias"]
        assert readout["activation"] == "linear"
    assert all(d.get_config()["activation"] == "silu" for d in MLPEnergy((7, 5, 3)).hidden)


# Output shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("image_shape", [(8, 8, 1), (5, 7, 2)])
@pytest.mark.parametrize("strides", [2, 1, (2, 1, 3)])
def test_conv_features_output_shape(image_shape, strides):
    layer = ConvFeatures(conv_channels=(4, 6, 8), strides=strides, units=12)
    out = layer(random_input(image_shape))
    assert tuple(out.shape) == (BATCH, 12)
    assert tuple(layer.compute_output_shape((BATCH,) + image_shape)) == (BATCH, 12)
    # The fc sees the flattened maps of 'same' convolutions: ceil(n / s) per stride.
    expected = math.prod(trunk_shape(image_shape, (4, 6, 8), normalize_strides(strides, 3)))
    assert tuple(layer.dense.kernel.shape) == (expected, 12)


def test_encoder_outputs_mean_and_log_variance():
    layer = networks.Encoder(latent_dim=5, conv_channels=(4, 6, 8), strides=(1, 2, 2), units=12)
    outputs = layer(random_input(SMALL_IMAGE))
    assert isinstance(outputs, (tuple, list)) and len(outputs) == 2
    mean, log_var = (to_numpy(o) for o in outputs)
    assert mean.shape == log_var.shape == (BATCH, 5)
    assert not np.allclose(mean, log_var)  # Two heads, not one output twice.
    # The heads are linear readouts of the fc features.
    h = to_numpy(layer.features(random_input(SMALL_IMAGE)))
    for head, out in ((layer.mean, mean), (layer.log_var, log_var)):
        reference = h @ to_numpy(head.kernel) + to_numpy(head.bias)
        np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("image_shape", [(8, 8, 1), (5, 7, 2)])
def test_decoder_outputs_image_shaped_logits(image_shape):
    layer = Decoder(image_shape, units=16)
    z = random_input((4,))
    out = to_numpy(layer(z))
    assert out.shape == (BATCH,) + image_shape
    assert tuple(layer.compute_output_shape((BATCH, 4))) == (BATCH,) + image_shape
    # One SiLU hidden layer, then a linear (logit) readout reshaped to the image.
    silu = lambda u: u / (1 + np.exp(-u))  # noqa: E731
    hidden = silu(z @ to_numpy(layer.hidden.kernel) + to_numpy(layer.hidden.bias))
    logits = hidden @ to_numpy(layer.readout.kernel) + to_numpy(layer.readout.bias)
    np.testing.assert_allclose(out, logits.reshape(out.shape), rtol=1e-5, atol=1e-5)
    assert out.min() < 0 < out.max()  # Logits, not probabilities.


def test_energy_network_outputs_one_energy_per_example():
    layer = EnergyNetwork(conv_channels=(3, 5, 7), strides=(2, 2, 1), units=9)
    x = random_input(SMALL_IMAGE)
    out = to_numpy(layer(x))
    assert out.shape == (BATCH,)
    assert tuple(layer.compute_output_shape((BATCH,) + SMALL_IMAGE)) == (BATCH,)
    reference = to_numpy(layer.features(x)) @ to_numpy(layer.readout.kernel)[:, 0]
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("input_shape", [(5,), (2, 3), (2, 2, 2)])
def test_mlp_energy_outputs_one_energy_per_example(input_shape):
    layer = MLPEnergy(units=(7, 5))
    y = random_input(input_shape)
    out = to_numpy(layer(y))
    assert out.shape == (BATCH,)
    assert tuple(layer.compute_output_shape((BATCH,) + input_shape)) == (BATCH,)
    silu = lambda u: u / (1 + np.exp(-u))  # noqa: E731
    h = y.reshape(BATCH, -1)
    for dense in layer.hidden:
        h = silu(h @ to_numpy(dense.kernel) + to_numpy(dense.bias))
    reference = h @ to_numpy(layer.readout.kernel)[:, 0]
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_symbolic_output_shapes(name):
    """On a Keras functional input (unknown batch), matching compute_output_shape if defined."""
    layer, input_shape = small(name)
    outputs = layer(keras.Input(shape=input_shape, batch_size=None))
    shapes = [tuple(o.shape) for o in keras.tree.flatten(outputs)]
    expected = {
        "ConvFeatures": [(None, 12)],
        "Encoder": [(None, 5), (None, 5)],
        "Decoder": [(None, 5, 7, 2)],
        "EnergyNetwork": [(None,)],
        "MLPEnergy": [(None,)],
    }[name]
    assert shapes == expected
    if name != "Encoder":  # The Encoder leaves its output shape to compute_output_spec.
        assert tuple(layer.compute_output_shape((None,) + input_shape)) == expected[0]


# Parameter counts ----------------------------------------------------------------------------


def counted(layer, input_shape):
    built(layer, input_shape)
    assert layer.non_trainable_weights == []
    return layer.count_params()


@pytest.mark.parametrize("preset", ["strided", "no_downsampling"])
def test_parameter_counts_on_mnist(preset):
    """Default sizes on MNIST (28, 28, 1) for both presets; totals in the module docstring."""
    stride = ARCHITECTURES[preset]["strides"]
    strides = (stride,) * 3
    paper = dict(channels=(32, 64, 128), strides=strides, units=200)

    trunk = ConvFeatures(**ARCHITECTURES[preset])
    assert counted(trunk, MNIST) == trunk_params(MNIST, **paper)
    assert len(trunk.weights) == 8  # A kernel and a bias for each conv and the fc.
    assert [c.count_params() for c in trunk.convs] == [320, 18_496, 73_856]
    fc = dense_params(math.prod(trunk_shape(MNIST, paper["channels"], strides)), 200)
    assert trunk.dense.count_params() == fc

    encoder = networks.Encoder(**ARCHITECTURES[preset])
    assert counted(encoder, MNIST) == encoder_params(MNIST, 100, **paper)
    assert len(encoder.weights) == 12

    energy = EnergyNetwork(**ARCHITECTURES[preset])
    assert counted(energy, MNIST) == energy_params(MNIST, **paper)
    assert len(energy.weights) == 9  # The readout is a kernel only.

    decoder = Decoder(MNIST)  # The decoder does not depend on the preset.
    assert counted(decoder, (100,)) == decoder_params(100, MNIST, 2000) == 1_770_784
    assert len(decoder.weights) == 4

    total = encoder.count_params() + decoder.count_params()
    if preset == "strided":
        assert (trunk.count_params(), encoder.count_params(), energy.count_params()) == (
            502_472, 542_672, 502_672)
        assert total == 2_313_456
    else:
        assert (trunk.count_params(), encoder.count_params(), energy.count_params()) == (
            20_163_272, 20_203_472, 20_163_472)
        # networks.py: "about 22 M parameters on MNIST, almost all of them in the Dense(200)".
        assert total == 21_974_256
        assert fc == 20_070_600 and fc / total > 0.9 and fc / encoder.count_params() > 0.99


def test_the_mlp_encoder_is_the_paper_network_without_its_convolutions():
    """networks.ENCODERS["mlp"] (TrainConfig(encoder="mlp")): Flatten, Dense(200), the readout;
    DEEN's energy network takes the same trunk."""
    from keras_svae import training

    vae = training.build_model(training.TrainConfig(model="sigma_vae", encoder="mlp"))
    assert vae.encoder.features.convs == []
    assert not any(isinstance(layer, keras.layers.Conv2D) for layer in vae._flatten_layers())
    assert vae.encoder.count_params() == dense_params(784, 200) + 2 * dense_params(200, 100)
    assert vae.count_params() == (dense_params(784, 200) + 2 * dense_params(200, 100)
                                  + decoder_params(100, MNIST, 2000)) == 1_967_984
    deen = training.build_model(training.TrainConfig(model="deen", encoder="mlp"))
    assert deen.energy_network.count_params() == dense_params(784, 200) + 200
    # The default is the paper's ConvNet, and "mlp" is also a named architecture.
    paper = training.build_model(training.TrainConfig(model="sigma_vae"))
    assert paper.encoder.features.conv_channels == (32, 64, 128) == networks.ENCODERS["convnet"]


def test_mlp_energy_parameter_counts():
    assert counted(MLPEnergy(), MNIST) == mlp_energy_params(784, (128, 128)) == 117_120
    layer = MLPEnergy(units=(7, 5, 3))
    assert counted(layer, (2, 3)) == mlp_energy_params(6, (7, 5, 3))
    assert len(layer.weights) == 7
    assert counted(MLPEnergy(units=()), (4,)) == 4  # No hidden layer: a bias-free linear energy.


@pytest.mark.parametrize("name", ALL)
def test_parameter_counts_on_small_inputs(name):
    """The same arithmetic at the test sizes, with mixed strides and odd spatial sizes."""
    layer, input_shape = small(name)
    expected = {
        "ConvFeatures": lambda: trunk_params(SMALL_IMAGE, (4, 6, 8), (2, 1, 3), 12),
        "Encoder": lambda: encoder_params(SMALL_IMAGE, 5, (4, 6, 8), (1, 2, 2), 12),
        "Decoder": lambda: decoder_params(4, (5, 7, 2), 16),
        "EnergyNetwork": lambda: energy_params(SMALL_IMAGE, (3, 5, 7), (2, 2, 1), 9),
        "MLPEnergy": lambda: mlp_energy_params(6, (7, 5, 3)),
    }[name]()
    assert counted(layer, input_shape) == expected


# .keras round trip ---------------------------------------------------------------------------


def wrapped(layer, input_shape):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("name", ALL)
def test_keras_file_round_trip(name, tmp_path):
    layer, input_shape = small(name)
    model = wrapped(layer, input_shape)
    x = random_input(input_shape, seed=1)
    before = [to_numpy(o) for o in keras.tree.flatten(model(x))]

    path = tmp_path / f"{name}.keras"
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # E.g. Keras warns when weights cannot be restored.
        loaded = keras.saving.load_model(path)

    restored = loaded.layers[-1]
    assert type(restored) is type(layer)
    assert as_json(restored.get_config()) == as_json(layer.get_config())
    assert weight_summary(restored) == weight_summary(layer)
    for original, copy in zip(layer.weights, restored.weights):
        np.testing.assert_array_equal(to_numpy(copy), to_numpy(original))
    after = [to_numpy(o) for o in keras.tree.flatten(loaded(x))]
    assert len(after) == len(before)
    for a, b in zip(after, before):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


# Bad arguments -------------------------------------------------------------------------------


def test_normalize_strides():
    assert normalize_strides(2, 3) == (2, 2, 2)
    assert normalize_strides([1, 2, 3], 3) == (1, 2, 3)
    assert normalize_strides(np.array([2, 1]), 2) == (2, 1)
    assert all(type(s) is int for s in normalize_strides(np.array([2, 1]), 2))


STRIDES_ERROR = r"strides must be a positive int or 3 positive ints \(one per convolution\)"


@pytest.mark.parametrize(
    "strides, shown",
    [((2, 2), r"\(2, 2\)"), ((1, 1, 1, 1), r"\(1, 1, 1, 1\)"), (0, r"\(0, 0, 0\)"),
     (-1, r"\(-1, -1, -1\)"), ((2, 0, 2), r"\(2, 0, 2\)"), ((), r"\(\)")],
)
def test_bad_strides(strides, shown):
    with pytest.raises(ValueError, match=f"{STRIDES_ERROR}, got {shown}"):
        normalize_strides(strides, 3)
    for make in (ConvFeatures, networks.Encoder, EnergyNetwork):
        with pytest.raises(ValueError, match=STRIDES_ERROR):
            make(strides=strides)


def test_strides_must_match_the_number_of_convolutions():
    # Four channels need four strides: the count comes from conv_channels.
    assert ConvFeatures(conv_channels=(2, 4, 4, 8), strides=(2, 2, 1, 1)).strides == (2, 2, 1, 1)
    with pytest.raises(ValueError, match=r"or 4 positive ints .*got \(2, 2, 2\)"):
        ConvFeatures(conv_channels=(2, 4, 4, 8), strides=(2, 2, 2))
    with pytest.raises(ValueError, match=r"or 2 positive ints .*got \(1, 1, 1\)"):
        EnergyNetwork(conv_channels=(2, 4), strides=(1, 1, 1))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ConvFeatures(units=0), r"invalid value for `units`.*units=0"),
        (lambda: ConvFeatures(conv_channels=(4, 0, 8)), r"`filters`.*filters=0"),
        (lambda: networks.Encoder(latent_dim=0), r"invalid value for `units`.*units=0"),
        (lambda: networks.Encoder(units=-3), r"invalid value for `units`.*units=-3"),
        (lambda: Decoder(MNIST, units=0), r"invalid value for `units`.*units=0"),
        (lambda: Decoder((28, 0, 1)), r"invalid value for `units`.*units=0"),
        (lambda: EnergyNetwork(conv_channels=(0, 4, 4)), r"`filters`.*filters=0"),
        (lambda: MLPEnergy(units=(8, 0)), r"invalid value for `units`.*units=0"),
    ],
)
def test_bad_sizes(make, match):
    with pytest.raises(ValueError, match=match):
        make()
