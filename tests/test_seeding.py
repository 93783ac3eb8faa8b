"""One seeding scheme: the package's random streams never share a draw, and repeat.

Keras's own habit (SeedGenerator(seed + i)) fails `test_no_two_streams_share_a_draw`
on every backend (seed 1's image i is seed 0's image i + 1), and on PyTorch even
consecutive seeds of one kind of stream overlap (torch seeds each draw with seed +
counter).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import SMALL, to_numpy
from keras_svae import DEEN, callbacks, data, networks, seeding, sigma_vae
from keras_svae.experiments import certification, figures, robustness, smoothing

SEEDS = (0, 1, 2)
IMAGES = 200
SHAPE = (2, 2, 1)  # One draw of a certify batch of 1 has 4 values, as `draw` below.


def draw(seed):
    """The next draw of a stream, as bytes: 4 float32 values, compared exactly."""
    return to_numpy(keras.random.normal((4,), seed=seed)).astype("float32").tobytes()


class Recorder:
    """A 'classifier' for smoothing that records the noise it is shown (x = 0, sigma = 1)."""

    def __init__(self):
        self.draws = []

    def __call__(self, noisy):
        noisy = to_numpy(noisy).astype("float32")
        self.draws += [row.tobytes() for row in noisy.reshape(len(noisy), -1)]
        return keras.ops.one_hot(keras.ops.zeros((len(noisy),), "int32"), 2)


class DrawingModel:
    """A model whose `estimate` is a draw from the generator the package hands it."""

    def __init__(self):
        self.draws = []

    def estimate(self, y, seed=None):
        self.draws.append(draw(seed))
        return y


def certification_draws(seed):
    """Every draw `smoothing.certify_images` makes for images 0..199 (n0 = 1, n = 2)."""
    recorder = Recorder()
    zeros = np.zeros((IMAGES,) + SHAPE, "float32")
    for _ in smoothing.certify_images(recorder, zeros, np.zeros(IMAGES, int), range(IMAGES),
                                      1.0, 1, 2, 0.001, num_classes=2, batch_size=1, seed=seed):
        pass
    assert len(recorder.draws) == 3 * IMAGES
    return recorder.draws


def generator_draws(generator, count=3):
    return [draw(generator) for _ in range(count)]


def front_end_draws(seed):
    model = DrawingModel()
    front = certification.front_end("vae_sample", model, seed=seed)
    for _ in range(3):
        front(np.zeros((1,) + SHAPE, "float32"))
    return model.draws


def robustness_estimator_draws(seed):
    model = DrawingModel()
    estimate = robustness.estimator(model, seed=seed)
    for _ in range(3):
        estimate(None)
    return model.draws


def one_shot_draws(seed):
    """The int-seeded draws: the robustness levels, the figures, the TensorBoard grids."""
    seeds = [seeding.derive(seed, seeding.ROBUSTNESS, seeding.NOISE, k) for k in range(10)]
    seeds += [s for name in figures.FIGURES for s in figures.streams(seed, name)]
    grids = callbacks.RobustnessImages("unused", np.zeros((1,) + SHAPE, "float32"), seed=seed)
    seeds += [grids.draws_seed, grids.samples_seed]
    seeds += [seeding.derive(seed, seeding.FINE_TUNING)]
    return [draw(s) for s in seeds]


def model_draws(seed):
    vae = sigma_vae(0.5, seed=seed, **SMALL)
    deen = DEEN(0.5, energy=networks.MLPEnergy((4,)), data_shape=(3,), seed=seed)
    return generator_draws(vae.seed_generator) + generator_draws(deen.seed_generator)


def test_no_two_streams_share_a_draw():
    """Images 0..199 x seeds 0..2, and every other stream the package seeds, per seed."""
    everything = []
    for seed in SEEDS:
        everything += certification_draws(seed)
        everything += front_end_draws(seed) + robustness_estimator_draws(seed)
        everything += one_shot_draws(seed) + model_draws(seed)
    assert len(everything) > len(SEEDS) * 3 * IMAGES
    assert len(set(everything)) == len(everything), (
        f"{len(everything) - len(set(everything))} draws repeat across the streams.")


def test_the_same_seed_repeats_every_stream():
    assert certification_draws(4) == certification_draws(4)
    assert front_end_draws(4) == front_end_draws(4)
    assert one_shot_draws(4) == one_shot_draws(4)
    assert model_draws(4) == model_draws(4)


def test_two_models_with_one_seed_share_their_draws_on_purpose():
    """Common random numbers are asked for by giving the same seed (Theorems 1-2's check)."""
    one, two = sigma_vae(0.3, seed=7, **SMALL), sigma_vae(0.9, seed=7, **SMALL)
    assert generator_draws(one.seed_generator) == generator_draws(two.seed_generator)


def test_data_orders_differ_between_seeds_and_epochs_and_repeat():
    images = np.arange(64, dtype="float32").reshape(64, 1, 1, 1)

    def order(seed, epoch):
        variable = tf.Variable(epoch, dtype=tf.int64)
        batches = data.make_dataset(images, 64, seed=seed, epoch=variable)
        return tuple(next(iter(batches)).numpy().ravel())

    orders = {(s, e): order(s, e) for s in SEEDS for e in range(3)}
    assert len(set(orders.values())) == len(orders)
    assert orders[(1, 2)] == order(1, 2)


def test_words_fit_every_backend_and_differ_from_neighbours():
    words = [seeding.words(s, seeding.SMOOTHING, i) for s in SEEDS for i in range(50)]
    assert len(set(words)) == len(words)
    assert all(0 <= w < 2**31 - 2 for pair in words for w in pair)
    # The generator starts at the two words: both reach the backend's draw.
    generator = seeding.generator(3, seeding.POSTERIOR)
    assert tuple(int(w) for w in to_numpy(generator.state)) == seeding.words(3, seeding.POSTERIOR)
    assert seeding.derive(3, seeding.POSTERIOR) == seeding.words(3, seeding.POSTERIOR)[0]


def test_an_unseeded_stream_differs_run_to_run():
    assert draw(seeding.generator(None, seeding.POSTERIOR)) != draw(
        seeding.generator(None, seeding.POSTERIOR))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "0", None])
def test_bad_seeds_and_paths_are_named(bad):
    if bad is not None:
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            seeding.words(bad, seeding.POSTERIOR)
    with pytest.raises(ValueError, match=r"path\[1\] must be a non-negative int"):
        seeding.words(0, seeding.SMOOTHING, -3 if bad is None else bad)
