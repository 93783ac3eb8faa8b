"""Data: MNIST for Section 5's experiments, any image dataset by name, the input pipeline.

`load(name, split)` loads any tensorflow_datasets image dataset by name
(mnist, fashion_mnist, cifar10, svhn_cropped, ...) or a Keras-layout npz of
any image shape, as float32 images in [0, 1] with int64 labels; `as_images`
brings a user's own arrays to the same form. MNIST itself, as below.

Where the images come from, first match wins:

1. `path=`: a Keras-layout `mnist.npz` (keys x_train, y_train, x_test,
   y_test; uint8 images of shape (N, 28, 28)).
2. The environment variable `KERAS_SVAE_MNIST`, holding such a path.
3. `tensorflow_datasets.load("mnist")`, which downloads on first use.

A file that exists but is not such an npz (damaged, truncated, another format,
other keys, shapes or dtypes) raises `MnistFileError` naming the file and the
problem; the file is read with `allow_pickle=False`. With no file and no
tensorflow_datasets (or no network for its first download), `MnistUnavailableError`
says how to provide MNIST (`HOW_TO_PROVIDE`).

`keras.datasets.mnist.load_data` is deliberately never used: offline it fails
its hash check on a cached file that is not byte-identical and deletes it.
"""

import os
import zipfile
import zlib

import numpy as np
import tensorflow as tf

from keras_svae import seeding

ENV_VAR = "KERAS_SVAE_MNIST"
SPLITS = ("train", "test")


def _scale(images):
    """uint8 (N, 28, 28[, 1]) -> float32 (N, 28, 28, 1) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    return images.astype(np.float32) / 255.0


# One sentence on every way of providing MNIST, for every error that lacks it.
HOW_TO_PROVIDE = (
    "Give a Keras-layout mnist.npz (keys x_train, y_train, x_test, y_test; uint8 images "
    "(N, 28, 28), integer labels (N,)) with load_mnist(path=...), --data=/path/to/mnist.npz "
    f"in the examples, or {ENV_VAR}=/path/to/mnist.npz; or install tensorflow_datasets on a "
    "machine with network, which downloads MNIST once into its cache."
)


class MnistFileError(ValueError):
    """A MNIST file that exists but cannot be read as a Keras-layout mnist.npz."""


class DatasetUnavailableError(RuntimeError):
    """No file was given and tensorflow_datasets could not provide the dataset."""


class MnistUnavailableError(DatasetUnavailableError):
    """No MNIST file was given and tensorflow_datasets could not provide one."""


def _load_npz(path, split):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No MNIST file at {path!r}. {HOW_TO_PROVIDE}")
    try:
        # allow_pickle=False: a data file must never run code when it is read.
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # A bare .npy array.
            raise MnistFileError("it holds one array, not the keys x_train, y_train, x_test, y_test.")
        with archive:
            images, labels = _read_split(archive, split)
    except MnistFileError as error:
        raise MnistFileError(f"{path!r} is not a usable Keras-layout mnist.npz: {error}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        # NumPy's own messages (pickles, bad zips, truncated members) name neither the
        # file nor what a MNIST file should hold.
        raise MnistFileError(
            f"{path!r} is not a usable Keras-layout mnist.npz: it cannot be read as an .npz "
            f"archive (damaged, truncated or another format; {type(error).__name__}: {error})."
        ) from error
    return _scale(images), labels.astype(np.int64)


def _read_split(archive, split):
    """The split's (uint8 images, integer labels), checked for layout and dtype."""
    keys = f"x_{split}", f"y_{split}"
    missing = sorted(set(keys) - set(archive.files))
    if missing:
        raise MnistFileError(f"it lacks {missing} (it has {sorted(archive.files)}).")
    images, labels = (archive[key] for key in keys)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MnistFileError(
            f"{keys[0]} must be uint8 images of shape (N, 28, 28), got {images.dtype} of shape "
            f"{images.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != images.shape[:1]:
        raise MnistFileError(
            f"{keys[1]} must hold one integer label per image, shape ({len(images)},), got "
            f"{labels.dtype} of shape {labels.shape}."
        )
    return images, labels


def _load_tfds(split, data_dir, download):
    try:
        import tensorflow_datasets as tfds  # Imported here: slow, and only needed online.
    except ImportError as error:
        raise MnistUnavailableError(
            f"No MNIST file was given and tensorflow_datasets cannot be imported ({error}). "
            f"{HOW_TO_PROVIDE}"
        ) from error
    try:
        images, labels = tfds.as_numpy(
            tfds.load(
                "mnist", split=split, batch_size=-1, as_supervised=True,
                data_dir=data_dir, download=download,
            )
        )
    except Exception as error:  # tfds raises many types for "no data, no network".
        raise MnistUnavailableError(
            f"Could not load MNIST through tensorflow_datasets ({type(error).__name__}: "
            f"{error}). {HOW_TO_PROVIDE}"
        ) from error
    return _scale(images), np.asarray(labels).astype(np.int64)


def load_mnist(split="train", path=None, data_dir=None, download=True):
    """Loads one MNIST split as float32 images in [0, 1] and int64 labels.

    Args:
        split: "train" (60,000 images) or "test" (10,000).
        path: optional Keras-layout mnist.npz; defaults to $KERAS_SVAE_MNIST.
        data_dir: tensorflow_datasets' data directory, when no file is given.
        download: let tensorflow_datasets download when no file is given.

    Returns:
        (images, labels): float32 (N, 28, 28, 1) in [0, 1], int64 (N,).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    path = path or os.environ.get(ENV_VAR)
    if path:
        return _load_npz(os.path.expanduser(path), split)
    return _load_tfds(split, data_dir, download)


def as_images(images):
    """A user's images as float32 (N, ..., channels) in [0, 1].

    uint8 arrays are divided by 255; float arrays are kept (and must lie in [0,
    1]); (N, H, W) gains a channel axis. For real-valued data that is not an
    image, keep your own float32 array and a SigmaVAE with readout="identity".
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim < 2:
        raise ValueError(f"images must have shape (N, ...): one example per row; got shape "
                         f"{images.shape}.")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be uint8 (0-255) or float in [0, 1], got {images.dtype}.")
    images = images.astype(np.float32)
    if images.size and not (np.isfinite(images).all() and images.min() >= 0
                            and images.max() <= 1):
        raise ValueError("Float images must lie in [0, 1] (divide 8-bit images by 255), got "
                         f"values in [{np.nanmin(images)}, {np.nanmax(images)}].")
    return images


def load(name="mnist", split="train", path=None, data_dir=None, download=True):
    """One split of an image dataset as float32 images in [0, 1] and int64 labels.

    Args:
        name: "mnist" (`load_mnist`: its file, $KERAS_SVAE_MNIST or tfds), or
            any tensorflow_datasets image dataset with "image" and "label"
            features (fashion_mnist, cifar10, svhn_cropped, ...).
        split: "train" or "test" (or any tfds split string for tfds datasets).
        path: a Keras-layout npz (x_train, y_train, x_test, y_test) instead of
            tfds; images uint8 of any shape (N, H, W[, C]) or float in [0, 1].
        data_dir, download: tensorflow_datasets' cache and whether it may download.

    Returns:
        (images, labels): float32 (N, H, W, C) in [0, 1], int64 (N,).
    """
    if name == "mnist":
        return load_mnist(split, path=path, data_dir=data_dir, download=download)
    if path:
        return _load_any_npz(os.path.expanduser(path), split)
    try:
        import tensorflow_datasets as tfds  # Imported here: slow, and only needed online.
    except ImportError as error:
        raise DatasetUnavailableError(
            f"No file was given for the dataset {name!r} and tensorflow_datasets cannot be "
            f"imported ({error}). Give a Keras-layout npz with path=... (--data=...).") from error
    if name not in tfds.list_builders():
        raise ValueError(f"Unknown dataset {name!r}: tensorflow_datasets has no builder of that "
                         "name (e.g. mnist, fashion_mnist, cifar10, svhn_cropped); or give an "
                         "npz file with path=....")
    try:
        dataset = tfds.load(name, split=split, as_supervised=True, data_dir=data_dir,
                            download=download)
        # Batches concatenated, not batch_size=-1 (which tfds's mock data cannot serve).
        batches = list(tfds.as_numpy(dataset.batch(4096)))
    except Exception as error:  # tfds raises many types for "no data, no network".
        raise DatasetUnavailableError(
            f"Could not load the dataset {name!r} through tensorflow_datasets "
            f"({type(error).__name__}: {error}). Offline, give a Keras-layout npz of it with "
            "path=... (--data=...).") from error
    if not batches:
        raise DatasetUnavailableError(f"The split {split!r} of {name!r} holds no examples.")
    images, labels = (np.concatenate(part) for part in zip(*batches))
    return as_images(images), labels.astype(np.int64)


def _load_any_npz(path, split):
    if split not in SPLITS:
        raise ValueError(f"An npz file holds the splits {SPLITS}, got split={split!r}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No dataset file at {path!r}.")
    with np.load(path, allow_pickle=False) as archive:
        keys = f"x_{split}", f"y_{split}"
        missing = sorted(set(keys) - set(archive.files))
        if missing:
            raise ValueError(f"{path!r} lacks {missing} (it has {sorted(archive.files)}).")
        images, labels = (archive[key] for key in keys)
    labels = np.asarray(labels).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer) or len(labels) != len(images):
        raise ValueError(f"{path!r}: y_{split} must hold one integer label per image, got "
                         f"{labels.dtype} of shape {labels.shape} for {len(images)} images.")
    return as_images(images), labels.astype(np.int64)


def make_dataset(images, batch_size, shuffle=True, seed=None, drop_remainder=False, epoch=None):
    """A `tf.data` pipeline of image batches (no labels) for `fit`/`evaluate`.

    Every Keras backend accepts a `tf.data.Dataset` in `fit`; the pipeline
    shuffles (reshuffling each epoch), batches and prefetches.

    Args:
        images: float32 array (N, height, width, channels).
        batch_size: int > 0.
        shuffle: shuffle the whole set each epoch.
        seed: int or None, the shuffle seed (the stream `seeding.DATA_ORDER` of it).
        drop_remainder: drop the last partial batch.
        epoch: optional int64 `tf.Variable` holding the epoch about to run
            (kept current by `callbacks.EpochSeed`). The order of epoch e is
            then a function of (seed, e) alone, so a run resumed at epoch e
            sees the batches an uninterrupted run would.
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}.")
    if shuffle and epoch is not None:
        dataset = _epoch_seeded_batches(images, int(batch_size), seed or 0, drop_remainder, epoch)
    else:
        dataset = tf.data.Dataset.from_tensor_slices(images)
        if shuffle:
            dataset = dataset.shuffle(len(images), reshuffle_each_iteration=True, seed=(
                None if seed is None else seeding.derive(seed, seeding.DATA_ORDER)))
        dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_family_dataset(images, batch_size, seeds, drop_remainder=False, epoch=None):
    """Batches (batch, K, height, width, channels): each member of a family its own order.

    Column k of epoch e holds exactly the batches that `make_dataset(images,
    batch_size, seed=seeds[k], epoch=epoch)` yields at epoch e, so a
    `family.SigmaVAEFamily` fed this sees, member by member, what K separate
    runs with those seeds would. The images are held once, whatever K is.

    Args:
        images: float32 array (N, height, width, channels).
        batch_size: int > 0.
        seeds: one int per member.
        drop_remainder: drop the last partial batch.
        epoch: optional int64 `tf.Variable` holding the epoch about to run (kept
            current by `callbacks.EpochSeed`). Without it the dataset counts
            its own passes, so every pass still has new orders.
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}.")
    seeds = [int(s or 0) for s in seeds]
    if not seeds:
        raise ValueError("make_family_dataset needs one seed per member, got none.")
    images = tf.constant(images)
    n = int(images.shape[0])
    passes = tf.Variable(-1, dtype=tf.int64, trainable=False) if epoch is None else None

    def permutations(_):
        e = passes.assign_add(1) if epoch is None else epoch.read_value()
        return tf.stack([_permutation(n, s, e) for s in seeds], axis=1)  # (N, K)

    indices = tf.data.Dataset.from_tensors(0).map(permutations).unbatch()
    indices = indices.batch(int(batch_size), drop_remainder=drop_remainder)
    return indices.map(lambda i: tf.gather(images, i)).prefetch(tf.data.AUTOTUNE)


def _permutation(n, seed, epoch):
    """The order of epoch `epoch` under `seed`: a function of the two alone."""
    key = tf.stack([tf.constant(seeding.derive(seed, seeding.DATA_ORDER), tf.int64),
                    tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)


def _epoch_seeded_batches(images, batch_size, seed, drop_remainder, epoch):
    images = tf.constant(images)
    n = int(images.shape[0])

    def permutation(_):
        # Read when an epoch's iterator starts: after EpochSeed has set it.
        return _permutation(n, seed, epoch.read_value())

    indices = tf.data.Dataset.from_tensors(0).map(permutation).unbatch()
    indices = indices.batch(batch_size, drop_remainder=drop_remainder)
    return indices.map(lambda i: tf.gather(images, i))
