"""`DEEN`: neural empirical Bayes, the paper's denoising baseline (Section 3).

An energy network f(y) models the density of the noisy Y = X + N(0, sigma^2 I)
up to its normaliser, -f(y) = log p(y) + log Z. Robbins-Miyasawa's Bayes
estimator (eq. 3),

    x_hat(y) = E[X | y] = y + sigma^2 grad log p(y) = y - sigma^2 grad_y f(y),

is trained by least squares against the clean x (eq. 2):

    loss = mean_batch || x - x_hat(y) ||^2,   y = x + sigma * eps fresh each step.

The input gradient inside the loss is computed by `input_gradient`, the one
backend-specific module, so that Keras's train step can differentiate it
again with respect to the weights.
"""

import warnings

import keras
from keras import ops

from keras_svae import distribution
from keras_svae import input_gradient
from keras_svae import networks
from keras_svae import random_state
from keras_svae import reductions
from keras_svae import seeding
from keras_svae import validation


@keras.saving.register_keras_serializable(package="keras_svae")
class DEEN(validation.InputChecks, random_state.SavesSeedState, keras.Model):
    """Deep energy estimator network with its Bayes estimator (eqs. 2-3).

    `model(y)` returns the energies f(y), one per example. Training data:

    * `fit(x)`: clean x; every step draws fresh noisy y = x + sigma * eps.
    * `fit(y, x)`: given pairs of noisy inputs y and clean targets x (fixed
      noise, or real noisy measurements).

    Neither x nor y need lie in [0, 1]: the estimator is y - sigma^2 grad f(y)
    with no squashing readout, so any finite real data (e.g. standardised
    measurements) is accepted; only NaN, infinity and shapes are refused.

    Args:
        sigma: float, the noise std the estimator is built for; finite, > 0.
        energy: optional Keras layer or model of your own, y of shape (batch,
            *data_shape) -> one energy per example, shape (batch,); stateless
            (no BatchNormalization statistics or Dropout draws). Defaults to
            `networks.EnergyNetwork()` (the encoder's ConvNet family).
        data_shape: tuple, the shape of one example. Defaults to the input
            shape of a functional `energy`, else (28, 28, 1).
        seed: int or None, seeds the training noise.
        **kwargs: passed to `keras.Model`.

    Tracked metrics: `loss` (= `mse`, ||x - x_hat(y)||^2 summed over pixels,
    mean per example) and `noisy_mse` (||x - y||^2, the error without
    denoising, for comparison).
    """

    def __init__(self, sigma, energy=None, data_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.sigma = validation.validate_scale("sigma", sigma)
        self.data_shape = networks.data_shape_for(data_shape, energy)
        if energy is not None:
            networks.check_energy(energy, self.data_shape, self.compute_dtype)
        self.seed = seed
        self.energy_network = (
            networks.EnergyNetwork(dtype=self.dtype_policy) if energy is None else energy
        )
        self.seed_generator = seeding.generator(seed, seeding.TRAINING_NOISE)
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.noisy_mse_tracker = keras.metrics.Mean(name="noisy_mse")
        self.build((None,) + self.data_shape)
        _require_stateless(self.energy_network)

    _unit_interval = False  # Gaussian noise: any real-valued data.

    def build(self, input_shape=None):
        input_shape = (None,) + self.data_shape if input_shape is None else tuple(input_shape)
        validation.check_shape(input_shape, self.data_shape)
        if not self.energy_network.built:  # A user's layer, or a loaded one, may be built.
            self.energy_network.build(input_shape)

    def call(self, y):
        """The energies f(y), shape (batch,)."""
        validation.check_shape(ops.shape(y), self.data_shape)
        return self.energy_network(ops.cast(y, self.compute_dtype))

    # ------------------------------------------------------------------
    # The Bayes estimator (eq. 3).

    def _energy_and_gradient(self, y, differentiable=True):
        return input_gradient.value_and_input_gradient(
            self.energy_network, ops.cast(y, self.compute_dtype), differentiable
        )

    def _denoise(self, y, differentiable=True):
        _, gradient = self._energy_and_gradient(y, differentiable)
        return ops.cast(y, gradient.dtype) - self.sigma**2 * gradient

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Batch mean of ||x - x_hat(y)||^2 (eq. 2).

        With targets (`fit(y, x)`), the inputs are the noisy y and the targets
        the clean x; without, the inputs are clean and noise is drawn here.
        """
        del y_pred, training  # The energies are recomputed under the input gradient.
        if sample_weight is not None:
            raise ValueError("DEEN does not take sample weights.")
        if y is None:
            clean = ops.cast(x, self.compute_dtype)
            eps = distribution.normal(ops.shape(clean), clean.dtype, self.seed_generator)
            noisy = clean + self.sigma * eps
        else:
            noisy, clean = ops.cast(x, self.compute_dtype), ops.cast(y, self.compute_dtype)
        error = _per_example_squared_error(clean, self._denoise(noisy))
        self.mse_tracker.update_state(error)
        self.noisy_mse_tracker.update_state(_per_example_squared_error(clean, noisy))
        loss = ops.mean(error)
        if self.losses:  # Regularisers and add_loss terms of the energy network.
            loss = loss + ops.sum([ops.cast(extra, loss.dtype) for extra in self.losses])
        # Per replica under tf.distribute: Keras sums the replicas' gradients.
        return distribution.scale_loss(loss)

    # ------------------------------------------------------------------
    # Public API (eager; inputs are checked).

    def energy(self, y):
        """f(y), one value per example."""
        validation.check_images(y, self.data_shape, name="y")
        return self(y)

    def score(self, y):
        """The learned score grad log p(y) = -grad_y f(y)."""
        validation.check_images(y, self.data_shape, name="y")
        return -self._energy_and_gradient(y, differentiable=False)[1]

    def denoise(self, y):
        """The Bayes estimate x_hat(y) = y - sigma^2 grad_y f(y) (eq. 3)."""
        validation.check_images(y, self.data_shape, name="y")
        return self._denoise(y, differentiable=False)

    def estimate(self, y, seed=None):
        """The estimate of x from noisy y: `denoise(y)` (deterministic; `seed` is unused).

        The same method as `SigmaVAE.estimate`, so that callbacks, the
        robustness curves and certification treat every model alike.
        """
        del seed
        return self.denoise(y)

    def compile(self, *args, jit_compile="auto", **kwargs):
        """`keras.Model.compile`; torch.compile cannot double-backprop, so not on torch."""
        if jit_compile is True and keras.backend.backend() == "torch":
            warnings.warn(
                "DEEN: torch.compile does not support double backward; running eagerly "
                "(jit_compile=False).",
                stacklevel=2,
            )
            jit_compile = False
        super().compile(*args, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded DEEN (Keras skips this for models that override `compile`)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)  # So the saved slots load into it.

    # ------------------------------------------------------------------
    # Serialization.

    def get_config(self):
        config = super().get_config()
        config.update(
            sigma=self.sigma,
            energy=keras.saving.serialize_keras_object(self.energy_network),
            data_shape=list(self.data_shape),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["energy"] = keras.saving.deserialize_keras_object(config["energy"])
        return cls(**config)


def _per_example_squared_error(a, b):
    return reductions.sum_per_example(ops.square(a - b))


def _require_stateless(layer):
    """Refuses layers whose state would change inside the inner gradient."""
    if layer.non_trainable_variables:
        names = sorted({v.path for v in layer.non_trainable_variables})
        raise ValueError(
            "DEEN's energy network must be stateless: the input gradient is traced again "
            "inside JAX's train step, where state updates (BatchNormalization statistics, "
            f"Dropout seeds) cannot escape. Found non-trainable state: {names}."
        )
