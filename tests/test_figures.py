"""The figure panels: tiling, shared noise, and every figure from stand-in models."""

import numpy as np
import pytest
from keras import ops

from keras_svae.experiments import figures


class Blur:
    """A stand-in model: estimate = mean of y per image (+ a per-call offset), sample = grey."""

    def __init__(self):
        self.calls = []

    def estimate(self, y, seed=None):
        self.calls.append(seed)
        y = np.asarray(y)
        return np.broadcast_to(y.mean(axis=(1, 2, 3), keepdims=True), y.shape).copy()

    def sample(self, n, seed=None):
        return ops.convert_to_tensor(np.full((n, 28, 28, 1), 0.5, "float32"))


def test_additive_noise_is_shared_along_columns():
    images = np.random.default_rng(0).uniform(size=(30, 28, 28, 1)).astype("float32")
    labels = np.arange(30) % 10
    clean, y = figures.digits_by_draws(images, labels, "laplace", 0.4, seed=1, n=4)
    eps = (y - clean).reshape(4, 4, 28, 28, 1)  # (digit, draw, ...)
    np.testing.assert_allclose(eps[0], eps[3], atol=1e-6)  # Column j: one eps_j for every digit.
    assert not np.allclose(eps[0, 0], eps[0, 1])
    np.testing.assert_array_equal(clean.reshape(4, 4, 28, 28, 1)[:, 0], images[:4])
    again = figures.digits_by_draws(images, labels, "laplace", 0.4, seed=1, n=4)[1]
    np.testing.assert_array_equal(again, y)  # The seed fixes the figure.
    _, pepper = figures.digits_by_draws(images, labels, "salt_and_pepper", 0.5, seed=1, n=4)
    assert set(np.unique(pepper[pepper != np.repeat(images[:4], 4, 0)])) <= {0.0, 1.0}


def test_first_of_class_names_a_missing_digit():
    images, labels = np.arange(3.0).reshape(3, 1, 1, 1), np.array([1, 1, 2])
    assert figures.first_of_class(images, labels, 1) == 0.0
    assert figures.first_of_class(images, labels, 2) == 2.0
    with pytest.raises(ValueError, match="No image of the digit 7"):
        figures.first_of_class(images, labels, 7)


def test_every_figure_is_written_from_the_models_it_names(tmp_path):
    models, asked = {}, []

    def load(model, scale):
        asked.append((model, scale))
        return models.setdefault((model, scale), Blur())

    images = np.random.default_rng(2).uniform(size=(20, 28, 28, 1)).astype("float32")
    paths = figures.write_all(load, images, np.arange(20) % 10, str(tmp_path), seed=3,
                              sigmas=(0.1, 0.9))
    assert [p.rsplit("/", 1)[-1] for p in paths] == [f"{n}.png" for n in figures.FIGURES]
    for path in paths:
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert set(asked) == {("sigma_vae", 0.9), ("sigma_vae", 0.1), ("vanilla_vae", None),
                          ("deen", 0.9), ("deen", 0.6), ("alpha_vae", 0.9)}
    # Every estimate draws from its figure's own stream of the given seed (one per figure,
    # shared by the models of that figure).
    drawn = {figures.streams(3, name)[1] for name in figures.FIGURES[:-1]}
    assert {seed for m in models.values() for seed in m.calls} == drawn
    assert len(drawn) == len(figures.FIGURES) - 1
