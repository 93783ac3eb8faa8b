"""One seeding scheme: every random stream from a user's seed and a path of integers.

Keras's `SeedGenerator(s)` draws with the states (s, 0), (s, 1), (s, 2), ...
Two habits make such streams overlap:

* On PyTorch, Keras seeds each draw's `torch.Generator` with s + counter, so
  `SeedGenerator(1)` replays `SeedGenerator(0)`'s draws shifted by one.
* On every backend, seeding item i with `seed + i` makes (seed 1, item i) the
  stream of (seed 0, item i + 1).

Here every stream is named by its user's seed and a path: a purpose (one of
the constants below, so that two sites never share a derivation) followed by
integers (an image's index, a noise level's index, ...). `numpy.random.SeedSequence`
hashes (seed, *path) into the stream's starting state, both of its words, so
that neither consecutive seeds nor consecutive indices give related streams:

* JAX and TensorFlow key each draw with both words: two streams meet only if
  their 62-bit starting states nearly coincide (chance ~2^-62 per pair).
* PyTorch reduces each draw to one 32-bit seed (word 0 + word 1 + counter, a
  limit of Keras's PyTorch backend): two streams of D draws each overlap with
  chance ~2 D / 2^32, the birthday bound of any 32-bit seed.

The same (seed, path) always gives the same stream: that is how a run repeats,
and how a user asks for common random numbers on purpose (two models given the
same seed draw the same noise, as `experiments.equivalence` wants).
"""

import keras
import numpy as np

# This scheme's name, recorded with results that a rerun resumes (certify folders), so that
# a file begun under another scheme never continues under this one.
SCHEME = "seedsequence-1"

# Purposes: the first element of every path. Never renumber one (it would change every
# stream of that purpose); add new ones at the end.
WEIGHTS = 0          # keras.utils.set_random_seed before a model's weights are made.
POSTERIOR = 1        # A VAE's own draws: z ~ q(z|x) in training, prior samples.
TRAINING_NOISE = 2   # DEEN's y = x + sigma * eps while it trains.
DATA_ORDER = 3       # The order of the training images: (DATA_ORDER,), keyed per epoch.
TENSORBOARD = 4      # The TensorBoard image grids.
ROBUSTNESS = 5       # The robustness curves.
FIGURES = 6          # Figures 2-6 and Appendix C: (FIGURES, figure number, ...).
SMOOTHING = 7        # Randomized smoothing's noise: (SMOOTHING, image index).
FRONT_END = 8        # A certification front-end's posterior draws.
CLASSIFIER = 9       # A classifier's weights and data order.
FINE_TUNING = 10     # The noise a classifier is fine-tuned on.
LIKELIHOOD = 11      # The importance samples of `evaluation.log_likelihood`.

# What a site draws, next in its path where it draws more than one kind of thing:
NOISE = 0            # test noise added to images, e.g. (ROBUSTNESS, NOISE, level index);
DRAWS = 1            # a model's posterior draws while it estimates x from that noise;
SAMPLES = 2          # samples from the prior.

# Below TensorFlow's int32.max - 1 (its stateless ops fold int64 seeds modulo that) and
# inside PyTorch's int32: every backend then takes a derived word as it is.
_WORD = 2**31 - 2


def words(seed, *path):
    """The two words of the stream (seed, *path): ints in [0, 2^31 - 2)."""
    seed, path = _checked(seed, path)
    state = np.random.SeedSequence(seed, spawn_key=path).generate_state(2, np.uint64)
    return tuple(int(w % _WORD) for w in state)


def derive(seed, *path):
    """One int seed for the stream (seed, *path), for an API that takes an int.

    `keras.random.normal(..., seed=derive(0, CORRUPTION, 3))` draws once; for
    repeated draws from one stream use `generator`.
    """
    return words(seed, *path)[0]


def generator(seed, *path):
    """A `keras.random.SeedGenerator` for the stream (seed, *path).

    Args:
        seed: the user's int seed, or None for a stream that differs run to run.
        *path: a purpose of this module, then non-negative ints.
    """
    if seed is None:
        return keras.random.SeedGenerator()
    first, second = words(seed, *path)
    stream = keras.random.SeedGenerator(first)
    stream.state.assign(keras.ops.convert_to_tensor([first, second], dtype=stream.state.dtype))
    return stream


def set_weights_seed(seed):
    """Seeds the initial weights (and Python's, NumPy's and the backend's global draws)."""
    keras.utils.set_random_seed(derive(seed, WEIGHTS))


def _checked(seed, path):
    for name, value in [("seed", seed)] + [(f"path[{i}]", p) for i, p in enumerate(path)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"A stream's {name} must be a non-negative int, got {value!r}.")
    return int(seed), tuple(int(p) for p in path)
