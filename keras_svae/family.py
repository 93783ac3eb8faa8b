"""`SigmaVAEFamily`: K sigma-/alpha-/vanilla VAEs of one network, trained as one Keras model.

The paper's results are sweeps (nine sigma-VAEs, nine alpha-VAEs), and at the
paper's batch size of 16 a step of one small VAE is bound by per-step
overhead, not arithmetic. A family trains the K members in one program: its
weights carry a leading member axis (`family_networks`), so one step runs one
set of kernels whatever K is.

Each member is the model `SigmaVAE` would be: its own noise model (any mix
of Gaussian sigma, Laplace alpha and Bernoulli), its own beta (Theorem 1),
its own seed and random draws. The family's loss is the sum of the members'
losses (each the batch mean of eq. 7 or eq. 11, negated, as `SigmaVAE`'s),
so each member's gradient is its own loss's; with an optimizer that acts on
each weight entry alone (SGD, Adam and the others of
`PER_ENTRY_OPTIMIZERS`, without norm clipping; `fit` refuses the rest) every member follows the trajectory of its own
`SigmaVAE` run (tests/test_family.py checks this to 1e-5).

`family.member(k)` returns member k as a standard `SigmaVAE`;
`SigmaVAEFamily.from_members(models)` stacks trained or fresh ones.

Data: one batch (batch, H, W, C) that every member sees, or each member its
own, (batch, K, H, W, C) (`data.make_family_dataset` orders them as
K separate runs with the members' seeds would).

Metrics per member, named by `member_label` (e.g. "kl/σ=0.3",
"mse/α=0.9,β=2"): recon, kl, mse and elbo as `SigmaVAE`'s, each a mean
per example.
"""

import keras
from keras import ops

from keras_svae import distribution
from keras_svae import family_networks
from keras_svae import imaginary_noise
from keras_svae import posterior
from keras_svae import random_state
from keras_svae import reductions
from keras_svae import seeding
from keras_svae import validation
from keras_svae import vae

_SYMBOLS = {"gaussian": "σ", "laplace": "α"}
_METRICS = ("recon", "kl", "mse", "elbo")
# Network settings that every member shares (`SigmaVAE`'s arguments).
NETWORK = ("data_shape", "latent_dim", "conv_channels", "strides", "encoder_units",
           "decoder_units")


def _member(spec):
    """A member's settings, validated: {"noise", "scale", "beta", "seed"}."""
    if not isinstance(spec, dict):
        raise ValueError(f"Each member must be a dict of noise, scale, beta, seed; got {spec!r}.")
    unknown = set(spec) - {"noise", "scale", "beta", "seed"}
    if unknown:
        raise ValueError(f"A member's settings are noise, scale, beta and seed; {sorted(unknown)} "
                         "belong to the whole family (one network shape) or nowhere.")
    noise_model = imaginary_noise.get(spec.get("noise", "gaussian"), spec.get("scale"))
    seed = spec.get("seed")
    return dict(noise=noise_model.name, scale=noise_model.scale,
                beta=validation.validate_beta(spec.get("beta", 1.0)),
                seed=None if seed is None else int(seed))


def member_label(member):
    """A short name: "σ=0.3", "α=0.9,β=2", "bernoulli" (see `labels` for repeats)."""
    label = (f"{_SYMBOLS[member['noise']]}={member['scale']:.6g}" if member["noise"] in _SYMBOLS
             else member["noise"])
    return label if member["beta"] == 1.0 else f"{label},β={member['beta']:.6g}"


def labels(members):
    """One distinct label per member: the seed is added where settings repeat, then the index.

    Two members with the same settings and the same (not None) seed would be one
    model trained twice: that is refused.
    """
    for i, member in enumerate(members):
        if member["seed"] is not None and member in members[:i]:
            raise ValueError(f"Members {members.index(member)} and {i} repeat the same noise, "
                             f"scale, beta and seed ({member}): one model trained twice.")
    plain = [member_label(m) for m in members]
    named = [f"{p},seed={m['seed']}" if plain.count(p) > 1 else p
             for p, m in zip(plain, members)]
    return [f"{n}#{i}" if named.count(n) > 1 else n for i, n in enumerate(named)]


@keras.saving.register_keras_serializable(package="keras_svae")
class SigmaVAEFamily(validation.InputChecks, random_state.SavesSeedState, keras.Model):
    """K VAEs of one network shape trained together (see the module docstring).

    Args:
        members: list of dicts, one per member, with "noise" ("gaussian",
            "laplace" or "bernoulli"; default "gaussian"), "scale" (sigma or
            alpha; None for "bernoulli"), "beta" (default 1.0) and "seed"
            (seeds that member's draws; default None).
        data_shape, latent_dim, conv_channels, strides, encoder_units,
            decoder_units: the one network shape, as `SigmaVAE`'s.
        convolution: "auto", "grouped" or "per_member" (`family_networks`).
        **kwargs: passed to `keras.Model`.

    Example:

    >>> family = SigmaVAEFamily([dict(scale=s, seed=0) for s in (0.1, 0.5, 0.9)])
    >>> family.compile(keras.optimizers.Adam(1e-4))
    >>> family.fit(x_train, epochs=1, batch_size=16)  # doctest: +SKIP
    >>> model = family.member(2)  # the sigma = 0.9 SigmaVAE
    """

    _unit_interval = True

    def __init__(self, members, data_shape=(28, 28, 1), latent_dim=100,
                 conv_channels=(32, 64, 128), strides=2, encoder_units=200, decoder_units=2000,
                 convolution="auto", **kwargs):
        super().__init__(**kwargs)
        members = list(members) if isinstance(members, (list, tuple)) else members
        if not isinstance(members, list) or not members:
            raise ValueError(f"A family needs at least one member (a non-empty list of dicts), "
                             f"got {members!r}.")
        self.members = [_member(m) for m in members]
        self.labels = labels(self.members)
        self.noise_models = [imaginary_noise.get(m["noise"], m["scale"]) for m in self.members]
        self.data_shape = tuple(int(d) for d in data_shape)
        if len(self.data_shape) != 3:
            raise ValueError(f"data_shape must be (height, width, channels), got {data_shape}.")
        k = len(self.members)
        self.encoder = family_networks.FamilyEncoder(
            k, latent_dim, conv_channels, strides, encoder_units, convolution, name="encoder",
            dtype=self.dtype_policy)
        self.decoder = family_networks.FamilyDecoder(k, self.data_shape, decoder_units,
                                                     name="decoder", dtype=self.dtype_policy)
        self.seed_generators = [seeding.generator(m["seed"], seeding.POSTERIOR)
                                for m in self.members]
        # PyTorch refuses "." in a variable's path, so trackers are named with "_"
        # and `get_metrics_result` reports the labels as they are.
        self.trackers = {f"{name}/{label}": keras.metrics.Mean(name=_safe(f"{name}/{label}"))
                         for label in self.labels for name in _METRICS}
        self._display = {_safe(name): name for name in self.trackers}
        self.build((None,) + self.data_shape)

    @property
    def num_members(self):
        return len(self.members)

    @property
    def latent_dim(self):
        return self.encoder.latent_dim

    def build(self, input_shape=None):
        input_shape = (None,) + self.data_shape if input_shape is None else tuple(input_shape)
        self.encoder.build(input_shape)
        self.decoder.build((self.num_members, input_shape[0], self.latent_dim))

    def _check_input(self, x):
        shape = tuple(ops.shape(x))
        if len(shape) == 5 and shape[1] not in (None, self.num_members):
            raise ValueError(f"x with a member axis must have shape (batch, {self.num_members}, "
                             f"{', '.join(map(str, self.data_shape))}): one batch per member; "
                             f"got shape {shape}.")
        validation.check_shape(shape[:1] + shape[-3:] if len(shape) == 5 else shape,
                               self.data_shape)

    def call(self, x, training=False):
        """Every member's forward pass on its data.

        Args:
            x: (batch,) + data_shape for all, or (batch, K) + data_shape.

        Returns:
            dict of "z_mean", "z_log_var", "z" (each (K, batch, latent_dim))
            and "logits" ((K, batch) + data_shape).
        """
        self._check_input(x)
        z_mean, z_log_var = self.encoder(ops.cast(x, self.compute_dtype))
        # Member k draws from its own generator exactly what its SigmaVAE would.
        z = ops.stack([posterior.sample(z_mean[k], z_log_var[k], generator)
                       for k, generator in enumerate(self.seed_generators)])
        return {"z_mean": z_mean, "z_log_var": z_log_var, "z": z, "logits": self.decoder(z)}

    def _checked(self, x, name="x", unit_interval=None):
        # The data checks of fit/evaluate, on one batch for all or (batch, K, ...) batches.
        if validation.rank_of(x) == len(self.data_shape) + 2:
            unit_interval = self._unit_interval if unit_interval is None else unit_interval
            return validation.checked_input(x, (self.num_members,) + self.data_shape,
                                            unit_interval, name)
        return super()._checked(x, name, unit_interval)

    def _member_data(self, x, k):
        return x[:, k] if len(x.shape) == 5 else x

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Sum over members of each one's batch mean of -log p(x | z) + beta * KL."""
        del y, training
        if sample_weight is not None:
            raise ValueError("SigmaVAEFamily does not take sample weights.")
        total = 0.0
        for k, (member, label) in enumerate(zip(self.members, self.labels)):
            logits = y_pred["logits"][k]
            x_k = ops.cast(self._member_data(x, k), logits.dtype)
            recon = self.noise_models[k].negative_log_likelihood(x_k, logits)
            kl = posterior.kl_divergence(y_pred["z_mean"][k], y_pred["z_log_var"][k])
            mse = reductions.sum_per_example(ops.square(x_k - ops.sigmoid(logits)))
            for name, value in (("recon", recon), ("kl", kl), ("mse", mse),
                                ("elbo", -(recon + kl))):
                self.trackers[f"{name}/{label}"].update_state(value)
            total = total + ops.mean(recon + member["beta"] * kl)
        if self.losses:
            total = total + ops.sum([ops.cast(extra, total.dtype) for extra in self.losses])
        return distribution.scale_loss(total)

    def get_metrics_result(self):
        return {self._display.get(k, k): v for k, v in super().get_metrics_result().items()}

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, refusing optimizers that would couple the members."""
        _check_optimizer(getattr(self, "optimizer", None))
        return super().fit(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        _check_optimizer(getattr(self, "optimizer", None))
        return super().train_on_batch(*args, **kwargs)

    # ------------------------------------------------------------------
    # Members in and out.

    def network_config(self):
        """The network settings every member shares, as `SigmaVAE` arguments."""
        return dict(data_shape=list(self.data_shape), latent_dim=self.latent_dim,
                    conv_channels=list(self.encoder.conv_channels),
                    strides=list(self.encoder.strides), encoder_units=self.encoder.units,
                    decoder_units=self.decoder.units)

    def _pairs(self, model):
        return family_networks.member_layers(self.encoder, self.decoder, model)

    def member(self, k):
        """Member k as a standard `SigmaVAE` (its weights and random state copied)."""
        if not 0 <= int(k) < self.num_members:
            raise IndexError(f"member index must be in [0, {self.num_members}), got {k}.")
        k = int(k)
        model = vae.SigmaVAE(**self.members[k], **self.network_config())
        for stacked, single in self._pairs(model):
            single.kernel.assign(stacked.kernel[k])
            single.bias.assign(stacked.bias[k])
        # A copy: JAX's train step donates (deletes) the arrays of the state it updates.
        model.seed_generator.state.assign(ops.convert_to_numpy(self.seed_generators[k].state))
        return model

    def set_member(self, k, model):
        """Copies a `SigmaVAE`'s weights and random state into member k (same settings)."""
        if not 0 <= int(k) < self.num_members:
            raise IndexError(f"member index must be in [0, {self.num_members}), got {k}.")
        k = int(k)
        _check_same_network(self, model)
        theirs = dict(noise=model.noise, scale=model.scale, beta=model.beta, seed=model.seed)
        if theirs != self.members[k]:
            raise ValueError(f"Member {k} is {self.members[k]}; this model is {theirs}.")
        for stacked, single in self._pairs(model):
            for name in ("kernel", "bias"):
                variable = getattr(stacked, name)
                variable.assign(ops.scatter_update(
                    variable, [[k]], ops.expand_dims(getattr(single, name), 0)))
        self.seed_generators[k].state.assign(ops.convert_to_numpy(model.seed_generator.state))

    @classmethod
    def from_members(cls, models, convolution="auto", **kwargs):
        """A family of these `SigmaVAE`s, with their weights and random state."""
        models = list(models)
        if not models:
            raise ValueError("A family needs at least one member, got no models.")
        first = models[0]
        for model in models:
            _check_same_network(first, model)
        family = cls([dict(noise=m.noise, scale=m.scale, beta=m.beta, seed=m.seed)
                      for m in models], convolution=convolution,
                     **_network_of(first), **kwargs)
        for k, model in enumerate(models):
            family.set_member(k, model)
        return family

    # ------------------------------------------------------------------
    # Serialization.

    def get_config(self):
        config = super().get_config()
        config.update(members=[dict(m) for m in self.members], **self.network_config(),
                      convolution=self.encoder.convolution)
        return config

    def _saved_seed_generators(self):  # Saved with the weights (random_state).
        return self.seed_generators


# Optimizers whose update of a weight entry reads that entry's gradient and state only, so
# that a stacked weight trains as K separate ones. Others (Lamb's trust ratio, Adafactor's
# factored moments, Muon's per-matrix update, a loss-scale optimizer's skipped steps) mix
# the members.
PER_ENTRY_OPTIMIZERS = ("SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad",
                        "Adadelta", "Lion", "Ftrl")


def _check_optimizer(optimizer):
    if optimizer is None:
        return
    name = type(optimizer).__name__
    if name not in PER_ENTRY_OPTIMIZERS:
        raise ValueError(f"SigmaVAEFamily trains with an optimizer that updates each weight entry "
                         f"on its own ({', '.join(PER_ENTRY_OPTIMIZERS)}), so that every member "
                         f"trains as its own model; got {name}.")
    if getattr(optimizer, "clipnorm", None) or getattr(optimizer, "global_clipnorm", None):
        raise ValueError(
            "SigmaVAEFamily cannot train with clipnorm or global_clipnorm: a norm over a "
            "stacked weight (or all weights) mixes the members, so they would no longer "
            "train as their own models. Use clipvalue, or train the members apart.")


def _safe(name):
    return name.replace(".", "_")


def _network_of(model):
    config = model.get_config()
    return {name: config[name] for name in NETWORK}


def _check_same_network(reference, model):
    """ValueError unless `model` is a SigmaVAE with `reference`'s network (a model or family)."""
    if not isinstance(model, vae.SigmaVAE):
        raise ValueError(f"Members must be SigmaVAE models, got {type(model).__name__}.")
    config = model.get_config()
    if "encoder" in config or "decoder" in config or config["readout"] != "sigmoid":
        raise ValueError("A family stacks the paper's networks with the sigmoid readout; this "
                         "SigmaVAE has networks of its own or another readout. Train it alone.")
    mine = (reference.network_config() if isinstance(reference, SigmaVAEFamily)
            else _network_of(reference))
    theirs = _network_of(model)
    different = {k: (theirs[k], mine[k]) for k in NETWORK if theirs[k] != mine[k]}
    if different:
        raise ValueError(f"All members of a family share one network shape; this model differs "
                         f"in (model, family): {different}.")
