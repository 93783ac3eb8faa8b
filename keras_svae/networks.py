"""The networks: the ConvNet encoder and MLP decoder (Section 5), DEEN's energy nets.

Section 5 of the paper: "the encoder was a ConvNet with expanding channels =
(32, 64, 128), without pooling, fc = (200), and the linear readout with
dz = 100. The decoder had one hidden layer with 2000 neurons and the logistic
readout", every activation SiLU. The paper does not say whether the 3x3
convolutions downsample; `strides` makes that a parameter. Three named
architectures (`SigmaVAE.from_architecture`):

* "strided" (the default): stride 2, 'same' padding (28 -> 14 -> 7 -> 4).
* "no_downsampling": stride 1, the literal reading; the VAE has about 22 M
  parameters on MNIST (2.3 M strided), 91% of them in the encoder's
  Dense(200) after the last convolution (tests/test_networks.py counts them).
* "mlp": the same encoder without its convolutions (Flatten, Dense(200) SiLU,
  the linear readout), so that encoder and decoder are both MLPs.

`ENCODERS` names the encoder's trunk ("convnet" or "mlp") by its convolution
channels; `training.TrainConfig.encoder` chooses one.

Each convolution runs either as the backend's convolution ("direct") or as
"patches": the nine shifted views of the padded input side by side, times
the kernel as a matrix. Both compute the same function with the same
weights and the same multiply-adds; they differ in speed. XLA's CPU code
for the gradients of a convolution (with respect to its input and its
kernel) runs many times slower than the forward pass, and DEEN's double
backprop takes the gradient of those gradients; as slices and a matmul, the
whole graph is matmuls, which XLA runs well. For a first-order step (the
VAEs) the direct convolution stays faster. So "auto" picks "patches" for
DEEN's energy network under JAX on CPU, and "direct" everywhere else
(benchmarks/speed.py measures both).
"""

import math

import keras
from keras import layers
from keras import ops

# Section 5's convolution channels, and the encoder's trunk by name: its convolutions'
# channels (none: an MLP).
CONV_CHANNELS = (32, 64, 128)
ENCODERS = {"convnet": CONV_CHANNELS, "mlp": ()}
ARCHITECTURES = {
    "strided": {"strides": 2},
    "no_downsampling": {"strides": 1},
    "mlp": {"conv_channels": ENCODERS["mlp"]},
}
CONVOLUTIONS = ("auto", "direct", "patches")


# ----------------------------------------------------------------------------------
# The contract of a user's own networks (`SigmaVAE(encoder=, decoder=)`, `DEEN(energy=)`),
# checked once, by a forward pass of two zero examples, so that a network that breaks
# it fails where it is given, with the shapes it returned.

_PAPER_DATA_SHAPE = (28, 28, 1)


def data_shape_for(data_shape, network=None):
    """One example's shape: `data_shape`, else a functional network's input shape, else
    MNIST's (28, 28, 1)."""
    if data_shape is None:
        inputs = getattr(network, "inputs", None) if network is not None else None
        if inputs and all(d is not None for d in inputs[0].shape[1:]):
            data_shape = tuple(inputs[0].shape[1:])
        else:
            data_shape = _PAPER_DATA_SHAPE
    shape = tuple(int(d) for d in data_shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"data_shape must be a non-empty tuple of positive sizes, got "
                         f"{data_shape!r}.")
    return shape


def _shape(value):
    return tuple(int(d) for d in ops.shape(value))


def _describe(output):
    if isinstance(output, (tuple, list)):
        return f"{len(output)} tensors of shapes {[_shape(o) for o in output]}"
    if isinstance(output, dict):
        return f"a dict with keys {sorted(output)}"
    return f"one tensor of shape {_shape(output)}"


def check_encoder(encoder, data_shape, latent_dim=None, dtype="float32"):
    """The latent size of a user's encoder, after checking its contract; else ValueError.

    Contract: x of shape (batch, *data_shape) -> (z_mean, z_log_var), each of
    shape (batch, latent_dim).
    """
    contract = (f"The encoder must map x of shape (batch, {', '.join(map(str, data_shape))}) "
                "to (z_mean, z_log_var), each of shape (batch, latent_dim)")
    output = encoder(ops.zeros((2,) + tuple(data_shape), dtype))
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise ValueError(f"{contract}; on a batch of 2 it returned {_describe(output)}.")
    shapes = [_shape(o) for o in output]
    if any(len(s) != 2 or s[0] != 2 for s in shapes) or shapes[0] != shapes[1]:
        raise ValueError(f"{contract}; on a batch of 2 it returned shapes {shapes}.")
    if latent_dim is not None and shapes[0][1] != int(latent_dim):
        raise ValueError(f"{contract}: latent_dim={latent_dim} was asked for, but the encoder "
                         f"returns z of size {shapes[0][1]}.")
    return shapes[0][1]


def check_decoder(decoder, latent_dim, data_shape, dtype="float32"):
    """ValueError unless a user's decoder maps z of shape (batch, latent_dim) to an output
    of shape (batch, *data_shape)."""
    output = decoder(ops.zeros((2, int(latent_dim)), dtype))
    wanted = (2,) + tuple(data_shape)
    if isinstance(output, (tuple, list, dict)) or _shape(output) != wanted:
        raise ValueError(f"The decoder must map z of shape (batch, {latent_dim}) to one tensor "
                         f"of shape (batch, {', '.join(map(str, data_shape))}), the data's; on a "
                         f"batch of 2 it returned {_describe(output)}.")


def check_energy(energy, data_shape, dtype="float32"):
    """ValueError unless a user's energy network maps y of shape (batch, *data_shape) to
    one energy per example, shape (batch,)."""
    output = energy(ops.zeros((2,) + tuple(data_shape), dtype))
    if isinstance(output, (tuple, list, dict)) or _shape(output) != (2,):
        raise ValueError(f"The energy network must map y of shape (batch, "
                         f"{', '.join(map(str, data_shape))}) to one energy per example, shape "
                         f"(batch,); on a batch of 2 it returned {_describe(output)}.")


def resolve_convolution(convolution, double_backprop=False):
    """Returns "direct" or "patches" for `convolution` (see the module docstring).

    Args:
        convolution: one of `CONVOLUTIONS`.
        double_backprop: whether training differentiates the network's input
            gradient (DEEN's energy network).
    """
    if convolution not in CONVOLUTIONS:
        raise ValueError(f"convolution must be one of {CONVOLUTIONS}, got {convolution!r}.")
    if convolution != "auto":
        return convolution
    if double_backprop and keras.backend.backend() == "jax":
        import jax

        return "patches" if jax.default_backend() == "cpu" else "direct"
    return "direct"


@keras.saving.register_keras_serializable(package="keras_svae")
class PatchConv2D(layers.Conv2D):
    """`Conv2D` ('same' padding, channels last) computed as patches @ kernel.

    The same weights, outputs and multiply-adds as `Conv2D`; only the
    graph differs (see the module docstring for why).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding != "same" or self.data_format != "channels_last" or any(
            d != 1 for d in self.dilation_rate
        ) or self.groups != 1:
            raise ValueError(
                "PatchConv2D supports padding='same', channels_last, no dilation and "
                "groups=1 only."
            )

    def convolution_op(self, inputs, kernel):
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        height, width, channels = inputs.shape[1:]
        (top, bottom), out_h = _same_padding(height, kh, sh)
        (left, right), out_w = _same_padding(width, kw, sw)
        padded = ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])
        # Row-major over (i, j, channel): the order of the kernel's reshape.
        views = [
            padded[:, i : i + sh * (out_h - 1) + 1 : sh, j : j + sw * (out_w - 1) + 1 : sw, :]
            for i in range(kh)
            for j in range(kw)
        ]
        patches = ops.concatenate(views, axis=-1)
        return ops.matmul(patches, ops.reshape(kernel, (kh * kw * channels, self.filters)))


def _same_padding(size, kernel, stride):
    """((before, after), output size) of 'same' padding along one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return (total // 2, total - total // 2), out


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
        convolution: "auto", "direct" or "patches": how the convolutions
            run (the same function either way; see the module docstring).
    """

    def __init__(self, conv_channels=CONV_CHANNELS, strides=2, units=200, convolution="auto",
                 **kwargs):
        super().__init__(**kwargs)
        self.conv_channels = tuple(int(c) for c in conv_channels)
        self.strides = normalize_strides(strides, len(self.conv_channels))
        self.units = int(units)
        self.convolution = convolution
        conv = PatchConv2D if resolve_convolution(convolution) == "patches" else layers.Conv2D
        self.convs = [
            conv(
                c, 3, strides=s, padding="same", activation="silu", name=f"conv{i}",
                dtype=self.dtype_policy,
            )
            for i, (c, s) in enumerate(zip(self.conv_channels, self.strides))
        ]
        self.flatten = layers.Flatten(dtype=self.dtype_policy)
        self.dense = layers.Dense(
            self.units, activation="silu", name="fc", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        # Every layer built, so that Keras's fit never draws a batch ahead to build one
        # (that would advance a reshuffling dataset's order on JAX).
        self.flatten.build(shape)
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
            conv_channels=list(self.conv_channels), strides=list(self.strides), units=self.units,
            convolution=self.convolution,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_svae")
class Encoder(layers.Layer):
    """The inference network: image -> (mean, log-variance) of q(z | x).

    Args:
        latent_dim: int, dimension of z. Defaults to 100.
        conv_channels, strides, units, convolution: see `ConvFeatures`.
    """

    def __init__(self, latent_dim=100, conv_channels=CONV_CHANNELS, strides=2, units=200,
                 convolution="auto", **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.features = ConvFeatures(
            conv_channels, strides, units, convolution, name="features", dtype=self.dtype_policy
        )
        self.mean = layers.Dense(self.latent_dim, name="mean", dtype=self.dtype_policy)
        self.log_var = layers.Dense(self.latent_dim, name="log_var", dtype=self.dtype_policy)

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
            convolution=self.features.convolution,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_svae")
class Decoder(layers.Layer):
    """The generative network: z -> logits of x_hat(z), shaped like the image.

    The logistic readout x_hat = sigmoid(logits) is applied by the noise model
    (the Bernoulli model uses the logits directly, which is numerically stable).

    Args:
        data_shape: tuple, one example's shape (any rank: a Dense readout, reshaped).
        units: int, width of the hidden layer. Defaults to 2000.
    """

    def __init__(self, data_shape, units=2000, **kwargs):
        super().__init__(**kwargs)
        self.data_shape = tuple(int(d) for d in data_shape)
        self.units = int(units)
        self.hidden = layers.Dense(
            self.units, activation="silu", name="hidden", dtype=self.dtype_policy
        )
        self.readout = layers.Dense(
            math.prod(self.data_shape), name="readout", dtype=self.dtype_policy
        )
        self.reshape = layers.Reshape(self.data_shape, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.readout.build((input_shape[0], self.units))

    def call(self, z):
        return self.reshape(self.readout(self.hidden(z)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.data_shape

    def get_config(self):
        config = super().get_config()
        config.update(data_shape=list(self.data_shape), units=self.units)
        return config


def _energy_readout(dtype):
    # A bias would add a constant to f, whose input gradient is identically zero.
    return layers.Dense(1, use_bias=False, name="energy", dtype=dtype)


@keras.saving.register_keras_serializable(package="keras_svae")
class EnergyNetwork(layers.Layer):
    """DEEN's energy f(y): the encoder's ConvNet trunk, then a scalar per example.

    Args:
        conv_channels, strides, units, convolution: see `ConvFeatures`.
    """

    def __init__(self, conv_channels=CONV_CHANNELS, strides=2, units=200, convolution="auto",
                 **kwargs):
        super().__init__(**kwargs)
        self.convolution = convolution
        self.features = ConvFeatures(
            conv_channels, strides, units, resolve_convolution(convolution, double_backprop=True),
            name="features", dtype=self.dtype_policy,
        )
        self.readout = _energy_readout(self.dtype_policy)

    def build(self, input_shape):
        self.features.build(input_shape)
        self.readout.build(self.features.compute_output_shape(input_shape))

    def call(self, y):
        return ops.squeeze(self.readout(self.features(y)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        config = super().get_config()
        config.update(
            conv_channels=list(self.features.conv_channels),
            strides=list(self.features.strides),
            units=self.features.units,
            convolution=self.convolution,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_svae")
class MLPEnergy(layers.Layer):
    """An energy f(y) for vector (or flattened) data: SiLU MLP, scalar readout.

    Args:
        units: tuple of ints, the hidden widths. Defaults to (128, 128).
    """

    def __init__(self, units=(128, 128), **kwargs):
        super().__init__(**kwargs)
        self.units = tuple(int(u) for u in units)
        self.flatten = layers.Flatten(dtype=self.dtype_policy)
        self.hidden = [
            layers.Dense(u, activation="silu", name=f"hidden{i}", dtype=self.dtype_policy)
            for i, u in enumerate(self.units)
        ]
        self.readout = _energy_readout(self.dtype_policy)

    def build(self, input_shape):
        self.flatten.build(input_shape)  # Every layer built (see ConvFeatures.build).
        shape = (input_shape[0], math.prod(input_shape[1:]))
        for dense in self.hidden:
            dense.build(shape)
            shape = (shape[0], dense.units)
        self.readout.build(shape)

    def call(self, y):
        h = self.flatten(y)
        for dense in self.hidden:
            h = dense(h)
        return ops.squeeze(self.readout(h), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        config = super().get_config()
        config.update(units=list(self.units))
        return config
