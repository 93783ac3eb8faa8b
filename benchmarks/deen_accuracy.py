r"""DEEN's accuracy on the schedules of tests/test_deen.py, as figures.

    KERAS_BACKEND=torch python benchmarks/deen_accuracy.py --data=../shared/data/mnist.npz

1. X ~ N(mu, s^2 I) in 3 dimensions: the RMS distance of DEEN's x_hat(y) from
   the exact Bayes estimator (s^2 y + sigma^2 mu) / (s^2 + sigma^2), and
   DEEN's risk E||x_hat(y) - x||^2 over the Bayes risk.
2. MNIST, the short fit (3,000 images, 2 epochs, batch 64): the test error
   ||x - x_hat(y)||^2 against ||x - y||^2, for each --sigmas.
"""

import keras
import numpy as np
from absl import app
from absl import flags

from keras_svae import DEEN, data, networks

flags.DEFINE_string("data", None, "Keras-layout mnist.npz (default $KERAS_SVAE_MNIST).")
flags.DEFINE_list("sigmas", ["0.6", "0.9"], "DEEN noise levels for MNIST.")
flags.DEFINE_integer("test_size", 1000, "Test images for the MNIST error.")
FLAGS = flags.FLAGS


def gaussian_figures():
    rng = np.random.default_rng(0)
    mu, s, sigma = np.array([1.0, -1.0, 0.5]), 0.7, 0.5
    keras.utils.set_random_seed(0)
    model = DEEN(sigma, energy=networks.MLPEnergy((64, 64)), data_shape=(3,), seed=0)
    model.compile(keras.optimizers.Adam(3e-3))
    model.fit((mu + s * rng.standard_normal((20000, 3))).astype("float32"), epochs=15,
              batch_size=256, verbose=0)
    x = mu + s * rng.standard_normal((5000, 3))
    y = x + sigma * rng.standard_normal(x.shape)
    bayes = (s**2 * y + sigma**2 * mu) / (s**2 + sigma**2)
    x_hat = keras.ops.convert_to_numpy(model.denoise(y.astype("float32")))
    rms = np.sqrt(np.mean((x_hat - bayes) ** 2))
    ratio = np.mean(np.sum((x_hat - x) ** 2, 1)) / np.mean(np.sum((bayes - x) ** 2, 1))
    return rms, ratio


def mnist_figures(sigma):
    x_train, _ = data.load_mnist("train", path=FLAGS.data)
    x_test, _ = data.load_mnist("test", path=FLAGS.data)
    x_test = x_test[: FLAGS.test_size]
    keras.utils.set_random_seed(0)
    model = DEEN(sigma, energy=networks.EnergyNetwork(conv_channels=(16, 32, 64)), seed=0)
    model.compile(keras.optimizers.Adam(2e-3))
    model.fit(data.make_dataset(x_train[:3000], 64, seed=0), epochs=2, verbose=0)
    y = x_test + sigma * np.random.default_rng(1).standard_normal(x_test.shape).astype("float32")
    denoised = keras.ops.convert_to_numpy(model.denoise(y))
    return (np.sum((denoised - x_test) ** 2, axis=(1, 2, 3)).mean(),
            np.sum((y - x_test) ** 2, axis=(1, 2, 3)).mean())


def main(argv):
    del argv
    rms, ratio = gaussian_figures()
    print(f"backend={keras.backend.backend()}")
    print(f"gaussian: rms(x_hat - E[X|y]) = {rms:.4f}, risk / Bayes risk = {ratio:.4f}")
    for sigma in map(float, FLAGS.sigmas):
        denoised, noisy = mnist_figures(sigma)
        print(f"mnist sigma={sigma}: ||x - x_hat(y)||^2 = {denoised:.1f}, ||x - y||^2 = {noisy:.1f}")


if __name__ == "__main__":
    app.run(main)
