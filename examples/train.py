r"""Trains a sigma-VAE, alpha-VAE, vanilla VAE or DEEN on MNIST.

    python examples/train.py --model=sigma_vae --sigma=0.9 --epochs=1 \
        --data=../shared/data/mnist.npz --outdir=runs/sigma_0.9

--outdir receives last.keras, best.keras, history.csv, the final test metrics
(metrics.json), TensorBoard logs (logs/) and a backup/ that makes a rerun of
the same command resume where a killed run stopped. A finished run is not
trained again unless --retrain is given (the old folder is then kept beside
the new one). Watch with `tensorboard --logdir runs`.
"""

import dataclasses

from absl import app
from absl import flags

from keras_svae import distribution
from keras_svae import training

_DEFAULTS = training.TrainConfig()

flags.DEFINE_enum("model", _DEFAULTS.model, training.MODELS, "Which model to train.")
flags.DEFINE_float("sigma", _DEFAULTS.sigma, "sigma-VAE: imaginary Gaussian noise std; DEEN: training noise std.")
flags.DEFINE_float("alpha", _DEFAULTS.alpha, "alpha-VAE: imaginary Laplace noise scale.")
flags.DEFINE_float("beta", _DEFAULTS.beta, "Weight of the KL term.")
flags.DEFINE_integer("strides", _DEFAULTS.strides, "Encoder stride: 2 downsamples, 1 does not.")
flags.DEFINE_integer("latent_dim", _DEFAULTS.latent_dim, "Dimension of z.")
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Training epochs.")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Batch size.")
flags.DEFINE_float("learning_rate", _DEFAULTS.learning_rate, "Adam learning rate.")
flags.DEFINE_string("data", None, "Keras-layout mnist.npz; default $KERAS_SVAE_MNIST, then tfds.")
flags.DEFINE_integer("train_size", 0, "Train on the first N images only (0: all 60,000).")
flags.DEFINE_integer("test_size", 0, "Evaluate on the first N test images only (0: all).")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Random seed.")
flags.DEFINE_enum("strategy", _DEFAULTS.strategy, distribution.STRATEGIES,
                  "TensorFlow: tf.distribute strategy (multi_worker reads TF_CONFIG).")
flags.DEFINE_string("tpu", None, "TPU address, with --strategy=tpu.")
flags.DEFINE_bool("data_parallel", False, "JAX: data parallelism over every device.")
flags.DEFINE_string("coordinator_address", None, "JAX multi-process: host:port of process 0.")
flags.DEFINE_integer("num_processes", 1, "JAX multi-process: number of processes.")
flags.DEFINE_integer("process_id", 0, "JAX multi-process: this process's rank.")
flags.DEFINE_bool("retrain", False, "Train again even if --outdir holds a finished run.")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Steps between step-level scalars.")
flags.DEFINE_integer("verbose", _DEFAULTS.verbose, "Keras verbosity: 1 shows a progress bar.")
flags.DEFINE_string("outdir", None, "Folder for the model, metrics and logs.", required=True)

FLAGS = flags.FLAGS


def main(argv):
    del argv
    fields = {f.name for f in dataclasses.fields(training.TrainConfig)}
    config = training.TrainConfig(**{name: FLAGS[name].value for name in fields})
    metrics = training.train_and_evaluate(config, FLAGS.outdir, retrain=FLAGS.retrain)
    print("test:", " ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))


if __name__ == "__main__":
    app.run(main)
