"""SigmaVAE as a Keras model: building, the public API, saving, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import SMALL, assert_weights_equal, to_numpy, weights_of
from keras_svae import SigmaVAE, alpha_vae, sigma_vae, vanilla_vae

SHAPE = SMALL["data_shape"]
X = np.random.default_rng(0).uniform(size=(32,) + SHAPE).astype("float32")
METRICS = {"loss", "recon", "kl", "mse", "elbo"}


def small(noise="gaussian", scale=0.5, **kwargs):
    return SigmaVAE(noise=noise, scale=scale, **{**SMALL, **kwargs})


def compiled(model):
    model.compile(keras.optimizers.Adam(1e-3))
    return model


# Building -------------------------------------------------------------------


def test_paper_network_sizes():
    """Section 5: strided by default; the literal no-downsampling preset has ~22 M weights."""
    strided = SigmaVAE(scale=0.9)
    literal = SigmaVAE.from_architecture("no_downsampling", scale=0.9)
    assert strided.encoder.features.strides == (2, 2, 2)
    assert literal.encoder.features.strides == (1, 1, 1)
    assert strided.latent_dim == 100 and strided.decoder.units == 2000
    assert 21e6 < literal.count_params() < 23e6
    assert strided.count_params() < literal.count_params() / 5


@pytest.mark.parametrize("image_shape", [(28, 28, 1), (12, 10, 3), (5, 7, 2)])
def test_any_image_shape(image_shape, rng):
    model = SigmaVAE(scale=0.5, **{**SMALL, "data_shape": image_shape})
    x = rng.uniform(size=(3,) + image_shape).astype("float32")
    mean, log_var = model.encode(x)
    assert tuple(mean.shape) == (3, 4) and tuple(log_var.shape) == (3, 4)
    assert tuple(model.reconstruct(x).shape) == (3,) + image_shape
    assert tuple(model.sample(5).shape) == (5,) + image_shape


def test_convenience_constructors():
    assert (sigma_vae(0.9, **SMALL).noise, sigma_vae(0.9, **SMALL).scale) == ("gaussian", 0.9)
    assert (alpha_vae(0.4, **SMALL).noise, alpha_vae(0.4, **SMALL).scale) == ("laplace", 0.4)
    assert (vanilla_vae(**SMALL).noise, vanilla_vae(**SMALL).scale) == ("bernoulli", None)


# The public API ----------------------------------------------------------------


def test_outputs_are_probabilities_and_deterministic_given_seed():
    model = small()
    a = to_numpy(model.reconstruct(X, seed=4))
    b = to_numpy(model.reconstruct(X, seed=4))
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    # sample=False decodes the posterior mean: deterministic, without a seed.
    np.testing.assert_array_equal(to_numpy(model.reconstruct(X, sample=False)),
                                  to_numpy(model.decode(model.encode(X)[0])))
    assert not np.allclose(to_numpy(model.reconstruct(X, seed=5)), a)


def test_fit_and_evaluate_report_the_paper_quantities():
    model = compiled(small())
    history = model.fit(X, epochs=2, batch_size=8, verbose=0)
    assert METRICS <= set(history.history)
    results = model.evaluate(X, batch_size=8, verbose=0, return_dict=True)
    assert METRICS == set(results)
    np.testing.assert_allclose(results["elbo"], -(results["recon"] + results["kl"]), rtol=1e-5)
    # For beta = 1 the loss is the negated ELBO.
    np.testing.assert_allclose(results["loss"], -results["elbo"], rtol=1e-5)


def test_fit_accepts_the_input_pipeline():
    from keras_svae import data

    model = compiled(small())
    history = model.fit(data.make_dataset(X, 8, seed=0), epochs=1, verbose=0,
                        validation_data=data.make_dataset(X, 8, shuffle=False))
    assert {"val_loss", "val_kl", "val_mse"} <= set(history.history)


# Saving ------------------------------------------------------------------------


@pytest.mark.parametrize("noise,scale,beta", [("gaussian", 0.9, 1.0), ("laplace", 0.4, 2.0),
                                              ("bernoulli", None, 1.0)])
def test_keras_file_round_trip(tmp_path, noise, scale, beta):
    model = compiled(small(noise, scale, beta=beta, strides=(2, 1, 2), seed=3))
    model.fit(X, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is SigmaVAE
    assert loaded.get_config() == model.get_config()
    for a, b in zip(model.encode(X), loaded.encode(X)):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    np.testing.assert_array_equal(to_numpy(model.reconstruct(X, seed=9)),
                                  to_numpy(loaded.reconstruct(X, seed=9)))
    # The seed generator's state is saved too: both continue the same stream.
    np.testing.assert_array_equal(to_numpy(model.reconstruct(X)), to_numpy(loaded.reconstruct(X)))

    # The optimizer comes back with its state: the step count and, matched by
    # path (not position), Adam's m ("momentum") and v ("velocity") of every weight.
    assert int(to_numpy(model.optimizer.iterations)) == 4  # 32 examples, batches of 8.
    assert int(to_numpy(loaded.optimizer.iterations)) == 4
    state, loaded_state = _optimizer_state(model), _optimizer_state(loaded)
    assert sorted(loaded_state) == sorted(state)
    for weight in model.trainable_variables:
        for slot in ("momentum", "velocity"):
            key = f"{weight.path.replace('/', '_')}_{slot}"
            assert np.any(state[key] != 0), key  # Trained: the check is not vacuous.
    for key, value in state.items():
        np.testing.assert_array_equal(loaded_state[key], value, err_msg=key)

    # So training goes on as if never interrupted: one more step on the same
    # batch, with the same (restored) seed state, gives bitwise the same weights.
    batch = X[:8]
    model.train_on_batch(batch)
    loaded.train_on_batch(batch)
    assert int(to_numpy(loaded.optimizer.iterations)) == 5
    assert_weights_equal(loaded, weights_of(model))


def _optimizer_state(model):
    """Every optimizer variable's value, keyed by its path relative to the optimizer."""
    prefix = model.optimizer.name + "/"
    state = {}
    for variable in model.optimizer.variables:
        assert variable.path.startswith(prefix), variable.path
        state[variable.path[len(prefix):]] = to_numpy(variable).copy()
    assert len(state) == len(model.optimizer.variables)  # Paths are unique.
    return state


def test_from_config_rebuilds_the_same_architecture():
    model = small(beta=0.3, strides=1, seed=2)
    clone = SigmaVAE.from_config(model.get_config())
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert (clone.beta, clone.scale, clone.seed) == (0.3, 0.5, 2)


# Bad input --------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,match", [
    (dict(scale=0.0), "sigma"), (dict(scale=-1.0), "sigma"), (dict(scale=float("nan")), "sigma"),
    (dict(scale=float("inf")), "sigma"), (dict(noise="laplace", scale=0.0), "alpha"),
    (dict(beta=-0.1), "beta"), (dict(beta=float("nan")), "beta"),
    (dict(noise="poisson"), "noise"), (dict(strides=(2, 2)), "strides"),
])
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small(**kwargs)


def _bad_batches():
    nan, inf, wide = X.copy(), X.copy(), X.copy()
    nan[3, 2, 2, 0] = np.nan
    inf[0, 0, 0, 0] = np.inf
    wide[1, 1, 1, 0] = 1.5
    return {
        "rank": (X[..., 0], "gaussian", "shape"),
        "size": (np.random.default_rng(1).uniform(size=(4, 9, 8, 1)).astype("float32"),
                 "gaussian", "shape"),
        "channels": (np.random.default_rng(2).uniform(size=(4, 8, 8, 3)).astype("float32"),
                     "gaussian", "shape"),
        "nan": (nan, "gaussian", "NaN"),
        "inf": (inf, "laplace", "infinite"),
        "range": (wide, "bernoulli", r"\[0, 1\]"),
    }


BAD = _bad_batches()


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("entry", ["fit", "train_on_batch", "evaluate"])
def test_bad_batches_raise_before_any_weight_changes(case, entry):
    x, noise, match = BAD[case]
    model = compiled(small(noise, None if noise == "bernoulli" else 0.5))
    before = weights_of(model)
    with pytest.raises(ValueError, match=match):
        if entry == "fit":
            model.fit(x, epochs=1, batch_size=8, verbose=0)
        elif entry == "train_on_batch":
            model.train_on_batch(x)
        else:
            model.evaluate(x, verbose=0)
    assert_weights_equal(model, before)


@pytest.mark.parametrize("case", ["nan", "range"])
def test_bad_batches_in_a_dataset_raise_before_that_step(case):
    x, noise, match = BAD[case]
    model = compiled(small(noise, None if noise == "bernoulli" else 0.5))
    before = weights_of(model)
    # One batch holding the bad pixel: no step may run.
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(len(x)), epochs=1, verbose=0)
    assert_weights_equal(model, before)


def test_bad_validation_data_raises_before_training():
    model = compiled(small())
    before = weights_of(model)
    with pytest.raises(ValueError, match="validation_data.*NaN"):
        model.fit(X, epochs=1, verbose=0, validation_data=(BAD["nan"][0],))
    assert_weights_equal(model, before)


def test_dataset_of_the_wrong_shape_raises_at_once():
    model = compiled(small())
    with pytest.raises(ValueError, match="shape"):
        model.fit(tf.data.Dataset.from_tensor_slices(X[..., 0]).batch(8), epochs=1, verbose=0)


def test_inference_methods_check_their_input():
    model = small()
    with pytest.raises(ValueError, match="NaN"):
        model.reconstruct(BAD["nan"][0])
    with pytest.raises(ValueError, match="shape"):
        model.encode(BAD["size"][0])
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(np.zeros((2, 7), "float32"))
    with pytest.raises(ValueError, match="sample weights"):
        model.compute_loss(X, y_pred=model(X), sample_weight=np.ones(len(X)))
    # Noisy images outside [0, 1] are what reconstruct is for: accepted.
    assert np.isfinite(to_numpy(model.reconstruct(X + 2.0))).all()
