"""`SigmaVAEFamily`: K `SigmaVAE`s trained together as one Keras model.

The paper's results are sweeps (nine sigma-VAEs, nine alpha-VAEs). A family
trains the K members in one program, one `fit`, one data pipeline and one
compiled step, instead of K runs one after another.

A family is a container: its members are `SigmaVAE` models, networks and
all, so there is one definition of the networks and of the loss (the
members' own `_forward` and `_terms`). Members may differ in anything that
leaves one batch meaningful for all of them: noise model (any mix of Gaussian
sigma, Laplace alpha and Bernoulli), beta (Theorem 1), seed, and the networks
themselves (the paper's, another architecture, or a user's own encoder and
decoder); they share only the data's shape.

The family's loss is the sum of the members' losses (each the batch mean of
eq. 7 or eq. 11, negated, as `SigmaVAE`'s). The members share no weight, so
each member's gradient is its own loss's, and with an optimizer that acts on
each weight on its own (`PER_ENTRY_OPTIMIZERS`, without norm clipping; `fit`
refuses the rest) every member follows the trajectory of its own `SigmaVAE`
run (tests/test_family.py checks this to 1e-5).

Why a container and not one model vectorised over stacked weights: measured
side by side (docs/family_speed.md), the container is as fast per member on a
CPU as the family with a member axis in every weight that it replaces, and it
holds any network, where stacked weights need every member to have the same
one.

`family.member(k)` returns a copy of member k, a standard `SigmaVAE`;
`SigmaVAEFamily.from_members(models)` holds copies of trained or fresh ones.

Data: one batch (batch, *data_shape) that every member sees, or each member
its own, (batch, K, *data_shape) (`data.make_family_dataset` orders them as
K separate runs with the members' seeds would).

Metrics per member, named by `member_label` (e.g. "kl/σ=0.3",
"mse/α=0.9,β=2"): recon, kl, mse and elbo as `SigmaVAE`'s, each a mean
per example.
"""

import keras
from keras import ops

from keras_svae import distribution
from keras_svae import validation
from keras_svae import vae

_SYMBOLS = {"gaussian": "σ", "laplace": "α"}
_METRICS = ("recon", "kl", "mse", "elbo")
_SETTINGS = ("noise", "scale", "beta", "seed")  # What a member dict holds.
_MODEL_ARGUMENTS = ("name", "dtype", "trainable")  # The rest of **kwargs builds the networks.


def member_settings(model):
    """A member's settings: {"noise", "scale", "beta", "seed"}."""
    return dict(noise=model.noise, scale=model.scale, beta=model.beta, seed=model.seed)


def member_label(member):
    """A short name: "σ=0.3", "α=0.9,β=2", "bernoulli" (see `labels` for repeats)."""
    label = (f"{_SYMBOLS[member['noise']]}={member['scale']:.6g}" if member["noise"] in _SYMBOLS
             else member["noise"])
    return label if member["beta"] == 1.0 else f"{label},β={member['beta']:.6g}"


def labels(members):
    """One distinct label per member: the seed is added where settings repeat, then the index."""
    plain = [member_label(m) for m in members]
    named = [f"{p},seed={m['seed']}" if plain.count(p) > 1 else p
             for p, m in zip(plain, members)]
    return [f"{n}#{i}" if named.count(n) > 1 else n for i, n in enumerate(named)]


def copy_model(model, name=None):
    """A new `SigmaVAE` equal to `model`: its config, weights and random state."""
    config = dict(model.get_config())
    config.pop("name", None)
    copy = type(model).from_config({**config, **({"name": name} if name else {})})
    copy_state(model, copy)
    return copy


def copy_state(source, target):
    """Copies one `SigmaVAE`'s weights and random state into another of the same networks."""
    target.set_weights(source.get_weights())
    # A copy of the state: JAX's train step donates (deletes) the arrays it updates.
    target.seed_generator.state.assign(ops.convert_to_numpy(source.seed_generator.state))


@keras.saving.register_keras_serializable(package="keras_svae")
class SigmaVAEFamily(validation.InputChecks, keras.Model):
    """K `SigmaVAE`s trained together (see the module docstring).

    Args:
        members: a non-empty list, each either
            - a dict of a member's settings: "noise" ("gaussian", "laplace" or
              "bernoulli"; default "gaussian"), "scale" (sigma or alpha; None
              for "bernoulli"), "beta" (default 1.0) and "seed" (seeds that
              member's draws; default None), built with the paper's networks
              and the network settings in **kwargs; or
            - a `SigmaVAE`, any networks, which the family then holds and
              trains itself (`from_members` holds copies instead).
        **kwargs: `SigmaVAE`'s network settings for the dict members
            (data_shape, latent_dim, conv_channels, strides, encoder_units,
            decoder_units, convolution, readout), and `keras.Model`'s name,
            dtype and trainable.

    Example:

    >>> family = SigmaVAEFamily([dict(scale=s, seed=0) for s in (0.1, 0.5, 0.9)])
    >>> family.compile(keras.optimizers.Adam(1e-4))
    >>> family.fit(x_train, epochs=1, batch_size=16)  # doctest: +SKIP
    >>> model = family.member(2)  # the sigma = 0.9 SigmaVAE
    """

    def __init__(self, members, **kwargs):
        network = {k: kwargs.pop(k) for k in list(kwargs) if k not in _MODEL_ARGUMENTS}
        super().__init__(**kwargs)
        if not isinstance(members, (list, tuple)) or not members:
            raise ValueError(f"A family needs at least one member (a non-empty list of dicts or "
                             f"SigmaVAE models), got {members!r}.")
        self.vaes = [self._member_model(m, k, network) for k, m in enumerate(members)]
        _check_members(self.vaes)
        self.members = [member_settings(m) for m in self.vaes]
        self.labels = labels(self.members)
        self.data_shape = self.vaes[0].data_shape
        # PyTorch refuses "." in a variable's path, so trackers are named with "_"
        # and `get_metrics_result` reports the labels as they are.
        self.trackers = {f"{name}/{label}": keras.metrics.Mean(name=_safe(f"{name}/{label}"))
                         for label in self.labels for name in _METRICS}
        self._display = {_safe(name): name for name in self.trackers}
        self.build((None,) + self.data_shape)

    def _member_model(self, member, k, network):
        if isinstance(member, vae.SigmaVAE):
            return member
        if not isinstance(member, dict):
            raise ValueError(f"Each member must be a dict of noise, scale, beta, seed, or a "
                             f"SigmaVAE; got {member!r}.")
        unknown = set(member) - set(_SETTINGS)
        if unknown:
            raise ValueError(f"A member dict holds noise, scale, beta and seed; {sorted(unknown)} "
                             "belong to the whole family (its network settings) or nowhere.")
        if {"encoder", "decoder"} & set(network):
            raise ValueError("One encoder or decoder given to the whole family would be shared "
                             "by its members; give each member its own: SigmaVAEFamily("
                             "[SigmaVAE(encoder=..., decoder=..., ...), ...]).")
        return vae.SigmaVAE(**member, **network, name=f"member_{k}", dtype=self.dtype_policy)

    @property
    def num_members(self):
        return len(self.vaes)

    @property
    def _unit_interval(self):
        return any(m._unit_interval for m in self.vaes)  # One batch must suit every member.

    def build(self, input_shape=None):
        pass  # The members are built.

    def _check_input(self, x):
        shape = tuple(ops.shape(x))
        if len(shape) == len(self.data_shape) + 2:
            if shape[1] not in (None, self.num_members):
                raise ValueError(
                    f"x with a member axis must have shape (batch, {self.num_members}, "
                    f"{', '.join(map(str, self.data_shape))}): one batch per member; got shape "
                    f"{shape}.")
            shape = shape[:1] + shape[2:]
        validation.check_shape(shape, self.data_shape)

    def _member_data(self, x, k):
        return x[:, k] if len(x.shape) == len(self.data_shape) + 2 else x

    def call(self, x, training=False):
        """Every member's forward pass on its data.

        Args:
            x: (batch,) + data_shape for all, or (batch, K) + data_shape.

        Returns:
            dict of "z_mean", "z_log_var", "z" (each (K, batch, latent_dim) when
            the members' latent sizes agree, else a list of K) and "logits"
            ((K, batch) + data_shape).
        """
        self._check_input(x)
        # Member k draws from its own generator exactly what its SigmaVAE would.
        outputs = [m._forward(self._member_data(x, k), m.seed_generator)
                   for k, m in enumerate(self.vaes)]
        return {key: _stack([o[key] for o in outputs]) for key in outputs[0]}

    def _checked(self, x, name="x", unit_interval=None):
        # The data checks of fit/evaluate, on one batch for all or (batch, K, ...) batches.
        if validation.rank_of(x) == len(self.data_shape) + 2:
            unit_interval = self._unit_interval if unit_interval is None else unit_interval
            return validation.checked_input(x, (self.num_members,) + self.data_shape,
                                            unit_interval, name)
        return super()._checked(x, name, unit_interval)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Sum over members of each one's `SigmaVAE` loss (eqs. 7 and 11, negated)."""
        del y, training
        if sample_weight is not None:
            raise ValueError("SigmaVAEFamily does not take sample weights.")
        total = 0.0
        for k, (model, label) in enumerate(zip(self.vaes, self.labels)):
            outputs = {key: value[k] for key, value in y_pred.items()}
            terms = model._terms(self._member_data(x, k), outputs)
            for name, value in dict(terms, elbo=-(terms["recon"] + terms["kl"])).items():
                self.trackers[f"{name}/{label}"].update_state(value)
            total = total + model._loss(terms)
        if self.losses:  # The members' regularisers and add_loss terms, once.
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

    def _index(self, k):
        if not 0 <= int(k) < self.num_members:
            raise IndexError(f"member index must be in [0, {self.num_members}), got {k}.")
        return int(k)

    def member(self, k):
        """A copy of member k, a standard `SigmaVAE` (its weights and random state)."""
        return copy_model(self.vaes[self._index(k)])

    def set_member(self, k, model):
        """Copies a `SigmaVAE`'s weights and random state into member k (same settings)."""
        k = self._index(k)
        mine = self.vaes[k]
        if not isinstance(model, vae.SigmaVAE):
            raise ValueError(f"Members are SigmaVAE models, got {type(model).__name__}.")
        if member_settings(model) != self.members[k]:
            raise ValueError(f"Member {k} is {self.members[k]}; this model is "
                             f"{member_settings(model)}.")
        if _network_config(model) != _network_config(mine):
            raise ValueError(f"Member {k}'s networks differ from this model's.")
        copy_state(model, mine)

    @classmethod
    def from_members(cls, models, **kwargs):
        """A family holding copies of these `SigmaVAE`s (weights and random state)."""
        models = list(models)
        if not models:
            raise ValueError("A family needs at least one member, got no models.")
        for model in models:
            if not isinstance(model, vae.SigmaVAE):
                raise ValueError(f"Members must be SigmaVAE models, got {type(model).__name__}.")
        return cls([copy_model(m, name=f"member_{k}") for k, m in enumerate(models)], **kwargs)

    # ------------------------------------------------------------------
    # Serialization: each member as the SigmaVAE it is.

    def get_config(self):
        config = super().get_config()
        config["members"] = [keras.saving.serialize_keras_object(m) for m in self.vaes]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["members"] = [keras.saving.deserialize_keras_object(m) for m in config["members"]]
        return cls(**config)


# Optimizers whose update of a weight entry reads that entry's gradient and state only, so
# that the family's step is each member's own step. Others (Lamb's trust ratio, Adafactor's
# factored moments, Muon's per-matrix update, a loss-scale optimizer's skipped steps, a
# global norm clip) read every member's gradients at once.
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
            "SigmaVAEFamily cannot train with clipnorm or global_clipnorm: a norm over all "
            "weights mixes the members, so they would no longer train as their own models. "
            "Use clipvalue, or train the members apart.")


def _check_members(models):
    """ValueError unless the members share the data shape and nothing else."""
    shapes = {tuple(m.data_shape) for m in models}
    if len(shapes) > 1:
        raise ValueError(f"All members of a family take one batch, so one data shape; got "
                         f"{sorted(shapes)}.")
    owners = {}
    for k, model in enumerate(models):
        for variable in model.weights:
            if id(variable) in owners and owners[id(variable)] != k:
                raise ValueError(f"Members {owners[id(variable)]} and {k} share the weight "
                                 f"{variable.path}: a family trains separate models.")
            owners[id(variable)] = k
    names = [m.name for m in models]
    if len(set(names)) < len(names):
        raise ValueError(f"Members need distinct names (their weights' paths), got {names}.")
    settings = [member_settings(m) for m in models]
    for i, member in enumerate(settings):
        if member["seed"] is not None and member in settings[:i]:
            twin = settings.index(member)
            if _network_config(models[twin]) == _network_config(models[i]):
                raise ValueError(f"Members {twin} and {i} repeat the same noise, scale, beta, "
                                 f"seed and networks ({member}): one model trained twice.")


def _network_config(model):
    config = dict(model.get_config())
    for key in ("name", "trainable", "dtype") + _SETTINGS:
        config.pop(key, None)
    return config


def _stack(values):
    shapes = {tuple(v.shape[1:]) for v in values}
    return ops.stack(values) if len(shapes) == 1 else list(values)


def _safe(name):
    return name.replace(".", "_")
