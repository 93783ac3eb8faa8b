r"""Paired comparison of two smoothed classifiers certified on the same images.

    python examples/compare_certificates.py \
        docs/certification/sigma_0.7/deen_clean.tsv \
        docs/certification/sigma_0.7/vae_mean_dz784_finetuned.tsv --radii=0.5,1.0

For each radius: both certified accuracies, the gap (first minus second) and
its paired standard error over the images (`smoothing.paired_gap`), and how
many images only one of the two certifies there. With --common, files of
different image sets are compared on the images both hold (e.g. a 100-image run
against a 500-image run whose images include them); their number is printed.
"""

from absl import app
from absl import flags

from keras_svae.experiments import certification
from keras_svae.experiments import smoothing

flags.DEFINE_list("radii", ["0.5"], "Radii to compare at.")
flags.DEFINE_bool("common", False, "Compare on the images both files certify (otherwise "
                  "the two must hold the same images).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("Give two certify files (.tsv) of the same images.")
    a, b = (certification.read_certificates(path) for path in argv[1:])
    if FLAGS.common:
        both = {c.idx for c in a} & {c.idx for c in b}
        a, b = ([c for c in rows if c.idx in both] for rows in (a, b))
    print(f"A = {argv[1]}\nB = {argv[2]}\n")
    print("| r | A (%) | B (%) | A − B (points) | paired s.e. | only A | only B | images |")
    print("|---|---|---|---|---|---|---|---|")
    for radius in (float(r) for r in FLAGS.radii):
        accuracy_a, accuracy_b = (smoothing.certified_accuracy(c, [radius])[0] for c in (a, b))
        gap = smoothing.paired_gap(a, b, radius)
        print(f"| {radius:g} | {100 * accuracy_a:.1f} | {100 * accuracy_b:.1f} "
              f"| {100 * gap['gap']:.1f} | {100 * gap['standard_error']:.1f} | {gap['only_a']} "
              f"| {gap['only_b']} | {gap['images']} |")


if __name__ == "__main__":
    app.run(main)
