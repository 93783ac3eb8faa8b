r"""Samples per second of randomized-smoothing certification, per front-end.

    KERAS_BACKEND=jax python benchmarks/certify_speed.py --classifiers=convnet,lenet \
        --out=docs/certification/speed_jax.md

Runs `smoothing.certify` (n0 + n noisy copies of one test image through
front-end + classifier, then the counts and the bound) with the base
classifier called three ways:

* one noisy copy per call, eager (`--certify_batch=1`): the loop a first
  implementation writes;
* batches of --batch copies, eager (`certification.base_classifier`);
* batches of --batch copies, compiled (`certification.compiled_base_classifier`:
  one Keras model, `predict_on_batch`).

Speed does not depend on the weights: the models are untrained, built with
the experiments' shapes (the classifiers of `experiments/classifier.py`:
--classifiers names which, each with every front-end).
FLOPs per sample come from the networks' shapes (benchmarks/flops.py): a
front-end's forward (DEEN's x_hat(y): the energy's forward and its input
gradient, 2 passes) plus the classifier's; the percentage is of the float32
matmul peak measured in the same run.
"""

import os
import sys

import keras
import numpy as np
from absl import app
from absl import flags

from keras_svae import DEEN, sigma_vae
from keras_svae.experiments import certification
from keras_svae.experiments import classifier as classifiers
from keras_svae.experiments import smoothing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flops  # noqa: E402
import timing  # noqa: E402

flags.DEFINE_integer("n", 2000, "Estimation draws per certificate (batched runs).")
flags.DEFINE_integer("n_single", 100, "Estimation draws for the one-copy-per-call loop.")
flags.DEFINE_integer("batch", 1000, "Noisy copies per call.")
flags.DEFINE_integer("repeats", 3, "Timed certificates; the best counts.")
FRONT_ENDS = ("identity", "deen", "vae_sample")
flags.DEFINE_list("classifiers", ["convnet"], "Base classifiers (classifier.ARCHITECTURES).")
flags.DEFINE_list("front_ends", list(FRONT_ENDS), "Front-ends to time.")
flags.register_validator("classifiers", lambda names: set(names) <= set(classifiers.ARCHITECTURES),
                         f"--classifiers must name {tuple(classifiers.ARCHITECTURES)}.")
flags.register_validator("front_ends", lambda names: set(names) <= set(FRONT_ENDS),
                         f"--front_ends must name {FRONT_ENDS}.")
flags.DEFINE_string("out", None, "Also write the table (markdown) here.")
FLAGS = flags.FLAGS

SIGMA = 0.7


def samples_per_second(base, image, n, batch):
    n0 = min(100, n)

    def run():
        smoothing.certify(base, image, SIGMA, n0, n, 0.001, batch_size=batch, seed=0)

    run()  # Warm-up: compiles each batch shape.
    return timing.best_rate(run, n0 + n, FLAGS.repeats)


def _row(name, model, arch, classifier, macs, image, peak):
    """One table row: the three ways of calling front-end `name` + `classifier`."""
    front = certification.front_end(name, model, seed=0)
    runs = [
        (certification.base_classifier(front, classifier), FLAGS.n_single, 1),
        (certification.base_classifier(front, classifier), FLAGS.n, FLAGS.batch),
        (certification.compiled_base_classifier(name, model, classifier), FLAGS.n, FLAGS.batch),
    ]
    flop = 2 * macs
    cells = []
    for base, n, batch in runs:
        rate = samples_per_second(base, image, n, batch)
        cells.append(f"{rate:,.0f} ({100 * rate * flop / 1e9 / peak:.0f}%)")
    return f"| {name} | {arch} | {flop / 1e6:.1f} | " + " | ".join(cells) + " |"


def main(argv):
    del argv
    keras.utils.set_random_seed(0)
    shape = (28, 28, 1)
    models = {"identity": None, "deen": DEEN(SIGMA, seed=0), "vae_sample": sigma_vae(SIGMA, seed=0)}
    # DEEN's x_hat(y) is the energy's forward and its input gradient: two passes.
    front_macs = {"identity": 0, "deen": 2 * flops.forward_macs(models["deen"].energy_network, shape),
                  "vae_sample": flops.forward_macs(models["vae_sample"], shape)}
    image = np.random.default_rng(0).random(shape).astype("float32")
    peak = timing.matmul_gflops(
        np.random.default_rng(0).random((2048, 2048), dtype=np.float32))
    lines = [f"Backend: {keras.backend.backend()}; float32 matmul peak measured in this run: "
             f"{peak:.0f} GFLOP/s. smoothing.certify at σ = {SIGMA}, samples/s (% of the peak).",
             "",
             f"| front-end | classifier | MFLOP/sample | one copy per call, eager | "
             f"batch {FLAGS.batch}, eager | batch {FLAGS.batch}, compiled |",
             "| --- | --- | --- | --- | --- | --- |"]
    for arch in FLAGS.classifiers:
        classifier = classifiers.build(arch)
        classifier_macs = flops.forward_macs(classifier, shape)
        for name in FLAGS.front_ends:
            macs = front_macs[name] + classifier_macs
            lines.append(_row(name, models[name], arch, classifier, macs, image, peak))
            print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    print(table)
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    app.run(main)
