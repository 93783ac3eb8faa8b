"""The clean-MNIST classifier that judges the robustness experiments."""

import numpy as np
import pytest

from keras_svae import data
from keras_svae.experiments import classifier


def test_learns_mnist_digits(mnist_path):
    # The full schedule (60,000 images, 3 epochs) reaches >= 99% (docs/results.md);
    # here a short fit must already be far above chance (10%).
    x, y = data.load_mnist("train", path=mnist_path)
    x_test, y_test = data.load_mnist("test", path=mnist_path)
    model = classifier.train(x[:1500], y[:1500], epochs=2, batch_size=64)
    assert classifier.accuracy(model, x_test[:1000], y_test[:1000]) > 0.7
    assert model.output_shape == (None, 10)


def test_bad_input_is_named():
    x = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match="labels must be integer class indices"):
        classifier.train(x, np.zeros(3, int))
    with pytest.raises(ValueError, match="labels must be integer class indices"):
        classifier.train(x, np.zeros(4, "float32"))
    with pytest.raises(ValueError, match=r"outside \[0, 1\]|in \[0, 1\]"):
        classifier.train(x + 2.0, np.zeros(4, int))
    with pytest.raises(ValueError, match="NaN"):
        classifier.train(x * np.nan, np.zeros(4, int))
    with pytest.raises(ValueError, match=r"shape \(N, H, W, C\)"):
        classifier.train(x[..., 0], np.zeros(4, int))
