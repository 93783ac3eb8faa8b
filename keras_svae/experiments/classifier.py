"""Digit classifiers: the judges of the robustness and certification experiments.

The robustness curves ask how well a classifier trained on *clean* MNIST
recognises a denoiser's output: the raw noisy y, DEEN's x_hat(y), or a VAE's
x_hat(z), z ~ q(z|y) (randomized-smoothing certification will use it the
same way). This is that classifier: three 3x3 convolutions (32, 64, 128 channels),
each followed by 2x2 max pooling, a Dense layer and dropout, trained with Adam on clean images.
`examples/robustness.py` trains it on all 60,000 images for 3 epochs and
reports its clean test accuracy (docs/results.md); the test checks a short
fit only.

`lenet` is the smaller network of the randomized-smoothing literature's MNIST
results (two 5x5 valid convolutions with 20 and 50 channels, each followed by
2x2 max pooling, a 500-unit Dense layer): the architecture of the anchor table
in docs/certification.md, at 4.6 MFLOP per image against the ConvNet's 15.2,
so certification at n = 100,000 costs a third as much. `ARCHITECTURES` names both.
"""

import keras
import numpy as np
from keras import layers

from keras_svae import seeding
from keras_svae import validation


def convnet(image_shape=(28, 28, 1), num_classes=10, noise_sigma=0.0, name="classifier"):
    """The uncompiled classifier: images -> class logits.

    noise_sigma > 0 adds N(0, noise_sigma^2) to every training image (a
    `GaussianNoise` layer, inactive at inference): Cohen et al.'s base
    classifier for randomized smoothing at that sigma.
    """
    inputs = keras.Input(image_shape)
    h = inputs
    if noise_sigma:
        h = layers.GaussianNoise(validation.validate_scale("noise_sigma", noise_sigma))(h)
    # One convolution per resolution: the robustness curves classify ~10^6 images.
    for channels in (32, 64, 128):
        h = layers.Conv2D(channels, 3, padding="same", activation="relu")(h)
        h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    h = layers.Dense(128, activation="relu")(h)
    h = layers.Dropout(0.5)(h)
    return keras.Model(inputs, layers.Dense(num_classes)(h), name=name)


def lenet(image_shape=(28, 28, 1), num_classes=10, noise_sigma=0.0, name="lenet"):
    """The LeNet of the smoothing literature, uncompiled: images -> class logits.

    noise_sigma as in `convnet`.
    """
    inputs = keras.Input(image_shape)
    h = inputs
    if noise_sigma:
        h = layers.GaussianNoise(validation.validate_scale("noise_sigma", noise_sigma))(h)
    for channels in (20, 50):
        h = layers.Conv2D(channels, 5, activation="relu")(h)
        h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    h = layers.Dense(500, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(num_classes)(h), name=name)


ARCHITECTURES = {"convnet": convnet, "lenet": lenet}


def check_architecture(architecture):
    """ValueError naming the choices unless `architecture` is a key of `ARCHITECTURES`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {tuple(ARCHITECTURES)}, got "
                         f"{architecture!r}.")


def build(architecture, image_shape=(28, 28, 1), num_classes=10, noise_sigma=0.0):
    """The uncompiled classifier `architecture` (a key of `ARCHITECTURES`)."""
    check_architecture(architecture)
    return ARCHITECTURES[architecture](image_shape, num_classes, noise_sigma=noise_sigma)


def train(images, labels, epochs=3, batch_size=128, learning_rate=1e-3, seed=0, verbose=0,
          validation_data=None, noise_sigma=0.0, architecture="convnet"):
    """A compiled classifier fitted on clean images; returns the model.

    Args:
        images: float (N, H, W, C) in [0, 1].
        labels: int (N,) class indices.
        validation_data: optional (images, labels), for the progress output.
        noise_sigma: train on x + N(0, noise_sigma^2) (Gaussian augmentation,
            Cohen et al.'s base classifier); 0 for clean images.
        architecture: a key of `ARCHITECTURES`.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got shape {images.shape}.")
    validation.check_images(images, images.shape[1:], name="images")
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError(
            "The classifier trains on clean images with pixels in [0, 1], got pixels in "
            f"[{images.min()}, {images.max()}]."
        )
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integer class indices of shape ({len(images)},), got dtype "
            f"{labels.dtype} and shape {labels.shape}."
        )
    keras.utils.set_random_seed(seeding.derive(seed, seeding.CLASSIFIER))
    model = build(architecture, images.shape[1:], int(labels.max()) + 1, noise_sigma)
    model.compile(
        keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(images, labels, epochs=epochs, batch_size=batch_size, verbose=verbose,
              validation_data=validation_data)
    return model


def fine_tune(model, images, labels, epochs=1, batch_size=128, learning_rate=1e-4, verbose=0):
    """Fits a trained classifier further on `images` (any finite values); returns it.

    For "denoised smoothing": the classifier learns the outputs of a front-end
    (DEEN's x_hat(y), a VAE's x_hat(z)) on noisy training images, which need
    not lie in [0, 1].
    """
    images = np.asarray(images, np.float32)
    validation.check_images(images, model.input_shape[1:], name="images")
    model.compile(
        keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(images, np.asarray(labels), epochs=epochs, batch_size=batch_size, verbose=verbose)
    return model


def accuracy(model, images, labels, batch_size=500):
    """The fraction of images whose arg-max logit is the label."""
    logits = model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))
