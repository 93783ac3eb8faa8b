"""keras_svae: learning and inference in imaginary noise models, on Keras 3."""

from keras_svae import classifier
from keras_svae import corruption
from keras_svae import data
from keras_svae import imaginary_noise
from keras_svae import networks
from keras_svae import posterior
from keras_svae import power_law
from keras_svae import robustness
from keras_svae.deen import DEEN
from keras_svae.vae import SigmaVAE, alpha_vae, sigma_vae, vanilla_vae

__all__ = [
    "DEEN", "SigmaVAE", "alpha_vae", "sigma_vae", "vanilla_vae",
    "classifier", "corruption", "data", "imaginary_noise", "networks", "posterior", "power_law",
    "robustness",
]
__version__ = "0.1.0"
