"""DEEN against the exact Bayes estimator, on MNIST, and as a Keras model."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from conftest import assert_weights_equal, to_numpy, weights_of
from keras_svae import DEEN, data, networks

D = 3


def rng(seed):
    # One generator per test: data must not depend on how pytest-xdist schedules tests.
    return np.random.default_rng(seed)


def fit_vector_deen(x, sigma):
    keras.utils.set_random_seed(0)
    model = DEEN(sigma, energy=networks.MLPEnergy((64, 64)), data_shape=(D,), seed=0)
    model.compile(keras.optimizers.Adam(3e-3))
    model.fit(x.astype("float32"), epochs=15, batch_size=256, verbose=0)
    return model


def assert_close_to_bayes(model, x, y, bayes, rms_tol, risk_tol):
    x_hat = to_numpy(model.denoise(y.astype("float32")))
    rms = np.sqrt(np.mean((x_hat - bayes) ** 2))
    risk, bayes_risk = (np.mean(np.sum((e - x) ** 2, axis=1)) for e in (x_hat, bayes))
    assert rms < rms_tol, (rms, rms_tol)
    # The Bayes estimator has the least risk; DEEN's must come close to it.
    assert bayes_risk <= risk < (1 + risk_tol) * bayes_risk, (risk, bayes_risk)


def test_matches_the_bayes_estimator_of_a_gaussian():
    """X ~ N(mu, s^2 I): E[X | y] = (s^2 y + sigma^2 mu) / (s^2 + sigma^2)."""
    mu, s, sigma = np.array([1.0, -1.0, 0.5]), 0.7, 0.5
    data_rng = rng(1)
    model = fit_vector_deen(mu + s * data_rng.standard_normal((20000, D)), sigma)
    x = mu + s * data_rng.standard_normal((5000, D))  # Held out.
    y = x + sigma * data_rng.standard_normal(x.shape)
    bayes = (s**2 * y + sigma**2 * mu) / (s**2 + sigma**2)
    # Tolerances: ~15% of the posterior std s*sigma/sqrt(s^2+sigma^2) = 0.41,
    # and 5% excess risk (measured: rms 0.017-0.026, excess < 1%).
    assert_close_to_bayes(model, x, y, bayes, rms_tol=0.06, risk_tol=0.05)


def test_matches_the_bayes_estimator_of_a_gaussian_mixture():
    """X ~ 1/2 N(m1, s^2 I) + 1/2 N(m2, s^2 I): E[X|y] mixes the two Gaussian estimators
    with the posterior weights w_k(y) proportional to N(y | m_k, (s^2 + sigma^2) I)."""
    means, s, sigma = np.array([[1.5, 1.5, 0.0], [-1.5, -1.5, 0.0]]), 0.5, 0.7

    data_rng = rng(2)

    def draw(n):
        return means[data_rng.integers(0, 2, n)] + s * data_rng.standard_normal((n, D))

    model = fit_vector_deen(draw(20000), sigma)
    x = draw(5000)
    y = x + sigma * data_rng.standard_normal(x.shape)
    log_w = -np.sum((y[:, None, :] - means) ** 2, axis=-1) / (2 * (s**2 + sigma**2))
    w = special.softmax(log_w, axis=1)
    per_component = (s**2 * y[:, None, :] + sigma**2 * means) / (s**2 + sigma**2)
    bayes = np.einsum("nk,nkd->nd", w, per_component)
    assert_close_to_bayes(model, x, y, bayes, rms_tol=0.08, risk_tol=0.08)


MNIST_SIGMA = 0.9


@pytest.fixture(scope="module")
def mnist_train(mnist_path):
    return data.load_mnist("train", path=mnist_path)[0]


@pytest.fixture(scope="module")
def mnist_deen(mnist_train):
    # ~560 steps: enough to pass both trivial bars below on every backend (measured
    # on TensorFlow: 28 with 12,000 images x 3 epochs at 1e-3; 52, worse than the mean
    # image, after the 94 steps this test once used).
    keras.utils.set_random_seed(0)
    model = DEEN(MNIST_SIGMA, energy=networks.EnergyNetwork(conv_channels=(16, 32, 64)), seed=0)
    model.compile(keras.optimizers.Adam(2e-3))
    model.fit(data.make_dataset(mnist_train[:12000], 64, seed=0), epochs=3, verbose=0)
    return model


def trivial_estimates(x_train, y, sigma):
    """Estimators that know no more than per-pixel statistics of the training set.

    * "zeros": x_hat = 0.
    * "mean image": x_hat = E[X], the best estimate that ignores y.
    * "per-pixel Wiener": x_hat_i = m_i + v_i / (v_i + sigma^2) (y_i - m_i), the best
      estimator of each pixel that is linear in its own noisy value.
    """
    m, v = x_train.mean(axis=0), x_train.var(axis=0)
    return {
        "zeros": np.zeros_like(y),
        "mean image": np.broadcast_to(m, y.shape),
        "per-pixel Wiener": m + v / (v + sigma**2) * (y - m),
    }


def test_mnist_fit_beats_every_trivial_estimator(mnist_deen, mnist_train, mnist_path):
    x, _ = data.load_mnist("test", path=mnist_path)
    x = x[:500]
    y = x + MNIST_SIGMA * np.random.default_rng(1).standard_normal(x.shape).astype("float32")

    def error(estimate):
        return float(np.sum((estimate - x) ** 2, axis=(1, 2, 3)).mean())

    trivial = {name: error(e) for name, e in trivial_estimates(mnist_train, y, MNIST_SIGMA).items()}
    denoised = error(to_numpy(mnist_deen.denoise(y)))
    # On these 500 images: zeros ~80, mean image ~50, per-pixel Wiener ~42.
    assert trivial["per-pixel Wiener"] < trivial["mean image"] < trivial["zeros"], trivial
    assert denoised < 0.8 * trivial["per-pixel Wiener"], (denoised, trivial)
    assert denoised < 0.65 * trivial["mean image"], (denoised, trivial)
    results = mnist_deen.evaluate(x, verbose=0, return_dict=True)
    assert set(results) == {"loss", "mse", "noisy_mse"}
    assert results["noisy_mse"] == pytest.approx(MNIST_SIGMA**2 * 784, rel=0.02)
    assert results["mse"] < 0.8 * trivial["per-pixel Wiener"], (results, trivial)


def test_keras_file_round_trip(tmp_path, mnist_deen):
    path = tmp_path / "deen.keras"
    mnist_deen.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when it cannot recompile a loaded model.
        loaded = keras.saving.load_model(path)
    assert type(loaded) is DEEN
    # Loaded compiled, with the optimizer's state: training can go on.
    assert loaded.compiled and isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert int(loaded.optimizer.iterations) == int(mnist_deen.optimizer.iterations) > 0
    # Every optimizer variable comes back, in order: the step counter, the learning rate and
    # Adam's m and v of each weight (names carry per-instance layer prefixes, so pair by
    # order and check each pair's kind and shape).
    saved, restored = mnist_deen.optimizer.variables, loaded.optimizer.variables
    assert len(restored) == len(saved) == 2 + 2 * len(mnist_deen.trainable_variables)
    for original, copy in zip(saved, restored):
        kind = original.name.rsplit("_", 1)[-1]
        assert copy.name.rsplit("_", 1)[-1] == kind and copy.shape == original.shape
        np.testing.assert_array_equal(to_numpy(copy), to_numpy(original), err_msg=original.path)
    slots = [v for v in saved if v.name.endswith(("_momentum", "_velocity"))]
    assert len(slots) == 2 * len(mnist_deen.trainable_variables)
    assert all(np.any(to_numpy(v) != 0) for v in slots)  # Trained state, not zeros.
    # Compared as JSON: the nested build config comes back with lists for tuples.
    assert json.dumps(loaded.get_config()) == json.dumps(mnist_deen.get_config())
    y = rng(3).normal(0.3, 0.9, size=(4, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(to_numpy(loaded.denoise(y)), to_numpy(mnist_deen.denoise(y)))


def test_api_energy_score_and_denoise_agree():
    model = DEEN(0.5, energy=networks.MLPEnergy((8,)), data_shape=(2, 2))
    y = rng(4).normal(size=(5, 2, 2)).astype("float32")
    assert to_numpy(model.energy(y)).shape == (5,)
    np.testing.assert_allclose(to_numpy(model.denoise(y)), y + 0.25 * to_numpy(model.score(y)),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_numpy(model.predict(y, verbose=0)), to_numpy(model.energy(y)),
                               rtol=1e-5, atol=1e-6)
    # The readout has no bias: a constant in f has a zero input gradient.
    assert [w.name for w in model.energy_network.readout.weights] == ["kernel"]


def test_paired_data_uses_the_given_noisy_inputs():
    model = DEEN(0.5, energy=networks.MLPEnergy((8,)), data_shape=(3,))
    model.compile(keras.optimizers.Adam(1e-3))
    x = rng(5).normal(size=(16, 3)).astype("float32")
    y = x + 0.5 * rng(6).normal(size=x.shape).astype("float32")
    results = model.evaluate(y, x, verbose=0, return_dict=True)
    np.testing.assert_allclose(results["noisy_mse"], np.mean(np.sum((y - x) ** 2, 1)), rtol=1e-5)
    expected = np.mean(np.sum((to_numpy(model.denoise(y)) - x) ** 2, 1))
    np.testing.assert_allclose(results["mse"], expected, rtol=1e-5)


def test_inference_keeps_no_graph_and_the_loss_has_the_regularisers():
    regularised = keras.layers.Dense(8, activation="silu", kernel_regularizer="l2")
    energy = keras.Sequential([regularised, keras.layers.Dense(1, use_bias=False),
                               keras.layers.Reshape(())])
    model = DEEN(0.5, energy=energy, data_shape=(3,))
    y = rng(9).normal(size=(4, 3)).astype("float32")
    if keras.backend.backend() == "torch":  # The torch branch's create_graph=False path.
        assert not model.denoise(y).requires_grad and not model.score(y).requires_grad
    model.compile()
    results = model.evaluate(y, y, verbose=0, return_dict=True)
    penalty = 0.01 * float(np.sum(to_numpy(regularised.kernel) ** 2))  # Keras's "l2" is 0.01.
    assert results["loss"] == pytest.approx(results["mse"] + penalty, rel=1e-5)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_fit_with_and_without_compilation(jit_compile):
    model = DEEN(0.5, energy=networks.EnergyNetwork((4, 4, 4), units=8), data_shape=(8, 8, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.compile(keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    torch_fallback = jit_compile and keras.backend.backend() == "torch"
    assert any("double backward" in str(w.message) for w in caught) == torch_fallback
    before = weights_of(model)
    history = model.fit(rng(7).uniform(size=(32, 8, 8, 1)).astype("float32"), batch_size=8,
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights_of(model)))


@pytest.mark.parametrize("bad_layer", [keras.layers.BatchNormalization, lambda: keras.layers.Dropout(0.5)])
def test_stateful_energy_networks_are_refused(bad_layer):
    energy = keras.Sequential([keras.layers.Dense(4), bad_layer(), keras.layers.Dense(1),
                               keras.layers.Reshape(())])
    with pytest.raises(ValueError, match="stateless"):
        DEEN(0.5, energy=energy, data_shape=(3,))


def test_bad_input_raises_before_any_weight_changes():
    model = DEEN(0.5, energy=networks.MLPEnergy((8,)), data_shape=(3,))
    model.compile(keras.optimizers.SGD(0.1))
    before = weights_of(model)
    nan = rng(8).normal(size=(8, 3)).astype("float32")
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(nan, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="y has 1 NaN"):
        model.train_on_batch(np.zeros((8, 3), "float32"), nan)
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((8, 4), "float32"), epochs=1, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
        model.fit(tf.data.Dataset.from_tensor_slices(nan).batch(8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.denoise(nan)
    assert_weights_equal(model, before)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            DEEN(bad, data_shape=(3,))
