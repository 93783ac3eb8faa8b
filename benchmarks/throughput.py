r"""Train-step throughput of the sigma-VAE and DEEN, side by side in one process.

    KERAS_BACKEND=jax python benchmarks/throughput.py --batch_size=128 --steps=30

Prints images per second of `model.fit` steps (after a warm-up that compiles)
for both models on MNIST-shaped random data, and their ratio. DEEN's step
differentiates through an input gradient (double backprop), so it is the
dearer of the two; the ratio is the figure to quote, since absolute times on a
shared machine are noisy.
"""

import time

import keras
import numpy as np
from absl import app
from absl import flags

from keras_svae import DEEN, sigma_vae

flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("steps", 30, "Timed steps per model.")
flags.DEFINE_integer("repeats", 3, "Timed repeats; the best is reported.")
FLAGS = flags.FLAGS


def images_per_second(model, x, batch_size, repeats):
    model.compile(keras.optimizers.Adam(1e-4))
    model.fit(x[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)  # Compile.
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(x, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def main(argv):
    del argv
    x = np.random.default_rng(0).uniform(size=(FLAGS.steps * FLAGS.batch_size, 28, 28, 1))
    x = x.astype("float32")
    vae_rate = images_per_second(sigma_vae(0.9), x, FLAGS.batch_size, FLAGS.repeats)
    deen_rate = images_per_second(DEEN(0.9), x, FLAGS.batch_size, FLAGS.repeats)
    print(f"backend={keras.backend.backend()} batch={FLAGS.batch_size} steps={FLAGS.steps}")
    print(f"sigma_vae: {vae_rate:8.1f} images/s")
    print(f"deen:      {deen_rate:8.1f} images/s")
    print(f"deen / sigma_vae: {deen_rate / vae_rate:.3f}")


if __name__ == "__main__":
    app.run(main)
