"""The networks of Section 5: the ConvNet encoder, the MLP decoder, the energy net.

Section 5 of the paper: "the encoder was a ConvNet with expanding channels =
(32, 64, 128), without pooling, fc = (200), and the linear readout with
dz = 100. The decoder had one hidden layer with 2000 neurons and the logistic
readout", every activation SiLU. The paper does not say whether the 3x3
convolutions downsample; `strides` makes that a parameter. Two named presets:

* "strided" (the default): stride 2, 'same' padding (28 -> 14 -> 7 -> 4).
* "no_downsampling": stride 1, the literal reading; about 22 M parameters on
  MNIST, almost all of them in the Dense(200) after the last convolution.
"""

import math

import keras
from keras import layers

PRESETS = {
    "strided": {"strides": 2},
    "no_downsampling": {"strides": 1},
}


def normalize_strides(strides, num_layers):
    """Returns one positive int stride per convolution."""
    if isinstance(strides, int):
        strides = (strides,) * num_layers
    strides = tuple(int(s) for s in strides)
    if len(strides) != num_layers or any(s < 1 for s in strides):
        raise ValueError(
            f"strides must be a positive int or {num_layers} positive ints (one per "
            f"convolution), got {strides}."
        )
    return strides


@keras.saving.register_keras_serializable(package="keras_svae")
class ConvFeatures(layers.Layer):
    """3x3 SiLU convolutions with expanding channels, then Dense(units) SiLU.

    The trunk shared by the encoder and DEEN's energy network.

    Args:
        conv_channels: tuple of ints, channels of each convolution.
            Defaults to (32, 64, 128).
        strides: int or tuple of ints, one per convolution. Defaults to 2.
        units: int, width of the fully connected layer. Defaults to 200.
    """

    def __init__(self, conv_channels=(32, 64, 128), strides=2, units=200, **kwargs):
        super().__init__(**kwargs)
        self.conv_channels = tuple(int(c) for c in conv_channels)
        self.strides = normalize_strides(strides, len(self.conv_channels))
        self.units = int(units)
        self.convs = [
            layers.Conv2D(c, 3, strides=s, padding="same", activation="silu", name=f"conv{i}")
            for i, (c, s) in enumerate(zip(self.conv_channels, self.strides))
        ]
        self.flatten = layers.Flatten()
        self.dense = layers.Dense(self.units, activation="silu", name="fc")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        self.dense.build((shape[0], math.prod(shape[1:])))

    def call(self, x):
        for conv in self.convs:
            x = conv(x)
        return self.dense(self.flatten(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            conv_channels=list(self.conv_channels), strides=list(self.strides), units=self.units
        )
        return config


@keras.saving.register_keras_serializable(package="keras_svae")
class Encoder(layers.Layer):
    """The inference network: image -> (mean, log-variance) of q(z | x).

    Args:
        latent_dim: int, dimension of z. Defaults to 100.
        conv_channels, strides, units: see `ConvFeatures`.
    """

    def __init__(self, latent_dim=100, conv_channels=(32, 64, 128), strides=2, units=200, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.features = ConvFeatures(conv_channels, strides, units, name="features")
        self.mean = layers.Dense(self.latent_dim, name="mean")
        self.log_var = layers.Dense(self.latent_dim, name="log_var")

    def build(self, input_shape):
        self.features.build(input_shape)
        hidden = self.features.compute_output_shape(input_shape)
        self.mean.build(hidden)
        self.log_var.build(hidden)

    def call(self, x):
        h = self.features(x)
        return self.mean(h), self.log_var(h)

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            conv_channels=list(self.features.conv_channels),
            strides=list(self.features.strides),
            units=self.features.units,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_svae")
class Decoder(layers.Layer):
    """The generative network: z -> logits of x_hat(z), shaped like the image.

    The logistic readout x_hat = sigmoid(logits) is applied by the noise model
    (the Bernoulli model uses the logits directly, which is numerically stable).

    Args:
        image_shape: tuple (height, width, channels) of the images.
        units: int, width of the hidden layer. Defaults to 2000.
    """

    def __init__(self, image_shape, units=2000, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.units = int(units)
        self.hidden = layers.Dense(self.units, activation="silu", name="hidden")
        self.readout = layers.Dense(math.prod(self.image_shape), name="readout")
        self.reshape = layers.Reshape(self.image_shape)

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.readout.build((input_shape[0], self.units))

    def call(self, z):
        return self.reshape(self.readout(self.hidden(z)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.image_shape

    def get_config(self):
        config = super().get_config()
        config.update(image_shape=list(self.image_shape), units=self.units)
        return config
