"""Clean training data must lie in [0, 1] for every noise model; noisy y need not."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import SMALL, assert_weights_equal, to_numpy, weights_of
from keras_svae import DEEN, SigmaVAE, networks

CLEAN = np.random.default_rng(11).uniform(size=(8, 8, 8, 1)).astype("float32")
RAW_UINT8 = np.round(CLEAN * 255).astype(np.uint8)  # MNIST as stored: 0-255.
NEGATIVE = CLEAN - 0.25
SCALES = {"gaussian": 0.5, "laplace": 0.5, "bernoulli": None}


def compiled(noise):
    model = SigmaVAE(noise=noise, scale=SCALES[noise], seed=0, **SMALL)
    model.compile(keras.optimizers.SGD(0.1))
    return model


def run(model, entry, x):
    if entry == "fit":
        model.fit(x, epochs=1, batch_size=4, verbose=0)
    elif entry == "train_on_batch":
        model.train_on_batch(x)
    else:
        model.evaluate(x, verbose=0)


@pytest.mark.parametrize("entry", ["fit", "train_on_batch", "evaluate"])
@pytest.mark.parametrize("noise", sorted(SCALES))
def test_raw_8_bit_images_are_refused_with_the_fix(noise, entry):
    model = compiled(noise)
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"x must have pixels in \[0, 1\].*sigmoid.*"
                                         r"got pixels in \[\d+, 255\].*divide by 255"):
        run(model, entry, RAW_UINT8)
    assert_weights_equal(model, before)


@pytest.mark.parametrize("noise", sorted(SCALES))
def test_negative_pixels_are_refused(noise):
    model = compiled(noise)
    before = weights_of(model)
    with pytest.raises(ValueError, match=r"\[0, 1\]") as caught:
        run(model, "fit", NEGATIVE)
    assert "255" not in str(caught.value)  # No 8-bit hint for data that is not 8-bit.
    with pytest.raises(ValueError, match="validation_data must have pixels in"):
        model.fit(CLEAN, epochs=1, verbose=0, validation_data=(NEGATIVE,))
    assert_weights_equal(model, before)


@pytest.mark.parametrize("noise", sorted(SCALES))
def test_a_dataset_outside_the_range_stops_before_its_step(noise):
    model = compiled(noise)
    before = weights_of(model)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 1\]"):
        model.fit(tf.data.Dataset.from_tensor_slices(CLEAN * 255).batch(8), epochs=1, verbose=0)
    assert_weights_equal(model, before)


@pytest.mark.parametrize("noise", sorted(SCALES))
def test_data_in_the_range_trains(noise):
    model = compiled(noise)
    before = weights_of(model)
    model.fit(CLEAN, epochs=1, batch_size=4, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights_of(model)))


def test_inference_takes_noisy_images_of_any_range(rng):
    model = compiled("gaussian")
    noisy = CLEAN + 2.0 * rng.standard_normal(CLEAN.shape).astype("float32")
    assert noisy.min() < 0 and noisy.max() > 1
    outputs = [model.reconstruct(noisy), model.encode(noisy)[0], model.loss_terms(noisy)["kl"],
               model.elbo(noisy), model.predict(noisy, verbose=0)["z"]]
    assert all(np.isfinite(to_numpy(o)).all() for o in outputs)


def test_deen_pairs_need_not_lie_in_the_range(rng):
    model = DEEN(0.5, energy=networks.MLPEnergy((8,)), data_shape=(3,), seed=0)
    model.compile(keras.optimizers.SGD(0.01))
    x = 3.0 * rng.standard_normal((16, 3)).astype("float32")  # Standardised measurements.
    before = weights_of(model)
    history = model.fit(x + 0.5, x, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights_of(model)))


def test_a_bad_batch_later_in_a_dataset_leaves_the_weights_of_the_last_step():
    """The steps before the bad batch count, and the model keeps their weights (on JAX too,
    whose loop holds the weights outside the model while it runs)."""
    good, bad = CLEAN[:4], CLEAN[4:] * 255
    model, reference = compiled("gaussian"), compiled("gaussian")
    reference.set_weights(model.get_weights())
    reference.train_on_batch(good)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 1\]"):
        model.fit(tf.data.Dataset.from_tensor_slices(np.concatenate([good, bad])).batch(4),
                  epochs=1, verbose=0)
    for ours, theirs in zip(weights_of(model), weights_of(reference)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    model.fit(good, epochs=1, batch_size=4, verbose=0)  # ... and trains on.


def test_a_reshuffling_dataset_is_iterated_once_per_epoch():
    """fit sees a reshuffling dataset's first order: no batch is drawn ahead of the loop."""
    def shuffled():
        return tf.data.Dataset.from_tensor_slices(CLEAN).shuffle(
            8, seed=3, reshuffle_each_iteration=True).batch(4)

    def order(dataset):
        return np.concatenate([to_numpy(b) for b in dataset])

    once = shuffled()
    first = order(once)
    assert not np.array_equal(first, order(once))  # A batch drawn ahead would change the order.
    model, reference = compiled("gaussian"), compiled("gaussian")
    reference.set_weights(model.get_weights())
    model.fit(shuffled(), epochs=1, verbose=0)
    reference.fit(first, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for ours, theirs in zip(weights_of(model), weights_of(reference)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
