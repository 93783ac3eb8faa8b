"""Randomized smoothing (Cohen, Rosenfeld & Kolter 2019): predict and certify.

The smoothed classifier g(x) = argmax_c P(f(x + sigma * eps) = c), eps ~ N(0, I),
is what Section 6 of the paper certifies, with a base classifier f that reads
a denoised image (a front-end: DEEN's x_hat(y) or the sigma-VAE's x_hat(z)).
Both procedures count f's answers on noisy copies of one image, drawn in
batches with `keras.random` from a seed:

* `predict` (Cohen's PREDICT): the top two classes of n draws; abstain unless a
  two-sided binomial test at level alpha separates them.
* `certify` (Cohen's CERTIFY): the top class c_A of n0 selection draws; from n
  further draws a one-sided Clopper-Pearson lower bound p_A on
  P(f(x + sigma eps) = c_A) at level alpha; the radius sigma * Phi^-1(p_A),
  within which g is constant (l2), or abstain when p_A < 1/2.

The statistics are scipy.stats's (`binomtest` and its exact interval, `norm`).
`ABSTAIN` (-1) marks an abstention. The largest radius n draws can certify is
sigma * Phi^-1(alpha^(1/n)) (`max_radius`).
"""

import dataclasses
import math
import time

import keras
import numpy as np
from keras import ops
from scipy import stats

from keras_svae import seeding
from keras_svae import validation

ABSTAIN = -1


def _check(n0=1, n=1, alpha=0.5, sigma=1.0, batch_size=1):
    for name, value in (("n0", n0), ("n", n), ("batch_size", batch_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {name}={value}.")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got alpha={alpha}.")
    validation.validate_scale("sigma", sigma)


def sample_counts(classifier, x, sigma, num, num_classes, batch_size, seed):
    """How often the classifier answers each class on `num` copies x + sigma * eps.

    Args:
        classifier: callable, a batch of images -> logits (batch, num_classes).
        x: one image, shape (H, W, C) (or any example shape).
        sigma: the smoothing noise std.
        num: the number of noisy copies.
        num_classes: the length of the logits.
        batch_size: copies per call of the classifier.
        seed: a `keras.random.SeedGenerator`, which serves all batches, or an int:
            the stream (seed, `seeding.SMOOTHING`).

    Returns:
        int64 counts, shape (num_classes,).
    """
    x = ops.convert_to_tensor(np.asarray(x, np.float32))
    generator = _stream(seed)
    counts = np.zeros(num_classes, np.int64)
    for start in range(0, int(num), int(batch_size)):
        size = min(int(batch_size), int(num) - start)
        copies = ops.repeat(ops.expand_dims(x, 0), size, axis=0)
        noisy = copies + sigma * keras.random.normal(ops.shape(copies), seed=generator)
        logits = classifier(noisy)
        if tuple(ops.shape(logits)) != (size, num_classes):
            raise ValueError(
                f"The classifier must return logits of shape (batch, num_classes) = "
                f"({size}, {num_classes}), got shape {tuple(ops.shape(logits))}."
            )
        answers = ops.convert_to_numpy(ops.argmax(logits, axis=-1))
        counts += np.bincount(answers, minlength=num_classes)
    return counts


def _stream(seed):
    if isinstance(seed, keras.random.SeedGenerator):
        return seed
    return seeding.generator(seed, seeding.SMOOTHING)


def lower_confidence_bound(successes, trials, alpha):
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion."""
    if successes == 0:
        return 0.0
    # The two-sided exact interval at level 2 alpha has the one-sided bound as its low end.
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=1 - 2 * alpha, method="exact")
    return float(interval.low)


def max_radius(sigma, n, alpha):
    """The largest radius n draws can certify: sigma * Phi^-1(alpha^(1/n))."""
    return float(sigma * stats.norm.ppf(alpha ** (1.0 / n)))


def predict(classifier, x, sigma, n, alpha, num_classes=10, batch_size=1000, seed=0):
    """Cohen's PREDICT: the smoothed classifier's class at x, or `ABSTAIN`."""
    _check(n=n, alpha=alpha, sigma=sigma, batch_size=batch_size)
    counts = sample_counts(classifier, x, sigma, n, num_classes, batch_size, seed)
    top_two = np.argsort(counts, kind="stable")[::-1][:2]
    count_a, count_b = counts[top_two[0]], counts[top_two[1]]
    if stats.binomtest(int(count_a), int(count_a + count_b), 0.5).pvalue > alpha:
        return ABSTAIN
    return int(top_two[0])


def certify(classifier, x, sigma, n0, n, alpha, num_classes=10, batch_size=1000, seed=0):
    """Cohen's CERTIFY: (class, l2 radius) at x, or (`ABSTAIN`, 0.0).

    The n0 selection draws and the n estimation draws come from one seeded
    generator (`seed`: a `SeedGenerator`, or an int, the stream (seed,
    `seeding.SMOOTHING`)), so they are independent and the result repeats run to run.
    """
    _check(n0=n0, n=n, alpha=alpha, sigma=sigma, batch_size=batch_size)
    generator = _stream(seed)
    selection = sample_counts(classifier, x, sigma, n0, num_classes, batch_size, generator)
    top = int(np.argmax(selection))
    counts = sample_counts(classifier, x, sigma, n, num_classes, batch_size, generator)
    p_lower = lower_confidence_bound(counts[top], n, alpha)
    if p_lower < 0.5:
        return ABSTAIN, 0.0
    return top, float(sigma * stats.norm.ppf(p_lower))


@dataclasses.dataclass
class Certificate:
    """One row of Cohen's certify file: idx, label, predict, radius, correct, time."""

    idx: int
    label: int
    predict: int
    radius: float
    correct: int
    time: float

    def tsv(self):
        return (f"{self.idx}\t{self.label}\t{self.predict}\t{self.radius:.3f}\t{self.correct}\t"
                f"{self.time:.3f}")


TSV_HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime"


def certify_images(classifier, images, labels, indices, sigma, n0, n, alpha, num_classes=10,
                   batch_size=1000, seed=0):
    """Yields a `Certificate` per index.

    Image i's noise is the stream (seed, `seeding.SMOOTHING`, i): no two images, and
    no two seeds, share a draw, and a resumed file continues with the streams an
    uninterrupted one would use. Every base classifier certified with the same seed
    sees the same noise at image i (common random numbers, which `paired_gap` uses).
    """
    for i in indices:
        start = time.perf_counter()
        label = int(labels[i])
        predicted, radius = certify(classifier, images[i], sigma, n0, n, alpha, num_classes,
                                    batch_size, seeding.generator(seed, seeding.SMOOTHING, int(i)))
        yield Certificate(int(i), label, predicted, radius, int(predicted == label),
                          time.perf_counter() - start)


def certified_accuracy(certificates, radii):
    """The fraction of images certified correct at radius >= r, for each r in `radii`."""
    certificates = list(certificates)
    if not certificates:
        raise ValueError("No certificates to summarise.")
    return [sum(c.correct and c.radius >= r for c in certificates) / len(certificates)
            for r in radii]


def paired_gap(certificates_a, certificates_b, radius):
    """How far A's certified accuracy at `radius` is above B's, on the same images.

    Returns a dict: "gap" (A's accuracy minus B's), "standard_error" (of that
    difference over the images, paired: the images both certify cancel),
    "images", and "only_a" / "only_b" (images one certifies at the radius and the
    other does not).
    """
    a = {c.idx: bool(c.correct and c.radius >= radius) for c in certificates_a}
    b = {c.idx: bool(c.correct and c.radius >= radius) for c in certificates_b}
    if not a or set(a) != set(b):
        raise ValueError(f"A paired comparison needs certificates of the same images; got "
                         f"{len(a)} and {len(b)} images, {len(set(a) ^ set(b))} not in both.")
    differences = np.array([a[i] - b[i] for i in sorted(a)], dtype=float)
    return dict(gap=float(differences.mean()), images=len(differences),
                standard_error=float(differences.std(ddof=1) / np.sqrt(len(differences)))
                if len(differences) > 1 else float("nan"),
                only_a=int((differences > 0).sum()), only_b=int((differences < 0).sum()))


def radii(largest=2.5, step=0.25):
    """0, step, ..., largest: where certified accuracy is reported."""
    return [round(k * step, 10) for k in range(int(math.floor(largest / step + 1e-9)) + 1)]
