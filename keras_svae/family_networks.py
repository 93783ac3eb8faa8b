"""The networks of Section 5 for K models at once: every weight has a leading member axis.

A family of K VAEs of one network shape (`family.SigmaVAEFamily`) runs one
set of kernels per step whatever K is:

* dense layers are batched matmuls: activations (K, batch, features) times
  kernels (K, in, out);
* convolutions see the K members' feature maps side by side on the channel
  axis, (batch, height, width, K * channels), member-major, and run either
  as one grouped convolution (`groups = K`: member k's output channels read
  member k's input channels only) or as K convolutions, one per member's
  slice of the kernel ("per_member"). Both give the same function; which is
  faster depends on the backend (benchmarks/family_speed.py, docs/family_speed.md):
  on a CPU, XLA's code for grouped convolutions (which TensorFlow also uses
  for them, with or without jit_compile) is a slow generic loop, so "auto"
  picks "per_member" on TensorFlow and JAX and "grouped" on PyTorch; on a
  GPU it picks "grouped", the form cuDNN runs as one kernel (not measured
  here).

Member k's slice of every weight is exactly the weight of the standalone
`networks.Encoder` / `networks.Decoder` layer it corresponds to
(`member_layers` lists the pairs), which is what makes `family.member(k)`
an ordinary `SigmaVAE`.
"""

import math

import keras
from keras import layers
from keras import ops

from keras_svae import networks

CONVOLUTIONS = ("auto", "grouped", "per_member")


def resolve_convolution(convolution):
    """Returns "grouped" or "per_member" for `convolution` (see the module docstring)."""
    if convolution not in CONVOLUTIONS:
        raise ValueError(f"convolution must be one of {CONVOLUTIONS}, got {convolution!r}.")
    if convolution != "auto":
        return convolution
    if _on_accelerator():  # cuDNN-style grouped kernels (not measured here: no GPU).
        return "grouped"
    return "grouped" if keras.backend.backend() == "torch" else "per_member"


def _on_accelerator():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def _stacked(layer, name, shape, initializer):
    """A (K,) + shape weight whose every member slice is initialised like one layer's."""
    return layer.add_weight(name=name, shape=(layer.members,) + tuple(shape),
                            initializer=_per_member(initializer, layer.members))


def _per_member(initializer, members):
    """Initialises each member's slice as its own (members,)-free weight would be."""
    initializer = keras.initializers.get(initializer)

    def init(shape, dtype=None):
        return ops.stack([initializer(shape[1:], dtype=dtype) for _ in range(members)])

    return init


@keras.saving.register_keras_serializable(package="keras_svae")
class FamilyDense(layers.Layer):
    """K dense layers: (K, batch, in) -> (K, batch, units), kernels (K, in, units)."""

    def __init__(self, members, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.members, self.units = int(members), int(units)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = _stacked(self, "kernel", (input_shape[-1], self.units), "glorot_uniform")
        self.bias = _stacked(self, "bias", (self.units,), "zeros")

    def call(self, h):
        return self.activation(ops.matmul(h, self.kernel) + self.bias[:, None, :])

    def get_config(self):
        config = super().get_config()
        config.update(members=self.members, units=self.units,
                      activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package="keras_svae")
class FamilyConv2D(layers.Layer):
    """K 3x3 'same' SiLU convolutions on member-major channels (batch, H, W, K * C)."""

    def __init__(self, members, filters, strides=1, convolution="auto", **kwargs):
        super().__init__(**kwargs)
        self.members, self.filters, self.strides = int(members), int(filters), int(strides)
        self.convolution = convolution
        self._mode = resolve_convolution(convolution)

    def build(self, input_shape):
        if input_shape[-1] % self.members:
            raise ValueError(f"FamilyConv2D needs {self.members} members' channels side by side; "
                             f"got {input_shape[-1]} channels.")
        channels = input_shape[-1] // self.members
        self.kernel = _stacked(self, "kernel", (3, 3, channels, self.filters), "glorot_uniform")
        self.bias = _stacked(self, "bias", (self.filters,), "zeros")

    def call(self, x):
        if self._mode == "grouped":
            # (K, 3, 3, C, F) -> (3, 3, C, K * F): output channel k * F + f is member k's f,
            # and ops.conv infers groups = K from the input's K * C channels.
            kernel = ops.reshape(ops.transpose(self.kernel, (1, 2, 3, 0, 4)),
                                 (3, 3, -1, self.members * self.filters))
            y = ops.conv(x, kernel, strides=self.strides, padding="same")
        else:
            slices = ops.split(x, self.members, axis=-1)
            y = ops.concatenate([
                ops.conv(s, self.kernel[k], strides=self.strides, padding="same")
                for k, s in enumerate(slices)], axis=-1)
        return ops.silu(y + ops.reshape(self.bias, (-1,)))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        return (batch, math.ceil(height / self.strides), math.ceil(width / self.strides),
                self.members * self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(members=self.members, filters=self.filters, strides=self.strides,
                      convolution=self.convolution)
        return config


def members_first(h, members):
    """(batch, H, W, K * C) member-major -> (K, batch, H * W * C), Flatten's order per member."""
    batch, height, width, channels = ops.shape(h)
    h = ops.reshape(h, (batch, height, width, members, channels // members))
    return ops.reshape(ops.transpose(h, (3, 0, 1, 2, 4)), (members, batch, -1))


@keras.saving.register_keras_serializable(package="keras_svae")
class FamilyEncoder(layers.Layer):
    """K encoders (`networks.Encoder`): images -> (means, log-variances), each (K, batch, dz).

    Takes either one batch for every member, (batch, H, W, C), or each
    member its own, (batch, K, H, W, C).
    """

    def __init__(self, members, latent_dim=100, conv_channels=(32, 64, 128), strides=2,
                 units=200, convolution="auto", **kwargs):
        super().__init__(**kwargs)
        self.members, self.latent_dim = int(members), int(latent_dim)
        self.conv_channels = tuple(int(c) for c in conv_channels)
        self.strides = networks.normalize_strides(strides, len(self.conv_channels))
        self.units, self.convolution = int(units), convolution
        dtype = self.dtype_policy
        self.convs = [FamilyConv2D(members, c, s, convolution, name=f"conv{i}", dtype=dtype)
                      for i, (c, s) in enumerate(zip(self.conv_channels, self.strides))]
        self.dense = FamilyDense(members, self.units, "silu", name="fc", dtype=dtype)
        self.mean = FamilyDense(members, self.latent_dim, name="mean", dtype=dtype)
        self.log_var = FamilyDense(members, self.latent_dim, name="log_var", dtype=dtype)

    def build(self, input_shape):
        height, width, channels = input_shape[-3:]
        shape = (input_shape[0], height, width, self.members * channels)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        self.dense.build((self.members, shape[0], math.prod(shape[1:3]) * self.conv_channels[-1]))
        for head in (self.mean, self.log_var):
            head.build((self.members, shape[0], self.units))

    def call(self, x):
        if len(x.shape) == 4:  # One batch for all: member k's channels are a copy.
            x = ops.tile(x, (1, 1, 1, self.members))
        else:  # (batch, K, H, W, C) -> (batch, H, W, K * C), member-major.
            batch, _, height, width, channels = ops.shape(x)
            x = ops.reshape(ops.transpose(x, (0, 2, 3, 1, 4)),
                            (batch, height, width, self.members * channels))
        for conv in self.convs:
            x = conv(x)
        h = self.dense(members_first(x, self.members))
        return self.mean(h), self.log_var(h)

    def get_config(self):
        config = super().get_config()
        config.update(members=self.members, latent_dim=self.latent_dim,
                      conv_channels=list(self.conv_channels), strides=list(self.strides),
                      units=self.units, convolution=self.convolution)
        return config


@keras.saving.register_keras_serializable(package="keras_svae")
class FamilyDecoder(layers.Layer):
    """K decoders (`networks.Decoder`): z (K, batch, dz) -> logits (K, batch) + image_shape."""

    def __init__(self, members, image_shape, units=2000, **kwargs):
        super().__init__(**kwargs)
        self.members = int(members)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.units = int(units)
        self.hidden = FamilyDense(members, self.units, "silu", name="hidden",
                                  dtype=self.dtype_policy)
        self.readout = FamilyDense(members, math.prod(self.image_shape), name="readout",
                                   dtype=self.dtype_policy)

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.readout.build(tuple(input_shape[:-1]) + (self.units,))

    def call(self, z):
        logits = self.readout(self.hidden(z))
        return ops.reshape(logits, (self.members, -1) + self.image_shape)

    def get_config(self):
        config = super().get_config()
        config.update(members=self.members, image_shape=list(self.image_shape), units=self.units)
        return config


def member_layers(encoder, decoder, model):
    """Pairs (family layer, the standalone layer of `model` it stacks), in a fixed order."""
    features = model.encoder.features
    return (list(zip(encoder.convs, features.convs))
            + [(encoder.dense, features.dense), (encoder.mean, model.encoder.mean),
               (encoder.log_var, model.encoder.log_var),
               (decoder.hidden, model.decoder.hidden), (decoder.readout, model.decoder.readout)])
