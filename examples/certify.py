r"""Certified robustness by randomized smoothing: identity, DEEN and sigma-VAE front-ends.

    python examples/certify.py --schedule=cpu --data=../shared/data/mnist.npz \
        --root=runs --report_dir=docs/certification --sigmas=0.7

For every smoothing sigma and every --combos entry (front-end:classifier) it
certifies test images 0, every, 2 every, ... (--num_images of them) with
Cohen et al.'s CERTIFY (n0, n, alpha) and writes
<report_dir>/sigma_<sigma>/<front-end>_<classifier>.tsv (Cohen's format; a rerun
resumes, one with other settings is refused), then summary_sigma_<sigma>.{md,json,png}:
certified accuracy at radii 0, 0.25, ..., 2.5. Names carry every setting that is
not the default (`certification.certify_front_ends` says how).

Classifiers (--classifier_architecture: the robustness ConvNet or the smoothing
literature's LeNet): "clean" (trained on clean MNIST), "noise" (trained with
Gaussian noise at the smoothing sigma: Cohen's baseline), "finetuned" (the
clean one fitted further on the front-end's outputs of noisy training images;
kept beside the trained models). DEEN and the sigma-VAE are the trained
models at the smoothing sigma (--vae_sigma overrides the VAE's), trained if
missing.
"""

import matplotlib

matplotlib.use("Agg")  # Files only; no display.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae.experiments import certification  # noqa: E402
from keras_svae.experiments import classifier  # noqa: E402
from keras_svae.experiments import cli  # noqa: E402

cli.define_model_flags()
flags.DEFINE_list("sigmas", ["0.25", "0.5", "0.7", "1.0"], "Smoothing noise stds.")
flags.DEFINE_list("combos", ["identity:clean", "identity:noise", "deen:clean", "deen:finetuned",
                             "vae_sample:clean", "vae_sample:finetuned", "vae_mean:clean"],
                  "front-end:classifier pairs to certify.")
flags.DEFINE_float("vae_sigma", None, "The sigma-VAE's imaginary sigma (default: each "
                   "smoothing sigma).")
flags.DEFINE_integer("k", 4, "Draws the vae_average front-end averages.")
flags.DEFINE_integer("n0", 100, "Selection draws per image.")
flags.DEFINE_integer("n", 1000, "Estimation draws per image.")
flags.DEFINE_float("alpha", 0.001, "Failure probability of each certificate.")
flags.DEFINE_integer("num_images", 500, "Test images to certify.")
flags.DEFINE_integer("every", 20, "Certify test images 0, every, 2 every, ...")
flags.DEFINE_integer("certify_batch", 1000, "Noisy copies per classifier call.")
flags.DEFINE_integer("classifier_epochs", 3, "Epochs of the clean and noise classifiers.")
flags.DEFINE_enum("classifier_architecture", "convnet", list(classifier.ARCHITECTURES),
                  "The base classifiers' network (experiments/classifier.py): the ConvNet of "
                  "the robustness experiments, or the LeNet of the smoothing literature's "
                  "MNIST results (a third of the FLOPs).")
flags.DEFINE_integer("finetune_epochs", 1, "Epochs of fine-tuning on a front-end's outputs.")
flags.DEFINE_integer("seed", 0, "Seed of the noise and the posterior draws.")
flags.DEFINE_bool("compiled", True, "Run front-end + classifier as one compiled Keras model "
                  "(certification.compiled_base_classifier); --nocompiled calls them eagerly. "
                  "The same function; the VAE front-ends' draws differ between the two.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    tables = certification.certify_front_ends(
        cli.trained_models(FLAGS), cli.report_dir(FLAGS), FLAGS.sigmas, FLAGS.combos,
        vae_sigma=FLAGS.vae_sigma, k=FLAGS.k, n0=FLAGS.n0, n=FLAGS.n, alpha=FLAGS.alpha,
        num_images=FLAGS.num_images, every=FLAGS.every, batch_size=FLAGS.certify_batch,
        classifier_epochs=FLAGS.classifier_epochs,
        classifier_architecture=FLAGS.classifier_architecture,
        finetune_epochs=FLAGS.finetune_epochs, seed=FLAGS.seed, compiled=FLAGS.compiled)
    print("\n".join(tables.values()))


if __name__ == "__main__":
    app.run(main)
