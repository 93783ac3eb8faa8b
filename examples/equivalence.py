r"""Theorems 1 and 2 in numbers: the sigma_2-VAE against the (sigma_1, beta)-VAE.

    python examples/equivalence.py --noise=gaussian --scale_1=0.3 --scale_2=0.9 \
        --optimizer=sgd --learning_rate=1e-3 --data=../shared/data/mnist.npz

Trains both from the same weights on the same batches with the same posterior
draws (SGD: rates eta and eta * c; Adam: rate eta for both) and prints a JSON
line: the largest weight difference after training, and both models' test
D_KL and MSE.
"""

import dataclasses
import json

from absl import app
from absl import flags

from keras_svae import data
from keras_svae import training
from keras_svae.experiments import equivalence

flags.DEFINE_enum("noise", "gaussian", ["gaussian", "laplace"], "Theorem 1 or Theorem 2.")
flags.DEFINE_float("scale_1", 0.3, "sigma_1 (alpha_1): the model that takes beta.")
flags.DEFINE_float("scale_2", 0.9, "sigma_2 (alpha_2): the beta = 1 model.")
flags.DEFINE_enum("optimizer", "sgd", ["sgd", "adam"], "SGD (rescaled rate) or Adam.")
flags.DEFINE_float("adam_epsilon", 1e-7, "Adam's epsilon.")
# TrainConfig's own flags, sized here for a comparison that takes minutes.
_QUICK = "Default here: a quick comparison (the theorems hold at any size)."
training.define_flags(flags.FLAGS, ("epochs", "batch_size", "train_size", "test_size",
                                    "latent_dim", "data", "seed", "learning_rate"), {
    "learning_rate": (1e-3, "Here: eta, the scale_2 model's rate, for SGD or Adam (--optimizer)."),
    "epochs": (1, _QUICK), "batch_size": (64, _QUICK), "train_size": (5000, _QUICK),
    "test_size": (1000, _QUICK)})
FLAGS = flags.FLAGS


def main(argv):
    del argv
    x_train, _ = data.load_mnist("train", path=FLAGS.data)
    x_test, _ = data.load_mnist("test", path=FLAGS.data)
    result = equivalence.train_pair(
        x_train[: FLAGS.train_size or None], x_test[: FLAGS.test_size or None],
        noise=FLAGS.noise, scale_1=FLAGS.scale_1, scale_2=FLAGS.scale_2,
        optimizer=FLAGS.optimizer, learning_rate=FLAGS.learning_rate,
        adam_epsilon=FLAGS.adam_epsilon, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
        seed=FLAGS.seed, latent_dim=FLAGS.latent_dim,
    )
    print(json.dumps(dataclasses.asdict(result)))


if __name__ == "__main__":
    app.run(main)
