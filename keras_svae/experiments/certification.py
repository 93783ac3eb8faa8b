"""Certified robustness by randomized smoothing, with denoising front-ends (Section 6).

The paper's last experiment certifies a classifier smoothed at sigma whose
base classifier reads a denoised image: DEEN's x_hat(y) = y - sigma^2 grad f(y)
(the "XHAT" front-end) or the sigma-VAE's x_hat(z), z ~ q(z|y). Here:

* front-ends (`FRONT_ENDS`): "identity" (the noisy y itself), "deen" (x_hat(y)),
  "vae_sample" (x_hat(z), one draw), "vae_mean" (x_hat of the posterior
  mean), "vae_average" (the mean of `k` decoded draws);
* `base_classifier(front_end, classifier)`: images -> logits, the f that
  `smoothing.certify` smooths; `compiled_base_classifier` is the same f as
  one compiled Keras model (`FrontEndClassifier`), several times faster;
* `finetuned_classifier`: the classifier fitted further on a front-end's
  outputs of noisy training images ("denoised smoothing");
* `certify_to_file`: Cohen's certify file (`smoothing.TSV_HEADER`), appended
  image by image so that a rerun resumes where it stopped;
* `summary` and `markdown_table`: certified accuracy at radii 0, 0.25, ...;
* `certify_front_ends`: the experiment (examples/certify.py), every front-end and
  classifier at every smoothing sigma, into files named by their settings.
"""

import json
import os

import keras
import numpy as np
from keras import ops

from keras_svae import corruption
from keras_svae import seeding
from keras_svae import training
from keras_svae.experiments import classifier as classifier_lib
from keras_svae.experiments import robustness
from keras_svae.experiments import report_files
from keras_svae.experiments import smoothing

FRONT_ENDS = ("identity", "deen", "vae_sample", "vae_mean", "vae_average")


def front_end(name, model=None, seed=0, k=4):
    """The front-end `name` (see `FRONT_ENDS`), a function of a batch of noisy y.

    Args:
        name: a key of `FRONT_ENDS`.
        model: the DEEN for "deen", the sigma-VAE for the "vae_*" front-ends.
        seed: the posterior draws' generator (one for every call): a
            `keras.random.SeedGenerator`, or an int, the stream (seed, `seeding.FRONT_END`).
        k: the number of draws "vae_average" averages.
    """
    if name not in FRONT_ENDS:
        raise ValueError(f"front_end must be one of {FRONT_ENDS}, got {name!r}.")
    if name == "identity":
        return robustness.identity
    if model is None:
        raise ValueError(f"The {name} front-end needs a trained model.")
    if name == "vae_mean":
        return lambda y: model.reconstruct(y, sample=False)
    if not isinstance(seed, keras.random.SeedGenerator):
        seed = seeding.generator(seed, seeding.FRONT_END)
    draw = robustness.estimator(model, seed)  # DEEN's x_hat(y); a VAE's seeded x_hat(z).
    if name in ("deen", "vae_sample"):
        return draw
    if int(k) < 1:
        raise ValueError(f"k must be an integer >= 1, got k={k}.")
    return lambda y: ops.mean(ops.stack([draw(y) for _ in range(int(k))]), axis=0)


def front_end_model(models, name, sigma, vae_sigma=None):
    """The trained model a front-end needs at smoothing sigma, from `models` (a
    `runs.TrainedModels`; trained if missing): DEEN at sigma, the sigma-VAE at `vae_sigma`
    (default sigma), or None."""
    if name == "identity":
        return None
    if name == "deen":
        return models.load("deen", sigma)
    return models.load("sigma_vae", vae_sigma or sigma)


def check_protocol(folder, protocol):
    """Refuses a folder of certify files made with another protocol; records it otherwise.

    `protocol` (e.g. n0, n, alpha, seed, the images) goes to <folder>/protocol.json, so that
    a rerun resumes only what the same settings began. The seeding scheme is recorded
    with it (`seeding.SCHEME`): a folder begun with other random streams is refused.
    """
    protocol = dict(protocol, seeding=seeding.SCHEME)
    path = os.path.join(folder, "protocol.json")
    if os.path.exists(path):
        with open(path) as f:
            stored = json.load(f)
        different = {k: (stored.get(k), v) for k, v in protocol.items() if stored.get(k) != v}
        if different:
            raise ValueError(f"{folder} holds certificates made with other settings (stored, "
                             f"wanted): {different}. Use another --report_dir or remove it.")
        return
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as f:
        json.dump(protocol, f, indent=2)


def base_classifier(front, classifier):
    """f(y) = classifier(front(y)): the base classifier that smoothing certifies (eager)."""
    return lambda y: classifier(front(y), training=False)


class FrontEndClassifier(keras.Model):
    """y -> classifier(front_end(y)) as one Keras model: `predict_on_batch` runs it compiled.

    The same function as `base_classifier(front_end(name, model, seed, k), classifier)`,
    traced once per batch shape (XLA on TensorFlow and JAX) instead of run op by op;
    the posterior draws come from this model's own seeded generator, so that a
    compiled JAX call still draws fresh z every time.

    Args:
        front_name: a key of `FRONT_ENDS`.
        model: DEEN for "deen", the sigma-VAE for the "vae_*" front-ends, else None.
        classifier: images -> logits.
        seed: seeds the posterior draws.
        k: the number of draws "vae_average" averages.
    """

    def __init__(self, front_name, model, classifier, seed=0, k=4, **kwargs):
        super().__init__(**kwargs)
        self.front_model = model
        self.classifier = classifier
        # Tracked by the model, so that a compiled call threads its state through.
        self.seed_generator = seeding.generator(seed, seeding.FRONT_END)
        self._front = front_end(front_name, model, self.seed_generator, k)

    def estimate(self, y):
        """The front-end's output for a batch of noisy y."""
        return self._front(y)

    def call(self, y):
        return self.classifier(self.estimate(y), training=False)


def compiled_base_classifier(front_name, model, classifier, seed=0, k=4):
    """The base classifier as a compiled function: `FrontEndClassifier(...).predict_on_batch`.

    XLA on TensorFlow and JAX; Keras's predict path on PyTorch (eager, without
    autograd's bookkeeping). docs/benchmarks.md measures it against the eager calls.
    """
    pipeline = FrontEndClassifier(front_name, model, classifier, seed, k)
    pipeline.compile(jit_compile=keras.backend.backend() != "torch")
    return pipeline.predict_on_batch


def finetuned_classifier(path, classifier, front, images, labels, sigma, epochs=1, seed=0,
                         batch_size=500):
    """The classifier fitted further on front(x + sigma eps) of `images`; cached at `path`.

    `classifier` is changed in place (load a fresh copy to keep the original).
    """
    if os.path.exists(path):
        return keras.saving.load_model(path)
    noisy = corruption.apply("gaussian", images, sigma,
                             seed=seeding.derive(seed, seeding.FINE_TUNING))
    outputs = robustness.batched(front, noisy, batch_size)
    model = classifier_lib.fine_tune(classifier, outputs, labels, epochs=epochs)
    training.save_atomically(model, path)
    return model


def read_certificates(path):
    """The rows of a certify file (empty for a missing file)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != smoothing.TSV_HEADER:
        raise ValueError(f"{path} is not a certify file: its header is not "
                         f"{smoothing.TSV_HEADER!r}.")
    rows = []
    for line in lines[1:]:
        idx, label, predict, radius, correct, seconds = line.split("\t")
        rows.append(smoothing.Certificate(int(idx), int(label), int(predict), float(radius),
                                          int(correct), float(seconds)))
    return rows


def certify_to_file(path, base, images, labels, indices, sigma, n0, n, alpha, batch_size=1000,
                    seed=0, progress=None):
    """Certifies images[indices] into Cohen's certify file at `path`; returns all its rows
    (as read back from the file).

    Rows already in the file are kept and their images skipped (a killed run
    resumes); each new row is appended and flushed as soon as it is made.
    `progress` is called with the number of images done after each one.
    """
    rows = read_certificates(path)
    done = {row.idx for row in rows}
    if not rows:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write(smoothing.TSV_HEADER + "\n")
    todo = [i for i in indices if int(i) not in done]
    with open(path, "a") as f:
        for row in smoothing.certify_images(base, images, labels, todo, sigma, n0, n, alpha,
                                            batch_size=batch_size, seed=seed):
            f.write(row.tsv() + "\n")
            f.flush()
            done.add(row.idx)
            if progress:
                progress(len(done))
    return read_certificates(path)  # The file is the record: what a later summary reads.


def summary(rows, sigma, n, alpha, radii=None):
    """Certified accuracy at each radius, with what bounds it."""
    radii = smoothing.radii() if radii is None else radii
    return dict(sigma=sigma, n=n, alpha=alpha, images=len(rows), radii=radii,
                certified_accuracy=smoothing.certified_accuracy(rows, radii),
                abstained=sum(r.predict == smoothing.ABSTAIN for r in rows) / len(rows),
                max_radius=smoothing.max_radius(sigma, n, alpha),
                seconds_per_image=float(np.mean([r.time for r in rows])))


def markdown_table(summaries):
    """One row per (front-end, classifier): certified accuracy (%) at each radius."""
    radii = next(iter(summaries.values()))["radii"]
    lines = ["| front-end | classifier | " + " | ".join(f"{r:g}" for r in radii)
             + " | abstain | s/image |",
             "|---|---|" + "---|" * (len(radii) + 2)]
    for (front, classifier), s in summaries.items():
        cells = " | ".join(f"{100 * a:.1f}" for a in s["certified_accuracy"])
        lines.append(f"| {front} | {classifier} | {cells} | {100 * s['abstained']:.1f} "
                     f"| {s['seconds_per_image']:.2f} |")
    return "\n".join(lines) + "\n"


def plot(summaries, path, title):
    """Certified accuracy against radius, a line per (front-end, classifier)."""
    import matplotlib.pyplot as plt  # Imported here: only the reports draw.

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for (front, classifier), s in summaries.items():
        ax.plot(s["radii"], [100 * a for a in s["certified_accuracy"]], "-o", ms=3,
                label=f"{front} + {classifier}")
    top = next(iter(summaries.values()))["max_radius"]
    ax.axvline(top, color="grey", ls=":", lw=1, label=f"largest certifiable radius ({top:.2f})")
    ax.set_xlabel("l2 radius")
    ax.set_ylabel("certified accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    report_files.save_figure(fig, path)


CLASSIFIERS = ("clean", "noise", "finetuned")


def classifier_for(name, models, sigma, front_name, front, train_images, train_labels,
                   epochs=3, finetune_epochs=1, seed=0, architecture="convnet"):
    """The base classifier `name` of `CLASSIFIERS` for one front-end at smoothing sigma.

    "clean": trained on clean images; "noise": trained with Gaussian noise at
    sigma (Cohen's baseline); "finetuned": the clean one fitted further on
    front(x + sigma eps) of the training images, cached beside the trained
    models as `finetuned_name` says, with `classifier_label` (e.g.
    classifier_finetuned_deen_sigma0.7_seed0.keras;
    `front_name` should name the front-end's model too when it varies). All come
    from `models` (a `runs.TrainedModels`), trained there if missing; `architecture` is a
    key of `classifier.ARCHITECTURES`.
    """
    if name not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {name!r}.")
    if name == "noise":
        return models.classifier(epochs, seed, noise_sigma=sigma, architecture=architecture)
    if name == "clean":
        return models.classifier(epochs, seed, architecture=architecture)
    label = classifier_label(name, architecture, epochs, finetune_epochs)
    path = os.path.join(models.folder, finetuned_name(models, label, front_name, sigma, seed))
    # Each models.classifier call returns its own copy, so fine-tuning it in place leaves
    # the clean classifier of the other combinations alone; a cached result needs none.
    base = None if os.path.exists(path) else models.classifier(epochs, seed,
                                                               architecture=architecture)
    return finetuned_classifier(path, base, front, train_images, train_labels, sigma,
                                epochs=finetune_epochs, seed=seed)


def finetuned_name(models, label, front_name, sigma, seed):
    """The file of a fine-tuned classifier: its label, front-end, sigma and seed, and,
    like `runs.classifier_name`, the dataset and the training-set size where they are not
    MNIST's whole (so that a classifier of other data is never loaded for these)."""
    dataset = "" if models.dataset == "mnist" else f"_{models.dataset}"
    size = models.overrides.get("train_size", 0)
    images = f"_{size}images" if size else ""
    return f"classifier{dataset}_{label}_{front_name}_sigma{sigma:g}{images}_seed{seed}.keras"


def classifier_settings(architecture="convnet", epochs=3, finetune_epochs=1):
    """The classifiers' settings that are not the defaults, as a name suffix: "" for the
    defaults, e.g. "_lenet_15epochs" or "_tuned2epochs" (fine-tuning epochs)."""
    suffix = "" if architecture == "convnet" else f"_{architecture}"
    if epochs != 3:
        suffix += f"_{epochs}epochs"
    if finetune_epochs != 1:
        suffix += f"_tuned{finetune_epochs}epochs"
    return suffix


def classifier_label(name, architecture="convnet", epochs=3, finetune_epochs=1):
    """How a certify file and a summary row name a classifier: `name`, then whatever of its
    settings is not the default (e.g. "noise_lenet_15epochs"), so that certificates of
    differently trained classifiers never share a file. Fine-tuning epochs name only
    the fine-tuned classifier."""
    tuning = finetune_epochs if name == "finetuned" else 1
    return name + classifier_settings(architecture, epochs, tuning)


def write_summary(stem, summaries, title):
    """<stem>.json, .md (`markdown_table`) and .png (`plot`); returns the table."""
    with open(stem + ".json", "w") as f:
        json.dump({f"{front}:{judge}": s for (front, judge), s in summaries.items()}, f, indent=2)
    table = markdown_table(summaries)
    with open(stem + ".md", "w") as f:
        f.write(table)
    plot(summaries, stem + ".png", title)
    return table


def vae_suffix(vae_sigma=None, latent_dim=training.TrainConfig.latent_dim):
    """What names the sigma-VAE where it is not the default one at the smoothing sigma: its
    own sigma and a latent_dim other than `TrainConfig`'s, e.g. "_vae0.3" or "_dz784"."""
    suffix = f"_vae{vae_sigma:g}" if vae_sigma else ""
    if latent_dim != training.TrainConfig.latent_dim:
        suffix += f"_dz{latent_dim}"
    return suffix


def certify_front_ends(models, report_dir, sigmas, combos, vae_sigma=None, k=4, n0=100,
                       n=1000, alpha=0.001, num_images=500, every=20, batch_size=1000,
                       classifier_epochs=3, classifier_architecture="convnet",
                       finetune_epochs=1, seed=0, compiled=True, verbose=1):
    """Certifies MNIST test images through every front-end:classifier pair at every sigma.

    For each smoothing sigma and each "front-end:classifier" of `combos` (keys of
    `FRONT_ENDS` and `CLASSIFIERS`) it certifies test images 0, every, 2 every, ...
    (`num_images` of them) with Cohen's CERTIFY (n0, n, alpha) into
    <report_dir>/sigma_<sigma>/<front-end>_<classifier>.tsv (`certify_to_file`: a
    rerun resumes; `check_protocol` refuses one with other settings), then writes
    <report_dir>/summary_sigma_<sigma>.{md,json,png} (`write_summary`).

    Names carry every setting that is not the default, so that different models never
    share a file: the VAE front-ends' names take `vae_suffix` (vae_mean_dz784), the
    classifiers' `classifier_label` (identity_noise_lenet_15epochs.tsv), and the
    summary's both (summary_sigma_1_lenet_15epochs.md).

    Args:
        models: the `runs.TrainedModels` that give the front-ends' DEEN and sigma-VAE and
            the base classifiers, trained there if missing; their `data` and
            `train_size` settings are the images the classifiers train on.
        report_dir: where the certify files and summaries go.
        sigmas: the smoothing noise stds.
        combos: "front-end:classifier" strings, e.g. "deen:finetuned".
        vae_sigma: the sigma-VAE's imaginary sigma (default: each smoothing sigma).
        k: the draws the "vae_average" front-end averages.
        n0, n, alpha: CERTIFY's selection draws, estimation draws and failure
            probability, per image.
        num_images, every: certify test images 0, every, 2 every, ... (num_images).
        batch_size: noisy copies per classifier call.
        classifier_epochs, classifier_architecture, finetune_epochs: the base
            classifiers' (`classifier_for`).
        seed: seeds the noise, the posterior draws and the classifiers.
        compiled: front-end and classifier as one compiled model
            (`compiled_base_classifier`), else called eagerly (`base_classifier`): the
            same function, though the VAE front-ends' draws differ between the two.
        verbose: 1 shows a progress bar per certify file, 0 nothing.

    Returns:
        {sigma: its summary's markdown table}.
    """
    judges = dict(architecture=classifier_architecture, epochs=classifier_epochs,
                  finetune_epochs=finetune_epochs)
    size = models.overrides.get("train_size") or None
    train = [a[:size] for a in models.images("train")]
    images, labels = models.images("test")
    indices = list(range(0, len(images), every))[:num_images]
    # Any sigma: the latent size is every model's setting.
    vae = vae_suffix(vae_sigma, models.config("sigma_vae", 1.0).latent_dim)
    tables = {}
    for sigma in map(float, sigmas):
        folder = os.path.join(report_dir, f"sigma_{sigma:g}")
        check_protocol(folder, dict(n0=n0, n=n, alpha=alpha, seed=seed, images=indices))
        summaries = {}
        for combo in combos:
            front_label, judge_label, base = _base_classifier_of(
                combo, models, sigma, vae_sigma, vae, train, judges, seed, k, compiled)
            bar = keras.utils.Progbar(len(indices), verbose=verbose, unit_name="image")
            rows = certify_to_file(os.path.join(folder, f"{front_label}_{judge_label}.tsv"),
                                   base, images, labels, indices, sigma, n0, n, alpha,
                                   batch_size, seed, bar.update)
            summaries[front_label, judge_label] = summary(rows, sigma, n, alpha)
        stem = os.path.join(report_dir,
                            f"summary_sigma_{sigma:g}{vae}{classifier_settings(**judges)}")
        tables[sigma] = write_summary(stem, summaries, f"MNIST, σ = {sigma:g}, n = {n}, "
                                      f"α = {alpha:g}, {len(indices)} images")
    return tables


def _base_classifier_of(combo, models, sigma, vae_sigma, vae, train, judges, seed, k, compiled):
    """(front-end label, classifier label, base classifier) of one "front-end:classifier"."""
    front_name, judge_name = combo.split(":")
    model = front_end_model(models, front_name, sigma, vae_sigma)
    front = front_end(front_name, model, seed=seed, k=k)
    # The VAE front-ends name their VAE where it is not the smoothing sigma's default one.
    front_label = front_name + vae if "vae" in front_name else front_name
    judge = classifier_for(judge_name, models, sigma, front_label, front, *train, seed=seed,
                           **judges)
    base = (compiled_base_classifier(front_name, model, judge, seed=seed, k=k) if compiled
            else base_classifier(front, judge))
    return front_label, classifier_label(judge_name, **judges), base
