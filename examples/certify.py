r"""Certified robustness by randomized smoothing: identity, DEEN and sigma-VAE front-ends.

    python examples/certify.py --schedule=cpu --data=../shared/data/mnist.npz \
        --root=runs --report_dir=docs/certification --sigmas=0.7

For every smoothing sigma and every --combos entry (front-end:classifier) it
certifies test images 0, every, 2 every, ... (--num_images of them) with
Cohen et al.'s CERTIFY (n0, n, alpha) and writes
<report_dir>/sigma_<sigma>/<front-end>_<classifier>.tsv (Cohen's format; a rerun
resumes; protocol.json records n0, n, alpha, seed and the images, and a rerun
with other settings is refused), then summary_sigma_<sigma>.{md,json,png}:
certified accuracy at radii 0, 0.25, ..., 2.5.

Names carry every setting that is not the default, so that different models
never share a file: with --vae_sigma the VAE's sigma and with --latent_dim other
than 100 its dz join the VAE front-ends' names (vae_mean_dz784); the classifiers'
architecture and epochs join the classifier's name
(`certification.classifier_label`: identity_noise_lenet_15epochs.tsv); both
join the summary's (summary_sigma_1_lenet_15epochs.md).

Classifiers (--classifier_architecture: the robustness ConvNet or the smoothing
literature's LeNet): "clean" (trained on clean MNIST), "noise" (trained with
Gaussian noise at the smoothing sigma: Cohen's baseline), "finetuned" (the
clean one fitted further on the front-end's outputs of noisy training images;
kept beside the trained models). DEEN and the sigma-VAE are the trained
models at the smoothing sigma (--vae_sigma overrides the VAE's), trained if
missing.
"""

import os

import keras
import matplotlib

matplotlib.use("Agg")  # Files only; no display.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_svae import data  # noqa: E402
from keras_svae import training  # noqa: E402
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


def vae_suffix():
    """What names the sigma-VAE where it is not the default one at the smoothing sigma."""
    suffix = f"_vae{FLAGS.vae_sigma:g}" if FLAGS.vae_sigma else ""
    if FLAGS.latent_dim != training.TrainConfig.latent_dim:
        suffix += f"_dz{FLAGS.latent_dim}"
    return suffix


def classifier_suffix():
    """What names the classifiers' settings where they are not the defaults."""
    return certification.classifier_settings(FLAGS.classifier_architecture,
                                             FLAGS.classifier_epochs, FLAGS.finetune_epochs)


def main(argv):
    del argv
    models = cli.trained_models(FLAGS)
    x_train, y_train = data.load_mnist("train", path=FLAGS.data)
    x_train, y_train = x_train[:FLAGS.train_size or None], y_train[:FLAGS.train_size or None]
    images, labels = data.load_mnist("test", path=FLAGS.data)
    indices = list(range(0, len(images), FLAGS.every))[:FLAGS.num_images]
    for sigma in (float(s) for s in FLAGS.sigmas):
        folder = os.path.join(cli.report_dir(FLAGS), f"sigma_{sigma:g}")
        certification.check_protocol(folder, dict(n0=FLAGS.n0, n=FLAGS.n, alpha=FLAGS.alpha,
                                                  seed=FLAGS.seed, images=indices))
        summaries, vae = {}, vae_suffix()
        for front_name, judge_name in (tuple(c.split(":")) for c in FLAGS.combos):
            model = certification.front_end_model(models, front_name, sigma, FLAGS.vae_sigma)
            front = certification.front_end(front_name, model, seed=FLAGS.seed, k=FLAGS.k)
            # Name the VAE when it is not the smoothing sigma's.
            label = front_name + vae if "vae" in front_name else front_name
            judge = certification.classifier_for(
                judge_name, models, sigma, label, front, x_train, y_train,
                FLAGS.classifier_epochs, FLAGS.finetune_epochs, FLAGS.seed,
                FLAGS.classifier_architecture)
            judge_name = certification.classifier_label(
                judge_name, FLAGS.classifier_architecture, FLAGS.classifier_epochs,
                FLAGS.finetune_epochs)
            if FLAGS.compiled:
                base = certification.compiled_base_classifier(
                    front_name, model, judge, seed=FLAGS.seed, k=FLAGS.k)
            else:
                base = certification.base_classifier(front, judge)
            bar = keras.utils.Progbar(len(indices), unit_name="image")
            rows = certification.certify_to_file(
                os.path.join(folder, f"{label}_{judge_name}.tsv"), base, images, labels,
                indices, sigma, FLAGS.n0, FLAGS.n, FLAGS.alpha, FLAGS.certify_batch, FLAGS.seed,
                bar.update)
            summaries[label, judge_name] = certification.summary(rows, sigma, FLAGS.n,
                                                                      FLAGS.alpha)
        print(certification.write_summary(
            os.path.join(cli.report_dir(FLAGS),
                         f"summary_sigma_{sigma:g}{vae}{classifier_suffix()}"), summaries,
            f"MNIST, σ = {sigma:g}, n = {FLAGS.n}, α = {FLAGS.alpha:g}, {len(indices)} images"))


if __name__ == "__main__":
    app.run(main)
