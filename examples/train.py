r"""Trains a sigma-VAE, alpha-VAE, vanilla VAE or DEEN on MNIST.

    python examples/train.py --model=sigma_vae --sigma=0.9 --epochs=1 \
        --data=../shared/data/mnist.npz --outdir=runs/sigma_0.9

One flag per `keras_svae.training.TrainConfig` field (--helpfull lists them;
the defaults are the paper's schedule), plus --outdir and --retrain. --outdir
receives last.keras, best.keras, history.csv, the final test metrics
(metrics.json), TensorBoard logs (logs/) and a backup/ that makes a rerun of
the same command resume where a killed run stopped. A finished run is not
trained again unless --retrain is given (the old folder is then kept beside
the new one). Watch with `tensorboard --logdir runs`.
"""

from absl import app
from absl import flags

from keras_svae import training

training.define_flags()
flags.DEFINE_string("outdir", None, "Folder for the model, metrics and logs.", required=True)
flags.DEFINE_bool("retrain", False, "Train again even if --outdir holds a finished run.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = training.config_from_flags(FLAGS)
    metrics = training.train_and_evaluate(config, FLAGS.outdir, retrain=FLAGS.retrain)
    print("test:", " ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))


if __name__ == "__main__":
    app.run(main)
