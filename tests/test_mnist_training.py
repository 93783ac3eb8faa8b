"""Short fits on real MNIST: the loss falls, and D_KL falls as sigma rises (Table 1)."""

import keras
import pytest

from keras_svae import SigmaVAE, data

SIGMAS = (0.1, 0.5, 0.9)
# A narrower network of the same family and a short schedule: ~190 steps.
NETWORK = dict(latent_dim=32, conv_channels=(16, 32, 64), decoder_units=500, seed=0)
TRAIN, TEST, BATCH, EPOCHS = 3000, 1000, 32, 2


@pytest.fixture(scope="module")
def runs(mnist_path):
    x_train, _ = data.load_mnist("train", path=mnist_path)
    x_test, _ = data.load_mnist("test", path=mnist_path)
    x_train, x_test = x_train[:TRAIN], x_test[:TEST]
    results = {}
    for sigma in SIGMAS:
        keras.utils.set_random_seed(0)
        model = SigmaVAE(scale=sigma, **NETWORK)
        model.compile(keras.optimizers.Adam(1e-3))
        before = model.evaluate(x_test, batch_size=250, verbose=0, return_dict=True)
        model.fit(data.make_dataset(x_train, BATCH, seed=0), epochs=EPOCHS, verbose=0)
        after = model.evaluate(x_test, batch_size=250, verbose=0, return_dict=True)
        results[sigma] = before, after
    return results


@pytest.mark.parametrize("sigma", SIGMAS)
def test_short_fit_lowers_the_test_loss(runs, sigma):
    before, after = runs[sigma]
    assert after["loss"] < 0.8 * before["loss"], (before, after)
    assert after["mse"] < before["mse"]


def test_kl_falls_and_mse_rises_as_sigma_rises(runs):
    kl = [runs[s][1]["kl"] for s in SIGMAS]
    mse = [runs[s][1]["mse"] for s in SIGMAS]
    assert kl[0] > kl[1] > kl[2] > 0, kl
    assert mse[0] < mse[1] < mse[2], mse
