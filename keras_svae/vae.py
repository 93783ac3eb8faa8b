"""`SigmaVAE`: a VAE with an imaginary noise model, trained with `model.fit`.

The model maximises the ELBO of eq. 7 (Gaussian, the sigma-VAE), eq. 11
(Laplace, the alpha-VAE) or the vanilla VAE's Bernoulli ELBO, with the KL term
weighted by beta (the (sigma, beta)-VAE of Theorem 1):

    loss = mean_batch[ -log p(x | z) + beta * KL[q(z | x) || N(0, I)] ],

    z ~ q(z | x) by reparameterisation, the constant of -log p dropped.

Theorems 1 and 2: the sigma_2-VAE and the (sigma_1, beta = sigma_2^2 /
sigma_1^2)-VAE have proportional objectives (Laplace: beta = alpha_2 /
alpha_1), so they learn the same encoder and decoder.

The loss lives in `compute_loss`, so Keras's own train and test steps serve
every backend, and `evaluate` reports the same metrics as `fit`.
"""

import keras
from keras import ops

from keras_svae import distribution
from keras_svae import evaluation
from keras_svae import imaginary_noise
from keras_svae import networks
from keras_svae import posterior
from keras_svae import random_state
from keras_svae import reductions
from keras_svae import seeding
from keras_svae import validation


@keras.saving.register_keras_serializable(package="keras_svae")
class SigmaVAE(validation.InputChecks, random_state.SavesSeedState, keras.Model):
    """A VAE whose decoder is an imaginary noise model (Definition 1).

    Args:
        noise: str, "gaussian" (sigma-VAE, eq. 5), "laplace" (alpha-VAE,
            eq. 10) or "bernoulli" (the vanilla VAE).
        scale: float, sigma for "gaussian", alpha for "laplace"; finite and
            > 0. None for "bernoulli".
        beta: float >= 0, the weight of the KL term. Defaults to 1.0.
        data_shape: tuple, one example's shape. Defaults to the input shape
            of a functional `encoder`, else (28, 28, 1). The paper's encoder
            needs (height, width, channels); a given encoder, any shape.
        latent_dim: int, dimension of z. Defaults to 100, or to what a given
            encoder returns.
        conv_channels, strides, encoder_units, convolution: the paper's
            encoder (`networks.Encoder`): channels (32, 64, 128), strides 2
            (1 is the "no_downsampling" architecture), a Dense of 200, and how
            the convolutions run ("auto": the fastest per backend).
        decoder_units: int, the paper's decoder's hidden layer. Defaults to 2000.
        encoder: optional Keras layer or model of your own, x of shape
            (batch, *data_shape) -> (z_mean, z_log_var), each (batch,
            latent_dim). Replaces the paper's encoder.
        decoder: optional Keras layer or model of your own, z of shape
            (batch, latent_dim) -> the decoder's output, (batch, *data_shape):
            logits under the sigmoid readout, x_hat itself under the identity.
            Replaces the paper's decoder.
        readout: "sigmoid" (x_hat = sigmoid(output): data in [0, 1], as the
            paper's) or "identity" (x_hat = output: real-valued data, e.g.
            standardised features; Gaussian and Laplace models only).
        seed: int or None, seeds the reparameterisation noise.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Data: with the sigmoid readout `fit` and `evaluate` take clean data in [0,
    1] (x_hat = sigmoid(logits) lies in (0, 1)), with the identity readout any
    finite values, and refuse anything else before any weight changes;
    `reconstruct`, `encode`, `loss_terms` and `elbo` take any real values (noisy y).

    Tracked metrics (in `fit` and `evaluate`): `loss`, `recon` (-log p(x|z)
    without its constant), `kl`, `mse` (||x - x_hat(z)||^2 summed over
    pixels, Table 2's quantity) and `elbo` (-(recon + kl): the paper's L,
    always with beta = 1), each a mean per example.

    Example:

    >>> model = SigmaVAE(noise="gaussian", scale=0.9)
    >>> model.compile(keras.optimizers.Adam(1e-4))
    >>> model.fit(x_train, epochs=1, batch_size=16)  # doctest: +SKIP
    """

    def __init__(
        self,
        noise="gaussian",
        scale=None,
        beta=1.0,
        data_shape=None,
        latent_dim=None,
        conv_channels=networks.CONV_CHANNELS,
        strides=2,
        encoder_units=200,
        decoder_units=2000,
        convolution="auto",
        encoder=None,
        decoder=None,
        readout="sigmoid",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Hyperparameters, validated before any weight exists.
        self.noise_model = imaginary_noise.get(noise, scale, readout)
        self.beta = validation.validate_beta(beta)
        self.data_shape = networks.data_shape_for(data_shape, encoder)
        self.seed = seed

        # Networks: the user's (checked against the contract), else Section 5's.
        if encoder is None:
            if len(self.data_shape) != 3:
                raise ValueError(f"The paper's encoder takes images, data_shape (height, width, "
                                 f"channels); got {self.data_shape}. Give an encoder of your own "
                                 "for other data.")
            self.encoder = networks.Encoder(
                100 if latent_dim is None else latent_dim, conv_channels, strides,
                encoder_units, convolution, name="encoder", dtype=self.dtype_policy)
            self._latent_dim = self.encoder.latent_dim
        else:
            self.encoder = encoder
            self._latent_dim = networks.check_encoder(encoder, self.data_shape, latent_dim,
                                                      self.compute_dtype)
        if decoder is None:
            self.decoder = networks.Decoder(
                self.data_shape, decoder_units, name="decoder", dtype=self.dtype_policy
            )
        else:
            self.decoder = decoder
            networks.check_decoder(decoder, self._latent_dim, self.data_shape, self.compute_dtype)
        self._own_networks = dict(encoder=encoder is not None, decoder=decoder is not None)
        self.seed_generator = seeding.generator(seed, seeding.POSTERIOR)

        # Metrics; Keras adds its own `loss` tracker at compile time.
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")

        self.build((None,) + self.data_shape)

    # ------------------------------------------------------------------
    # Properties.

    @property
    def noise(self):
        return self.noise_model.name

    @property
    def scale(self):
        return self.noise_model.scale

    @property
    def _unit_interval(self):
        # Under the sigmoid readout fit/evaluate take clean data in [0, 1]: x_hat =
        # sigmoid(logits) cannot reach anything else (and the Bernoulli likelihood is
        # defined there only). Inference on noisy y takes any real values.
        return self.noise_model.unit_interval

    @property
    def readout(self):
        return self.noise_model.readout

    @property
    def latent_dim(self):
        return self._latent_dim

    # ------------------------------------------------------------------
    # Building and the forward pass.

    def build(self, input_shape=None):
        input_shape = (None,) + self.data_shape if input_shape is None else tuple(input_shape)
        validation.check_shape(input_shape, self.data_shape)
        # A user's networks were built by their contract check.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.decoder.built:
            self.decoder.build((input_shape[0], self.latent_dim))

    def call(self, x, training=False):
        """One-sample ELBO forward pass.

        Returns:
            dict with "z_mean", "z_log_var" (q(z | x)), "z" (a reparameterised
            draw) and "logits" (the decoder's output: x_hat = sigmoid(logits),
            or the output itself under the identity readout).
        """
        validation.check_shape(ops.shape(x), self.data_shape)
        return self._forward(x, self.seed_generator)

    def _forward(self, x, seed):
        """Encode, draw z ~ q(z | x), decode: the one path of eqs. 7 and 11."""
        z_mean, z_log_var = self.encoder(ops.cast(x, self.compute_dtype))
        z = posterior.sample(z_mean, z_log_var, seed)
        return {"z_mean": z_mean, "z_log_var": z_log_var, "z": z, "logits": self.decoder(z)}

    def _terms(self, x, outputs):
        """Per-example reconstruction NLL, KL and squared error."""
        x = ops.cast(x, outputs["logits"].dtype)
        logits = outputs["logits"]
        return {
            "recon": self.noise_model.negative_log_likelihood(x, logits),
            "kl": posterior.kl_divergence(outputs["z_mean"], outputs["z_log_var"]),
            "mse": reductions.sum_per_example(ops.square(x - self.noise_model.mean(logits))),
        }

    def _loss(self, terms):
        """The batch mean of -log p(x | z) + beta * KL: the negated ELBO of eqs. 7 and 11."""
        return ops.mean(terms["recon"] + self.beta * terms["kl"])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Batch mean of -log p(x | z) + beta * KL (eqs. 7 and 11, negated)."""
        del y, training  # Unsupervised: the target is x itself.
        if sample_weight is not None:
            raise ValueError("SigmaVAE does not take sample weights.")
        terms = self._terms(x, y_pred)
        self.recon_tracker.update_state(terms["recon"])
        self.kl_tracker.update_state(terms["kl"])
        self.mse_tracker.update_state(terms["mse"])
        self.elbo_tracker.update_state(-(terms["recon"] + terms["kl"]))
        loss = self._loss(terms)
        if self.losses:  # Regularisers and add_loss terms of the layers.
            loss = loss + ops.sum([ops.cast(extra, loss.dtype) for extra in self.losses])
        # Per replica under tf.distribute: Keras sums the replicas' gradients.
        return distribution.scale_loss(loss)

    # ------------------------------------------------------------------
    # Public inference API (eager; inputs are checked).

    def loss_terms(self, x, seed=None):
        """Per-example "recon", "kl" and "mse" for one posterior draw.

        Args:
            x: images, shape (batch,) + data_shape.
            seed: int or `SeedGenerator` for the draw; defaults to the model's.
        """
        validation.check_images(x, self.data_shape)
        return self._terms(x, self._forward(x, self._seed(seed)))

    def elbo(self, x, seed=None, include_constant=False):
        """Per-example one-sample ELBO L(x) with beta = 1 (eqs. 1, 7, 11).

        Args:
            x: images.
            seed: int or `SeedGenerator`; defaults to the model's.
            include_constant: include the likelihood's normalising constant,
                giving a bound on log p(x) in nats.
        """
        validation.check_images(x, self.data_shape)
        outputs = self._forward(x, self._seed(seed))
        nll = self.noise_model.negative_log_likelihood(
            ops.cast(x, self.compute_dtype), outputs["logits"], include_constant)
        return -(nll + posterior.kl_divergence(outputs["z_mean"], outputs["z_log_var"]))

    def encode(self, x):
        """Returns (mean, log-variance) of q(z | x), each (batch, latent_dim)."""
        validation.check_images(x, self.data_shape)
        return self.encoder(ops.cast(x, self.compute_dtype))

    def decode(self, z):
        """Returns x_hat(z) = E[X | z] (the readout of the decoder's output), data-shaped."""
        z = ops.cast(z, self.compute_dtype)
        if len(z.shape) != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (batch, {self.latent_dim}), got shape {tuple(z.shape)}."
            )
        return self.noise_model.mean(self.decoder(z))

    def reconstruct(self, y, sample=True, seed=None):
        """Smoothed inference: x_hat(z) with z ~ q(z | y) (Figures 2-6).

        Args:
            y: images, clean or noisy (any real pixel values).
            sample: draw z from q(z | y); if False use its mean.
            seed: int or `SeedGenerator` for the draw; defaults to the model's.
        """
        if not sample:
            return self.decode(self.encode(y)[0])
        validation.check_images(y, self.data_shape, name="y")
        return self.noise_model.mean(self._forward(y, self._seed(seed))["logits"])

    def estimate(self, y, seed=None):
        """The estimate of x from noisy y: x_hat(z), z ~ q(z | y) (one draw).

        The same method as `DEEN.estimate`, so that callbacks, the robustness
        curves and certification treat every model alike.

        Args:
            y: images, clean or noisy (any real pixel values).
            seed: int or `SeedGenerator` for the draw; defaults to the model's.
        """
        return self.reconstruct(y, sample=True, seed=seed)

    def sample(self, n, seed=None):
        """Returns n images x_hat(z), z ~ N(0, I) (Appendix C)."""
        z = keras.random.normal((int(n), self.latent_dim), dtype=self.compute_dtype, seed=self._seed(seed))
        return self.decode(z)

    def _seed(self, seed):
        return self.seed_generator if seed is None else seed

    # ------------------------------------------------------------------
    # Evaluation (`evaluation`; NumPy results).

    def log_likelihood(self, x, k=1000, seed=0, draws_per_call=4096):
        """The importance-weighted estimate of log p(x) per example, in nats (IWAE; k = 1
        is the ELBO). Noisy y of any real values for the Gaussian and Laplace models.
        `evaluation.bits_per_dim` converts it."""
        return evaluation.log_likelihood(self, x, k, seed, draws_per_call)

    def active_units(self, x, threshold=evaluation.ACTIVE_THRESHOLD):
        """How many latent units have Cov_x(E_q[z_j]) > threshold (Burda et al. 2016)."""
        return evaluation.active_units(self, x, threshold)

    def kl_per_dimension(self, x):
        """Each latent unit's mean KL[q(z_j | x) || N(0, 1)] over x; sums to the KL."""
        return evaluation.kl_per_dimension(self, x)

    # ------------------------------------------------------------------
    # Serialization.

    def get_config(self):
        config = super().get_config()
        config.update(noise=self.noise, scale=self.scale, beta=self.beta,
                      data_shape=list(self.data_shape), latent_dim=self.latent_dim,
                      readout=self.readout, seed=self.seed)
        if self._own_networks["encoder"]:
            config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
        else:
            features = self.encoder.features
            config.update(conv_channels=list(features.conv_channels),
                          strides=list(features.strides), encoder_units=features.units,
                          convolution=features.convolution)
        if self._own_networks["decoder"]:
            config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
        else:
            config["decoder_units"] = self.decoder.units
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("encoder", "decoder"):
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    @classmethod
    def from_architecture(cls, architecture, **kwargs):
        """A new, untrained model with a named network of `networks.ARCHITECTURES`.

        Example: `SigmaVAE.from_architecture("no_downsampling", scale=0.9)`.
        """
        if architecture not in networks.ARCHITECTURES:
            raise ValueError(f"Unknown architecture {architecture!r}; choose from "
                             f"{sorted(networks.ARCHITECTURES)}.")
        return cls(**{**networks.ARCHITECTURES[architecture], **kwargs})


def sigma_vae(sigma, **kwargs):
    """The sigma-VAE (eq. 7): Gaussian imaginary noise with std `sigma`."""
    return SigmaVAE(noise="gaussian", scale=sigma, **kwargs)


def alpha_vae(alpha, **kwargs):
    """The alpha-VAE (eq. 11): Laplace imaginary noise with scale `alpha`."""
    return SigmaVAE(noise="laplace", scale=alpha, **kwargs)


def vanilla_vae(**kwargs):
    """The vanilla VAE baseline: Bernoulli decoder, same networks."""
    return SigmaVAE(noise="bernoulli", scale=None, **kwargs)
