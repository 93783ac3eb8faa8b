"""A user's own encoder, decoder and energy network; real-valued data (identity readout)."""

import keras
import numpy as np
import pytest
from keras import layers
from scipy import stats

from conftest import to_numpy
from keras_svae import DEEN, SigmaVAE, imaginary_noise

COLOUR = (32, 32, 3)


def keras_io_networks(latent_dim=6, data_shape=COLOUR):
    """A functional encoder and decoder in the style of keras-io's VAE example."""
    inputs = keras.Input(data_shape)
    h = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    h = layers.Flatten()(h)
    encoder = keras.Model(inputs, [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)])
    z = keras.Input((latent_dim,))
    out = layers.Reshape(data_shape)(layers.Dense(int(np.prod(data_shape)))(z))
    return encoder, keras.Model(z, out)


def vector_networks(dim=5, latent_dim=2):
    inputs = keras.Input((dim,))
    h = layers.Dense(8, activation="silu")(inputs)
    encoder = keras.Model(inputs, [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)])
    decoder = keras.Sequential([keras.Input((latent_dim,)), layers.Dense(8, activation="silu"),
                                layers.Dense(dim)])
    return encoder, decoder


def test_user_networks_train_save_and_load(tmp_path, rng):
    encoder, decoder = keras_io_networks()
    model = SigmaVAE(scale=0.5, encoder=encoder, decoder=decoder, seed=0)
    assert model.data_shape == COLOUR and model.latent_dim == 6  # Read off the networks.
    x = rng.uniform(size=(32,) + COLOUR).astype("float32")
    model.compile(keras.optimizers.Adam(1e-3))
    before = to_numpy(model.reconstruct(x[:4], sample=False))
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    after = to_numpy(model.reconstruct(x[:4], sample=False))
    assert not np.allclose(before, after)  # The user's weights are the model's.
    path = str(tmp_path / "own.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.encoder, keras.Model) and isinstance(loaded.decoder, keras.Model)
    assert loaded.encoder.count_params() == model.encoder.count_params()
    np.testing.assert_allclose(to_numpy(loaded.reconstruct(x[:4], sample=False)), after,
                               rtol=1e-6, atol=1e-6)
    # The random state travels too: the next draw is the one the original makes.
    np.testing.assert_allclose(to_numpy(loaded.reconstruct(x[:4])),
                               to_numpy(model.reconstruct(x[:4])), rtol=1e-5, atol=1e-5)


def test_one_given_network_beside_the_papers(rng):
    encoder, _ = keras_io_networks(latent_dim=4, data_shape=(28, 28, 1))
    model = SigmaVAE(scale=0.9, encoder=encoder, decoder_units=16)
    assert model.latent_dim == 4 and model.decoder.units == 16
    assert "decoder_units" in model.get_config() and "conv_channels" not in model.get_config()
    x = rng.uniform(size=(3, 28, 28, 1)).astype("float32")
    assert tuple(model.reconstruct(x).shape) == (3, 28, 28, 1)


def test_the_identity_readout_trains_on_real_values(rng):
    encoder, decoder = vector_networks()
    model = SigmaVAE(scale=0.3, encoder=encoder, decoder=decoder, readout="identity", seed=0)
    z = rng.normal(size=(4, 2)).astype("float32")
    # x_hat is the decoder's output itself, not its sigmoid.
    np.testing.assert_array_equal(to_numpy(model.decode(z)), to_numpy(decoder(z)))
    x = (3.0 * rng.standard_normal((64, 5))).astype("float32")  # Standardised data, |x| > 1.
    model.compile(keras.optimizers.Adam(1e-2))
    history = model.fit(x, epochs=3, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    with pytest.raises(ValueError, match=r"non-finite|NaN"):
        model.fit(np.full((8, 5), np.nan, "float32"), verbose=0)


def test_the_sigmoid_readout_refuses_real_values_and_says_why(rng):
    encoder, decoder = vector_networks()
    model = SigmaVAE(scale=0.3, encoder=encoder, decoder=decoder)
    model.compile(keras.optimizers.Adam(1e-2))
    with pytest.raises(ValueError, match=r"\[0, 1\].*readout='identity'"):
        model.fit(3.0 * rng.standard_normal((16, 5)).astype("float32"), verbose=0)


def test_bernoulli_keeps_the_sigmoid():
    encoder, decoder = vector_networks()
    with pytest.raises(ValueError, match="bernoulli.*sigmoid"):
        SigmaVAE(noise="bernoulli", encoder=encoder, decoder=decoder, readout="identity")
    with pytest.raises(ValueError, match="readout must be one of"):
        SigmaVAE(scale=0.3, encoder=encoder, decoder=decoder, readout="tanh")


@pytest.mark.parametrize("noise, scipy_density", [("gaussian", stats.norm),
                                                   ("laplace", stats.laplace)])
def test_identity_readout_likelihood_is_the_density_at_the_output(noise, scipy_density, rng):
    x = rng.normal(size=(4, 6)).astype("float32") * 3
    output = rng.normal(size=(4, 6)).astype("float32") * 3
    model = imaginary_noise.get(noise, 0.7, readout="identity")
    nll = to_numpy(model.negative_log_likelihood(x, output, include_constant=True))
    np.testing.assert_allclose(nll, -scipy_density.logpdf(x, loc=output, scale=0.7).sum(axis=1),
                               rtol=1e-5)


def test_a_broken_encoder_is_named_with_its_shapes():
    one_tensor = keras.Sequential([keras.Input(COLOUR), layers.Flatten(), layers.Dense(4)])
    with pytest.raises(ValueError, match=r"\(z_mean, z_log_var\).*one tensor of shape \(2, 4\)"):
        SigmaVAE(scale=0.5, encoder=one_tensor)
    encoder, decoder = keras_io_networks(latent_dim=6)
    with pytest.raises(ValueError, match="latent_dim=5 was asked for.*size 6"):
        SigmaVAE(scale=0.5, encoder=encoder, decoder=decoder, latent_dim=5)


def test_a_broken_decoder_is_named_with_its_shapes():
    encoder, _ = keras_io_networks(latent_dim=6)
    flat = keras.Sequential([keras.Input((6,)), layers.Dense(10)])
    with pytest.raises(ValueError, match=r"\(batch, 32, 32, 3\).*shape \(2, 10\)"):
        SigmaVAE(scale=0.5, encoder=encoder, decoder=flat)


def test_the_papers_encoder_needs_images():
    with pytest.raises(ValueError, match="paper's encoder takes images"):
        SigmaVAE(scale=0.5, data_shape=(5,))


def test_an_energy_network_of_the_wrong_shape_is_named():
    per_pixel = keras.Sequential([keras.Input((3,)), layers.Dense(1)])  # (batch, 1), not (batch,)
    with pytest.raises(ValueError, match=r"one energy per example.*shape \(2, 1\)"):
        DEEN(0.5, energy=per_pixel)


def test_the_readme_snippet_runs():
    """README's "Your own data and networks" example, as printed."""
    from conftest import REPO

    section = (REPO / "README.md").read_text().split("### Your own data and networks", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope = {}
    exec("import keras\nimport keras_svae\n" + snippet, scope)
    assert scope["model"].data_shape == (32, 32, 3) and scope["model"].latent_dim == 16


def test_user_networks_train_as_a_family_equal_to_single_runs(rng):
    """Two members with keras-io networks (and one of the paper's beside) follow their runs."""
    from keras_svae import SigmaVAEFamily

    x = rng.uniform(size=(32,) + COLOUR).astype("float32")
    singles = []
    for k, (noise, scale) in enumerate([("gaussian", 0.5), ("laplace", 0.3)]):
        keras.utils.set_random_seed(k)
        encoder, decoder = keras_io_networks()
        singles.append(SigmaVAE(noise, scale, encoder=encoder, decoder=decoder, seed=k))
    singles.append(SigmaVAE(scale=0.9, data_shape=COLOUR, latent_dim=3, conv_channels=(4, 4, 4),
                            encoder_units=8, decoder_units=8, seed=5))
    family = SigmaVAEFamily.from_members(singles)
    for model in singles:
        model.compile(keras.optimizers.Adam(1e-3))
        model.fit(x, epochs=2, batch_size=16, shuffle=False, verbose=0)
    family.compile(keras.optimizers.Adam(1e-3))
    family.fit(x, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for k, model in enumerate(singles):
        member = family.member(k)
        assert member.encoder.count_params() == model.encoder.count_params()
        for a, b in zip(member.weights, model.weights):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-5, rtol=0)
    assert not np.allclose(to_numpy(family.member(0).weights[0]),
                           to_numpy(family.member(1).weights[0]))
