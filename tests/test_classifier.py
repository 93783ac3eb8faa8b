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


def test_the_lenet_has_the_smoothing_literatures_shape_and_learns(mnist_path):
    model = classifier.build("lenet")
    # Two 5x5 valid convolutions (20, 50 channels) with 2x2 pooling, Dense 500, logits:
    # 28 -> 24 -> 12 -> 8 -> 4, so 4 * 4 * 50 = 800 features.
    convolutions = 20 * (5 * 5 * 1 + 1) + 50 * (5 * 5 * 20 + 1)
    assert model.count_params() == convolutions + (800 * 500 + 500) + (500 * 10 + 10)
    assert [layer.output.shape for layer in model.layers if "conv" in layer.name] == [
        (None, 24, 24, 20), (None, 8, 8, 50)]
    x, y = data.load_mnist("train", path=mnist_path)
    x_test, y_test = data.load_mnist("test", path=mnist_path)
    trained = classifier.train(x[:1500], y[:1500], epochs=2, batch_size=64, architecture="lenet")
    assert trained.count_params() == model.count_params()  # The LeNet, not the ConvNet.
    assert classifier.accuracy(trained, x_test[:1000], y_test[:1000]) > 0.7


def test_an_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="architecture must be one of .*'resnet'"):
        classifier.build("resnet")
    with pytest.raises(ValueError, match="architecture must be one of"):
        classifier.train(np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, int),
                         architecture="resnet")
